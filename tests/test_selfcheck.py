"""The public self-check: one pytest command, one test per function, no solutions needed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    # Every stub fails its own test, except the three whose tests call an unwritten function
    # first (dense_forward, the activations, mlp_forward): those are not checked yet.
    assert f"{len(REGISTRY) - 3} failed, 3 skipped" in done.stdout
    assert ("self-check score: 0 / 50 confirmed; 11 points wait on sigmoid_grad, tanh_grad, "
            "relu_grad, leaky_relu_grad, dense_forward, activation_forward, mlp_forward"
            in done.stdout)
    assert "sigmoid is not implemented yet" in done.stdout
    for name in ("dense_backward", "activation_backward", "mlp_backward"):
        assert re.search(rf"^  wait {name} +0/\d+ +not checked yet: needs ", done.stdout,
                         re.M), done.stdout[-2000:]
    assert re.search(r"^  FAIL sigmoid_grad +0/2$", done.stdout, re.M)
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


def test_a_check_that_waits_is_skipped_with_the_sentence_and_the_summary_says_so(tmp_path):
    entry = next(e for e in load_entries("bug") if e.slug == "sigmoid_grad_z_times_one_minus_z")
    folder = build_submission(entry, tmp_path / entry.slug)
    done = run_selfcheck("--submission", str(folder), "-rs")
    assert done.returncode == 1
    assert "1 failed, 18 passed, 3 skipped" in done.stdout, done.stdout[-2000:]
    # pytest's short summary gives each skip's reason: the one sentence, no hint.
    reasons = re.findall(r"^SKIPPED \[1\] grader/selfcheck\.py:\d+: (.*)$", done.stdout, re.M)
    sentence = "not checked yet: needs sigmoid_grad, which fails its own check"
    waiting = ["activation_backward", "mlp_backward", "vanishing_sigmoid"]
    assert reasons == [f"{name}: {sentence}" for name in waiting]
    assert "self-check score: 38 / 50 confirmed; 10 points wait on sigmoid_grad" in done.stdout
    table = re.findall(r"^  (ok  |FAIL|wait) (\w+) +(\d+)/(\d+) *(.*)$", done.stdout, re.M)
    assert len(table) == len(REGISTRY)
    assert [(mark, name, said) for mark, name, _, _, said in table if mark != "ok  "] == [
        ("FAIL", "sigmoid_grad", ""), *[("wait", name, sentence) for name in waiting]]
    assert "walk the caches" not in done.stdout  # no hint blames the correct mlp_backward


@pytest.mark.parametrize("entry", load_entries(), ids=lambda e: e.slug)
def test_self_check_agrees_with_the_corpus(entry, tmp_path):
    """Without the reference, a bug fails exactly the checks it is blamed for; the checks
    downstream of it are not checked yet (they name the failed check), the rest pass."""
    results = {r.name: r for r in self_check(build_submission(entry, tmp_path / entry.slug))}
    failed = {name for name, r in results.items() if r.status == "fail"}
    assert failed == set(entry.blames), {n: results[n].feedback for n in failed}
    for name, result in results.items():
        if result.status == "wait":
            assert set(result.waiting) <= set(entry.blames), (name, result.feedback)
            assert result.feedback.startswith("not checked yet: needs "), result.feedback


def test_a_passing_check_shows_its_note_in_the_summary(tmp_path):
    """relu_grad returning booleans earns its points; the note saying "return floats" must reach
    the student, although pytest prints nothing for a test that passes."""
    entry = next(e for e in load_entries("correct") if e.slug == "act_relu_grad_boolean")
    folder = build_submission(entry, tmp_path / entry.slug)
    done = run_selfcheck("--submission", str(folder))
    assert done.returncode == 0, done.stdout[-2000:]
    assert "self-check score: 50 / 50 points" in done.stdout
    assert re.search(r"^  ok   relu_grad +2/2 +note: relu_grad returns dtype bool: its values are "
                     r"right and earn the points, but .*return floats", done.stdout, re.M), \
        done.stdout[-3000:]


@pytest.mark.parametrize("entry", load_entries("correct"), ids=lambda e: e.slug)
def test_every_note_of_a_passing_check_is_in_the_table(entry, tmp_path):
    """Over the correct corpus: each check is one table row, and every note of a passing check is
    printed (once, after "note: ") under that row, before the next row."""
    from grader.conftest import table_lines

    results = self_check(build_submission(entry, tmp_path / entry.slug))
    for result in results:
        lines = table_lines(result)
        assert re.match(rf"^  (ok  |FAIL|wait) {result.name} +{result.score}/{result.max_score}",
                        lines[0])
        assert not any(re.match(r"^  (ok  |FAIL|wait) ", line) for line in lines[1:])
        shown = "\n".join(lines)
        if result.status == "pass":
            for note in result.notes:
                assert shown.count(f"note: {note.splitlines()[0]}") >= 1, (result.name, note)
        else:
            assert "note: " not in shown  # a failure's notes are in its failure message


@settings(derandomize=True, deadline=None, max_examples=60)
@given(status=st.sampled_from(["pass", "fail", "wait"]),
       notes=st.lists(st.text(st.characters(codec="ascii", exclude_characters="\r\x0b\x0c\x1c\x1d"
                                            "\x1e\x85"), max_size=30), max_size=4))
def test_table_lines_for_generated_notes(status, notes):
    """Generated notes, one or several, some spanning lines: a passing check's rows hold every
    line of every note, the mark and score only on the first row; other verdicts show no note."""
    from grader.checking.judge import CheckResult
    from grader.conftest import table_lines

    result = CheckResult("relu_grad", "t", 2, 2 if status == "pass" else 0, status == "pass",
                         feedback="not checked yet: needs x" if status == "wait" else "",
                         notes=list(notes), waiting=("relu",) if status == "wait" else ())
    lines = table_lines(result)
    mark = {"pass": "ok  ", "fail": "FAIL", "wait": "wait"}[status]
    assert lines[0].startswith(f"  {mark} relu_grad ")
    assert all(not line.startswith("  ok  ") for line in lines[1:])
    if status != "pass" or not notes:
        assert len(lines) == 1
        return
    assert sum(line[38:].startswith("note: ") for line in lines) == len(notes)
    body = [line[38:] for line in lines]
    for note in notes:
        for text in note.splitlines():
            assert any(text in row for row in body), (note, lines)
