"""The notebook in a real nbgrader course, driven through nbgrader's command line.

One course is laid out by ``python -m course nbgrader``, the assignment is generated, five
students submit (everything right; the untouched release; one bug; a correct sigmoid that makes
numpy warn; a bug only the hidden tests reach), and one ``nbgrader autograde`` grades them all.
Scores are read from nbgrader's gradebook. Skipped when nbgrader is not installed (it is in the
``course`` extra).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("nbgrader")

from course.notebook import ASSIGNMENT, cell_text  # noqa: E402
from grader.checking.trial import REGISTRY  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NOTEBOOK_FILE = f"{ASSIGNMENT}.ipynb"
AUTOGRADED_POINTS = sum(check.points for check in REGISTRY.values())

# What the students hand in: solution cells replaced by these sources (None: left as released).
BUGGY_TANH_GRAD = "def tanh_grad(z):\n    return 1.0 - z ** 2\n"  # the derivative at the output
WARNING_SIGMOID = "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n"  # right, but warns
# Right on the visible inputs, wrong under the hidden tests (it looks for the test helper's
# `hidden` argument on the stack), so the hidden test's failure must reach the feedback.
HIDDEN_ONLY_BUG = """def relative_error(a, b):
    import sys

    frame = sys._getframe()
    while frame is not None and frame.f_code.co_name != "check":
        frame = frame.f_back
    if frame is not None and frame.f_locals.get("hidden"):
        return 0.5
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))
"""
STUDENTS = {
    "complete": {},
    "stub": None,
    "onebug": {"tanh_grad": BUGGY_TANH_GRAD},
    "warnsig": {"sigmoid": WARNING_SIGMOID},
    "hiddenbug": {"relative_error": HIDDEN_ONLY_BUG},
}


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader shells out to `alembic` (and the kernel spec runs `python`): the venv's bin first.
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    # The kernel imports grader from this checkout, whether or not the project is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("VG_QUICK", None)  # the notebook must pick quick mode from NBGRADER_EXECUTION
    return env


def _nbgrader(course: Path, *args: str, timings: dict) -> subprocess.CompletedProcess:
    executable = BIN / "nbgrader"
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "nbgrader"]
    started = time.perf_counter()
    completed = subprocess.run([*command, *args], cwd=course, env=_environment(),
                               capture_output=True, text=True, timeout=600)
    timings[args[0]] = time.perf_counter() - started
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def _submit(course: Path, student: str, replacements: dict[str, str] | None) -> None:
    release = json.loads((course / "release" / ASSIGNMENT / NOTEBOOK_FILE).read_text())
    source = json.loads((course / "source" / ASSIGNMENT / NOTEBOOK_FILE).read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in release["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if replacements is not None and meta.get("solution"):
            cell["source"] = replacements.get(meta["grade_id"], answers[meta["grade_id"]])
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK_FILE).write_text(json.dumps(release))
    (folder / "timestamp.txt").write_text("2026-01-05 09:00:00.000000 UTC")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course after generate_assignment, autograde, generate_feedback and export."""
    if shutil.which("alembic", path=str(BIN)) is None:
        pytest.skip("alembic (installed with nbgrader) is not in the interpreter's bin/")
    root = tmp_path_factory.mktemp("course")
    subprocess.run([sys.executable, "-m", "course", "nbgrader", str(root)], cwd=REPO,
                   check=True, capture_output=True)
    timings: dict[str, float] = {}
    _nbgrader(root, "generate_assignment", ASSIGNMENT, timings=timings)
    for student, replacements in STUDENTS.items():
        _submit(root, student, replacements)
    _nbgrader(root, "autograde", ASSIGNMENT, timings=timings)
    _nbgrader(root, "generate_feedback", ASSIGNMENT, timings=timings)
    _nbgrader(root, "export", timings=timings)
    print(f"nbgrader timings (s): {timings}; autograde covered {len(STUDENTS)} notebooks")
    return root


