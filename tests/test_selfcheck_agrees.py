"""The self-check agrees with the grader: a bug costs points on its own function's check only.

Without the reference (the self-check, the notebook's visible cells) nothing can stand in for a
broken function, so a check that fails while something it builds on failed is "not checked
yet" (``CheckResult.waiting``), never a failure with a hint that blames correct code. The
invariants, for the same code and the same inputs (the public seed; the grader run in process
with ``LiveExpected`` and the reference's stand-ins, as tests/test_one_engine.py does):

- every point the self-check confirms, the grader gives: a pass is a pass with the same score,
  and a failure is a failure with the same partial credit (its right sub-parts); so the
  confirmed total never exceeds the grader's score;
- the grader's score is at most the confirmed total plus the points that wait;
- when nothing waits, the totals and every check's verdict are equal;
- a check waits only on checks it builds on that failed their own check, with the one sentence
  "not checked yet: needs X, which fails its own check", no hint, diagnosis or notes, 0 points;
- a submission with one fault fails exactly that fault's own check(s); the rest pass or wait.

Cases are enumerated over the whole corpus (correct variants, every bug), partial submissions
(some modules still the stubs), degenerate functions and modules of every kind, and generated
(hypothesis: two faults at once, placed so that they meet on a dependency path).
"""

from __future__ import annotations

import io
import itertools
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.checking.judge import (
    GRADER_WORDS,
    NOTEBOOK_WORDS,
    PUBLIC_SEED,
    CheckResult,
    grade,
    not_checked_yet_message,
    total,
    waiting_summary,
)
from grader.checking.trial import REGISTRY, LiveExpected, upstream
from grader.conftest import summary_line
from grader.public import notebook as notebook_tests
from grader.public.engine import in_process_student_factory, self_check
from grader.spec.api import FUNCTIONS
from grader.spec.api import MODULES as API_MODULES
from grader.student.loader import reference_functions
from tests.corpus.build import MODULES, SOLUTIONS_DIR, build_submission, load_entries
from tests.corpus.degenerate import KINDS, build_degenerate
from tests.helpers import scaled
from tests.test_one_engine import BUGS, _submission_faults, build, notebook_namespace

REFERENCE = reference_functions()
REPO = Path(__file__).resolve().parent.parent
STUBS = REPO / "exercises"
FULL = sum(c.points for c in REGISTRY.values())


def own_checks(function: str) -> set[str]:
    """The checks a fault of ``function`` costs: those that test it alone, and the lesson checks
    when it is part of the student's own net they measure (mlp_forward, mlp_backward)."""
    return {name for name, c in REGISTRY.items() if c.tags == (function,) or function in c.own}


def both(folder: Path) -> tuple[list[CheckResult], list[CheckResult]]:
    """(the self-check's verdicts, the grader's at the public seed) on the same folder."""
    graded = grade(in_process_student_factory(folder), LiveExpected(REFERENCE), PUBLIC_SEED,
                   REFERENCE)
    return self_check(folder), graded


def assert_agrees(mine: list[CheckResult], graded: list[CheckResult]) -> None:
    """The invariants of the module docstring, check by check."""
    assert [r.name for r in mine] == [r.name for r in graded] == list(REGISTRY)
    status = {r.name: r.status for r in mine}
    for own, theirs in zip(mine, graded, strict=True):
        where = (own.name, own.feedback, theirs.feedback)
        assert own.status in ("pass", "fail", "wait")
        assert not own.internal_error, where
        if own.status == "pass":
            assert (theirs.passed, theirs.score) == (True, own.score), where
        elif own.status == "fail":
            # A failure confirms only the points of its right sub-parts (partial credit), the
            # same the grader gives: 0 for a check without parts.
            assert (own.score, theirs.passed) == (theirs.score, False), where
            assert own.score < own.max_score, where
            assert own.score == 0 or any(own.parts.values()), where
            assert not own.feedback.startswith("not checked yet"), where
        else:
            failed_upstream = {n for n in upstream(own.name) if status[n] == "fail"}
            assert own.waiting and set(own.waiting) <= failed_upstream, where
            assert list(own.waiting) == [n for n in REGISTRY if n in own.waiting]
            assert own.feedback == not_checked_yet_message(own.waiting, GRADER_WORDS)
            assert (own.score, own.passed, own.diagnosis, own.notes) == (0, False, None, []), where
    confirmed, possible = total(mine)
    score, _ = total(graded)
    assert possible == FULL
    assert confirmed <= score
    waiting, on = waiting_summary(mine)
    assert waiting == sum(r.max_score for r in mine if r.status == "wait")
    # And what waits is all the grader may add: a self-check failure is the grader's failure.
    assert score <= confirmed + waiting
    if not waiting:
        assert on == ()
        assert confirmed == score
        assert [(r.passed, r.score) for r in mine] == [(r.passed, r.score) for r in graded]
        assert summary_line(mine) == f"self-check score: {confirmed} / {FULL} points"
    else:
        assert set(on) == {n for r in mine for n in r.waiting}
        assert summary_line(mine) == (f"self-check score: {confirmed} / {FULL} confirmed; "
                                      f"{waiting} point{'s' if waiting != 1 else ''} wait on "
                                      f"{', '.join(on)}")


