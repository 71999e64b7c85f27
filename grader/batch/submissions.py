"""Turn what a student hands in into a clean folder of modules for the worker.

A submission is a folder (modules at its top or in ``exercises/``), a ``.zip`` of one, or the
assignment notebook (``.ipynb``). Only plain ``.py`` modules are copied into a fresh folder: no
``conftest.py``, ``sitecustomize.py``, ``.pth`` or other files that could change how Python or a
test runner starts. From a notebook, ``notebook_cells.notebook_source`` makes one module.

Everything here reads student-controlled bytes, so every reader is bounded *before* it reads:

- Only regular files and folders are read. Files are opened with ``O_NOFOLLOW | O_NONBLOCK`` and
  checked with ``fstat`` (a FIFO or a link to ``/dev/zero`` named ``x.ipynb`` cannot hang or
  flood the judge); folders are opened with ``O_NOFOLLOW`` and read through their descriptor.
- A link or special file (FIFO, socket, device) where the grader reads -- the submission itself,
  a folder on the way to the modules (``exercises/``, the one folder of a zip), an exercise
  module -- refuses the whole submission with a message naming it: a link standing for an
  exercise module is never followed. Any other link or special file beside the modules (an
  extra helper) is not read: it is skipped with a note naming it and costs only what needs it.
  Zip members flagged as links follow the same rule; zip members flagged as FIFOs, sockets or
  devices, encrypted members, compression other than stored/deflate, paths leaving the archive
  and two members unpacking to one path refuse the zip. Only ``.py``/``.pth`` members outside
  hidden and ``__`` folders (``.git/``, ``__MACOSX/``) are unpacked.
- Byte caps on a notebook, a zip file, its member count, each member and the total unpacked
  (counted while decompressing: no header is trusted); caps on JSON nesting and size (scanned
  before ``json.loads`` recurses) and on Python source size and syntax-tree depth (checked
  before anything is compiled).

Any failure to read one submission is a ``SubmissionError`` with a one-line message; the batch
records it as that submission's 0 and goes on.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from grader.batch.identity import submission_name
from grader.spec.api import MODULES
from grader.student.loader import NOTEBOOK_MODULE, SubmissionError
from grader.student.notebook_cells import notebook_source

# Python source: one module, or all code cells of a notebook together. The reference modules are
# under 4 KB and the whole instructor notebook's code is about 54 KB; a pathological 512 KiB
# source costs ast.parse at most ~200 MB in the judge.
MAX_SOURCE_BYTES = 512 << 10
# Syntax-tree depth (module -> def -> statement -> expression ...). Real code stays near 15 (the
# reference, the instructor notebook's cells and this grader: 17 at most); CPython 3.11 cannot
# compile a chain of sums 2,600-3,000 deep, and its parser gives up earlier on other shapes.
MAX_AST_DEPTH = 400
MAX_FILES = 50  # modules copied from one submission
MAX_FOLDER_ENTRIES = 2_000  # entries read from one folder of a submission
MAX_FOLDER_NESTING = 8  # "a folder holding one folder" levels followed to find the modules
MAX_SKIPPED_NOTES = 10  # notes naming skipped links and special files; then one count

# A notebook with its outputs (plots are base64 PNGs) is a few MB; the instructor's is 110 KB.
MAX_NOTEBOOK_BYTES = 16 << 20
MAX_JSON_DEPTH = 100  # nbformat needs about 6 levels; json.loads recursion fails near 1,000
MAX_JSON_TOKENS = 1_000_000  # brackets, commas and colons: bounds the objects json.loads makes
MAX_NOTEBOOK_CELLS = 2_000  # the instructor's has 79; each code cell costs one ast.parse

MAX_ZIP_FILE_BYTES = 16 << 20  # the archive itself (its central directory is parsed whole)
MAX_ZIP_MEMBERS = 1_000
MAX_MEMBER_BYTES = MAX_SOURCE_BYTES  # only .py/.pth members are unpacked
MAX_UNPACKED_BYTES = 20 << 20  # all members read from one zip, counted while decompressing
ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})  # what every zip tool writes

REFUSED = {"conftest.py", "sitecustomize.py", "usercustomize.py", "__init__.py"}
MODULE_FILES = frozenset(f"{m}.py" for m in MODULES)
_ONLY_REGULAR = "only the student's own regular files and folders are graded"

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 16


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


class _TooLarge(SubmissionError):
    """A file over its byte cap (a module over the cap is skipped with a note, not fatal)."""


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one printable line of at most ``limit`` characters (for messages and notes
    built from student-controlled names and texts)."""
    text = str(text)
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit + 1])
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def _shown(name: object) -> str:
    return one_line(name, 120)


