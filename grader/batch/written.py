"""Written answers: collect them across a class for marking, and bring the marks back.

    python -m grader written CLASS... --out DIR    # DIR/<question>.md per question, scores.csv
    python -m grader manual GRADEBOOK scores.csv   # the marks into the gradebook

Where the answers are: on the modules path, each submission's ``answers.md`` (the file
``python -m course lesson`` writes: one ``## <question id>`` section per question, the
student's text after its ``Your answer:`` line); on the notebook path, the manually graded
Markdown cells (nbgrader metadata ``grade`` and ``solution`` true, ``grade_id`` the question
id). The questions and their points come from the lesson's narrative
(``<!-- answer: NAME points=N -->``, read through ``course.lesson_md``).

A submission is read with bounded readers and never stops the collection: no answers file, an
empty or malformed one, text that is not UTF-8 or too large are each listed by student, as is
every question left unanswered. Marks come back through ``scores.csv`` (student, question,
points, max; a blank points cell is not marked yet); each error is one line naming the CSV line.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.batch.gradebook import Gradebook, write_csv
from grader.batch.identity import submission_name, visible
from grader.batch.roster import spreadsheet_rows

ANSWERS_FILE = "answers.md"
# Bigger than any honest answers file (three short answers) by far; a larger one is cut there.
MAX_ANSWERS_BYTES = 256 * 1024
# A notebook is read whole (its cells are JSON): the submissions' own cap for a notebook.
MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024
# The longest answer shown to the marker; the rest is cut with a note.
MAX_ANSWER_CHARS = 20_000
_HEADING = re.compile(r"^##[ \t]+(\S[^\n]*?)[ \t]*$", re.MULTILINE)
_ANSWER_LINE = re.compile(r"^[ \t]*(?:\*\*)?your answer:?(?:\*\*)?:?[ \t]*$",
                          re.IGNORECASE | re.MULTILINE)


class ManualError(ValueError):
    """scores.csv cannot be imported; one line per problem, each naming its CSV line."""


@dataclass(frozen=True)
class Question:
    """A written question: its id (the answers.md heading, the nbgrader grade_id), points, text."""

    name: str
    points: float
    text: str = ""


@dataclass
class Collected:
    """One student's written answers: question id -> text, and what went wrong reading them."""

    student: str
    answers: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # why nothing (or not everything) could be read


def questions() -> list[Question]:
    """The lesson's written questions, in order (from the narrative)."""
    from course.lesson_md import answers  # the instructor's checkout: the narrative lives there

    return [Question(name, float(points), text) for name, points, text in answers()]


# --- reading one submission ------------------------------------------------------------------

def _decode(data: bytes, cut: bool) -> tuple[str, str]:
    """(text, problem): UTF-8 (a BOM allowed); other bytes shown as U+FFFD, with a note."""
    problem = f"answers cut at {MAX_ANSWERS_BYTES // 1024} KiB" if cut else ""
    try:
        return data.decode("utf-8-sig"), problem
    except UnicodeDecodeError:
        note = "not UTF-8 (unreadable bytes shown as \ufffd)"
        return data.decode("utf-8", "replace"), "; ".join(filter(None, [problem, note]))


def _read_bounded(path: Path, limit: int) -> tuple[bytes, bool]:
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit], len(data) > limit


def parse_answers(text: str) -> tuple[dict[str, str], str]:
    """The answers of an answers.md text, by heading, and a problem ("" when well formed).

    The student's answer is the text after the section's ``Your answer:`` line; without that
    line, the section's text after its prompt (the paragraph starting with ``*N points.*``)."""
    headings = list(_HEADING.finditer(text))
    if not headings:
        return {}, "answers.md has no '## question' headings" if text.strip() else ""
    found: dict[str, str] = {}
    for here, after in zip(headings, [*headings[1:], None], strict=True):
        body = text[here.end():after.start() if after else len(text)]
        marker = _ANSWER_LINE.search(body)
        if marker is not None:
            answer = body[marker.end():]
        else:
            paragraphs = body.strip().split("\n\n")
            if paragraphs and re.match(r"^\*[\d.]+ points?\.\*", paragraphs[0].strip()):
                paragraphs = paragraphs[1:]
            answer = "\n\n".join(paragraphs)
        name = here.group(1).strip()
        if name not in found:  # a heading given twice: the first counts
            found[name] = answer.strip()
    return found, ""


def _from_notebook(data: bytes) -> tuple[dict[str, str], str]:
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        return {}, f"the notebook is not valid JSON ({type(error).__name__})"
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return {}, "the notebook has no cells"
    found: dict[str, str] = {}
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata")
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        if not (isinstance(grading, dict) and grading.get("grade") and grading.get("solution")
                and cell.get("cell_type") == "markdown"):
            continue
        name = grading.get("grade_id")
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(name, str) and isinstance(source, str):
            found.setdefault(name, source.strip())
    return found, ""


