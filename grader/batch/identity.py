"""Who a submission is: its name, the submissions a command line names, and how a name is shown.

A submission's *identity* is its file name without ``.zip``/``.ipynb``: ``alice/``, ``alice.zip``
and ``alice.ipynb`` are all ``alice``. The identity is the gradebook's key, decides the shard and is
what resuming compares, so it depends on nothing but the file name: not on the folder it sits in,
the working directory or the other submissions of the batch.

Names are whatever students (or their LMS) chose, so everything here treats them as hostile text:

* ``submission_name`` always returns a valid Unicode string. A file name holding bytes that are
  not UTF-8 (Python gives them to us as lone surrogates, which SQLite, UTF-8 files and JSON cannot
  store) gets each undecodable byte written as ``\\xNN``; the gradebook keeps the exact bytes of
  the path beside it (``Gradebook.original_path``).
* ``visible`` is the form for terminals: control and format characters (escape sequences,
  newlines, bidi overrides) are shown as ``\\x1b``, ``\\n``, ``\\u202e`` instead of acting.
* ``csv_cell`` applies the OWASP CSV-injection rule to one cell (and ``visible``).
* ``feedback_stem`` is a short, portable, unique file name for the student's feedback files.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from grader.spec.api import MODULES

SUBMISSION_SUFFIXES = (".zip", ".ipynb")  # compared in lower case: erin.ZIP is a zip
# The notebook's name in the student release: a folder holding only it is one student's.
ASSIGNMENT_NOTEBOOK = "vanishing_gradients.ipynb"


def fs_text(text: str) -> str:
    """``text`` as a string that encodes to UTF-8: undecodable file-name bytes become ``\\xNN``.

    Names read from the file system carry bytes that are not UTF-8 as lone surrogates
    (PEP 383); any other lone surrogate is written ``\\udNNN``. Valid text is returned unchanged.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    # A surrogate outside the PEP 383 range did not come from a file name: keep it as \\udNNN.
    text = re.sub("[\ud800-\udc7f\udd00-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def submission_name(path: Path) -> str:
    """The identity of the submission at ``path`` (see the module docstring)."""
    path = Path(path)
    if path.name in ("", ".", ".."):  # `grade .` names the folder it is run in
        path = Path(os.path.abspath(path))
    name = path.stem if path.suffix.lower() in SUBMISSION_SUFFIXES else path.name
    return fs_text(name) or "submission"


def holds_modules(root: Path) -> Path | None:
    for candidate in (root, root / "exercises"):
        if any((candidate / f"{m}.py").is_file() for m in MODULES):
            return candidate
    return None


def is_one_submission(folder: Path) -> bool:
    """Whether a folder is one student's submission rather than a class: it holds the exercise
    modules, or nothing that counts but the assignment's notebook (the folder per student of
    an LMS export, ``alice/vanishing_gradients.ipynb``)."""
    if holds_modules(folder) is not None:
        return True
    try:
        entries = [p for p in Path(folder).iterdir() if _is_candidate(p)]
    except OSError:
        return False
    return len(entries) == 1 and entries[0].name.lower() == ASSIGNMENT_NOTEBOOK


class BatchRefused(ValueError):
    """The paths on a command line do not make a batch that can be graded (nothing was)."""


class IdentityClash(BatchRefused):
    """Two or more submissions of one batch have the same identity.

    ``groups`` maps each shared identity to the paths that have it.
    """

    def __init__(self, groups: dict[str, list[Path]]):
        self.groups = groups
        lines = ["these submissions would share a gradebook row, so nothing was graded; "
                 "rename or remove all but one of each group:"]
        for name, paths in groups.items():
            shown = ", ".join(visible(os.fsdecode(p)) for p in paths)
            lines.append(f"  {visible(name)}: {shown}")
        super().__init__("\n".join(lines))


def _clash_key(name: str) -> str:
    # "é" typed as one code point or as e + combining accent looks the same everywhere a person
    # reads the gradebook, so two such names are one identity for this check.
    return unicodedata.normalize("NFC", name)


def check_unique(paths: Iterable[Path]) -> None:
    """Refuse a batch in which two submissions have one identity (raises ``IdentityClash``).

    Why refuse rather than invent distinct names (``alice-2``, ``alice.zip``, ``sec1/alice``):
    the identity is the gradebook key, the shard and what a re-run compares, and it must match
    the student's name in the instructor's other records. Any rename depending on which other
    files happen to be present would change between runs (a resumed run would regrade, or leave
    an orphan row), and a name including the folder would change with the working directory and
    differ between the machines of a sharded run. Only the instructor knows which of
    ``alice/`` and ``alice.zip`` is the submission, or that two sections both have an ``alice``;
    refusing before anything is graded costs nothing and loses nothing.

    Names are compared after Unicode NFC normalisation (a composed and a decomposed "é" look
    the same in every list), not case-folded: ``Alice`` and ``alice`` are two identities with two
    rows (their feedback file names differ even on case-insensitive disks, see
    ``feedback_stem``).
    """
    seen: dict[str, list[Path]] = {}
    for path in paths:
        seen.setdefault(_clash_key(submission_name(path)), []).append(Path(path))
    groups = {submission_name(ps[0]): ps for ps in seen.values() if len(ps) > 1}
    if groups:
        raise IdentityClash(groups)


def _is_candidate(entry: Path) -> bool:
    """Whether an entry of a class folder is a submission.

    Submissions are folders and files named ``*.zip``/``*.ipynb`` of any kind: a symlink, FIFO or
    device named like one is kept so that ``prepare`` refuses it with a message (a silent skip
    would lose a student). Left out: ``__MACOSX``/``__pycache__``-style folders and macOS ``._*``
    resource forks; other names starting with ``.`` or ``_`` (``.git``, ``.ipynb_checkpoints``)
    only count when they are plainly a submission (a ``.zip``/``.ipynb``, or a folder holding
    the exercise modules), so a student called ``.alice`` or ``_bob`` is still graded.
    """
    name = entry.name
    if name.startswith(("__", "._")):
        return False
    named_like_one = entry.suffix.lower() in SUBMISSION_SUFFIXES
    if name.startswith((".", "_")):
        return named_like_one or (entry.is_dir() and holds_modules(entry) is not None)
    return named_like_one or entry.is_dir()


def left_out(folder: Path) -> list[str]:
    """The names in a class folder that are not submissions and not plainly something else
    (hidden files, ``__MACOSX``): said on the terminal, so no student is dropped unseen."""
    try:
        return sorted(p.name for p in Path(folder).iterdir()
                      if not _is_candidate(p) and not p.name.startswith((".", "_")))
    except OSError:
        return []


def expand(paths: list[Path]) -> list[Path]:
    """Submissions named on the command line: a folder of submission folders is a batch.

    A path given twice (or a class folder and one of its submissions) counts once. Raises
    ``IdentityClash`` when two different submissions have one identity, and ``BatchRefused``
    for a class folder that cannot be listed, before any grading.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not is_one_submission(path):
            try:
                found.extend(sorted(p for p in path.iterdir() if _is_candidate(p)))
            except OSError as error:
                raise BatchRefused(f"cannot list the class folder "
                                   f"{visible(os.fsdecode(path))}: {error.strerror}") from None
        else:
            found.append(path)
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.normpath(os.path.abspath(path)), path)
    result = list(unique.values())
    check_unique(result)
    return result


# --- showing names -------------------------------------------------------------------------

_SHOWN_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Cc: C0/C1 controls and DEL (terminal escape sequences start with ESC or CSI); Cf: format
# characters (bidi overrides, zero-width joiners); Zl/Zp: line/paragraph separators; Cs: lone
# surrogates, which no terminal or file encoding accepts.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _shown(char: str) -> str:
    if char in _SHOWN_ESCAPES:
        return _SHOWN_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control or format character written as an escape (``\\x1b``).

    What a terminal, a plot title or one line of a report can show without the text taking
    control of it. Characters in ``keep`` (for example ``"\\n"``) are left as they are.
    """
    return "".join(_shown(c) if c not in keep and unicodedata.category(c) in _HIDDEN_CATEGORIES
                   else c for c in text)


# Read by ``csv_cell`` on the escaped text, where a leading tab, CR or LF reads "\t", "\r", "\n".
_FORMULA_START = ("=", "+", "-", "@", "\\t", "\\r", "\\n")


def csv_cell(value: object) -> object:
    """One CSV cell, safe in a spreadsheet and in a terminal.

    Text starting with ``=``, ``+``, ``-``, ``@``, tab or CR (or LF, or any of those after
    leading spaces, which some spreadsheets skip) gets a leading ``'`` so spreadsheets show it as
    text (the OWASP CSV-injection rule). Control characters, tab, CR and LF included, are written
    as visible escapes: ``cat grades.csv`` cannot run an escape sequence, and a line of the file
    is a row even for importers that do not read quoted line breaks; the gradebook keeps the
    exact name. Numbers are returned as they are: a negative score stays a number.
    """
    if not isinstance(value, str):
        return value
    value = visible(value)
    if value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(cell: str) -> str:
    """The text a cell written by ``csv_cell`` stood for, with control characters in their
    visible form (``visible(text)``)."""
    if cell.startswith("'") and csv_cell(cell[1:]) == cell:
        return cell[1:]
    return cell


# --- file names for feedback ---------------------------------------------------------------

_PLAIN = re.compile(r"[a-z0-9_][a-z0-9._-]{0,99}")
_HASHED = re.compile(r".*-[0-9a-f]{16}")
# Names that mean a device on Windows, and the grader's own file names in a feedback or
# summary folder.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10)), "index", "summary", "score_histogram"}


def feedback_stem(name: str) -> str:
    """A file-name stem for ``name``'s feedback: ``<stem>.md``, ``<stem>_gradient_flow.png``.

    A short lower-case ASCII name (letters, digits, ``._-``, at most 100 characters, not starting
    with ``.`` or ``-``) is used as it is, so ``alice`` gets ``alice.md``. Any other name gets a
    readable ASCII slug (letters, digits, ``_-``; at most 60 characters) plus 16 hex digits of
    the name's SHA-256: unique (also on case-insensitive file systems), at most 77 characters,
    never starting with ``-`` or ``.``. Plain names that look like such a result are hashed as
    well, so one student cannot choose a name that overwrites another's feedback.
    """
    if (_PLAIN.fullmatch(name) and not _HASHED.fullmatch(name)
            and name.split(".")[0] not in _RESERVED and not name.endswith(".")):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    # No "." in a slug: Windows reads "con.txt-..." as the device "con".
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_name).strip("_-")[:60].rstrip("_-")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{slug or 'submission'}-{digest}"
