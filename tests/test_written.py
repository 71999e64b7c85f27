"""Written answers: collected per question across a class, marked in scores.csv, brought back.

Generated (hypothesis): answers.md files of every kind (well formed, missing, empty, malformed,
huge, not UTF-8, headings doubled or unknown) in folders, .zip files and notebooks: collecting
never crashes, every answer given lands under its student in its question's file, and every
question without one is listed. The marks' errors are one line each, naming the CSV line.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.lesson_md import render_answers
from grader.batch.gradebook import Gradebook
from grader.batch.identity import visible
from grader.batch.results import SubmissionResult
from grader.batch.totals import totals
from grader.batch.written import (
    MAX_ANSWERS_BYTES,
    ManualError,
    Question,
    collect,
    import_manual,
    parse_answers,
    questions,
    read_scores,
    read_submission,
)
from grader.checking.judge import CheckResult
from grader.cli import main
from tests.helpers import scaled

ASKED = questions()
NAMES = [q.name for q in ASKED]


def test_the_lessons_questions_are_six_points_on_every_path():
    """The same three questions, 6 points, in answers.md (modules path) and in the notebook's
    manually graded cells (nbgrader): the written maximum agrees across the flows."""
    from course.notebook import build

    assert [q.points for q in ASKED] == [2, 2, 2]
    cells = [c for c in build()["cells"]
             if c.get("metadata", {}).get("nbgrader", {}).get("grade")
             and c["cell_type"] == "markdown"]
    assert {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
            for c in cells} == {q.name: 2 for q in ASKED}
    assert set(parse_answers(render_answers())[0]) == set(NAMES)


def _filled(answers: dict[str, str]) -> str:
    """answers.md as ``python -m course lesson`` writes it, with these answers filled in."""
    text = render_answers()
    for name, answer in answers.items():
        head = f"## {name}\n"
        start = text.index(head)
        marker = text.index("Your answer:\n", start) + len("Your answer:\n")
        text = text[:marker] + "\n" + answer + "\n" + text[marker:]
    return text


ANSWER = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
                 min_size=1, max_size=80).filter(lambda s: s.strip() and "#" not in s
                                                 and "answer" not in s.lower())


@st.composite
def answer_files(draw) -> tuple[bytes | None, dict[str, str]]:
    """(the bytes of an answers.md or None for none, the answers a marker must see)."""
    kind = draw(st.sampled_from(["filled", "missing", "empty", "malformed", "huge", "latin-1",
                                 "doubled", "extra"]))
    answers = {n: draw(ANSWER).strip() for n in draw(st.sets(st.sampled_from(NAMES)))}
    if kind == "missing":
        return None, {}
    if kind == "empty":
        return b"", {}
    if kind == "malformed":
        return draw(st.binary(max_size=200)).replace(b"#", b""), {}
    text = _filled(answers)
    if kind == "huge":
        # Past the cap, in a section of its own: the answers before it are all still read.
        return text.encode() + b"\n## padding\n\n" + b"x" * (MAX_ANSWERS_BYTES + 10), answers
    if kind == "latin-1":
        return text.encode() + b"\n## notes\n\n\xff\xfe\n", answers
    if kind == "doubled":  # a heading given twice: the first counts
        return (text + f"\n## {NAMES[0]}\n\nYour answer:\n\nlater text\n").encode(), answers
    if kind == "extra":
        return (text + "\n## not_a_question\n\nYour answer:\n\nstray\n").encode(), answers
    return text.encode(), answers


def _place(root: Path, student: str, data: bytes | None, how: str) -> Path:
    if how == "zip":
        path = root / f"{student}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"{student}/layers.py", "x = 1\n")
            if data is not None:
                archive.writestr(f"{student}/answers.md", data)
        return path
    folder = root / student
    folder.mkdir()
    (folder / "layers.py").write_text("x = 1\n")
    if data is not None:
        (folder / "answers.md").write_bytes(data)
    return folder


@settings(derandomize=True, deadline=None, max_examples=scaled(25),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(answer_files(), st.sampled_from(["folder", "zip"])), min_size=1,
                max_size=5))
def test_collecting_any_answers_never_crashes_and_lists_what_is_missing(tmp_path_factory, cls):
    root = tmp_path_factory.mktemp("class")
    expected: dict[str, dict[str, str]] = {}
    for i, ((data, answers), how) in enumerate(cls):
        student = f"student{i}"
        _place(root, student, data, how)
        expected[student] = answers
    out = root.parent / f"{root.name}-written"
    report = collect([root], out, ASKED)
    assert report.students == len(cls)
    assert sorted(p.name for p in report.files) == sorted([f"{n}.md" for n in NAMES]
                                                          + ["scores.csv"])
    for question in NAMES:
        text = (out / f"{question}.md").read_text(encoding="utf-8")
        for student, answers in expected.items():
            if question in answers:
                # Shown as ``identity.visible`` shows it: invisible characters as escapes.
                first_line = visible(answers[question], "\n\t").splitlines()[0].rstrip()
                assert f"## {student}\n\n> {first_line}" in text
                assert f"- {student} (" not in text
            else:
                assert f"- {student} (" in text
                assert any(r.startswith(f"{question}: ") for r in report.missing[student])
    rows = list(csv.reader((out / "scores.csv").open(encoding="utf-8")))
    assert rows[0] == ["student", "question", "points", "max"]
    assert sorted(rows[1:]) == sorted([s, q, "", "2"] for s in expected for q in NAMES)


@pytest.mark.parametrize("data,problem", [
    (None, "no answers.md"),
    (b"just some text, no headings", "answers.md has no '## question' headings"),
    (b"## answer_tanh_small\n\nYour answer:\n\n\xff ok\n", "not UTF-8 (unreadable bytes "
     "shown as \ufffd)"),
    (b"", ""),
])
def test_each_problem_is_named(tmp_path, data, problem):
    collected = read_submission(_place(tmp_path, "alice", data, "folder"))
    assert collected.problem == problem


def test_the_notebook_path_reads_the_manually_graded_cells(tmp_path):
    cells = [
        {"cell_type": "markdown", "metadata": {"nbgrader": {
            "grade": True, "solution": True, "grade_id": NAMES[0], "points": 2}},
         "source": ["Because the first ", "layers do not move."]},
        {"cell_type": "markdown", "metadata": {"nbgrader": {
            "grade": True, "solution": True, "grade_id": NAMES[1], "points": 2}},
         "source": "   "},
        {"cell_type": "code", "metadata": {"nbgrader": {
            "grade": True, "solution": True, "grade_id": NAMES[2], "points": 2}},
         "source": "print('code cell, not an answer')", "outputs": [], "execution_count": None},
        "not a cell",
    ]
    path = tmp_path / "bob.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    (tmp_path / "carol.ipynb").write_bytes(b"{not json")
    report = collect([path, tmp_path / "carol.ipynb"], tmp_path / "out", ASKED)
    first = (tmp_path / "out" / f"{NAMES[0]}.md").read_text()
    assert "## bob\n\n> Because the first layers do not move.\n" in first
    assert report.missing["bob"] == [f"{NAMES[1]}: empty", f"{NAMES[2]}: not answered"]
    assert report.missing["carol"][0] == "the notebook is not valid JSON (JSONDecodeError)"


def test_an_answer_cannot_break_the_files_outline(tmp_path):
    _place(tmp_path, "mallory", _filled({NAMES[0]: "line\n## bob\n\n# Title"}).encode(), "folder")
    collect([tmp_path], tmp_path.parent / "outline", ASKED)
    text = (tmp_path.parent / "outline" / f"{NAMES[0]}.md").read_text()
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        f"# {NAMES[0]} (2 points)", "## mallory"]


# --- the marks back --------------------------------------------------------------------------

def _book(path: Path, names: list[str]) -> Path:
    with Gradebook(path) as book:
        for name in names:
            checks = [CheckResult("sigmoid", "sigmoid", 50, 40, False)]
            book.record(SubmissionResult(name, name, "h", 1, "v", 40, 50, checks, "none", 0.1))
    return path


def _scores(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["student", "question", "points", "max"], *rows])
    return path


@pytest.mark.parametrize("row,message", [
    (["zed", NAMES[0], "1", "2"], "unknown student 'zed' (not in the gradebook)"),
    (["alice", "q9", "1", "2"], f"unknown question 'q9'; questions: {', '.join(NAMES)}"),
    (["alice", NAMES[0], "3", "2"], f"points 3 > max 2 for alice / {NAMES[0]}"),
    (["alice", NAMES[0], "-1", "2"], "points must be a number 0 or more, got '-1'"),
    (["alice", NAMES[0], "two", "2"], "points must be a number 0 or more, got 'two'"),
    (["alice", NAMES[0], "nan", "2"], "points must be a number 0 or more, got 'nan'"),
    (["alice", NAMES[0], "1", "5"], f"max 5 for {NAMES[0]}, which is worth 2"),
    (["alice", NAMES[0], "1", ""], "max must be a number above 0, got ''"),
])
def test_a_bad_mark_is_one_line_naming_its_csv_line(tmp_path, row, message):
    book = _book(tmp_path / "book.sqlite", ["alice", "bob"])
    scores = _scores(tmp_path / "scores.csv", [["bob", NAMES[0], "2", "2"], row])
    with pytest.raises(ManualError) as refused:
        read_scores(scores, {"alice", "bob"}, ASKED)
    assert str(refused.value) == f"{scores} line 3: {message}"
    # The CLI prints it and records nothing.
    assert main(["manual", str(book), str(scores)]) == 2
    with Gradebook(book) as opened:
        assert opened.manual_scores() == []


def test_every_problem_is_listed_and_a_row_given_twice_is_one(tmp_path):
    scores = _scores(tmp_path / "s.csv", [["zed", NAMES[0], "1", "2"],
                                         ["alice", NAMES[0], "1", "2"],
                                         ["alice", NAMES[0], "2", "2"]])
    with pytest.raises(ManualError) as refused:
        read_scores(scores, {"alice"}, ASKED)
    assert str(refused.value).splitlines() == [
        f"{scores} line 2: unknown student 'zed' (not in the gradebook)",
        f"{scores} line 4: alice / {NAMES[0]} is given twice"]
    (tmp_path / "cols.csv").write_text("student,score\n")
    with pytest.raises(ManualError, match=r"needs the columns student, question, points, max, "
                       r"has student, score$"):
        read_scores(tmp_path / "cols.csv", {"alice"}, ASKED)


def test_marks_reach_the_totals_with_the_class_written_maximum(tmp_path, capsys):
    book = _book(tmp_path / "book.sqlite", ["alice", "bob"])
    out = tmp_path / "written"
    (tmp_path / "class").mkdir()
    for student in ("alice", "bob"):
        _place(tmp_path / "class", student, _filled({NAMES[0]: "an answer"}).encode(), "folder")
    assert main(["written", str(tmp_path / "class"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "2 submission(s); wrote 4 file(s)"
    rows = list(csv.reader((out / "scores.csv").open()))
    # The marker fills in alice's three and bob's first; bob's others stay blank (unmarked).
    marks = {("alice", NAMES[0]): "2", ("alice", NAMES[1]): "1.5", ("alice", NAMES[2]): "0",
             ("bob", NAMES[0]): "1"}
    filled = [rows[0]] + [[s, q, marks.get((s, q), ""), m] for s, q, _, m in rows[1:]]
    with (out / "scores.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(filled)
    assert main(["manual", str(book), str(out / "scores.csv")]) == 0
    assert capsys.readouterr().out == (f"4 mark(s) from {out / 'scores.csv'} recorded in "
                                       f"{book}\n")
    with Gradebook(book) as opened:
        got = {t.submission: (t.auto, t.manual, t.manual_max, t.total, t.max_total)
               for t in totals(opened)}
    assert got == {"alice": (40, 3.5, 6, 43.5, 56), "bob": (40, 1, 6, 41, 56)}
    # Importing again replaces, never adds.
    with Gradebook(book) as opened:
        import_manual(opened, out / "scores.csv", ASKED)
        assert [t.manual for t in totals(opened)] == [3.5, 1]


def test_questions_can_be_given_without_the_narrative(tmp_path):
    asked = [Question("only", 4.0, "Why?")]
    _place(tmp_path, "dan", b"## only\n\n*4 points.* Why?\n\nBecause.\n", "folder")
    collect([tmp_path / "dan"], tmp_path / "o", asked)
    assert "## dan\n\n> Because.\n" in (tmp_path / "o" / "only.md").read_text()
    assert "dan,only,,4" in (tmp_path / "o" / "scores.csv").read_text()


@st.composite
def spreadsheet_saves(draw):
    """scores.csv as a spreadsheet saves it: the separator (``,``, ``;`` or tab, or an Excel
    ``sep=`` line), the decimal mark (``,`` where the locale writes it, quoted when ``,`` also
    separates), a byte order mark, CRLF line ends; and the marks it holds."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    decimal = draw(st.sampled_from([".", ","]))
    marks = {}
    for student in ("alice", "bob"):
        for question in draw(st.lists(st.sampled_from(ASKED), unique_by=lambda q: q.name)):
            halves = draw(st.integers(0, int(question.points * 2)))
            marks[(student, question.name)] = (halves / 2, question.points)
    buffer = io.StringIO()
    quoting = csv.QUOTE_MINIMAL if draw(st.booleans()) else csv.QUOTE_NONNUMERIC
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting,
                        lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(["student", "question", "points", "max"])
    for (student, question), (points, most) in marks.items():
        writer.writerow([student, question, *(f"{v:g}".replace(".", decimal)
                                              for v in (points, most))])
    text = buffer.getvalue()
    if draw(st.booleans()):
        text = f"sep={delimiter}\n" + text
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig"]))
    return text.encode(encoding), marks


@settings(max_examples=scaled(60), derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spreadsheet_saves())
def test_scores_from_any_spreadsheet_dialect_are_read_as_meant(tmp_path, save):
    """European saves (``;``, decimal comma ``1,5``), tabs, ``sep=`` lines, BOM: every mark is
    read with its value, none invented."""
    data, marks = save
    path = tmp_path / "scores.csv"
    path.write_bytes(data)
    got = read_scores(path, {"alice", "bob"}, ASKED)
    assert {(s, q): (p, m) for s, q, p, m in got} == marks
    assert len(got) == len(marks)


@pytest.mark.parametrize(("cell", "value"), [
    ("1,5", 1.5), (",5", 0.5), ("2", 2.0), ("0,25", 0.25), (" 1,5 ", 1.5), ("1.5", 1.5),
    ("1,5,5", None), ("1,", None), ("1.000,5", None), ("", None), ("x,5", None)])
def test_a_decimal_comma_is_a_decimal_mark(cell, value):
    from grader.batch.written import _as_number

    assert _as_number(cell) == value
