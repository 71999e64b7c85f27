"""The corpus of realistic student notebooks, graded by the grader and by real nbgrader.

Every notebook of ``tests/notebooks/build.py`` (one habit each: helper constants, helpers in
cells of their own, imports in cells, cells left raising, prints and plots, a solution split
across cells, redefinitions, magics, unfinished exercises, mutated globals, a training loop left
in, lost metadata, edited read-only cells, a solution that does not parse, a late fix) is built
from nbgrader's own release of the assignment, handed in as one student each, and graded
twice: by ``nbgrader autograde`` (all of them in one run) and by ``grader.batch.run.
grade_submission`` (the sandboxed worker, as in production). Both run the same check
definitions, so each test cell's autograded points must equal the grader's points for that
check. The one legitimate difference is stated by the corpus entry (``late_fix``): nbgrader
grades a function when its test cell runs, the grader grades what the whole run leaves.

Only the autograded part is compared: the written answers wait for manual grading in
nbgrader, and the grader has none. Skipped when nbgrader is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("nbgrader")

from course.notebook import ASSIGNMENT  # noqa: E402
from grader.batch.run import grade_submission  # noqa: E402
from grader.checking.trial import REGISTRY  # noqa: E402
from tests.notebooks.build import HABITS, corpus  # noqa: E402
from tests.test_nbgrader import BIN, NOTEBOOK_FILE, _environment, _grades  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _run(course: Path, *args: str) -> subprocess.Popen:
    executable = BIN / "nbgrader"
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "nbgrader"]
    return subprocess.Popen([*command, *args], cwd=course, env=_environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-5000:]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(corpus, grader results by name, nbgrader grades by name): one autograde of the whole
    corpus, with the grader grading the same files meanwhile."""
    import shutil

    if shutil.which("alembic", path=str(BIN)) is None:
        pytest.skip("alembic (installed with nbgrader) is not in the interpreter's bin/")
    root = tmp_path_factory.mktemp("corpus-course")
    subprocess.run([sys.executable, "-m", "course", "nbgrader", str(root)], cwd=REPO,
                   check=True, capture_output=True)
    _finish(_run(root, "generate_assignment", ASSIGNMENT))
    release = json.loads((root / "release" / ASSIGNMENT / NOTEBOOK_FILE).read_text())
    source = json.loads((root / "source" / ASSIGNMENT / NOTEBOOK_FILE).read_text())
    students = corpus(release, source)
    for name, student in students.items():
        folder = root / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / NOTEBOOK_FILE).write_text(json.dumps(student.notebook))
        (folder / "timestamp.txt").write_text("2026-01-05 09:00:00.000000 UTC")
    started = time.perf_counter()
    autograde = _run(root, "autograde", ASSIGNMENT)
    ours = {name: grade_submission(root / "submitted" / name / ASSIGNMENT / NOTEBOOK_FILE,
                                   measure=False) for name in students}
    grader_seconds = time.perf_counter() - started
    _finish(autograde)
    print(f"corpus of {len(students)}: grader done after {grader_seconds:.0f} s, autograde "
          f"after {time.perf_counter() - started:.0f} s")
    theirs = {name: _grades(root, name) for name in students}
    return students, ours, theirs


def _nbgrader_points(grades: dict) -> dict[str, float]:
    """Check name -> autograded points of its test cell."""
    return {name.removeprefix("test_"): score for name, (score, _, _) in grades.items()
            if name.startswith("test_")}


def test_corpus_has_the_habits_the_issue_names():
    assert len(HABITS) >= 10
    habits = {habit.__name__ for entry in HABITS.values() for habit in entry}
    assert {"helper_constant", "helpers_and_imports", "raising_cells", "prints_and_plots",
            "split_solution", "redefinition", "magics", "unfinished", "mutated_global",
            "long_running", "late_fix"} <= habits


@pytest.mark.parametrize("name", list(HABITS))
def test_grader_gives_the_points_nbgrader_autograde_gives(graded, name):
    students, ours, theirs = graded
    student, result, grades = students[name], ours[name], theirs[name]
    nbgrader = _nbgrader_points(grades)
    assert set(nbgrader) == set(REGISTRY)  # every check has its test cell, graded
    grader = {check.name: check.score for check in result.checks}
    assert result.sandbox != "none" and result.error is None, result.error

    # The exact verdicts: which checks each loses, by each grader.
    assert {n for n, score in grader.items() if score < REGISTRY[n].points} == student.lost, [
        (c.name, c.feedback) for c in result.checks if not c.passed]
    expected_nbgrader = student.lost if student.nbgrader_lost is None else student.nbgrader_lost
    assert {n for n, score in nbgrader.items() if score < REGISTRY[n].points} == expected_nbgrader

    # Points, check by check, are nbgrader's, except where the corpus says why not.
    differ = {n for n in REGISTRY if grader[n] != nbgrader[n]}
    assert differ == student.lost ^ expected_nbgrader, student.differs
    assert bool(differ) == bool(student.differs)
    assert result.score == sum(grader.values())
    if not differ:
        assert result.score == sum(nbgrader.values())
    for text in student.notes:
        assert any(text in note for note in result.notes), (text, result.notes)
