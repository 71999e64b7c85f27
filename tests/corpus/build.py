"""Build graded submissions from corpus entries.

A corpus entry is one Python file, ``correct/<slug>.py`` or ``bugs/<slug>.py``, that starts with a
header of comment lines::

    # module: activations
    # blames: sigmoid_grad
    # why: returns s instead of s*(1-s)
    # whole: true

``module`` names the student module the entry patches (activations, layers, network or
gradient_check); ``blames`` (bugs only) lists the checks that must fail; ``why`` is one line
describing the misconception; ``whole: true`` (optional) means the file is the entire module.

Without ``whole``, every top-level function of the entry whose name is a top-level function of the
reference module replaces that function (spliced by its line span, found with ``ast``); all other
top-level code of the entry (imports, helpers, classes, constants) is appended to the module.

``build_submission(entry, dest)`` copies the four reference modules into ``dest``, applies the
entry and writes an empty ``__init__.py``; the result is a plain folder of modules.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.checking import checks as _checks  # noqa: F401 - registers the checks
from grader.checking.trial import REGISTRY

CORPUS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CORPUS_DIR.parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"

MODULES = ("activations", "layers", "network", "gradient_check")

CHECKS = tuple(REGISTRY)

KINDS = {"correct": "correct", "bugs": "bug"}

_HEADER_LINE = re.compile(r"^#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")
_HEADER_KEYS = {"module", "blames", "why", "whole"}


class CorpusError(ValueError):
    """A corpus entry is malformed or cannot be applied."""


@dataclass(frozen=True)
class Entry:
    slug: str
    kind: str  # "correct" or "bug"
    module: str
    blames: tuple[str, ...]
    why: str
    whole: bool
    path: Path


def _read_header(path: Path) -> tuple[dict[str, str], int]:
    """Return the header fields and the number of header lines (leading ``#`` lines)."""
    fields: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    count = 0
    for line in lines:
        if not line.startswith("#"):
            break
        count += 1
        match = _HEADER_LINE.match(line)
        if match is None:
            continue  # a plain comment inside the header block
        key, value = match.group(1).lower(), match.group(2)
        if key not in _HEADER_KEYS:
            raise CorpusError(f"{path}: unknown header key {key!r}")
        if key in fields:
            raise CorpusError(f"{path}: header key {key!r} given twice")
        fields[key] = value
    return fields, count


def parse_entry(path: Path, kind: str) -> Entry:
    """Read one entry file and validate its header."""
    fields, _ = _read_header(path)
    module = fields.get("module", "")
    if module not in MODULES:
        raise CorpusError(f"{path}: module must be one of {MODULES}, got {module!r}")
    why = fields.get("why", "")
    if not why:
        raise CorpusError(f"{path}: missing 'why'")
    blames = tuple(fields.get("blames", "").split())
    unknown = [name for name in blames if name not in CHECKS]
    if unknown:
        raise CorpusError(f"{path}: unknown check names {unknown}")
    if kind == "bug" and not blames:
        raise CorpusError(f"{path}: a bug entry must blame at least one check")
    if kind == "correct" and blames:
        raise CorpusError(f"{path}: a correct entry must not blame any check")
    whole_text = fields.get("whole", "false").lower()
    if whole_text not in ("true", "false"):
        raise CorpusError(f"{path}: 'whole' must be true or false, got {whole_text!r}")
    try:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise CorpusError(f"{path}: does not parse: {exc}") from exc
    return Entry(
        slug=path.stem,
        kind=kind,
        module=module,
        blames=blames,
        why=why,
        whole=whole_text == "true",
        path=path,
    )


def load_entries(kind: str | None = None, corpus_dir: Path = CORPUS_DIR) -> list[Entry]:
    """All entries (or only ``kind`` = "correct" / "bug"), sorted by slug."""
    if kind not in (None, "correct", "bug"):
        raise ValueError(f"kind must be None, 'correct' or 'bug', got {kind!r}")
    entries: list[Entry] = []
    for folder, folder_kind in KINDS.items():
        if kind is not None and folder_kind != kind:
            continue
        for path in sorted((corpus_dir / folder).glob("*.py")):
            if path.name == "__init__.py":
                continue
            entries.append(parse_entry(path, folder_kind))
    entries.sort(key=lambda entry: entry.slug)
    slugs = [entry.slug for entry in entries]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise CorpusError(f"duplicate slugs: {duplicates}")
    return entries


def _node_start(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _top_level_functions(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Map name -> (first line, last line), 1-based inclusive, of each top-level function."""
    spans: dict[str, tuple[int, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans[node.name] = (_node_start(node), node.end_lineno or node.lineno)
    return spans


def _entry_segments(source: str, header_lines: int) -> list[tuple[ast.stmt, str]]:
    """Split the entry body into one text segment per top-level statement.

    A segment runs from just after the previous statement (or the header) to the statement's
    last line, so comments written above a function travel with it.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    segments = []
    previous_end = header_lines
    for node in tree.body:
        end = node.end_lineno or node.lineno
        text = "".join(lines[previous_end:end]).strip("\n")
        segments.append((node, text + "\n"))
        previous_end = end
    return segments


def apply_entry(entry: Entry, reference_source: str) -> str:
    """Return the module source obtained by applying ``entry`` to ``reference_source``."""
    source = entry.path.read_text(encoding="utf-8")
    if entry.whole:
        return source
    _, header_lines = _read_header(entry.path)
    reference_spans = _top_level_functions(ast.parse(reference_source))

    replacements: dict[str, str] = {}
    appended: list[str] = []
    for node, text in _entry_segments(source, header_lines):
        is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if is_function and node.name in reference_spans:
            if node.name in replacements:
                raise CorpusError(f"{entry.path}: function {node.name!r} defined twice")
            replacements[node.name] = text
        else:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                raise CorpusError(f"{entry.path}: __future__ imports cannot be appended")
            appended.append(text)

    lines = reference_source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # Splice from the bottom up so earlier spans keep their line numbers.
    for name in sorted(replacements, key=lambda n: reference_spans[n][0], reverse=True):
        start, end = reference_spans[name]
        lines[start - 1 : end] = [replacements[name]]
    result = "".join(lines)
    if appended:
        result = result.rstrip("\n") + "\n\n\n"
        result += f"# --- appended by corpus entry {entry.slug} ---\n"
        result += "\n\n".join(appended)
    try:
        ast.parse(result)
    except SyntaxError as exc:  # pragma: no cover - guards against splicing mistakes
        raise CorpusError(f"{entry.path}: patched module does not parse: {exc}") from exc
    return result


def build_submission(entry: Entry, dest: Path, solutions_dir: Path = SOLUTIONS_DIR) -> Path:
    """Copy the four reference modules into ``dest``, apply ``entry`` and return ``dest``.

    ``dest`` also receives an empty ``__init__.py`` so that it can be imported as a package
    (the reference modules use relative imports).
    """
    dest = Path(dest)
    solutions_dir = Path(solutions_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        shutil.copyfile(solutions_dir / f"{name}.py", dest / f"{name}.py")
    (dest / "__init__.py").write_text("", encoding="utf-8")
    target = dest / f"{entry.module}.py"
    target.write_text(apply_entry(entry, target.read_text(encoding="utf-8")), encoding="utf-8")
    return dest


__all__ = [
    "CHECKS",
    "MODULES",
    "CorpusError",
    "Entry",
    "apply_entry",
    "build_submission",
    "load_entries",
    "parse_entry",
]