def assert_one_fault(mine: list[CheckResult], own: set[str]) -> None:
    """One fault: the self-check fails exactly its own checks; the rest pass or wait."""
    failed = {r.name for r in mine if r.status == "fail"}
    assert failed == own, {r.name: r.feedback for r in mine if (r.name in own) != (r.status ==
                                                                                 "fail")}


# --- the corpus: every correct variant and every one-bug submission ------------------------------

@pytest.mark.parametrize("entry", load_entries(), ids=lambda e: e.slug)
def test_the_self_check_agrees_with_the_grader_on_every_corpus_entry(entry, tmp_path):
    mine, graded = both(build_submission(entry, tmp_path / entry.slug))
    assert_agrees(mine, graded)
    if entry.kind == "correct":
        assert total(mine) == total(graded) == (FULL, FULL)
    else:
        assert_one_fault(mine, set(entry.blames))


def test_the_issues_example_fails_one_check_and_waits_on_it(tmp_path):
    """sigmoid(z)*(1-z) in sigmoid_grad: today's 41/50 with hints on correct code becomes a
    failure of sigmoid_grad alone, the checks built on it waiting."""
    entry = next(e for e in load_entries("bug") if e.slug == "sigmoid_grad_z_times_one_minus_z")
    mine, graded = both(build_submission(entry, tmp_path / entry.slug))
    status = {r.name: r.status for r in mine}
    assert {n for n, s in status.items() if s != "pass"} == {
        "sigmoid_grad", "activation_backward", "mlp_backward", "vanishing_sigmoid"}
    assert status["sigmoid_grad"] == "fail"
    for name in ("activation_backward", "mlp_backward", "vanishing_sigmoid"):
        result = next(r for r in mine if r.name == name)
        assert result.feedback == ("not checked yet: needs sigmoid_grad, which fails its own "
                                   "check")
        assert result.waiting == ("sigmoid_grad",)
    assert summary_line(mine) == ("self-check score: 38 / 50 confirmed; 10 points wait on "
                                  "sigmoid_grad")
    assert total(graded) == (48, 50)


# --- partial submissions: some modules still the stubs -------------------------------------------

_SUBSETS = [s for k in range(len(MODULES) + 1) for s in itertools.combinations(MODULES, k)]


@pytest.mark.parametrize("done", _SUBSETS, ids=lambda s: "+".join(s) or "none")
def test_a_partial_submission_confirms_what_the_grader_gives(done, tmp_path):
    """The modules in ``done`` are the reference, the others the stubs students start from:
    a check of a written function passes, or waits when it builds on an unwritten one; only
    unwritten functions (and the lesson, which needs the student's whole net) fail."""
    folder = tmp_path / "s"
    folder.mkdir()
    for module in MODULES:
        source = SOLUTIONS_DIR if module in done else STUBS
        shutil.copy(source / f"{module}.py", folder / f"{module}.py")
    (folder / "__init__.py").write_text("", encoding="utf-8")
    mine, graded = both(folder)
    assert_agrees(mine, graded)
    written = {f for m in done for f in API_MODULES[m]}
    for result in mine:
        if set(REGISTRY[result.name].tags) <= written:
            assert result.status in ("pass", "wait"), (result.name, result.feedback)
        if result.status == "fail":
            assert not set(REGISTRY[result.name].tags) <= written, result.name
    if not done:
        assert summary_line(mine) == (
            f"self-check score: 0 / {FULL} confirmed; 11 points wait on sigmoid_grad, "
            "tanh_grad, relu_grad, leaky_relu_grad, dense_forward, activation_forward, "
            "mlp_forward")
    if done == MODULES:
        assert summary_line(mine) == f"self-check score: {FULL} / {FULL} points"


