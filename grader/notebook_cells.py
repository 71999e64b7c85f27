"""Turn a notebook's code cells into the source of one module the worker imports.

Only the student's cells count: nbgrader's test cells are the course's. IPython magics and shell
escapes are not Python and are dropped.
"""

from __future__ import annotations

import ast

from .loader import SubmissionError


def notebook_source(notebook: object) -> str:
    """The graded definitions of a notebook's code cells, as one module's source text.

    notebook: the parsed JSON of an ``.ipynb`` file (any JSON value; a wrong shape raises
    SubmissionError)."""
    try:
        cells = notebook["cells"]
    except (KeyError, TypeError) as error:
        raise SubmissionError(f"not a notebook (no list of cells): {error}") from None
    kept: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grading = (cell.get("metadata") or {}).get("nbgrader") or {}
        if grading.get("grade") and not grading.get("solution"):
            continue  # nbgrader's test cells are the course's, not the student's code
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        # IPython magics and shell escapes are not Python.
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        text = "\n".join(lines)
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            kept.append(f"# a cell with a syntax error was skipped: {error.msg} "
                        f"(line {error.lineno})")
            continue
        source_lines = text.splitlines()
        for node in tree.body:
            if _graded_definition(node):
                # Decorators (``@dataclass``) sit above the node's own first line.
                first = min([d.lineno for d in getattr(node, "decorator_list", [])]
                            + [node.lineno])
                segment = "\n".join(source_lines[first - 1:node.end_lineno])
                kept.append(_tolerant(node, segment))
    return "\n\n".join(kept) + "\n"


def _tolerant(node: ast.stmt, segment: str) -> str:
    """Imports and constants may fail out of their notebook context (a name defined by a cell
    that is not kept, a package only the student has): that must not lose the functions."""
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return segment
    body = "\n".join("    " + line for line in segment.splitlines())
    return f"try:\n{body}\nexcept Exception:\n    pass"


def _graded_definition(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return False  # legal only at the top of a file; these modules do not need it
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign):
        value = node.value
        return value is not None and not any(isinstance(n, ast.Call | ast.Lambda | ast.Await)
                                             for n in ast.walk(value))
    return False
