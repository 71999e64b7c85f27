"""The judge's own time is bounded: nothing a worker sends where text belongs is formatted, and
frames that student code forges on the grader's channel cost it at most its own module.

A student module can find the worker's pipes (they are its process's descriptors) and write
frames of the wire format onto them. The judge must neither spend time formatting what arrives
(``str()`` of a list of arrays took 95 s once) nor be misled about which module did it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from grader.batch.run import grade_submission
from grader.sandbox.remote import _NOT_TEXT, WorkerStudent, _text
from grader.spec.profile import Limits
from tests.strategies import generated, json_values, mixed_arrays

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(call_seconds=2, submission_seconds=20)
SLACK_SECONDS = 10  # worker start-up and the last kill come on top of the budget

# --- what arrives where text belongs ------------------------------------------------------------

_values = json_values(text_size=20, key_size=5, list_size=5, extra_leaves=(mixed_arrays(),),
                      pairs=True)
_TEXT_FIELDS = ("error", "bad_output", "missing", "stdout", "warnings")


class _Loud:
    """A value whose formatting would take forever: it must never be formatted."""

    def __str__(self) -> str:
        raise AssertionError("formatted")

    __repr__ = __str__
    __format__ = __str__


def test_text_is_taken_by_exact_type_and_cut_before_use():
    assert _text("x" * 10_000, 7) == "x" * 7
    assert _text(_Loud(), 100) == _NOT_TEXT

    class Text(str):
        pass

    assert _text(Text("a subclass of str could run code when formatted"), 100) == _NOT_TEXT


@pytest.fixture(scope="module")
def judge_side(tmp_path_factory) -> WorkerStudent:
    # The judge's half alone: no worker is started until a call is made.
    return WorkerStudent(tmp_path_factory.mktemp("submission"), limits=LIMITS)


@generated(300, suppress=(HealthCheck.function_scoped_fixture, HealthCheck.too_slow))
@given(body=st.fixed_dictionaries({}, optional={f: _values for f in _TEXT_FIELDS}))
def test_reply_text_fields_are_plain_bounded_text(judge_side, body):
    reply = judge_side._reply("sigmoid", body)
    for name in ("error", "bad_output", "missing", "stdout"):
        value = getattr(reply, name)
        assert value is None or value == "" or (type(value) is str and len(value) <= 4000)
    assert type(reply.warnings) is tuple
    assert all(type(w) is str and len(w) <= 300 for w in reply.warnings)
    assert len(reply.warnings) <= 50


def test_a_huge_forged_reply_is_handled_in_a_moment(judge_side):
    junk = [np.zeros(3) for _ in range(100_000)]
    started = time.process_time()
    reply = judge_side._reply("sigmoid", {f: junk for f in _TEXT_FIELDS})
    assert reply.missing == _NOT_TEXT and reply.warnings == ()
    # str() of this list takes seconds; the judge does not format it at all.
    assert time.process_time() - started < 1.0


# --- forged frames from a student module at import ----------------------------------------------

_FORGE = '''

def _forge():
    import os
    import stat
    import sys

    import numpy as np

    send = sys.modules["grader.spec.wire"].send
    junk = [np.zeros(3) for _ in range(5000)]
    frames = FRAMES
    for fd in range(3, 64):
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            os.set_blocking(fd, False)
            for frame in frames:
                send(fd, frame)
        except Exception:
            pass


_forge()
'''
_READY = '{"op": "ready", "body": {"missing": {"sigmoid": junk}, "notes": junk}}'
_REPLIES = ('[{"op": "reply", "id": i, "index": 0, "body": {"error": junk, "warnings": junk, '
            '"stdout": junk, "missing": junk}} for i in range(1, 40)]')
STRATEGIES = {
    "ready while importing": f"[{_READY}] + {_REPLIES}",
    "imported, then ready": f'[{{"op": "imported", "body": {{"module": "activations"}}}}, {_READY}]'
                            f" + {_REPLIES}",
    "replies only": _REPLIES,
    "setup failure and junk names": '[{"op": "failed", "body": {"reason": junk}}, '
                                    '{"op": "importing", "body": {"module": junk}}]',
}
# activations.py is left out; only gradient_check.py does not import it.
HONEST_CHECKS = {"numerical_gradient", "relative_error"}


def _forging_submission(folder: Path, frames: str) -> Path:
    for module in ("activations", "layers", "network", "gradient_check"):
        shutil.copy(REPO / "solutions" / f"{module}.py", folder / f"{module}.py")
    with open(folder / "activations.py", "a") as handle:
        handle.write(_FORGE.replace("FRAMES", frames))
    return folder


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_forged_frames_at_import_cost_only_the_forging_module(tmp_path, strategy):
    submission = _forging_submission(tmp_path, STRATEGIES[strategy])
    started = time.monotonic()
    result = grade_submission(submission, seed=5, limits=LIMITS, measure=False)
    assert time.monotonic() - started < LIMITS.submission_seconds + SLACK_SECONDS
    assert result.error is None
    assert {c.name for c in result.checks if c.passed} == HONEST_CHECKS
    assert (result.score, result.max_score) == (4, 50)
    forged = [n for n in result.notes if "activations.py wrote messages of its own" in n]
    assert forged, result.notes
    assert all(type(c.feedback) is str and len(c.feedback) < 6000 for c in result.checks)


# --- what the judge keeps of the worker's answers ------------------------------------------------

def _correct_with(folder: Path, module: str):
    """examples/correct copied into ``folder``; returns ``module``.py open for appending."""
    for name in ("activations", "layers", "network", "gradient_check"):
        shutil.copy(REPO / "examples" / "correct" / f"{name}.py", folder / f"{name}.py")
    return open(folder / f"{module}.py", "a")


@pytest.mark.parametrize("elements", [(1 << 20) + 1, 5_000_000])
def test_an_answer_far_larger_than_any_right_one_is_a_wrong_answer(judge_side, elements):
    reply = judge_side._reply("sigmoid", {"value": np.ones(elements), "inputs_after": ((), {})})
    assert reply.value is None
    assert reply.bad_output == (f"returned {elements:,} numbers, far more than any answer here "
                                f"(at most {1 << 20:,})")


def test_huge_probe_answers_neither_hold_the_judge_nor_fail_it(tmp_path):
    # A wrong dense_forward answering 40 MB to every one of the backward check's ~70 probes:
    # the judge once kept them all (2.8 GB) and then failed with a ValueError of its own.
    with _correct_with(tmp_path, "layers") as handle:
        handle.write("\n\n_BIG = np.ones(5_000_000)\n_df, _db = dense_forward, dense_backward\n\n\n"
                     "def dense_forward(x, W, b):\n    return _BIG, _df(x, W, b)[1]\n\n\n"
                     "def dense_backward(dout, cache):\n"
                     "    return tuple(2 * g for g in _db(dout, cache))\n")
    result = grade_submission(tmp_path, seed=5, limits=LIMITS, measure=False)
    assert {c.name for c in result.checks if not c.passed} == {"dense_forward", "dense_backward"}
    assert not any(c.internal_error for c in result.checks)
    assert "far more than any answer here" in next(
        c.feedback for c in result.checks if c.name == "dense_forward")


@pytest.mark.slow
def test_a_correct_function_that_warns_thousands_of_times_keeps_its_points(tmp_path):
    with _correct_with(tmp_path, "activations") as handle:
        handle.write("\n\nimport warnings\n\n_tanh = tanh\n\n\ndef tanh(z):\n"
                     "    for i in range(20000):\n"
                     "        warnings.warn(f'step {i}: ' + 'x' * 200)\n"
                     "    return _tanh(z)\n")
    result = grade_submission(tmp_path, seed=5, limits=LIMITS, measure=False)
    assert (result.score, result.max_score) == (50, 50)
    tanh = next(c for c in result.checks if c.name == "tanh")
    # The first distinct messages of each call, at most 50 a call.
    assert "UserWarning: step 0: " + "x" * 200 in tanh.warnings
    assert "UserWarning: step 49: " + "x" * 200 in tanh.warnings
    assert "UserWarning: step 50: " + "x" * 200 not in tanh.warnings