def _special(mode: int) -> str | None:
    """What a file that is neither a regular file nor a folder is, or None."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _refusal(shown: str, kind: str) -> SubmissionError:
    return SubmissionError(f"{shown} is {kind}: {_ONLY_REGULAR}")


def _open_error(shown: str, error: OSError) -> SubmissionError:
    if error.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link (a race with lstat)
        return _refusal(shown, "a symbolic link")
    return SubmissionError(f"{shown} cannot be opened: {error.strerror or error}")


def _read_regular(name: str | Path, shown: str, limit: int, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, opened without following a link and without blocking.

    Refuses a link, FIFO, socket or device before reading a byte, and a file over ``limit``
    bytes (``_TooLarge``), counting what it reads in case the file grows meanwhile."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        raise _open_error(shown, error) from None
    try:
        info = os.fstat(fd)
        kind = _special(info.st_mode)
        if kind is not None or stat.S_ISDIR(info.st_mode):
            raise _refusal(shown, kind or "a folder")
        if info.st_size > limit:
            raise _TooLarge(f"{shown} is larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _TooLarge(f"{shown} is larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise SubmissionError(f"{shown} cannot be read: {error.strerror or error}") from None
    finally:
        os.close(fd)


def _ast_depth(tree: ast.AST) -> int:
    """The deepest node's depth, walked without recursion (the tree may be very deep)."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def source_problem(source: bytes) -> str | None:
    """Why a Python source must not reach the worker (too large or nested too deep), or None.

    A syntax error is not a problem here: the worker reports it in the student's terms."""
    if len(source) > MAX_SOURCE_BYTES:
        return f"larger than {MAX_SOURCE_BYTES} bytes"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, LookupError):  # ValueError: NUL bytes; LookupError: coding
        return None
    except (RecursionError, MemoryError):  # CPython's parser gives up on deep nesting
        return f"nested too deeply to compile (the limit is {MAX_AST_DEPTH} levels)"
    depth = _ast_depth(tree)
    if depth > MAX_AST_DEPTH:
        return f"nested {depth} levels deep (the limit is {MAX_AST_DEPTH})"
    return None


# ---------------------------------------------------------------------------------------------
# Folders, read through descriptors so that no link on the way is ever followed


class _Folders:
    """The descriptors of the folders opened while reading one submission (closed together)."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def open(self, name: str | Path, shown: str, dir_fd: int | None = None) -> int:
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as error:
            if error.errno == errno.ENOTDIR:  # replaced by a file since it was listed
                raise SubmissionError(f"{shown} is not a folder") from None
            raise _open_error(shown, error) from None
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


def _entries(fd: int, shown: str) -> dict[str, os.stat_result]:
    """A folder's entries with their own (not followed) status, at most MAX_FOLDER_ENTRIES."""
    found: dict[str, os.stat_result] = {}
    try:
        with os.scandir(fd) as listing:
            for entry in listing:
                if len(found) >= MAX_FOLDER_ENTRIES:
                    raise SubmissionError(f"{shown} holds more than {MAX_FOLDER_ENTRIES} entries")
                found[entry.name] = entry.stat(follow_symlinks=False)
    except OSError as error:
        raise SubmissionError(f"{shown} cannot be listed: {error.strerror or error}") from None
    return found


def _holds_modules(entries: dict[str, os.stat_result]) -> bool:
    return _module_count(entries) > 0


def _module_count(entries: dict[str, os.stat_result]) -> int:
    # Named like a module is enough (a link named activations.py must be seen, then refused).
    return sum(n in entries and not stat.S_ISDIR(entries[n].st_mode) for n in MODULE_FILES)


class _NoModules(SubmissionError):
    """A folder in which no exercise module was found (it may still hold a notebook)."""


def _leads_to_folder(name: str, fd: int) -> bool:
    try:  # stat (not open) follows the link: it cannot block, whatever the link reaches
        return stat.S_ISDIR(os.stat(name, dir_fd=fd).st_mode)
    except (OSError, ValueError):
        return False