@pytest.mark.slow
# --- degenerate code: every kind, whole modules and single functions -----------------------------

@pytest.mark.parametrize(("kind", "module"), [(k, m) for k in KINDS for m in (*MODULES, None)],
                         ids=lambda v: v or "all")
def test_a_degenerate_module_confirms_no_more_than_the_grader(kind, module, tmp_path):
    modules = MODULES if module is None else (module,)
    mine, graded = both(build_degenerate(tmp_path / "s", kind, modules))
    assert_agrees(mine, graded)


@pytest.mark.slow
@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_one_degenerate_function_fails_its_own_checks_only(kind, function, tmp_path):
    mine, graded = both(build_degenerate(tmp_path / "s", kind, (), (function,)))
    assert_agrees(mine, graded)
    failed = {r.name for r in mine if r.status == "fail"}
    # Degenerate code may pass a check that its values do not reach (a constant that happens to
    # be right somewhere); whatever fails is the function's own check.
    assert failed <= own_checks(function), failed
    assert failed == {r.name for r in graded if not r.passed} & own_checks(function)


# --- generated: two faults at once ---------------------------------------------------------------

@settings(max_examples=scaled(8), derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(chosen=_submission_faults())
def test_two_faults_at_once_never_confirm_more_than_the_grader(chosen, tmp_path):
    mine, graded = both(build(tmp_path / "s", chosen))
    assert_agrees(mine, graded)


_BUG_FUNCTION = {slug: REGISTRY[e.blames[0]].tags[0] for slug, e in BUGS.items()}


@settings(max_examples=scaled(10), derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pair=st.lists(st.sampled_from(sorted(BUGS)), min_size=2, max_size=2, unique=True)
       .filter(lambda p: _BUG_FUNCTION[p[0]] != _BUG_FUNCTION[p[1]]))
def test_two_corpus_bugs_fail_their_own_checks_and_nothing_else(pair, tmp_path):
    """Two bugs in two functions, anywhere: the self-check fails only checks that the grader
    fails on its own (with stand-ins), and at least one bug's own checks."""
    mine, graded = both(build(tmp_path / "s", [("bug", slug) for slug in pair]))
    assert_agrees(mine, graded)
    blamed = set(BUGS[pair[0]].blames) | set(BUGS[pair[1]].blames)
    failed = {r.name for r in mine if r.status == "fail"}
    assert failed <= blamed | {"vanishing_sigmoid", "vanishing_relu"}, pair
    assert failed, pair


# --- the notebook's visible cells: a notice, not a wrong answer ----------------------------------

@pytest.mark.parametrize("slug", ["sigmoid_grad_z_times_one_minus_z", "dense_forward_no_bias"])
def test_a_visible_cell_that_waits_prints_the_sentence_and_raises_nothing(slug, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(notebook_tests, "_reference", lambda: None)  # a student's setup
    namespace = notebook_namespace(build(tmp_path / "s", [("bug", slug)]))
    mine = {r.name: r for r in self_check(tmp_path / "s")}
    waiting = [name for name, r in mine.items() if r.status == "wait"]
    assert waiting, slug
    for name in waiting:
        printed = io.StringIO()
        with redirect_stdout(printed):
            assert notebook_tests.check(name, namespace) is None  # no AssertionError
        sentence = not_checked_yet_message(mine[name].waiting, NOTEBOOK_WORDS)
        assert sentence.endswith("which fails its own test")
        assert printed.getvalue() == (f"{name}: {sentence} (fix that first, then run this cell "
                                      "again)\n")
    for name in BUGS[slug].blames:
        with pytest.raises(notebook_tests.CheckFailure):
            notebook_tests.check(name, namespace)


def test_the_sentence_names_one_or_several_failed_checks():
    assert not_checked_yet_message(("tanh_grad",)) == (
        "not checked yet: needs tanh_grad, which fails its own check")
    assert not_checked_yet_message(("sigmoid_grad", "tanh_grad", "relu_grad"), NOTEBOOK_WORDS) \
        == ("not checked yet: needs sigmoid_grad, tanh_grad and relu_grad, which fail their own "
            "tests")
