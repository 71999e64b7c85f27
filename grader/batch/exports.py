"""The gradebook as CSV for people and learning platforms (``export --format FORMAT``).

Every number comes from ``totals.totals`` (autograded points plus what the policy adds or
takes), so every format, the class report and the terminal agree on a student's total. With a
roster (``roster.match``), each row is a student: students with no submission get a row with an
empty score, and submissions no roster row claims get a row of their own; nobody is dropped
(the one exception is said below, and printed). Check columns follow the assignment's order
(``Gradebook.check_order``), whatever order the rows were recorded or merged in.

Formats and the documentation they follow:

* ``plain``: ``submission, score, max_score, <one column per check>, not_graded``; with a roster
  ``student_id, name, email`` come first and ``status`` before ``not_graded``. When manual
  points, late penalties or overrides are recorded, ``auto, manual, late_penalty, override``
  columns come before ``status``.
* ``canvas``: Canvas's Gradebook import CSV (Canvas Instructor Guide, "How do I import grades in
  the Gradebook?"; the columns are those of Canvas's own Gradebook export): ``Student, ID, SIS
  User ID, SIS Login ID, Section``, then one assignment column named ``<name> (<assignment
  id>)`` (without an id Canvas offers to create the assignment), and a second row
  ``Points Possible`` holding the maximum (``max_total``). ``ID`` is Canvas's user id (the
  roster's ``canvas id``, else the user id of the Canvas download, else a roster
  ``submission`` cell of digits, the LMS user id, so also for a student with no submission),
  ``SIS User ID`` the roster's id, ``SIS Login ID`` its ``sis login id``. A student with no
  submission has an empty score, which Canvas leaves unchanged on import.
* ``moodle``: Moodle's CSV grade import (MoodleDocs "Grade import": the preview maps one column
  to identify users -- "Email address" to useremail or "ID number" to useridnumber -- and each
  grade column to a grade item; a feedback column may be mapped to the item's feedback, and
  should be imported with its grades). Columns: ``Email address`` or ``ID number`` (the roster's
  email or id), the grade item (its name), and with ``--feedback-column`` ``Feedback``. Moodle
  refuses a whole file in which one user cannot be found, so rows without an identifier (a
  submission not on the roster, a student without an email) are left out of this file only,
  and printed. Moodle keeps the maximum in the grade item: set it to ``max_total`` (printed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader.batch.gradebook import Gradebook, write_csv
from grader.batch.policy import Policy, resolve_extensions
from grader.batch.roster import Candidate, Matching, Student, match
from grader.batch.totals import StudentTotal, totals

FORMATS = ("plain", "canvas", "moodle")
MOODLE_IDENTIFIERS = {"email": "Email address", "idnumber": "ID number"}
DEFAULT_ASSIGNMENT = "Vanishing gradients"
NO_SUBMISSION = "no submission"
NOT_ON_ROSTER = "not on the roster"


@dataclass(frozen=True)
class ExportOptions:
    """How to export.

    assignment: the assignment (Canvas) or grade item (Moodle) name; assignment_id: Canvas's
    assignment id (the number in its URL); identifier: Moodle's user identifier, ``email`` or
    ``idnumber``; feedback: Moodle's feedback column; present: when given, only submissions with
    these identities are exported (``--present-only``); policy: the points policy whose late
    rule the totals apply (``--config``)."""

    format: str = "plain"
    assignment: str = DEFAULT_ASSIGNMENT
    assignment_id: str = ""
    identifier: str = "email"
    feedback: bool = False
    present: frozenset[str] | None = None
    policy: Policy | None = None  # grader.toml's late policy (None: no late penalty)


@dataclass(frozen=True)
class Row:
    """One row of an export: a student (None for a submission not on the roster), their
    submission's identity (None: no submission), its total (None: no submission), its user id in
    the LMS download and a status: ``graded``, ``not graded``, ``no submission`` or
    ``not on the roster``."""

    student: Student | None
    identity: str | None
    total: StudentTotal | None
    lms_user: str
    status: str


def points(value: float | int | None) -> str | int:
    """A score as a cell: whole numbers without a decimal point, others to 2 decimals."""
    if value is None:
        return ""
    if float(value).is_integer():
        return int(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def candidates(gradebook: Gradebook) -> list[Candidate]:
    """The recorded submissions as the roster sees them (names they were found under, LMS id)."""
    origins = gradebook.origins()
    found = []
    for name in gradebook.names():
        layout, user, names, _ = origins.get(name, ("folders", "", [], False))
        original = gradebook.original_path(name)
        if layout == "folders" and original is not None:
            names = [*names, os.fsdecode(original).rstrip("/").rsplit("/", 1)[-1]]
        found.append(Candidate(name, tuple(dict.fromkeys(names)), user))
    return found


def export_rows(gradebook: Gradebook, students: Sequence[Student] | None = None,
                present: frozenset[str] | None = None,
                policy: Policy | None = None) -> tuple[list[Row], Matching | None]:
    """The rows of every format: roster order first (then the unknown submissions by name), or
    every submission by name without a roster."""
    by_name = {t.submission: t for t in totals(gradebook, policy=policy)}
    if present is not None:
        by_name = {n: t for n, t in by_name.items() if n in present}
    users = {n: user for n, (_, user, _, _) in gradebook.origins().items()}
    status = {n: ("not graded" if t.error else "graded") for n, t in by_name.items()}
    if students is None:
        return [Row(None, n, t, users.get(n, ""), status[n]) for n, t in by_name.items()], None
    matching = match(students, [c for c in candidates(gradebook) if c.identity in by_name])
    rows = []
    for student in students:
        identity = matching.by_student.get(student.id)
        if identity is None:
            rows.append(Row(student, None, None, "", NO_SUBMISSION))
        else:
            rows.append(Row(student, identity, by_name[identity], users.get(identity, ""),
                            status[identity]))
    rows += [Row(None, n, by_name[n], users.get(n, ""), NOT_ON_ROSTER)
             for n in matching.unknown]
    return rows, matching


def _max_total(rows: Sequence[Row]) -> int:
    maxima = {r.total.max_total for r in rows if r.total is not None}
    if maxima:
        return max(maxima)
    from grader.checking import checks as _registered  # noqa: F401 - fills REGISTRY
    from grader.checking.trial import REGISTRY

    return sum(c.points for c in REGISTRY.values())


def _policy_columns(rows: Sequence[Row]) -> bool:
    return any(r.total is not None and (r.total.manual_max or r.total.late_penalty
                                        or r.total.override is not None) for r in rows)


def _plain(gradebook: Gradebook, rows: Sequence[Row], roster: bool) -> list[list[object]]:
    checks = gradebook.check_order()
    marks: dict[str, dict[str, int]] = {}
    for submission, check_name, score, *_ in gradebook.check_rows():
        marks.setdefault(submission, {})[check_name] = score
    policy = _policy_columns(rows)
    header = ["student_id", "name", "email"] if roster else []
    header += ["submission", "score", "max_score", *checks]
    header += ["auto", "manual", "late_penalty", "override"] if policy else []
    header += ["status", "not_graded"] if roster else ["not_graded"]
    table: list[list[object]] = [header]
    for row in rows:
        t, s = row.total, row.student
        line: list[object] = [s.id, s.name, s.email] if roster and s else (
            ["", "", ""] if roster else [])
        mine = marks.get(row.identity or "", {})
        line += [row.identity or "", points(_plain_score(t)) if t else "",
                 t.max_total if t else "", *(mine.get(c, "") for c in checks)]
        if policy:
            line += ([points(t.auto), points(t.manual), points(t.late_penalty),
                      "" if t.override is None else f"{points(t.override)} ({t.override_reason})"]
                     if t else ["", "", "", ""])
        line += [row.status] if roster else []
        line.append(t.error if t else "")
        table.append(line)
    return table


def _plain_score(total: StudentTotal) -> float:
    """The plain CSV's score: the total; the autograder's score as recorded when no policy
    applies (then the two are the same for every real grade, and the file is byte for byte
    ``Gradebook.export_csv``'s)."""
    if total.manual_max or total.late_penalty or total.override is not None:
        return total.total
    return total.auto


def canvas_column(options: ExportOptions) -> str:
    """The assignment's column title: ``Name (id)`` as Canvas's export writes it."""
    return f"{options.assignment} ({options.assignment_id})" if options.assignment_id \
        else options.assignment


def canvas_user(student: Student | None, row: Row) -> str:
    """Canvas's user id for ``row``: the roster's ``canvas id``, else the user id of the
    Canvas download, else a roster ``submission`` cell that is all digits (how a roster names
    a Canvas user id, ``roster.user_ids``), so a student with no submission is still found."""
    if student is not None and student.canvas_id:
        return student.canvas_id
    if row.lms_user:
        return row.lms_user
    cell = student.submission.strip() if student is not None else ""
    return cell if cell.isascii() and cell.isdigit() else ""


def _canvas(rows: Sequence[Row], options: ExportOptions) -> list[list[object]]:
    table: list[list[object]] = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                                  canvas_column(options)],
                                 ["    Points Possible", "", "", "", "", _max_total(rows)]]
    for row in rows:
        s = row.student
        table.append([s.name if s else row.identity, canvas_user(s, row),
                      s.id if s else "", s.login if s else "", s.section if s else "",
                      points(row.total.total) if row.total else ""])
    return table


