"""Read an LMS bulk download (Canvas, Moodle) or a folder of submissions into one submission per
student.

Three layouts of a class folder (``detect_layout`` picks one, ``--layout`` forces it):

* ``canvas``: Canvas's "Download Submissions" zip, unpacked: one flat folder of files named
  ``<name>_<userid>_<submissionid>_<original file name>``, with ``LATE_`` after the name for a
  late submission (``smithbob_LATE_340934_208490284_activations.py``). ``<name>`` is the
  student's sortable name with punctuation removed (it may hold letters with accents, digits and
  ``_``). When a student uploads a file with a name already used, Canvas renames the new
  upload ``<stem>-1<suffix>``, ``-2`` ... (Canvas Instructor Guide, "How do I download all
  student submissions for an assignment?"; the layout is also what the community's unpacking
  tools read, for example mikewesthad/canvas-unzipper).
* ``moodle``: Moodle's "Download all submissions", unpacked: files named
  ``<Full Name>_<participant id>_assignsubmission_file_<original file name>``, or with
  "Download submissions in folders" one folder
  ``<Full Name>_<participant id>_assignsubmission_file_`` per student holding the files as
  uploaded, subfolders kept (MoodleDocs "Assignment settings" and the
  ``downloadasfolders_help`` string of mod/assign). Online-text parts
  (``assignsubmission_onlinetext``) and feedback files are not code and are left out.
* ``folders``: a folder, ``.zip`` or ``.ipynb`` per student (``identity.expand``).

Several files of one student are one submission. Its identity (the gradebook key) is
``<name>_<user id>`` -- never the submission id or the ``LATE_`` marker, which change when the
student hands in again. When one file was uploaded more than once, the newest upload (the
highest submission id, then the highest ``-N``) is graded, and a note says which; so is a
student found under two submission ids.

Nothing is read here but names; ``stage`` copies each submission's files into one folder (or
one ``.zip``/``.ipynb``) through ``submissions``' bounded readers, and the usual reader
(``submissions.prepare``) grades the copy.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.identity import (
    ASSIGNMENT_NOTEBOOK,
    SUBMISSION_SUFFIXES,
    BatchRefused,
    expand,
    fs_text,
    is_one_submission,
    submission_name,
)
from grader.batch.submissions import (
    MAX_FILES,
    MAX_FOLDER_ENTRIES,
    MAX_FOLDER_NESTING,
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    MAX_ZIP_FILE_BYTES,
    MODULE_FILES,
    _read_regular,
    one_line,
)
from grader.student.loader import SubmissionError

LAYOUTS = ("canvas", "moodle", "folders")
# The written answers' file of the modules path (``course.lesson_md``; read by ``grader written``).
ANSWERS_FILE = "answers.md"

# What follows <name> in a Canvas file name: _[LATE_]<user id>_<submission id>_<file>; which
# "_" starts it, when several could, is chosen by ``canvas_parse``.
_CANVAS_REST = re.compile(r"_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)",
                          re.DOTALL)
_MOODLE = re.compile(r"(?P<name>.+)_(?P<user>\d+)_assign(?P<kind>submission|feedback)_"
                     r"(?P<plugin>[a-z]+)(?:_(?P<file>.*))?", re.DOTALL)
_RESUBMITTED = re.compile(r"(?P<stem>.+)-(?P<n>\d+)")
# Files a submission is made of; anything else (a screenshot, a PDF) is not copied.
_WANTED_SUFFIXES = (".py", *SUBMISSION_SUFFIXES)
_LIMITS = {".py": MAX_SOURCE_BYTES, ".ipynb": MAX_NOTEBOOK_BYTES, ".zip": MAX_ZIP_FILE_BYTES}


@dataclass
class Found:
    """One student's submission in a class folder.

    identity: the gradebook key; layout: where it was found; paths: what it is made of, as
    found (files, or one folder per student for Moodle's folders and the ``folders`` layout);
    names: those files' and folders' names as found, for the roster to match; lms_user: the
    user id in the download (Canvas user id, Moodle participant id; empty for folders); late:
    Canvas marked it ``LATE``; notes: what was chosen (the newest upload) or left out, said to
    the instructor."""

    identity: str
    layout: str
    paths: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    lms_user: str = ""
    late: bool = False
    notes: list[str] = field(default_factory=list)
    # original file name (NFC) -> ((submission id, upload number), path): the newest so far
    uploads: dict[str, tuple[tuple[int, int], Path]] = field(default_factory=dict, repr=False)
    # The written answers (``answers.md``) handed in beside the code: read by ``grader
    # written``, never graded or staged. (order, path) of the newest upload.
    answers: tuple[tuple[int, int], Path] | None = field(default=None, repr=False)
    folders: list[Path] = field(default_factory=list, repr=False)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _upload_name(file: str) -> tuple[str, int]:
    """(the original name, which upload): ``activations-2.py`` is upload 2 of
    ``activations.py``; a name without ``-N`` is upload 0."""
    path = Path(file)
    stem, suffix = path.stem, path.suffix
    if suffix.lower() == ".zip" or suffix.lower() == ".ipynb" or suffix == ".py":
        resubmitted = _RESUBMITTED.fullmatch(stem)
        if resubmitted and f"{resubmitted['stem']}{suffix}" != file:
            return f"{resubmitted['stem']}{suffix}", int(resubmitted["n"])
    return file, 0


def _expected(file: str) -> bool:
    original = _upload_name(file)[0]
    return original in MODULE_FILES or original.lower() == ASSIGNMENT_NOTEBOOK


def canvas_parse(filename: str, known_users: Collection[str] = ()) -> re.Match | None:
    """The reading of a Canvas download's file name (None when it is not one).

    A name holding ``_<digits>_<digits>_`` can be split in several places; the reading chosen is
    the first of: one whose user id is on the roster, one whose file part is a file of the
    assignment (``activations.py``, the notebook, after ``-N``), the one with the shortest
    name. Groups: name, late, user, sub, file."""
    readings = [(start, m) for start in range(1, len(filename)) if filename[start] == "_"
                and (m := _CANVAS_REST.fullmatch(filename, start)) is not None]
    if not readings:
        return None

    def rank(item: tuple[int, re.Match]) -> tuple[int, int, int]:
        start, m = item
        return (0 if m["user"] in known_users else 1, 0 if _expected(m["file"]) else 1, start)

    start, _ = min(readings, key=rank)
    return re.fullmatch(rf"(?P<name>{re.escape(filename[:start])})" + _CANVAS_REST.pattern,
                        filename, re.DOTALL)


def moodle_parse(filename: str) -> re.Match | None:
    """The reading of a Moodle download's file or folder name (None when it is not one)."""
    return _MOODLE.fullmatch(filename)


def _listing(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            listed = []
            for entry in entries:
                listed.append(entry)
                if len(listed) > 50 * MAX_FOLDER_ENTRIES:
                    raise BatchRefused(f"{one_line(folder)} holds more than "
                                       f"{50 * MAX_FOLDER_ENTRIES} entries")
            return sorted(listed, key=lambda e: e.name)
    except OSError as error:
        raise BatchRefused(f"cannot list the class folder {one_line(folder)}: "
                           f"{error.strerror or error}") from None


def detect_layout(folder: Path) -> str:
    """``canvas``, ``moodle`` or ``folders``: the layout more than half the entries of
    ``folder`` have (a Canvas download holds files only; Moodle's, files or folders)."""
    folder = Path(folder)
    if not folder.is_dir() or is_one_submission(folder):
        return "folders"
    # What could be a submission in some layout: a folder, or a .py/.zip/.ipynb (a README or a
    # grades export beside the download decides nothing).
    entries = [e for e in _listing(folder) if not e.name.startswith((".", "__"))
               and (e.is_dir(follow_symlinks=False) or e.name.lower().endswith(_WANTED_SUFFIXES))]
    moodle = sum(moodle_parse(e.name) is not None for e in entries)
    canvas = sum(moodle_parse(e.name) is None and canvas_parse(e.name) is not None
                 and not e.is_dir(follow_symlinks=False) for e in entries)
    # More than half: a folder per student in which one zip happens to look like Canvas's
    # names stays a class of folders.
    if 2 * moodle > len(entries) and moodle >= canvas:
        return "moodle"
    if 2 * canvas > len(entries):
        return "canvas"
    return "folders"


def _add_upload(found: Found, original: str, order: tuple[int, int], path: Path) -> None:
    """Keep the newest upload of each original file name (a note says which was used)."""
    key = _nfc(original)
    previous = found.uploads.get(key)
    if previous is None:
        found.uploads[key] = (order, path)
        return
    newer, older = ((order, path), previous) if order > previous[0] else (previous, (order, path))
    found.uploads[key] = newer
    found.notes.append(f"{found.identity}: {fs_text(newer[1].name)} graded, the newest upload "
                       f"of {fs_text(original)} ({fs_text(older[1].name)} left out)")


def _finish(found: Found) -> Found:
    files = sorted(found.uploads.items())
    found.paths = [*found.folders, *(path for _, (_, path) in files)]
    # The names as downloaded (``smithbob_1001_5001_activations.py``): what a roster's
    # ``submission`` cell may name or glob; the original names are shared by the whole class.
    found.names = [fs_text(p.name) for p in found.paths]
    return found


def read_canvas(folder: Path, known_users: Collection[str] = ()) -> tuple[list[Found], list[str]]:
    """The students of an unpacked Canvas download, and the names that are not Canvas files."""
    students: dict[str, Found] = {}
    left_out: list[str] = []
    for entry in _listing(Path(folder)):
        name = entry.name
        if name.startswith((".", "__")):
            continue
        parsed = canvas_parse(name, known_users)
        if parsed is None or entry.is_dir(follow_symlinks=False):
            left_out.append(fs_text(name))
            continue
        file = parsed["file"]
        original, upload = _upload_name(file)
        is_answers = original.lower() == ANSWERS_FILE
        if not (is_answers or file.lower().endswith(_WANTED_SUFFIXES)):
            continue  # a screenshot or report beside the code: not graded, not a student
        identity = fs_text(f"{parsed['name']}_{parsed['user']}")
        found = students.setdefault(identity, Found(identity, "canvas",
                                                    lms_user=parsed["user"]))
        found.late = found.late or parsed["late"] is not None
        order = (int(parsed["sub"]), upload)
        if is_answers:
            if found.answers is None or order > found.answers[0]:
                found.answers = (order, Path(entry.path))
            continue
        _add_upload(found, original, order, Path(entry.path))
    for identity, found in students.items():
        if not found.uploads:  # only written answers: nothing to grade, still the student's
            continue
        newest = max(order[0] for order, _ in found.uploads.values())
        for key in [k for k, (order, _) in found.uploads.items() if order[0] != newest]:
            # a file only an older submission has is not part of the newest one
            found.notes.append(f"{identity}: {fs_text(found.uploads[key][1].name)} left out "
                               f"(from an older submission than {newest})")
            del found.uploads[key]
    return [_finish(f) for f in students.values()], left_out


def read_moodle(folder: Path) -> tuple[list[Found], list[str]]:
    """The students of an unpacked Moodle download (flat or in folders), and the names that
    are not Moodle submissions."""
    students: dict[str, Found] = {}
    left_out: list[str] = []
    for entry in _listing(Path(folder)):
        name = entry.name
        if name.startswith((".", "__")):
            continue
        parsed = moodle_parse(name)
        if parsed is None:
            left_out.append(fs_text(name))
            continue
        if parsed["kind"] != "submission" or parsed["plugin"] != "file":
            continue  # online text, comments, feedback files: not code
        identity = fs_text(f"{parsed['name']}_{parsed['user']}")
        found = students.setdefault(identity, Found(identity, "moodle",
                                                    lms_user=parsed["user"]))
        if entry.is_dir(follow_symlinks=False):
            found.folders.append(Path(entry.path))
        elif (parsed["file"] or "").lower() == ANSWERS_FILE:
            found.answers = ((0, 0), Path(entry.path))
        elif (parsed["file"] or "").lower().endswith(_WANTED_SUFFIXES):
            _add_upload(found, parsed["file"], (0, 0), Path(entry.path))
    return [_finish(f) for f in students.values()], left_out


def read_folders(paths: list[Path]) -> list[Found]:
    """Submissions as ``identity.expand`` finds them: one per folder, ``.zip`` or ``.ipynb``."""
    return [Found(submission_name(p), "folders", [Path(p)], [fs_text(Path(p).name)])
            for p in expand(list(paths))]


def discover(paths: list[Path], layout: str | None = None,
             known_users: Collection[str] = ()) -> tuple[list[Found], list[str]]:
    """Every submission the command-line ``paths`` hold, one per student, and the names left out
    of LMS downloads (not Canvas/Moodle files). ``layout`` None: detected per class folder."""
    found: list[Found] = []
    plain: list[Path] = []
    left_out: list[str] = []
    for path in map(Path, paths):
        download = _zipped_download(path) if layout != "folders" else None
        if download is not None:  # a whole class as one zip would be one student's 0
            raise BatchRefused(f"{one_line(path)} is a {download} bulk download: unzip it and "
                               "grade the folder it unpacks to")
        kind = layout or detect_layout(path)
        if kind == "folders" or not path.is_dir() or is_one_submission(path):
            plain.append(path)
            continue
        read, skipped = (read_canvas(path, known_users) if kind == "canvas"
                         else read_moodle(path))
        found.extend(read)
        left_out.extend(skipped)
    if plain:
        found.extend(read_folders(plain))
    seen: dict[str, Found] = {}
    for item in found:
        key = _nfc(item.identity)
        if key in seen:
            raise BatchRefused(f"two submissions would share the gradebook row {item.identity}:"
                               f" {one_line(seen[key].paths[0])} and {one_line(item.paths[0])}")
        seen[key] = item
    return found, left_out


def _zipped_download(path: Path) -> str | None:
    """``canvas`` or ``moodle`` when ``path`` is a zip whose members are mostly named like that
    LMS's download (read from its central directory only), else None."""
    if path.suffix.lower() != ".zip" or not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = [Path(n.rstrip("/")).name for n in archive.namelist()[:10_000]
                     if "/" not in n.rstrip("/")]
    except Exception:  # noqa: BLE001 - not a readable zip: the submission reader says why
        return None
    for kind, parse in (("Moodle", moodle_parse), ("Canvas", canvas_parse)):
        if names and 2 * sum(parse(n) is not None for n in names) > len(names):
            return kind
    return None


# --- staging: one folder (or file) per student, for submissions.prepare ------------------------


def _copy_file(source: Path, target: Path) -> None:
    limit = _LIMITS.get(source.suffix.lower(), MAX_SOURCE_BYTES)
    target.write_bytes(_read_regular(source, one_line(source.name, 120), limit))


def _copy_tree(found: Found, source: Path, target: Path, depth: int = 0,
               budget: list[int] | None = None) -> None:
    """Copy the regular ``.py``/``.ipynb``/``.zip`` files under ``source`` (no link is followed,
    at most MAX_FOLDER_NESTING levels and MAX_FOLDER_ENTRIES entries in all)."""
    budget = budget if budget is not None else [MAX_FOLDER_ENTRIES]
    target.mkdir(parents=True, exist_ok=True)
    for entry in _listing(source):
        budget[0] -= 1
        if budget[0] < 0:
            raise SubmissionError(f"{one_line(source.name)} holds more than "
                                  f"{MAX_FOLDER_ENTRIES} entries")
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode) and depth < MAX_FOLDER_NESTING and not entry.name.startswith("."):
            _copy_tree(found, Path(entry.path), target / entry.name, depth + 1, budget)
        elif stat.S_ISREG(mode) and entry.name.lower().endswith(_WANTED_SUFFIXES):
            _copied(found, Path(entry.path), target / entry.name)


def _copied(found: Found, source: Path, target: Path) -> bool:
    """Copy one file for ``stage``; a file that cannot be read within its cap is left out with
    a note (the checks needing it fail and say what is missing; the student is still graded)."""
    try:
        _copy_file(source, target)
        return True
    except (SubmissionError, OSError) as error:
        found.notes.append(f"{found.identity}: {one_line(error, 200)}; left out")
        return False


def stage(found: Found, where: Path) -> Path:
    """The path to grade for ``found``: its own path for the ``folders`` layout; otherwise a
    copy in ``where`` named for its identity -- ``<identity>.zip`` or ``.ipynb`` when the
    student handed in that one file (alone, or alone in their Moodle folder), else a folder
    ``<identity>/`` of their files. Never raises for what a student handed in."""
    if found.layout == "folders":
        return found.paths[0]
    where.mkdir(parents=True, exist_ok=True)
    safe = found.identity.replace("/", "_").replace("\0", "_") or "submission"
    files = [(original, path) for original, (_, path) in sorted(found.uploads.items())]
    single: tuple[str, Path] | None = files[0] if len(files) == 1 and not found.folders else None
    if not files and len(found.folders) == 1:
        try:
            inner = [e for e in _listing(found.folders[0]) if not e.name.startswith(".")]
        except BatchRefused:
            inner = []
        if len(inner) == 1 and inner[0].is_file(follow_symlinks=False):
            single = (inner[0].name, Path(inner[0].path))
    if single is not None and Path(single[0]).suffix.lower() in SUBMISSION_SUFFIXES:
        target = where / f"{safe}{Path(single[0]).suffix.lower()}"
        if _copied(found, single[1], target):
            return target
    target = where / safe
    target.mkdir()
    for folder in found.folders:
        try:
            _copy_tree(found, folder, target)
        except (SubmissionError, BatchRefused, OSError) as error:
            found.notes.append(f"{found.identity}: {one_line(error, 200)}; the rest left out")
    for original, path in files[:MAX_FILES]:
        _copied(found, path, target / Path(original).name)
    return target
