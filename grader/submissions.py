"""Turn what a student hands in into a clean folder of modules for the worker.

A submission is a folder (modules at its top or in ``exercises/``), a ``.zip`` of one, or the
assignment notebook (``.ipynb``). Only plain ``.py`` modules are copied into a fresh folder: no
``conftest.py``, ``sitecustomize.py``, ``.pth`` or other files that could change how Python or a
test runner starts. From a notebook, the code cells' top-level imports, function and class
definitions and call-free constants are kept; plotting and experiment cells are not run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .api import MODULES
from .loader import NOTEBOOK_MODULE, SubmissionError

MAX_FILE_BYTES = 1 << 20
MAX_FILES = 50
MAX_ZIP_BYTES = 20 << 20
REFUSED = {"conftest.py", "sitecustomize.py", "usercustomize.py", "__init__.py"}


@dataclass
class Prepared:
    """A submission copied into ``folder`` (a temporary directory), with its content hash."""

    name: str
    source: Path
    folder: Path
    content_hash: str
    notes: list[str]

    def cleanup(self) -> None:
        shutil.rmtree(self.folder.parent, ignore_errors=True)


def submission_name(path: Path) -> str:
    path = Path(path)
    return path.stem if path.suffix in (".zip", ".ipynb") else path.name


def _holds_modules(root: Path) -> Path | None:
    for candidate in (root, root / "exercises"):
        if any((candidate / f"{m}.py").is_file() for m in MODULES):
            return candidate
    return None


def _module_dir(root: Path) -> Path:
    found = _holds_modules(root)
    if found is not None:
        return found
    nested = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if len(nested) == 1:  # a zip of a folder: look one level down
        return _module_dir(nested[0])
    raise SubmissionError(f"no exercise modules ({', '.join(m + '.py' for m in MODULES)}) "
                          f"in {root}")


def _copy_modules(source: Path, target: Path, notes: list[str]) -> None:
    files = sorted(p for p in source.iterdir() if p.is_file() or p.is_symlink())
    copied = 0
    for path in files:
        if path.is_symlink():
            notes.append(f"ignored {path.name}: symbolic links are not accepted")
            continue
        if path.suffix != ".py" or path.name in REFUSED:
            if path.suffix in (".py", ".pth") and path.name != "__init__.py":
                notes.append(f"ignored {path.name}: not an exercise module")
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"ignored {path.name}: larger than {MAX_FILE_BYTES} bytes")
            continue
        if copied >= MAX_FILES:
            notes.append("ignored further files: too many modules")
            break
        shutil.copyfile(path, target / path.name)
        copied += 1


def _extract_zip(path: Path, target: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        total = 0
        for info in archive.infolist():
            name = Path(info.filename)
            if info.is_dir() or name.is_absolute() or ".." in name.parts:
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise SubmissionError(f"{path.name} unpacks to more than {MAX_ZIP_BYTES} bytes")
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(destination, "wb") as dst:
                shutil.copyfileobj(src, dst)


def notebook_source(path: Path) -> str:
    """The graded definitions of a notebook's code cells, as one module's source text."""
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SubmissionError(f"{Path(path).name} is not a readable notebook: {error}") from None
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


def content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def prepare(path: Path) -> Prepared:
    """Copy a submission (folder, zip or notebook) into a fresh temporary folder of modules."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    work = Path(tempfile.mkdtemp(prefix="vg-submission-"))
    folder = work / "submission"
    folder.mkdir()
    notes: list[str] = []
    try:
        if path.suffix == ".ipynb":
            (folder / f"{NOTEBOOK_MODULE}.py").write_text(notebook_source(path))
        elif path.suffix == ".zip":
            unpacked = work / "unpacked"
            unpacked.mkdir()
            try:
                _extract_zip(path, unpacked)
            except zipfile.BadZipFile:
                raise SubmissionError(f"{path.name} is not a valid zip file") from None
            _copy_modules(_module_dir(unpacked), folder, notes)
            shutil.rmtree(unpacked, ignore_errors=True)
        elif path.is_dir():
            _copy_modules(_module_dir(path), folder, notes)
        else:
            raise SubmissionError(f"{path} is not a folder, a .zip or an .ipynb")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Prepared(submission_name(path), path, folder, content_hash(folder), notes)


def expand(paths: list[Path]) -> list[Path]:
    """Submissions named on the command line: a folder of submission folders is a batch."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            if _holds_modules(path) is not None:
                found.append(path)
                continue
            children = sorted(p for p in path.iterdir()
                              if not p.name.startswith((".", "_"))
                              and (p.is_dir() or p.suffix in (".zip", ".ipynb")))
            found.extend(children)
        else:
            found.append(path)
    return found
