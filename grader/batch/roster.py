"""The class roster: who the students are, and which submission is whose (``--roster FILE``).

A roster is a CSV file with one row per student and (at least) these columns, matched by name
after lower-casing and treating spaces, ``-`` and ``_`` alike (so ``Student ID``,
``student_id`` and ``student-id`` are one column):

* ``id`` (aliases: ``student id``, ``sis user id``, ``idnumber``, ``id number``): the student's
  id in the instructor's records (Canvas's *SIS User ID*, Moodle's *ID number*). Unique.
* ``name`` (``full name``, ``student``): shown in exports.
* ``email`` (``email address``): Moodle's usual identifier; may be empty for a student.
* ``submission`` (``file``, ``folder``, ``lms id``, ``user id``): how to find the student's
  submission: its identity or file/folder name (``alice``, ``alice.zip``), a glob
  (``alice_*``), or the student's user id in the LMS download (Canvas's user id, Moodle's
  participant id). Empty: the student's ``id`` is used the same way.

Optional columns: ``section``, ``sis login id`` (``login``) and ``canvas id`` (Canvas's own
user id, the ``ID`` column of its gradebook).

Files come from spreadsheets, so what Excel and LibreOffice write is read as meant: a UTF-8 byte
order mark, UTF-16 ("Unicode text"), ``;`` or tab as the separator (the header decides), a
``sep=;`` first line, blank rows and columns, spaces around cells, and text cells written as
formulas (``="00123"``). What cannot be meant is refused with a one-line ``RosterError`` naming
the file and line: a missing column, an empty or duplicate id, an id Excel turned into a number
(``1.23E+11``), two rows claiming one submission, a file that is not UTF-8/UTF-16 text.

Matching (``match``) is exact first (identity, file name or LMS user id, Unicode NFC), then
case-insensitive, then globs; a submission no row claims is *unknown*, a student whose row
claims nothing has *no submission*, and both are listed, never dropped. A row claiming two
submissions, or a submission two rows claim, refuses the batch before anything is graded.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MAX_ROSTER_BYTES = 8 << 20  # 100,000 students at ~80 bytes a row

_ALIASES = {
    "id": ("id", "student_id", "studentid", "sis_user_id", "sis_id", "idnumber", "id_number"),
    "name": ("name", "full_name", "fullname", "student", "student_name"),
    "email": ("email", "email_address", "e_mail", "mail"),
    "submission": ("submission", "file", "folder", "lms_id", "user_id", "lms_user_id"),
    "section": ("section",),
    "login": ("sis_login_id", "login", "login_id"),
    "canvas_id": ("canvas_id", "canvas_user_id"),
}
REQUIRED = ("id", "name", "email", "submission")
_GLOB = re.compile(r"[*?\[]")
# What Excel shows for a long number in a "General" cell: the digits are gone.
_SCIENTIFIC = re.compile(r"[+-]?\d(\.\d+)?[eE][+-]?\d+")
_FORMULA_TEXT = re.compile(r'="(.*)"')


class RosterError(ValueError):
    """A roster that cannot be read as meant (the message is one line)."""


@dataclass(frozen=True)
class Student:
    """One row of the roster (every field a stripped string; ``line`` its line in the file)."""

    id: str
    name: str
    email: str = ""
    submission: str = ""
    section: str = ""
    login: str = ""
    canvas_id: str = ""
    line: int = 0

    @property
    def pattern(self) -> str:
        """What finds the student's submission (the ``submission`` cell, else the id)."""
        return self.submission or self.id


@dataclass(frozen=True)
class Candidate:
    """A submission as the roster sees it: its identity, the names it was found under (file or
    folder names), and its user id in the LMS download (empty for plain folders)."""

    identity: str
    names: tuple[str, ...] = ()
    lms_user: str = ""


@dataclass
class Matching:
    """Who handed in what: ``by_student`` (student id -> identity), the ``unknown`` identities
    (no roster row) and the students with ``no_submission``, each in a stable order."""

    by_student: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    no_submission: list[Student] = field(default_factory=list)

    def student_of(self, identity: str) -> str | None:
        for student, found in self.by_student.items():
            if found == identity:
                return student
        return None