def _module_folder(folders: _Folders, fd: int, shown: str,
                   depth: int = 0) -> tuple[int, str, dict[str, os.stat_result]]:
    """The folder holding the exercise modules: this one, its ``exercises/``, or (a zip of a
    folder) the same search inside its only folder."""
    entries = _entries(fd, shown)
    here = _module_count(entries)
    if here == len(MODULE_FILES):
        return fd, shown, entries
    exercises = entries.get("exercises")
    if exercises is not None:
        kind = _special(exercises.st_mode)
        if kind is not None:
            raise _refusal(f"{shown}/exercises", kind)
        if stat.S_ISDIR(exercises.st_mode):
            inner = folders.open("exercises", f"{shown}/exercises", fd)
            inner_entries = _entries(inner, f"{shown}/exercises")
            # A stray scratch module beside a complete exercises/ must not hide it.
            if _module_count(inner_entries) > here:
                return inner, f"{shown}/exercises", inner_entries
    if here:
        return fd, shown, entries
    nested = [n for n, info in entries.items() if not n.startswith((".", "__"))
              and (stat.S_ISDIR(info.st_mode)
                   or (stat.S_ISLNK(info.st_mode) and _leads_to_folder(n, fd)))]
    if len(nested) == 1 and depth < MAX_FOLDER_NESTING:
        name = nested[0]
        kind = _special(entries[name].st_mode)
        if kind is not None:
            raise _refusal(f"{shown}/{_shown(name)}", kind)
        inner = folders.open(name, f"{shown}/{_shown(name)}", fd)
        return _module_folder(folders, inner, f"{shown}/{_shown(name)}", depth + 1)
    raise _NoModules(f"no exercise modules ({', '.join(sorted(MODULE_FILES))}) in {shown}")


def _copy_modules(fd: int, shown: str, entries: dict[str, os.stat_result], target: Path,
                  notes: list[str]) -> None:
    copied, skipped = 0, 0
    for name in sorted(entries):
        mode = entries[name].st_mode
        if stat.S_ISDIR(mode):
            continue
        here = f"{shown}/{_shown(name)}"
        kind = _special(mode)
        if kind is not None:
            if name in MODULE_FILES:  # never follow a link standing for an exercise module
                raise _refusal(here, kind)
            skipped += 1
            if skipped <= MAX_SKIPPED_NOTES:
                notes.append(f"ignored {_shown(name)}: it is {kind}, and {_ONLY_REGULAR}")
            continue
        suffix = Path(name).suffix
        if suffix != ".py" or name in REFUSED:
            if suffix in (".py", ".pth") and name != "__init__.py":
                notes.append(f"ignored {_shown(name)}: not an exercise module")
            continue
        if copied >= MAX_FILES:
            notes.append("ignored further files: too many modules")
            break
        try:
            source = _read_regular(name, here, MAX_SOURCE_BYTES, dir_fd=fd)
        except _TooLarge:
            notes.append(f"ignored {_shown(name)}: larger than {MAX_SOURCE_BYTES} bytes")
            continue
        problem = source_problem(source)
        if problem is not None:
            notes.append(f"ignored {_shown(name)}: {problem}")
            continue
        (target / name).write_bytes(source)
        copied += 1
    if skipped > MAX_SKIPPED_NOTES:
        notes.append(f"ignored {skipped - MAX_SKIPPED_NOTES} more links or special files")


def _from_folder(path: Path, shown: str, target: Path, notes: list[str],
                 notebooks: bool = False) -> None:
    """Copy the exercise modules found in ``path``; with ``notebooks``, a folder holding no
    modules but one notebook (one folder per student, as LMS exports make) gives that."""
    folders = _Folders()
    try:
        top = folders.open(path, shown)
        try:
            fd, where, entries = _module_folder(folders, top, shown)
        except _NoModules:
            lone = _lone_notebook(_entries(top, shown)) if notebooks else None
            if lone is None:
                raise
            (target / f"{NOTEBOOK_MODULE}.py").write_bytes(
                _notebook_module(Path(path) / lone, f"{shown}/{_shown(lone)}"))
            return
        _copy_modules(fd, where, entries, target, notes)
    finally:
        folders.close()


def _lone_notebook(entries: dict[str, os.stat_result]) -> str | None:
    """The name of the only notebook file among ``entries`` (regular files only), or None."""
    found = [n for n, info in entries.items()
             if n.lower().endswith(".ipynb") and not n.startswith(".")
             and stat.S_ISREG(info.st_mode)]
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------------------------------------
# Zips

_LINK_PLACEHOLDER = "/nonexistent/zip-member-link"  # never followed: it only marks the member
# What a corrupt archive makes zipfile raise, besides BadZipFile (found by tests/test_fuzz_readers).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
               struct.error, OverflowError, NotImplementedError, RuntimeError, KeyError,
               IndexError, OSError)