def _grades(course: Path, student: str) -> dict[str, tuple[float | None, float, bool]]:
    """grade_id -> (score, max_score, needs manual grading), from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {g.name: (g.score, g.max_score, g.needs_manual_grade) for g in submission.grades}


def _lost(grades: dict) -> dict[str, float]:
    """Autograded cells that did not get full points."""
    return {name: score for name, (score, maximum, manual) in grades.items()
            if not manual and score != maximum}


def test_course_layout(course):
    config = (course / "nbgrader_config.py").read_text()
    assert 'course_id = "vanishing-gradients"' in config
    assert "c.Execute.timeout = 120" in config and "ClearHiddenTests" in config
    assert (course / "source" / ASSIGNMENT / NOTEBOOK_FILE).is_file()


def test_released_notebook_has_no_solutions_or_hidden_tests(course):
    release = (course / "release" / ASSIGNMENT / NOTEBOOK_FILE).read_text()
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "hidden=True", "Model answer"):
        assert secret not in release, secret
    stubs = [cell_text(c) for c in json.loads(release)["cells"]
             if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"]
    assert len(stubs) == 19 and all("raise NotImplementedError()" in s for s in stubs)


def test_complete_notebook_gets_every_autograded_point(course):
    grades = _grades(course, "complete")
    assert _lost(grades) == {}
    assert sum(s for s, _, manual in grades.values() if not manual) == AUTOGRADED_POINTS
    # The written answers wait for the instructor.
    assert sorted(n for n, (_, _, manual) in grades.items() if manual) == [
        "answer_early_layers", "answer_relu_needs_he", "answer_tanh_small"]


def test_released_stub_gets_nothing(course):
    grades = _grades(course, "stub")
    assert sum(score or 0 for score, _, _ in grades.values()) == 0
    assert not any(manual for _, _, manual in grades.values())  # unchanged answers: zero


def test_one_bug_costs_only_that_functions_points(course):
    # tanh_grad is used by activation_backward and mlp_backward: they keep their points.
    assert _lost(_grades(course, "onebug")) == {"test_tanh_grad": 0.0}


def test_sigmoid_that_warns_keeps_its_value_points(course):
    # np.exp overflows (a RuntimeWarning) but the values are right: only the 1-point
    # stability test is lost, and no warning reached the test cells' stderr.
    assert _lost(_grades(course, "warnsig")) == {"test_sigmoid_stability": 0.0}
    autograded = json.loads(
        (course / "autograded" / "warnsig" / ASSIGNMENT / NOTEBOOK_FILE).read_text())
    for cell in autograded["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade") and cell["cell_type"] == "code":
            assert not [o for o in cell["outputs"] if o.get("name") == "stderr"], cell["id"]


def test_export_csv_has_the_totals(course):
    rows = (course / "grades.csv").read_text().splitlines()
    scores = {row.split(",")[3]: float(row.split(",")[7]) for row in rows[1:]}
    assert scores == {"complete": AUTOGRADED_POINTS, "stub": 0.0,
                      "onebug": AUTOGRADED_POINTS - 2, "warnsig": AUTOGRADED_POINTS - 1,
                      "hiddenbug": AUTOGRADED_POINTS - 1}


def test_feedback_does_not_show_the_hidden_tests(course):
    for student in STUDENTS:
        autograded = (course / "autograded" / student / ASSIGNMENT / NOTEBOOK_FILE).read_text()
        assert "hidden=True" in autograded  # restored for grading...
        page = course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert page.is_file()
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        assert 'check("sigmoid", globals())' in text  # (the visible tests are shown)
        assert "hidden=True" not in text and "HIDDEN TESTS" not in text  # ...but not shown
    failing = course / "feedback" / "onebug" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert "tanh_grad failed its tests" in html.unescape(failing.read_text())


def test_hidden_test_failure_shows_feedback_but_not_its_source(course):
    assert _lost(_grades(course, "hiddenbug")) == {"test_relative_error": 0.0}
    page = course / "feedback" / "hiddenbug" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    assert "relative_error failed its hidden tests" in text
    assert "hidden=True" not in text and "HIDDEN TESTS" not in text
