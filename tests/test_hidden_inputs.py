"""Hidden inputs: the grading seed changes the random inputs, so a submission that memorised the
self-check's answers passes the self-check and earns nothing when graded; fixed edge cases stay
the same under every seed."""

from pathlib import Path

import numpy as np

from grader.checking.judge import PUBLIC_SEED, run_check
from grader.checking.trial import REGISTRY, LiveExpected
from grader.public.engine import self_check
from grader.student.calling import InProcessStudent
from grader.student.loader import load_submission, reference_functions
from tests.corpus.build import build_submission, load_entries
from tests.helpers import GRADING_SEED, grade_in_process


class Recorder(InProcessStudent):
    """Remembers every sigmoid_grad input a check sends."""

    def __init__(self, functions):
        super().__init__(functions)
        self.inputs: list[np.ndarray] = []

    def call(self, name, *args, **kwargs):
        if name == "sigmoid_grad":
            self.inputs.append(np.array(args[0]))
        return super().call(name, *args, **kwargs)


def _inputs_seen(seed: int) -> list[np.ndarray]:
    reference = reference_functions()
    recorder = Recorder(reference)
    result = run_check(REGISTRY["sigmoid_grad"], recorder, LiveExpected(reference), seed, {})
    assert result.passed
    return recorder.inputs


def test_memorised_public_answers_earn_nothing_when_graded(tmp_path):
    reference = reference_functions()
    table = [(z.tolist(), reference["sigmoid_grad"](z).tolist(), str(z.dtype))
             for z in _inputs_seen(PUBLIC_SEED)]
    entry = next(e for e in load_entries("correct") if e.module == "activations")
    folder = build_submission(entry, tmp_path / "memoriser")
    with open(folder / "activations.py", "a") as module:
        module.write(f"\n\n_ANSWERS = {table!r}\n\n\n"
                     "def sigmoid_grad(z):\n"
                     "    for seen, answer, dtype in _ANSWERS:\n"
                     "        if np.shape(z) == np.shape(seen) and np.array_equal(z, seen):\n"
                     "            return np.array(answer, dtype=dtype)\n"
                     "    return np.zeros_like(np.asarray(z, dtype=float))\n")
    public = {r.name: r.passed for r in self_check(folder)}
    graded = {r.name: r.passed for r in grade_in_process(folder)}
    assert public["sigmoid_grad"] is True
    assert graded["sigmoid_grad"] is False


def test_random_inputs_change_with_the_seed_but_edge_cases_stay():
    public = _inputs_seen(PUBLIC_SEED)
    hidden = _inputs_seen(GRADING_SEED)
    assert len(public) == len(hidden)
    same = [np.array_equal(a, b) for a, b in zip(public, hidden, strict=True)]
    assert any(same), "the fixed edge cases (large magnitudes, exact zeros) must stay"
    assert not all(same), "the random inputs must change with the grading seed"
    assert any(np.array_equal(z, [-1e4, -1000.0, -60.0, -1.5, 0.5, 60.0, 1000.0, 1e4])
               for z in hidden)


def test_reference_is_not_reachable_from_a_loaded_submission(tmp_path):
    """The in-process loader gives a submission its own package: `exercises` is the student's."""
    folder = Path(build_submission(load_entries("correct")[0], tmp_path / "s"))
    loaded = load_submission(folder)
    assert all(f.__module__.startswith("_submission_") for f in loaded.functions.values())
