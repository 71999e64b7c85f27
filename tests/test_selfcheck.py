"""The public self-check: one pytest command, one test per function, no solutions needed."""

import subprocess
import sys
from pathlib import Path

import pytest

from grader.checking.trial import REGISTRY
from grader.public.engine import self_check
from tests.corpus.build import build_submission, load_entries

REPO = Path(__file__).resolve().parent.parent


def run_selfcheck(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "grader/selfcheck.py", "-p", "no:cacheprovider", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


def test_reference_passes_every_self_check_test():
    done = run_selfcheck("--submission", "solutions")
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"{len(REGISTRY)} passed" in done.stdout
    total = sum(c.points for c in REGISTRY.values())
    assert f"self-check score: {total} / {total} points" in done.stdout


def test_stubs_fail_every_test_with_a_readable_message():
    done = run_selfcheck()  # default: exercises/
    assert done.returncode == 1
    assert f"{len(REGISTRY)} failed" in done.stdout
    assert "self-check score: 0 /" in done.stdout
    assert "sigmoid is not implemented yet" in done.stdout
    # Feedback, not tracebacks from the grader's internals.
    assert "Traceback" not in done.stdout
    assert "grader/checking/checks/" not in done.stdout


def test_one_function_can_be_checked_alone():
    done = run_selfcheck("--submission", "solutions", "-k", "sigmoid_grad")
    assert done.returncode == 0
    assert "1 passed" in done.stdout


def test_a_failure_names_function_input_expected_got_and_hint(tmp_path):
    entry = next(e for e in load_entries("bug") if e.slug == "sigmoid_grad_returns_s")
    folder = build_submission(entry, tmp_path / entry.slug)
    done = run_selfcheck("--submission", str(folder), "-k", "sigmoid_grad")
    assert done.returncode == 1
    for expected in ("sigmoid_grad(z) is wrong", "input:", "expected", "error:", "hint:"):
        assert expected in done.stdout, done.stdout


@pytest.mark.parametrize("entry", load_entries(), ids=lambda e: e.slug)
def test_self_check_agrees_with_the_corpus(entry, tmp_path):
    """Without the reference, blamed checks still fail and correct work still passes.

    (Checks downstream of a bug may fail too in the self-check: with no reference to stand in,
    it tells the student to fix the upstream function first.)
    """
    results = {r.name: r for r in self_check(build_submission(entry, tmp_path / entry.slug))}
    failed = {name for name, r in results.items() if not r.passed}
    assert set(entry.blames) <= failed, {n: results[n].feedback for n in entry.blames}
    for name in failed - set(entry.blames):
        assert any("fix that first" in note for note in results[name].notes), (
            name, results[name].feedback)
