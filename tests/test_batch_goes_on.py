"""A batch never stops for one submission, not even when a judge process dies or raises.

The judge processes of a batch run in a pool; when one of them dies, the pool breaks and every
submission still in it would be lost. The CLI grades those again one per fresh judge, so each
submission ends with exactly one result: its grade, or a 0 with the reason.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from grader.batch.pool import Run, grade_pooled
from grader.batch.results import SubmissionResult
from grader.batch.run import grade_submission, judge_failed

SEED = 3


def fake_judge(path: str, seed: int) -> SubmissionResult:
    """Stands for ``pool.grade_one`` in a spawned pool process: a name says what happens."""
    name = Path(path).name
    if name.startswith("dies"):
        os._exit(9)  # as the OOM killer would end it
    if name.startswith("raises"):
        raise RuntimeError("a judge bug")
    result = judge_failed(Path(path), seed, "stand-in")
    result.error, result.score = None, 50
    return result


NAMES = ["ok-1", "ok-2", "dies-1", "raises-1", "ok-3", "dies-2", "ok-4"]


# Where the dying judges sit in the batch: first, in the middle, last, and both together.
ORDERS = {"first": NAMES, "middle": NAMES[2:5] + NAMES[:2] + NAMES[5:],
          "last": NAMES[:2] + NAMES[3:5] + NAMES[6:] + [NAMES[2], NAMES[5]]}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("where", sorted(ORDERS))
def test_every_submission_ends_exactly_once_whatever_its_judge_does(tmp_path, workers, where):
    names = ORDERS[where]
    finished: list[SubmissionResult] = []
    run = Run()
    grade_pooled(run, [tmp_path / n for n in names], workers, (SEED,), finished.append,
                 fake_judge)
    assert run.pool is None
    by_name = {r.name: r for r in finished}
    assert len(finished) == len(names) == len(by_name)
    for name in names:
        result = by_name[name]
        if name.startswith("ok"):
            assert (result.score, result.error) == (50, None)
        elif name.startswith("dies"):
            assert result.score == 0
            assert result.error == ("internal grader error: the grader's judge process died "
                                    "while grading this submission; please report it (grading "
                                    "it again may work)")
        else:
            assert result.score == 0
            assert result.error == ("internal grader error: RuntimeError: a judge bug; please "
                                    "report it (grading it again may work)")
        assert all(c.score == 0 for c in result.checks) or name.startswith("ok")


# --- a submission of which nothing loads gets the reason of its 0 --------------------------------

REPO = Path(__file__).resolve().parent.parent
MODULES = ("activations", "layers", "network", "gradient_check")
UNLOADABLE = {  # what every module of the submission holds
    "syntax error": b"def sigmoid(z)\n    return z\n",
    "NUL byte": b"x = 1\0\n",
    "garbage": bytes(random.Random(7).randrange(256) for _ in range(2000)),
    "raises at import": b"raise ValueError('not today')\n",
    "exits at import": b"raise SystemExit(3)\n",
    "undecodable": "sigma = '\u00e9'\n".encode("latin-1"),
}


@pytest.mark.parametrize("kind", sorted(UNLOADABLE))
def test_a_submission_of_which_nothing_loads_says_why(tmp_path, kind):
    for module in MODULES:
        (tmp_path / f"{module}.py").write_bytes(UNLOADABLE[kind])
    result = grade_submission(tmp_path, seed=SEED, measure=False)
    assert result.score == 0
    assert result.error.startswith("none of the exercise functions could be loaded: importing "
                                   "activations.py raised "), result.error
    assert "\n" not in result.error and len(result.error) <= 400


@pytest.mark.parametrize("what", ["stubs", "one module broken"])
def test_a_submission_that_loads_is_graded_not_refused(tmp_path, what):
    source = REPO / ("exercises" if what == "stubs" else "examples/correct")
    for module in MODULES:
        shutil.copy(source / f"{module}.py", tmp_path / f"{module}.py")
    if what == "one module broken":
        (tmp_path / "gradient_check.py").write_bytes(UNLOADABLE["syntax error"])
    result = grade_submission(tmp_path, seed=SEED, measure=False)
    assert result.error is None
    assert result.score == (0 if what == "stubs" else 46)