def _member_path(info: zipfile.ZipInfo, archive: str, link: bool) -> PurePosixPath | None:
    """Where a member unpacks, relative to the unpacking folder; None for members never read
    (folders, files that are not Python, anything under a hidden or ``__`` folder). A link is
    kept whatever its name: it may stand for ``exercises/``."""
    raw = info.filename.replace("\\", "/")  # old Windows tools write backslashes
    shown = f"{archive}: member {_shown(info.filename)}"
    if raw.startswith("/") or re.match(r"[A-Za-z]:(/|$)", raw) or ".." in raw.split("/"):
        raise SubmissionError(f"{shown} has a path outside the archive")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts or raw.endswith("/"):
        return None
    if any(p.startswith((".", "__")) for p in parts[:-1]):  # .git/, __MACOSX/, __pycache__/
        return None
    if not link and not parts[-1].endswith((".py", ".pth")):
        return None
    return PurePosixPath(*parts)


def _check_member(info: zipfile.ZipInfo, archive: str) -> str | None:
    """Refuse what the zip must not hold; 'link' for a member flagged as a symbolic link."""
    shown = f"{archive}: member {_shown(info.filename)}"
    mode = info.external_attr >> 16
    kind = _special(mode) if mode & 0o170000 else None
    if info.flag_bits & 0x1:
        raise SubmissionError(f"{shown} is encrypted: hand in an unencrypted zip")
    if info.compress_type not in ZIP_METHODS:
        raise SubmissionError(f"{shown} uses compression method {info.compress_type}: only "
                              f"stored and deflate members are unpacked")
    if kind == "a symbolic link":
        return "link"
    if kind is not None:
        raise _refusal(shown, kind)
    return None