def _zip_answers(path: Path) -> tuple[dict[str, str], str]:
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist()
                   if not i.is_dir() and PurePosixPath(i.filename).name.lower() == ANSWERS_FILE]
        if not members:
            return {}, f"no {ANSWERS_FILE} in the .zip"
        member = min(members, key=lambda i: (i.filename.count("/"), i.filename))
        with archive.open(member) as handle:
            data = handle.read(MAX_ANSWERS_BYTES + 1)
    text, problem = _decode(data[:MAX_ANSWERS_BYTES], len(data) > MAX_ANSWERS_BYTES)
    answers, malformed = parse_answers(text)
    return answers, "; ".join(filter(None, [problem, malformed]))


def _folder_answers(path: Path) -> tuple[dict[str, str], str]:
    candidates = [p for p in path.iterdir() if p.name.lower() == ANSWERS_FILE]
    if not candidates:  # one level down: a folder that holds the module folder
        candidates = [q for p in sorted(path.iterdir()) if p.is_dir() and not p.is_symlink()
                      for q in p.iterdir() if q.name.lower() == ANSWERS_FILE]
    files = [p for p in sorted(candidates) if p.is_file() and not p.is_symlink()]
    if not files:
        return {}, f"no {ANSWERS_FILE}"
    data, cut = _read_bounded(files[0], MAX_ANSWERS_BYTES)
    text, problem = _decode(data, cut)
    answers, malformed = parse_answers(text)
    return answers, "; ".join(filter(None, [problem, malformed]))


def read_submission(path: Path) -> Collected:
    """The written answers of one submission (a folder, a .zip or a notebook); never raises
    for anything the submission holds."""
    collected = Collected(submission_name(Path(path)))
    try:
        if path.suffix.lower() == ".ipynb":
            data, cut = _read_bounded(path, MAX_NOTEBOOK_BYTES)
            answers, problem = ({}, "the notebook is too large") if cut else _from_notebook(data)
        elif path.suffix.lower() == ".zip":
            answers, problem = _zip_answers(path)
        elif path.is_dir():
            answers, problem = _folder_answers(path)
        else:
            answers, problem = {}, "not a folder, .zip or notebook"
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError) as error:
        answers, problem = {}, f"cannot be read ({type(error).__name__}: {error})"
    collected.answers, collected.problem = answers, visible(problem)
    return collected


# --- the collection --------------------------------------------------------------------------

@dataclass
class Report:
    """What ``collect`` wrote: the files, and per student what is missing."""

    files: list[Path]
    students: int
    missing: dict[str, list[str]]  # student -> one reason per question or for the whole file

    def summary(self) -> str:
        lines = [f"{self.students} submission(s); wrote {len(self.files)} file(s)"]
        for student, reasons in sorted(self.missing.items()):
            lines.append(f"  {visible(student)}: {'; '.join(reasons)}")
        return "\n".join(lines)


def _quoted(text: str) -> str:
    """An answer as a Markdown block quote: its own headings cannot break the file's outline."""
    if len(text) > MAX_ANSWER_CHARS:
        text = text[:MAX_ANSWER_CHARS] + f"\n\n[cut at {MAX_ANSWER_CHARS} characters]"
    return "\n".join(f"> {line}".rstrip() for line in visible(text, "\n\t").splitlines())


def _points(value: float) -> str:
    shown = int(value) if float(value).is_integer() else value
    return f"{shown} point{'s' if shown != 1 else ''}"


def read_found(found) -> Collected:
    """The written answers of one student of an LMS download (``lms.Found``): their
    ``answers.md``, else what their one notebook, .zip or folder holds."""
    if found.answers is not None:
        collected = Collected(found.identity)
        try:
            data, cut = _read_bounded(found.answers[1], MAX_ANSWERS_BYTES)
            text, problem = _decode(data, cut)
            answers, malformed = parse_answers(text)
            problem = "; ".join(filter(None, [problem, malformed]))
        except (OSError, ValueError) as error:
            answers, problem = {}, f"cannot be read ({type(error).__name__}: {error})"
        collected.answers, collected.problem = answers, visible(problem)
        return collected
    notebooks = [p for p in found.paths if p.suffix.lower() in (".ipynb", ".zip") or p.is_dir()]
    if len(notebooks) == 1:
        collected = read_submission(notebooks[0])
        collected.student = found.identity
        return collected
    return Collected(found.identity, {}, f"no {ANSWERS_FILE}")


def _collected(paths: list[Path], layout: str | None = None) -> list[Collected]:
    """Each student's answers, one per student however the class folder is laid out."""
    from grader.batch.lms import discover

    found, _ = discover(list(paths), layout)
    return [read_submission(f.paths[0]) if f.layout == "folders" else read_found(f)
            for f in found]