def _key(header: str) -> str:
    return re.sub(r"[\s\-_]+", "_", header.strip().lower()).strip("_")


def _decode(data: bytes, shown: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise RosterError(f"{shown}: not valid UTF-16 text") from None
    try:
        return data.decode("utf-8-sig")  # a byte order mark (Excel's "CSV UTF-8") is dropped
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise RosterError(f"{shown} line {line}: not UTF-8 text (save it as \"CSV UTF-8\")") \
            from None


def _cell(text: str) -> str:
    text = unicodedata.normalize("NFC", text.strip())
    formula = _FORMULA_TEXT.fullmatch(text)  # ="00123": Excel's way to keep leading zeros
    return formula.group(1) if formula else text


def spreadsheet_rows(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """The separator and the rows (line number, raw cells) of a CSV a spreadsheet saved: an
    Excel ``sep=;`` first line names the separator, else the first non-blank line decides
    between ``,``, ``;`` and tab (the one it holds most of; ``,`` when none). Shared by the
    roster and ``written.read_scores``, so both read the same dialects."""
    lines = text.removeprefix("\ufeff").splitlines()  # a BOM left by a second decoding
    first = 0
    separator = re.fullmatch(r'"?sep=(.)"?', lines[0].strip(" \r")) if lines else None
    if separator:  # Excel's separator line
        delimiter, first = separator.group(1), 1
    else:
        header_line = next((x for x in lines if x.strip(" ,;\t")), "")
        counts = {d: header_line.count(d) for d in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    rows = csv.reader(io.StringIO("\n".join(lines[first:])), delimiter=delimiter)
    return delimiter, [(i + 1 + first, row) for i, row in enumerate(rows)]


def parse_roster(text: str, shown: str = "roster") -> list[Student]:
    """The students of a roster's text (see the module docstring); ``RosterError`` otherwise."""
    delimiter, rows = spreadsheet_rows(text)
    numbered = [(n, [_cell(c) for c in row]) for n, row in rows]
    numbered = [(n, row) for n, row in numbered if any(row)]
    if not numbered:
        raise RosterError(f"{shown}: empty (no header row)")
    header_number, header = numbered[0]
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        key = _key(title)
        role = next((r for r, names in _ALIASES.items() if key in names), None)
        if role is None:
            continue  # other columns (notes, a group) are the instructor's business
        if role in columns:
            raise RosterError(f"{shown} line {header_number}: two columns mean {role!r} "
                              f"({header[columns[role]]!r} and {title!r})")
        columns[role] = index
    missing = [r for r in REQUIRED if r not in columns]
    if missing:
        found = ", ".join(repr(h) for h in header if h) or "nothing"
        raise RosterError(f"{shown} line {header_number}: missing column(s) "
                          f"{', '.join(missing)} (the header has {found}; separator "
                          f"{delimiter!r})")
    students: list[Student] = []
    seen_ids: dict[str, int] = {}
    seen_patterns: dict[str, tuple[int, str]] = {}
    for number, row in numbered[1:]:
        values = {role: (row[i] if i < len(row) else "") for role, i in columns.items()}
        extra = [c for c in row[len(header):] if c]
        if extra:
            raise RosterError(f"{shown} line {number}: more cells than the header has columns "
                              f"(a {delimiter!r} inside a cell must be quoted)")
        student_id = values["id"]
        if not student_id:
            raise RosterError(f"{shown} line {number}: empty student id")
        if _SCIENTIFIC.fullmatch(student_id):
            raise RosterError(f"{shown} line {number}: id {student_id!r} looks like a number "
                              "a spreadsheet rounded (format the column as Text and export "
                              "again)")
        if student_id in seen_ids:
            raise RosterError(f"{shown} line {number}: duplicate student id {student_id!r} "
                              f"(first on line {seen_ids[student_id]})")
        seen_ids[student_id] = number
        student = Student(line=number, **{r: values.get(r, "") for r in _ALIASES})
        pattern = student.pattern.casefold()
        if pattern in seen_patterns:
            other_line, other = seen_patterns[pattern]
            raise RosterError(f"{shown} line {number}: submission {student.pattern!r} is also "
                              f"student {other!r}'s (line {other_line})")
        seen_patterns[pattern] = (number, student_id)
        students.append(student)
    return students


def read_roster(path: Path) -> list[Student]:
    """The students of the roster file at ``path``; ``RosterError`` (one line) otherwise."""
    path = Path(path)
    shown = path.name
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ROSTER_BYTES + 1)
    except OSError as error:
        raise RosterError(f"{shown}: cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(f"{shown}: larger than {MAX_ROSTER_BYTES} bytes")
    if b"\0" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterError(f"{shown}: not a CSV file (it holds NUL bytes; an .xlsx must be "
                          "saved as CSV first)")
    return parse_roster(_decode(data, shown), shown)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _exact(student: Student, candidate: Candidate, fold: bool) -> bool:
    norm = (lambda s: _nfc(s).casefold()) if fold else _nfc
    pattern = norm(student.pattern)
    names = {norm(candidate.identity), *(norm(n) for n in candidate.names)}
    if candidate.lms_user:
        names.add(candidate.lms_user)
    return pattern in names


def _globbed(student: Student, candidate: Candidate) -> bool:
    if not _GLOB.search(student.pattern):
        return False
    pattern = _nfc(student.pattern).casefold()
    return any(fnmatch.fnmatchcase(_nfc(n).casefold(), pattern)
               for n in (candidate.identity, *candidate.names))


def match(students: Sequence[Student], candidates: Iterable[Candidate]) -> Matching:
    """Which submission is whose (see the module docstring); ``RosterError`` for a row that
    claims two submissions or a submission two rows claim."""
    candidates = list(candidates)
    claims: dict[str, list[str]] = {c.identity: [] for c in candidates}
    claimed_by: dict[str, str] = {}
    # Exact, then case-insensitive, then glob: a stage only sees what earlier ones left.
    for stage in (lambda s, c: _exact(s, c, False), lambda s, c: _exact(s, c, True), _globbed):
        for student in students:
            if student.id in claimed_by:
                continue
            hits = [c.identity for c in candidates if not claims[c.identity]
                    and stage(student, c)]
            if len(hits) > 1:
                raise RosterError(f"roster line {student.line}: submission "
                                  f"{student.pattern!r} matches {len(hits)} submissions "
                                  f"({', '.join(sorted(hits)[:5])}); make it match one")
            if hits:
                claimed_by[student.id] = hits[0]
        for student_id, identity in claimed_by.items():
            if student_id not in claims[identity]:
                claims[identity].append(student_id)
        for identity, owners in claims.items():
            if len(owners) > 1:
                raise RosterError(f"submission {identity!r} is claimed by students "
                                  f"{', '.join(owners)}; give each row its own submission")
    result = Matching()
    for student in students:
        if student.id in claimed_by:
            result.by_student[student.id] = claimed_by[student.id]
        else:
            result.no_submission.append(student)
    result.unknown = sorted(i for i, owners in claims.items() if not owners)
    return result


def user_ids(students: Iterable[Student]) -> set[str]:
    """The LMS user ids a roster names: ``submission`` cells that are a number or end in
    ``_<number>`` (an identity such as ``smithbob_340934``), and the ``canvas id`` column. What
    ``lms.canvas_parse`` reads an ambiguous Canvas file name by."""
    found: set[str] = set()
    for student in students:
        tail = re.search(r"(?:^|_)(\d+)$", student.pattern)
        if tail:
            found.add(tail.group(1))
        if student.canvas_id:
            found.add(student.canvas_id)
    return found


def describe(matching: Matching, total_students: int) -> list[str]:
    """The lines a command prints about a matching: the counts, then each unknown submission
    and each student with no submission (nobody is left out unseen)."""
    lines = [f"roster: {total_students} student(s), {len(matching.by_student)} with a "
             f"submission, {len(matching.no_submission)} with no submission; "
             f"{len(matching.unknown)} submission(s) not on the roster"]
    lines += [f"  no submission: {s.id} ({s.name})" for s in matching.no_submission]
    lines += [f"  not on the roster: {name}" for name in matching.unknown]
    return lines