def _feedback(gradebook: Gradebook, row: Row) -> str:
    if row.total is None:
        return NO_SUBMISSION
    t = row.total
    if t.error:
        return f"not graded: {t.error}"
    lost = [f"{check} ({score}/{possible})" for submission, check, score, possible, *_ in
            gradebook.check_rows() if submission == row.identity and score < possible]
    text = f"autograded {points(t.auto)}/{t.auto_max}"
    if t.manual_max:
        text += f", written {points(t.manual)}/{t.manual_max}"
    if t.late_penalty:
        text += f", late penalty -{points(t.late_penalty)}"
    if t.override is not None:
        text += f", set to {points(t.override)} ({t.override_reason})"
    return text + (f"; points lost in {', '.join(lost)}" if lost else "")


def _moodle(gradebook: Gradebook, rows: Sequence[Row], options: ExportOptions,
            said: list[str]) -> list[list[object]]:
    header: list[object] = [MOODLE_IDENTIFIERS[options.identifier], options.assignment]
    if options.feedback:
        header.append("Feedback")
    table = [header]
    for row in rows:
        s = row.student
        key = (s.email if options.identifier == "email" else s.id) if s else ""
        if not key:
            who = f"student {s.id}" if s else f"submission {row.identity}"
            said.append(f"  left out of the Moodle file (no {options.identifier} to identify "
                        f"the user): {who}, {points(row.total.total) if row.total else ''}"
                        .rstrip(", "))
            continue
        line: list[object] = [key, points(row.total.total) if row.total else ""]
        if options.feedback:
            line.append(_feedback(gradebook, row))
        table.append(line)
    said.append(f"moodle: set the maximum grade of the grade item \"{options.assignment}\" to "
                f"{_max_total(rows)} before importing")
    return table