def collect(paths: list[Path], out: Path, asked: list[Question] | None = None,
            layout: str | None = None) -> Report:
    """Write ``out``/<question>.md (each student's answer under their name, then who has
    none) and ``out``/scores.csv (student, question, points to fill in, max). ``paths``: class
    folders (a folder of submissions, or an unpacked Canvas or Moodle download: ``layout``
    None detects which) or submissions."""
    asked = questions() if asked is None else asked
    students = sorted(_collected(list(paths), layout), key=lambda c: c.student)
    out.mkdir(parents=True, exist_ok=True)
    missing: dict[str, list[str]] = {}
    for student in students:
        if student.problem:
            missing.setdefault(student.student, []).append(student.problem)
    files = []
    for question in asked:
        lines = [f"# {question.name} ({_points(question.points)})", ""]
        if question.text:
            lines += [question.text, ""]
        absent = []
        for student in students:
            answer = student.answers.get(question.name, "")
            if not answer:
                why = "empty" if question.name in student.answers else "not answered"
                absent.append(f"{visible(student.student)} ({why})")
                missing.setdefault(student.student, []).append(f"{question.name}: {why}")
                continue
            lines += [f"## {visible(student.student)}", "", _quoted(answer), ""]
        if absent:
            lines += ["## No answer", "", *(f"- {a}" for a in absent), ""]
        target = out / f"{question.name}.md"
        target.write_text("\n".join(lines), encoding="utf-8")
        files.append(target)
    files.append(write_csv(out / "scores.csv", [
        ["student", "question", "points", "max"],
        *([s.student, q.name, "", _number(q.points)] for s in students for q in asked)]))
    return Report(files, len(students), missing)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# --- the marks back --------------------------------------------------------------------------

def read_scores(path: Path, students: set[str],
                asked: list[Question] | None = None) -> list[tuple[str, str, float, float]]:
    """The marks of ``scores.csv``: (student, question, points, max) for each row whose points
    are filled in. ManualError, one line per problem: an unknown student or question, points
    that are not a number, below 0 or above max, a max that is not the question's, a row given
    twice, missing columns."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ManualError(f"{path}: cannot be read: {error}") from None
    # What a spreadsheet saves: "," or ";" or tab between cells (a European locale writes ";"
    # because "," is its decimal mark), an Excel "sep=" line; decimal commas in _as_number.
    _, lines = spreadsheet_rows(text)
    lines = [(n, row) for n, row in lines if any(c.strip() for c in row)]
    fields = [f.strip() for f in lines[0][1]] if lines else []
    wanted = ["student", "question", "points", "max"]
    if [f for f in wanted if f not in fields]:
        raise ManualError(f"{path}: needs the columns {', '.join(wanted)}, has "
                          f"{', '.join(fields) or 'none'}")
    known = {q.name: q.points for q in asked} if asked else None
    errors: list[str] = []
    marks: list[tuple[str, str, float, float]] = []
    seen: set[tuple[str, str]] = set()
    for number, cells in lines[1:]:
        row = {f: (cells[i].strip() if i < len(cells) else "") for i, f in enumerate(fields)
               if f}
        where = f"{path} line {number}"
        student, question = row.get("student", ""), row.get("question", "")
        if not any(row.values()):
            continue
        if student.startswith("'") and student[1:2] in "=+-@":  # csv_cell's guard, undone
            student = student[1:]
        if student not in students:
            errors.append(f"{where}: unknown student {student!r} (not in the gradebook)")
            continue
        if known is not None and question not in known:
            errors.append(f"{where}: unknown question {question!r}; questions: "
                          f"{', '.join(known)}")
            continue
        if (student, question) in seen:
            errors.append(f"{where}: {student} / {question} is given twice")
            continue
        seen.add((student, question))
        if not row.get("points"):
            continue  # not marked yet
        points, most = _as_number(row["points"]), _as_number(row.get("max", ""))
        if points is None or points < 0:
            errors.append(f"{where}: points must be a number 0 or more, got {row['points']!r}")
        elif most is None or most <= 0:
            errors.append(f"{where}: max must be a number above 0, got {row.get('max')!r}")
        elif known is not None and most != known[question]:
            errors.append(f"{where}: max {_number(most)} for {question}, which is worth "
                          f"{_number(known[question])}")
        elif points > most:
            errors.append(f"{where}: points {_number(points)} > max {_number(most)} for "
                          f"{student} / {question}")
        else:
            marks.append((student, question, points, most))
    if errors:
        raise ManualError("\n".join(visible(e) for e in errors))
    return marks


# A decimal comma (1,5): how a European spreadsheet writes 1.5. No thousands separators: marks
# of written answers are small, and "1,000" would be ambiguous.
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


def _as_number(text: str) -> float | None:
    """The number in a cell: ``1.5``, ``1,5``, ``2``; None for anything else."""
    text = text.strip()
    if _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def import_manual(gradebook: Gradebook, path: Path, asked: list[Question] | None = None) -> str:
    """Read ``path`` (``read_scores``) into the gradebook's marks; the one line to print."""
    asked = questions() if asked is None else asked
    students = {name for name, _, _ in gradebook.scores()}
    marks = read_scores(path, students, asked)
    gradebook.set_manual(marks)
    return f"{len(marks)} mark(s) from {path} recorded in {gradebook.path}"
