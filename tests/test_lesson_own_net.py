"""The two lesson checks earn their points only with a net the student wrote.

Enumerated over the three functions they run: init_params, mlp_forward and mlp_backward, each
right, wrong (written, computing something) or missing (a stub). A missing mlp_forward or
mlp_backward earns the lessons nothing; one written but wrong, the other right, is stood in for
by the reference (precise blame: the bug costs its own check), with its partner, which shares
its cache format; with both failed, or every function the check runs a stand-in, nothing of the
student's net is left and the lessons earn nothing.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.checking.compare import relative_difference
from tests.helpers import failed_checks, grade_in_process
from tests.strategies import generated

REPO = Path(__file__).resolve().parent.parent
LESSONS = {"vanishing_sigmoid", "vanishing_relu"}
STUB = "    raise NotImplementedError('{name}: not implemented yet')\n"
VERSIONS = {
    "init_params": {
        "wrong": "def init_params(layer_sizes, activation, rng):\n"
                 "    return [(rng.normal(size=(i, o)), np.zeros(o))\n"
                 "            for i, o in zip(layer_sizes[:-1], layer_sizes[1:])]\n",
        "missing": "def init_params(layer_sizes, activation, rng):\n"
                   + STUB.format(name="init_params"),
    },
    "mlp_forward": {
        "wrong": "def mlp_forward(x, params, activation):  # no activation at all\n"
                 "    caches, a = [], x\n"
                 "    for W, b in params:\n"
                 "        a, cache = dense_forward(a, W, b)\n"
                 "        caches.append(cache)\n"
                 "    return a, caches\n",
        "missing": "def mlp_forward(x, params, activation):\n" + STUB.format(name="mlp_forward"),
    },
    "mlp_backward": {
        "wrong": "def mlp_backward(dout, caches):  # last layer first\n"
                 "    grads, d = [], dout\n"
                 "    for cache in reversed(caches):\n"
                 "        d, dW, db = dense_backward(d, cache)\n"
                 "        grads.append((dW, db))\n"
                 "    return grads\n",
        "missing": "def mlp_backward(dout, caches):\n" + STUB.format(name="mlp_backward"),
    },
}
FUNCTIONS = tuple(VERSIONS)
COMBINATIONS = list(itertools.product(("right", "wrong", "missing"), repeat=3))


def net_failures(state: dict[str, str]) -> set[str]:
    """The functions of the net that fail their own checks: the broken ones, and a right
    backward whose forward is missing or keeps other caches (it is judged against that
    forward, and cannot run on it)."""
    broken = {f for f, s in state.items() if s != "right"}
    return broken | ({"mlp_backward"} if state["mlp_forward"] != "right" else set())


def lessons_earn(state: dict[str, str]) -> bool:
    """The rule: nothing of the net missing, not both of its functions failed (the reference
    would stand in for the whole net), and not every function the check runs a stand-in."""
    if "missing" in (state["mlp_forward"], state["mlp_backward"]):
        return False
    failures = net_failures(state)
    if {"mlp_forward", "mlp_backward"} <= failures:
        return False
    return not ("init_params" in failures and failures & {"mlp_forward", "mlp_backward"})


def _submission(folder: Path, state: dict[str, str]) -> Path:
    shutil.copytree(REPO / "examples" / "correct", folder)
    extra = [VERSIONS[f][s] for f, s in state.items() if s != "right"]
    with open(folder / "network.py", "a") as handle:  # later definitions win
        handle.write("\n\n" + "\n\n".join(extra))
    return folder


@pytest.mark.parametrize("combination", COMBINATIONS, ids="-".join)
def test_the_lesson_checks_need_the_students_own_net(tmp_path, combination):
    state = dict(zip(FUNCTIONS, combination, strict=True))
    results = {r.name: r for r in grade_in_process(_submission(tmp_path / "s", state))}
    failed = failed_checks(results.values())
    broken = {f for f, s in state.items() if s != "right"}
    assert failed - LESSONS == net_failures(state)
    if lessons_earn(state):
        assert not LESSONS & failed, [results[n].notes for n in LESSONS]
    else:
        assert LESSONS <= failed
        for name in LESSONS:
            assert results[name].score == 0
            text = " ".join([results[name].feedback, *results[name].notes])
            assert any(f in text for f in broken), text


@generated(100)
@given(st.data())
def test_arrays_of_different_shapes_are_never_close(data):
    shape = data.draw(st.lists(st.integers(0, 4), max_size=3).map(tuple))
    other = data.draw(st.lists(st.integers(0, 4), max_size=3).map(tuple))
    a, b = np.ones(shape), np.ones(other)
    assert (relative_difference(a, b) == 0.0) == (shape == other)
    assert relative_difference(np.ones((1, 3)), np.ones(3)) == float("inf")