def export_policy(gradebook: Gradebook, options: ExportOptions,
                  students: Sequence[Student] | None) -> tuple[Policy | None, list[str]]:
    """``options.policy`` with its [extensions] keyed by submission identity: a key may be an
    identity, a key an earlier ``grade`` resolved, or with a roster a row's id, name, email or
    submission cell (``policy.resolve_extensions``); and one line per key that finds nobody
    (printed as a warning: the export still runs, those extensions apply to no one)."""
    policy = options.policy
    if policy is None or not policy.late.extensions:
        return policy, []
    names = [n for n in gradebook.names() if options.present is None or n in options.present]
    matching = (match(students, [c for c in candidates(gradebook) if c.identity in names])
                if students is not None else None)
    extensions = resolve_extensions(policy.late.extensions, names, students, matching,
                                    gradebook.extension_keys(), policy.source)
    return replace(policy, late=policy.late.resolved(extensions)), extensions.problems


def export(gradebook: Gradebook, path: Path, options: ExportOptions = ExportOptions(),
           students: Sequence[Student] | None = None) -> tuple[Path, list[str]]:
    """Write the gradebook to ``path`` in ``options.format``; returns the path and the lines to
    print (counts, the students with no submission, the submissions not on the roster)."""
    if options.format not in FORMATS:
        raise ValueError(f"unknown export format {options.format!r} (one of {FORMATS})")
    policy, problems = export_policy(gradebook, options, students)
    rows, matching = export_rows(gradebook, students, options.present, policy)
    said = [count_line(rows), *(f"warning: {line}" for line in problems)]
    if matching is not None:
        said += [f"  no submission: {r.student.id} ({r.student.name})" for r in rows
                 if r.status == NO_SUBMISSION and r.student]
        said += [f"  not on the roster: {r.identity}" for r in rows if r.status == NOT_ON_ROSTER]
    if options.format == "plain":
        table = _plain(gradebook, rows, students is not None)
    elif options.format == "canvas":
        table = _canvas(rows, options)
    else:
        table = _moodle(gradebook, rows, options, said)
    return write_csv(path, table), said


def count_line(rows: Sequence[Row]) -> str:
    """One line of counts: rows; submissions graded and not graded (those not on the roster
    included); students with no submission; submissions not on the roster."""
    graded = sum(r.total is not None and not r.total.error for r in rows)
    failed = sum(r.total is not None and bool(r.total.error) for r in rows)
    absent = sum(r.status == NO_SUBMISSION for r in rows)
    unknown = sum(r.status == NOT_ON_ROSTER for r in rows)
    return (f"{len(rows)} row(s): {graded} graded, {failed} not graded, {absent} with no "
            f"submission, {unknown} not on the roster")
