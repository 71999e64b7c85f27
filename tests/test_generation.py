"""One source of truth: exercises/ and the recorded self-check answers are generated from
solutions/, and these tests fail when either drifts."""

import ast
from pathlib import Path

import numpy as np
import pytest

from course import stubs
from grader.public.engine import RECORDED, record
from grader.spec.api import MODULES

REPO = Path(__file__).resolve().parent.parent


def test_exercises_match_what_solutions_generate():
    assert stubs.drift() == [], "run `python -m course stubs` (make stubs) and commit exercises/"


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("module", list(MODULES))
def test_stubs_keep_signatures_and_docstrings_but_no_solution(module):
    solution = _functions(REPO / "solutions" / f"{module}.py")
    stub = _functions(REPO / "exercises" / f"{module}.py")
    assert set(MODULES[module]) <= set(solution)
    for name in MODULES[module]:
        assert ast.unparse(stub[name].args) == ast.unparse(solution[name].args)
        assert ast.get_docstring(stub[name]) == ast.get_docstring(solution[name])
        body = stub[name].body[1:]  # after the docstring
        assert len(body) == 1 and isinstance(body[0], ast.Raise), name
        assert name in ast.unparse(body[0])
    assert "BEGIN SOLUTION" not in (REPO / "exercises" / f"{module}.py").read_text()


def test_every_solution_body_is_marked():
    for module, names in MODULES.items():
        text = (REPO / "solutions" / f"{module}.py").read_text()
        assert text.count("### BEGIN SOLUTION") == len(names) == text.count("### END SOLUTION")


def test_stub_generator_rejects_unbalanced_markers():
    with pytest.raises(stubs.StubError):
        stubs.make_stub("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(stubs.StubError):
        stubs.make_stub("def f():\n    return 1\n    ### END SOLUTION\n")


def test_recorded_answers_match_the_reference(tmp_path):
    fresh = record(tmp_path / "expected.npz")
    with np.load(RECORDED) as committed, np.load(fresh) as recomputed:
        assert sorted(committed.files) == sorted(recomputed.files), (
            "run `python -m grader record` (make record) and commit grader/data/"
        )
        for key in committed.files:
            np.testing.assert_array_equal(committed[key], recomputed[key], err_msg=key)


def test_the_notebook_copies_every_module_of_the_lesson():
    # A lesson module left out of LESSON_MODULES would be missing from the notebook's copy.
    from course.notebook import LESSON, LESSON_MODULES

    # (The studies and their figures run from the command line only, never in the notebook.)
    tools = {"__init__", "__main__", "cli", "studies", "study_plots"}
    modules = {path.stem for path in LESSON.glob("*.py")} - tools
    assert set(LESSON_MODULES) == modules


def test_the_experiments_entry_is_generated_and_holds_no_lesson_code():
    # exercises/experiments.py is copied from solutions/ (the drift test above) and only says
    # whose functions the lesson runs on: the lesson itself is never copied into exercises/.
    text = stubs.render()["experiments.py"]
    assert "BEGIN SOLUTION" not in text
    tree = ast.parse(text)
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert defined == {"main"}
    assert "Implementation.load(package)" in text and "__package__" in text
