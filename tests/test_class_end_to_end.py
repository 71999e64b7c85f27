"""A whole term's grading, as an instructor runs it (issue #11's "done means"): a class of 30 in a
Canvas download with a roster is graded, its written answers collected and marked, the marks
imported, a late student penalised, an override applied, and the grades exported in Canvas's
and Moodle's import formats, each checked column by column against their documented columns
(see ``grader/batch/exports.py`` for the documentation each follows)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.checking import checks as _registered  # noqa: F401 - fills REGISTRY
from grader.checking.trial import REGISTRY
from tests.corpus.build import build_submission, load_entries
from tests.corpus.truth import expected_total

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
AUTO = sum(c.points for c in REGISTRY.values())
WRITTEN = 6
NAMES = ["adams", "baker", "clark", "davis", "evans", "fisher", "garcia", "harris", "irwin",
         "jones", "king", "lopez", "moore", "nash", "owens", "perez", "quinn", "reyes", "smith",
         "taylor", "upton", "vance", "walker", "xu", "young", "zhang", "abbott", "brooks",
         "cohen", "dunn"]
DEADLINE = "2030-01-01T23:59:00+00:00"
LATE_AT = "2030-01-03T10:00:00+00:00"  # two days late, or part of a second: 2 x 10%
ANSWERS = ("## answer_early_layers\n\n{0} collapses the inputs forward.\n\n"
           "## answer_relu_needs_he\n\nThe weights matter too.\n\n"
           "## answer_tanh_small\n\nr_delta shows it.\n")


def _grader(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _download(folder: Path, built: Path) -> dict[str, tuple[str, int]]:
    """The Canvas download: {user id: (canvas name, expected autograded score)}."""
    entries = load_entries("correct") + load_entries("bug")
    chosen = [entries[i * len(entries) // len(NAMES)] for i in range(len(NAMES))]
    folder.mkdir(parents=True)
    students = {}
    for number, (name, entry) in enumerate(zip(NAMES, chosen, strict=True)):
        user, submission = str(3000 + number), str(9000 + number)
        late = "LATE_" if number == 7 else ""
        prefix = f"{name}_{late}{user}_{submission}_"
        source = build_submission(entry, built / entry.slug)
        modules = sorted(p for p in source.glob("*.py") if p.name != "__init__.py")
        if number % 6 == 5:  # some hand in one zip of their modules
            with zipfile.ZipFile(folder / f"{prefix}exercises.zip", "w") as archive:
                for module in modules:
                    archive.write(module, f"exercises/{module.name}")
        else:
            for module in modules:
                shutil.copy(module, folder / f"{prefix}{module.name}")
        if number % 10 != 9:  # three never hand in their written answers
            (folder / f"{prefix}answers.md").write_text(ANSWERS.format(name.title()))
        score = AUTO if entry.kind == "correct" else expected_total(entry.slug, entry.blames)
        students[user] = (name, score)
    return students


def test_a_term_of_grading_from_download_to_lms(tmp_path):
    download = tmp_path / "download"
    students = _download(download, tmp_path / "built")
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student ID", "Name", "Email", "Submission"])
        for i, (user, (name, _)) in enumerate(students.items()):
            writer.writerow([f"S{i:02d}", f"{name.title()}, Ann", f"{name}@uni.edu", user])
    config = tmp_path / "grader.toml"
    config.write_text(f"seed = 4242\n\n[late]\ndeadline = {DEADLINE}\npenalty_per_day = 10\n")
    late_name = f"{NAMES[7]}_{3007}"
    times = tmp_path / "times.csv"
    times.write_text(f"student,submitted_at\n{late_name},{LATE_AT}\n")
    book = tmp_path / "book.sqlite"

    graded = _grader("grade", str(download), "--roster", str(roster), "--gradebook", str(book),
                     "--config", str(config), "--times", str(times), "--workers", "2",
                     "--feedback", str(tmp_path / "feedback"), "--summary",
                     str(tmp_path / "report"), "--no-sandbox")
    assert "roster: 30 student(s), 30 with a submission, 0 with no submission" in graded.stderr

    # The written answers, collected per question across the class, and marked.
    marking = tmp_path / "marking"
    _grader("written", str(download), "--out", str(marking))
    for question in ("answer_early_layers", "answer_relu_needs_he", "answer_tanh_small"):
        text = (marking / f"{question}.md").read_text(encoding="utf-8")
        assert text.count("\n## ") == 27 + 1  # 27 answers, then the list of who has none
        assert "## No answer" in text
    sheet = _csv(marking / "scores.csv")
    assert sheet[0] == ["student", "question", "points", "max"] and len(sheet) == 1 + 30 * 3
    marks = {}
    for row in sheet[1:]:
        answered = not row[0].startswith(tuple(NAMES[i] for i in (9, 19, 29)))
        row[2] = "2" if answered and row[1] != "answer_tanh_small" else "0"
        marks[row[0]] = marks.get(row[0], 0) + int(row[2])
    with open(marking / "scores.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(sheet)
    _grader("manual", str(book), str(marking / "scores.csv"))

    overridden = f"{NAMES[3]}_3003"
    _grader("override", str(book), overridden, "55", "--reason", "regraded by hand")

    expected = {}
    for user, (name, auto) in students.items():
        identity = f"{name}_{user}"
        total = auto + marks[identity]
        if identity == late_name:
            total -= 0.10 * 2 * (AUTO + WRITTEN)  # 11.2 points: percent of the maximum
        expected[user] = 55 if identity == overridden else total
    assert expected  # 30 students, each with a known total

    canvas, moodle = tmp_path / "canvas.csv", tmp_path / "moodle.csv"
    _grader("export", str(book), "--csv", str(canvas), "--format", "canvas", "--roster",
            str(roster), "--config", str(config), "--assignment", "Vanishing gradients",
            "--assignment-id", "77")
    _grader("export", str(book), "--csv", str(moodle), "--format", "moodle", "--roster",
            str(roster), "--config", str(config), "--assignment", "Vanishing gradients")

    # Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one
    # column per assignment named "Name (id)"; a "Points Possible" row first.
    table = _csv(canvas)
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                        "Vanishing gradients (77)"]
    assert table[1] == ["    Points Possible", "", "", "", "", str(AUTO + WRITTEN)]
    assert len(table) == 2 + 30
    for i, row in enumerate(table[2:]):
        user = list(students)[i]
        name = students[user][0]
        assert row[:3] == [f"{name.title()}, Ann", user, f"S{i:02d}"]
        assert float(row[5]) == pytest.approx(expected[user]), (name, row)

    # Moodle's grade import: the user identifier (email), then the grade item's column.
    table = _csv(moodle)
    assert table[0] == ["Email address", "Vanishing gradients"]
    by_email = {row[0]: float(row[1]) for row in table[1:]}
    assert by_email == pytest.approx({f"{students[u][0]}@uni.edu": expected[u] for u in students})

    # The class report counts the same totals.
    report = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert 'data-label="submissions">30</b>' in report
