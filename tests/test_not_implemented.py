"""A NotImplementedError is blamed on the stub that raised it, not on the function called.

A function that calls a stub (directly, or through a table of functions a notebook cell built
before the student wrote the function) raises the stub's NotImplementedError. The feedback must
not call the function under test "not implemented": it names the stub, and says how a notebook
table keeps an old version.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from grader.checking.compare import CheckFailed
from grader.checking.trial import Trial
from grader.spec.api import FUNCTIONS
from grader.student.calling import InProcessStudent

REPO = Path(__file__).resolve().parent.parent
PAIRS = [("activation_forward", "sigmoid"), ("mlp_forward", "dense_forward"),
         ("mlp_backward", "activation_backward"), ("dense_backward", "dense_backward"),
         ("numerical_gradient", "relative_error")]


def _raising(message: str):
    def function(*args, **kwargs):
        raise NotImplementedError(message)

    return function


def _failure(called: str, message: str) -> tuple[str, dict[str, str]]:
    student = InProcessStudent({called: _raising(message)})
    trial = Trial(student, None, 0, called, {})
    with pytest.raises(CheckFailed) as caught:
        trial.call(called, np.ones(2))
    return caught.value.message, trial.missing


@pytest.mark.parametrize(("called", "stub"), PAIRS)
def test_the_stub_that_raised_is_named(called, stub):
    message, missing = _failure(called, f"{stub}: not implemented yet")
    if stub == called:
        assert message == f"{called} is not implemented yet (it raises NotImplementedError)"
        assert missing == {called: "is not implemented yet"}
    else:
        assert message.startswith(f"{called} calls {stub}, which is not implemented yet where "
                                  f"{called} finds it (it raises NotImplementedError)\n"
                                  f"  NotImplementedError: {stub}: not implemented yet")
        assert f"hint: write {stub}; in a notebook, a cell that keeps {stub}" in message
        assert missing == {called: f"calls {stub}, which is not implemented yet"}
        assert f"{called} is not implemented" not in message


@pytest.mark.parametrize("text", ["", "todo", "later: soon", "sigmoid not implemented yet"])
def test_other_not_implemented_errors_count_as_not_implemented(text):
    message, missing = _failure("sigmoid", text)
    assert message == "sigmoid is not implemented yet (it raises NotImplementedError)"
    assert missing == {"sigmoid": "is not implemented yet"}


def test_every_released_stub_names_its_own_function():
    # Read from the files: other tests route the name ``exercises`` to submissions they load.
    raised = {}
    for path in sorted((REPO / "exercises").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS:
                raised[node.name] = [ast.literal_eval(n.exc.args[0]) for n in ast.walk(node)
                                     if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)
                                     and getattr(n.exc.func, "id", "") == "NotImplementedError"]
    assert raised == {name: [f"{name}: not implemented yet"] for name in FUNCTIONS}


# Every check with a dependency, whose own function is left as its stub while everything it
# builds on is broken: the stub fails whatever comes before it, so no note may send the student
# upstream to "fix that first" (in the grader or the self-check).
DEPENDENT = [name for name, check in __import__("grader.checking.trial", fromlist=["REGISTRY"])
             .REGISTRY.items() if check.depends and name in FUNCTIONS]


@pytest.mark.parametrize("name", DEPENDENT)
def test_a_stub_after_a_broken_function_is_not_sent_upstream(name, tmp_path):
    from grader.checking.trial import REGISTRY, upstream
    from grader.public.engine import self_check
    from tests.helpers import grade_in_process

    folder = tmp_path / "s"
    folder.mkdir()
    broken = sorted(f for f in upstream(name) if f in FUNCTIONS)
    for module in ("activations", "layers", "network", "gradient_check"):
        tree = ast.parse((REPO / "solutions" / f"{module}.py").read_text())
        stubs = {n.name: n.body for n in ast.parse((REPO / "exercises" / f"{module}.py")
                                                 .read_text()).body
                 if isinstance(n, ast.FunctionDef)}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                node.body = stubs[name]  # the stub as released: its own NotImplementedError
            elif isinstance(node, ast.FunctionDef) and node.name in broken:
                node.body = ast.parse("return None").body
        (folder / f"{module}.py").write_text(ast.unparse(tree))
    for results in (grade_in_process(folder), self_check(folder)):
        mine = next(r for r in results if r.name == name)
        assert not mine.passed and mine.score == 0
        # A backward checked against the student's own (broken) forward never reaches its stub:
        # a knock-on failure, said as such (or, in the self-check, not checked yet); every other
        # stub is found absent.
        own_forward = "could not be tested: your" in mine.feedback
        assert own_forward or mine.waiting or mine.absent == REGISTRY[name].tags[:1], mine
        if mine.absent:
            assert not [n for n in mine.notes if "fix that first" in n], mine.notes
