"""Turn what a student hands in into a clean folder of modules for the worker.

A submission is a folder (modules at its top or in ``exercises/``), a ``.zip`` of one, or the
assignment notebook (``.ipynb``). Only plain ``.py`` modules are copied into a fresh folder: no
``conftest.py``, ``sitecustomize.py``, ``.pth`` or other files that could change how Python or a
test runner starts. From a notebook, the code cells' top-level imports, function and class
definitions and call-free constants are kept; plotting and experiment cells are not run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .api import MODULES
from .identity import holds_modules, submission_name
from .loader import NOTEBOOK_MODULE, SubmissionError
from .notebook_cells import notebook_source

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


def _module_dir(root: Path) -> Path:
    found = holds_modules(root)
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


def _read_notebook(path: Path) -> object:
    """The notebook's parsed JSON (any JSON value: ``notebook_source`` judges its shape)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SubmissionError(f"{Path(path).name} is not a readable notebook: {error}") from None


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
            (folder / f"{NOTEBOOK_MODULE}.py").write_text(notebook_source(_read_notebook(path)))
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