def _unpack_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path,
                   budget: int, shown: str) -> int:
    """Decompress one member into ``destination``, counting bytes as they come (headers may
    lie); returns the bytes written, or -1 when the member is over MAX_MEMBER_BYTES."""
    written = 0
    with archive.open(info) as source, open(destination, "xb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > MAX_MEMBER_BYTES:
                break
            if written > budget:
                raise SubmissionError(f"{shown} unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            sink.write(chunk)
    if written > MAX_MEMBER_BYTES:
        destination.unlink()
        return -1
    return written


def _extract_zip(path: Path, shown: str, target: Path, notes: list[str]) -> None:
    try:
        data = _read_regular(path, shown, MAX_ZIP_FILE_BYTES)
    except _TooLarge:
        raise SubmissionError(f"{shown} is larger than {MAX_ZIP_FILE_BYTES} bytes") from None
    # zipfile parses the whole central directory before anyone can count its entries; each
    # entry starts with this signature, so its occurrences bound the entries (headers may lie).
    if data.count(b"PK\x01\x02") > MAX_ZIP_MEMBERS:
        raise SubmissionError(f"{shown} holds more than {MAX_ZIP_MEMBERS} members")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as error:
        raise SubmissionError(f"{shown} is not a valid zip file ({_why(error)})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise SubmissionError(f"{shown} holds more than {MAX_ZIP_MEMBERS} members")
        planned: dict[PurePosixPath, tuple[zipfile.ZipInfo, str | None]] = {}
        for info in members:
            flag = _check_member(info, shown)
            where = _member_path(info, shown, flag == "link")
            if where is None:
                continue
            if where in planned:
                raise SubmissionError(f"{shown} holds two members named {_shown(where)}")
            planned[where] = (info, flag)
        used = 0
        for where, (info, flag) in planned.items():
            member = f"{shown}: member {_shown(info.filename)}"
            destination = target.joinpath(*where.parts)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                if flag == "link":  # a marker the folder reader refuses or skips like a link
                    os.symlink(_LINK_PLACEHOLDER, destination)
                    continue
                got = _unpack_member(archive, info, destination, MAX_UNPACKED_BYTES - used,
                                     member)
            except SubmissionError:
                raise
            except _ZIP_ERRORS as error:  # OSError too: a name the disk cannot hold
                raise SubmissionError(f"{member} cannot be unpacked ({_why(error)})") from None
            if got < 0:
                notes.append(f"ignored {_shown(where)}: larger than {MAX_MEMBER_BYTES} bytes")
            else:
                used += got


def _why(error: BaseException) -> str:
    """An exception as a short line; an OSError without its file name (a path of the judge's
    temporary folders means nothing to a student and shows the host)."""
    text = error.strerror if isinstance(error, OSError) and error.strerror else error
    return one_line(f"{type(error).__name__}: {text}", 160)


# ---------------------------------------------------------------------------------------------
# Notebooks

# A JSON string (escapes included; an unterminated one runs to the end, so this is linear).
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},:")
_STEP = np.zeros(256, np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1


def _json_problem(data: bytes) -> str | None:
    """Too deep or too many values for json.loads, judged from the brackets outside strings."""
    structure = _JSON_STRING.sub(b"", data).translate(None, _NOT_STRUCTURE)
    if len(structure) > MAX_JSON_TOKENS:
        return f"it holds more than {MAX_JSON_TOKENS} JSON values"
    depth = int(np.cumsum(_STEP[np.frombuffer(structure, np.uint8)], dtype=np.int64)
                .max(initial=0))
    if depth > MAX_JSON_DEPTH:
        return f"its JSON nests deeper than {MAX_JSON_DEPTH} levels"
    return None


def _read_notebook(path: Path, shown: str | None = None) -> object:
    """The notebook's parsed JSON (any JSON value: ``notebook_source`` judges its shape)."""
    shown = shown or _shown(Path(path).name)
    try:
        data = _read_regular(path, shown, MAX_NOTEBOOK_BYTES)
    except _TooLarge:
        raise SubmissionError(f"{shown} is larger than {MAX_NOTEBOOK_BYTES} bytes") from None
    problem = _json_problem(data)
    if problem is not None:
        raise SubmissionError(f"{shown} is not a readable notebook: {problem}")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError, MemoryError) as error:
        raise SubmissionError(f"{shown} is not a readable notebook: {_why(error)}") from None


def _code_size(notebook: object, shown: str) -> int:
    """Bytes of the code cells' text, for the source cap before any cell is parsed."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return 0
    if len(cells) > MAX_NOTEBOOK_CELLS:
        raise SubmissionError(f"{shown} holds more than {MAX_NOTEBOOK_CELLS} cells")
    total = 0
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source")
            pieces = [source] if isinstance(source, str) else source
            if isinstance(pieces, list):
                total += sum(len(p.encode("utf-8", "surrogatepass")) for p in pieces
                             if isinstance(p, str))
    return total


def _notebook_module(path: Path, shown: str) -> bytes:
    notebook = _read_notebook(path, shown)
    if _code_size(notebook, shown) > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{shown}: its code cells hold more than {MAX_SOURCE_BYTES} bytes")
    try:
        text = notebook_source(notebook)
    except SubmissionError as error:
        raise SubmissionError(f"{shown}: {one_line(error)}") from None
    except (RecursionError, MemoryError) as error:  # ast.parse of a deeply nested cell
        raise SubmissionError(f"{shown}: a code cell is nested too deeply to compile "
                              f"({_why(error)})") from None
    except Exception as error:  # noqa: BLE001 - notebook_source must judge any JSON's shape
        raise SubmissionError(f"{shown} is not a notebook this grader can read "
                              f"({_why(error)})") from None
    if not isinstance(text, str):
        raise SubmissionError(f"{shown}: no module could be made of its cells")
    # A lone surrogate from a JSON escape stays an escape: the same value inside a literal.
    source = text.encode("utf-8", "backslashreplace")
    problem = source_problem(source)
    if problem is not None:
        raise SubmissionError(f"{shown}: its code is {problem}")
    return source


# ---------------------------------------------------------------------------------------------


def content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def prepare(path: Path) -> Prepared:
    """Copy a submission (folder, zip or notebook) into a fresh temporary folder of modules.

    Raises SubmissionError (one line, naming what was refused) for anything that cannot be read
    within the caps above; never follows a link and never blocks on a special file."""
    path = Path(path)
    shown = _shown(path.name)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise SubmissionError(f"{one_line(path)} does not exist") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        raise SubmissionError(f"{shown} cannot be read: {_why(error)}") from None
    kind = _special(info.st_mode)
    if kind is not None:
        raise _refusal(shown, kind)
    work = Path(tempfile.mkdtemp(prefix="vg-submission-"))
    folder = work / "submission"
    folder.mkdir()
    notes: list[str] = []
    try:
        if stat.S_ISDIR(info.st_mode):
            _from_folder(path, shown, folder, notes, notebooks=True)
        elif path.suffix.lower() == ".ipynb":
            (folder / f"{NOTEBOOK_MODULE}.py").write_bytes(_notebook_module(path, shown))
        elif path.suffix.lower() == ".zip":
            unpacked = work / "unpacked"
            unpacked.mkdir()
            _extract_zip(path, shown, unpacked, notes)
            _from_folder(unpacked, shown, folder, notes)
            shutil.rmtree(unpacked, ignore_errors=True)
        else:
            raise SubmissionError(f"{shown} is not a folder, a .zip or an .ipynb")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Prepared(submission_name(path), path, folder, content_hash(folder), notes)
