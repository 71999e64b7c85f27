"""No maths earns nothing: the "no maths" family of tests/corpus/degenerate.py.

Every kind of degenerate code (zeros, ones, constants, the identity, an input handed back, seeded
noise, a fixed random array, NotImplementedError) is graded

- as a whole submission (all four modules degenerate): exactly 0/50, with the reason named;
- one module at a time (the rest the reference): exactly that module's checks fail;
- one function at a time: exactly its own checks fail, plus what precise blame says (a lesson
  check needs the student's own mlp_forward and mlp_backward; a backward cannot be tested by a
  forward that computes nothing or is not there);

in this process, and a few through the real worker. The lesson checks' thresholds, their band
and their seeds are tested on their own, with the reference and with nets made to vanish or
explode.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from grader.batch.run import grade_submission
from grader.checking.checks import lesson as checks
from grader.checking.judge import CheckResult, run_check, total
from grader.checking.trial import REGISTRY, LiveExpected, Trial
from grader.public.engine import in_process_student_factory
from grader.spec.api import FUNCTIONS, PARTNER
from grader.student.loader import reference_functions
from tests.corpus.build import MODULES, SOLUTIONS_DIR
from tests.corpus.degenerate import KINDS, build_degenerate, checks_of
from tests.corpus.truth import assert_notes_name_only_failed_functions, failed_functions_named
from tests.helpers import GRADING_SEED, failed_checks, grade_in_process
from tests.strategies import SEEDS, finite_floats, generated

LESSONS = {"vanishing_sigmoid", "vanishing_relu"}
FULL = sum(c.points for c in REGISTRY.values())
POINTS = {c.name: c.points for c in REGISTRY.values()}

# What an honest "computes nothing" costs besides the function's own checks (precise blame):
# the lesson checks test the student's own net, so a degenerate or missing mlp_forward or
# mlp_backward costs them too; mlp_backward cannot be tested through an mlp_forward that computes
# nothing (its caches hold no forward pass); a backward cannot be tested at all when its forward
# raises. A degenerate dense_forward or activation_forward still caches its true inputs, so the
# reference backward after it is right and keeps its points.
_ALSO_FAILS = {
    "mlp_forward": {"mlp_backward"} | LESSONS,
    "mlp_backward": LESSONS,
}


def expected_failures(kind: str, function: str) -> set[str]:
    # The lesson checks are tagged with init_params too, but a reference init_params may stand
    # in for the student's: the net under test is still theirs.
    failed = (checks_of(functions=(function,)) - LESSONS) | _ALSO_FAILS.get(function, set())
    if kind == "not_implemented" and function in ("dense_forward", "activation_forward"):
        failed.add(PARTNER[function])
    return failed


def assert_exact(results: list[CheckResult], failed: set[str]) -> None:
    assert failed_checks(results) == failed, {r.name: r.feedback for r in results
                                             if (r.name in failed) == r.passed}
    assert total(results) == (FULL - sum(POINTS[n] for n in failed), FULL)
    assert not any(r.internal_error for r in results)
    for result in results:
        if not result.passed:
            assert result.feedback.strip(), result.name
    assert_notes_name_only_failed_functions(results)


@pytest.mark.parametrize(("note", "named"), [
    ("mlp_backward failed its own check; this failure may come from there: fix that first",
     {"mlp_backward"}),
    ("dense_forward and activation_forward failed their own check; this failure may come ...",
     {"dense_forward", "activation_forward"}),
    ("graded with the reference mlp_backward in place of yours, which failed its own check, and "
     "the reference mlp_forward with it (a forward and its backward share a cache format)",
     {"mlp_backward"}),
    ("not graded on its own: it runs only init_params, mlp_backward and mlp_forward, and "
     "init_params and mlp_backward failed (the reference mlp_forward must stand in ...)",
     {"init_params", "mlp_backward"}),
    ("not graded on its own: it runs only sigmoid, which failed", {"sigmoid"}),
    ("sigmoid, seed 5: ||dW_1|| / ||dW_10|| = 1e-06", set()),
])
def test_the_note_reader_reads_what_the_judge_writes(note, named):
    assert failed_functions_named(note) == named


def test_the_family_covers_every_kind_module_and_function():
    assert len(KINDS) == 8
    assert {c for m in MODULES for c in checks_of((m,))} == set(REGISTRY)
    assert sum(len(checks_of((m,))) for m in MODULES) == len(REGISTRY)  # one module per check


# --- whole submissions: 0/50 with the reason named -----------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_whole_degenerate_submission_scores_zero(kind, tmp_path):
    results = {r.name: r for r in grade_in_process(build_degenerate(tmp_path / kind, kind))}
    assert_exact(list(results.values()), set(REGISTRY))
    # The reason is named where points used to go to no maths.
    if kind != "not_implemented":
        assert "sigmoid(z) is wrong" in results["sigmoid_stability"].feedback \
            or "inf or NaN" in results["sigmoid_stability"].feedback
    for name in LESSONS:
        feedback = results[name].feedback
        assert feedback.startswith("not graded: this check tests your own mlp_forward and "
                                   "mlp_backward, and your mlp_forward "), feedback
        assert "a reference stand-in cannot earn these points" in feedback
    for result in results.values():
        assert not any("matches the gradient of your own" in n or "matches your own" in n
                       for n in result.notes), (result.name, result.notes)
    mlp = results["mlp_forward"]
    if kind == "not_implemented":
        assert mlp.feedback == "mlp_forward is not implemented yet (it raises NotImplementedError)"
    else:
        assert "mlp_forward computes nothing: it " in mlp.feedback
    if kind in ("zeros", "ones", "constant"):
        value = {"zeros": 0, "ones": 1, "constant": 0.25}[kind]
        for name in ("sigmoid", "tanh_grad", "relu", "leaky_relu_grad", "mse_loss"):
            assert results[name].diagnosis == (f"returns {value:g} in every entry, whatever the "
                                               "input: there is no maths behind the output")
    if kind in ("identity", "passthrough"):
        for name in ("sigmoid", "tanh", "relu_grad", "activation_backward"):
            assert results[name].diagnosis == ("returns its input unchanged: there is no maths "
                                               "behind the output")


@generated(12, suppress=(HealthCheck.function_scoped_fixture,))
@given(kind=st.sampled_from(["constant", "noise", "fixed_noise"]),
       value=st.one_of(st.sampled_from([0.5, 0.25, -1.0, 1e-12, 1.0, 2.0]),
                       finite_floats(-1e3, 1e3)),
       seed=SEEDS)
def test_any_constant_or_noise_scores_zero(kind, value, seed, tmp_path_factory):
    folder = build_degenerate(tmp_path_factory.mktemp("nomaths") / "s", kind, value=value,
                              seed=seed)
    assert_exact(grade_in_process(folder), set(REGISTRY))


# --- per module and per function: the rule is per function --------------------------------------

@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("kind", KINDS)
def test_one_degenerate_module_loses_exactly_its_checks(kind, module, tmp_path):
    results = grade_in_process(build_degenerate(tmp_path / "s", kind, (module,)))
    assert_exact(results, checks_of((module,)))


# Every function for the kinds that differ in what a backward or a lesson check sees; the other
# kinds are covered by the whole and per-module cases above.
@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("kind", ["zeros", "passthrough", "noise", "not_implemented"])
def test_one_degenerate_function_loses_its_checks_and_what_blame_says(kind, function, tmp_path):
    results = grade_in_process(build_degenerate(tmp_path / "s", kind, (), (function,)))
    assert_exact(results, expected_failures(kind, function))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("function", ["mlp_forward", "mlp_backward"])
def test_a_lesson_check_needs_the_students_own_net(kind, function, tmp_path):
    """The issue's case and its class: with mlp_backward (or mlp_forward) missing or computing
    nothing, the reference does not stand in for the lesson: no points, and the note names the
    function that failed, never its partner."""
    results = {r.name: r for r in grade_in_process(
        build_degenerate(tmp_path / "s", kind, (), (function,)))}
    assert_exact(list(results.values()), expected_failures(kind, function))
    why = ("is not implemented yet" if kind == "not_implemented" else "computes nothing: it ")
    for name in LESSONS:
        feedback = results[name].feedback
        assert feedback.startswith(f"not graded: this check tests your own mlp_forward and "
                                   f"mlp_backward, and your {function} {why}"), feedback
        partner = PARTNER[function]
        assert f"your {partner}" not in feedback
        assert results[name].substituted == ()


def test_an_implemented_but_wrong_backward_keeps_precise_blame(tmp_path):
    """mlp_backward written but wrong: the lesson checks run with the reference pair in place of
    it and keep their points; the note says mlp_forward came along, not that it failed."""
    from tests.corpus.build import build_submission, load_entries

    entry = next(e for e in load_entries("bug") if e.slug == "mlp_backward_reversed_order")
    results = {r.name: r for r in grade_in_process(build_submission(entry, tmp_path / "s"))}
    assert_exact(list(results.values()), {"mlp_backward"})
    for name in LESSONS:
        assert results[name].passed
        assert results[name].substituted == ("mlp_backward", "mlp_forward")
        assert results[name].notes[0] == (
            "graded with the reference mlp_backward in place of yours, which failed its own "
            "check, and the reference mlp_forward with it (a forward and its backward share a "
            "cache format)")


# --- through the real worker ---------------------------------------------------------------------

_WORKER_CASES = [
    ("zeros", MODULES, (), set(REGISTRY)),
    ("noise", MODULES, (), set(REGISTRY)),
    ("passthrough", ("network",), (), checks_of(("network",))),
    ("not_implemented", (), ("mlp_backward",), {"mlp_backward"} | LESSONS),
    ("fixed_noise", (), ("activation_forward",), {"activation_forward"}),
]


@pytest.mark.parametrize(("kind", "modules", "functions", "failed"), _WORKER_CASES,
                         ids=[f"{c[0]}-{'+'.join(c[1] or c[2])}" for c in _WORKER_CASES])
def test_degenerate_code_gets_the_same_verdict_in_a_worker(kind, modules, functions, failed,
                                                           tmp_path):
    folder = build_degenerate(tmp_path / "s", kind, modules, functions)
    result = grade_submission(folder, seed=GRADING_SEED, measure=False)
    assert result.error is None
    assert_exact(result.checks, failed)
    assert result.score == FULL - sum(POINTS[n] for n in failed)
    in_process = grade_in_process(folder)
    assert [(r.name, r.passed) for r in result.checks] == [(r.name, r.passed) for r in in_process]


# --- the lesson checks themselves ----------------------------------------------------------------

REFERENCE = reference_functions()
_MAKE = in_process_student_factory(SOLUTIONS_DIR)


def _lesson(name: str, overrides: dict, seed: int = GRADING_SEED) -> CheckResult:
    """Run one lesson check alone (no precise blame) with reference code and ``overrides``."""
    return run_check(REGISTRY[name], _MAKE(overrides), LiveExpected(REFERENCE), seed, {})


def _scaled_first_layer(factor: float):
    def mlp_backward(dout, caches):
        grads = REFERENCE["mlp_backward"](dout, caches)
        return [(grads[0][0] * factor, grads[0][1]), *grads[1:]]
    return mlp_backward


@pytest.mark.parametrize(("factor", "passes"), [(1e-6, False), (1e-3, False), (0.5, True),
                                                (1.0, True), (2.0, True), (1e3, False),
                                                (1e6, False)])
def test_the_relu_lesson_credits_a_band_not_a_floor(factor, passes):
    """Both ratios scale with the first layer's gradient: a vanishing or an exploding first
    layer fails, the reference's spread (0.135-1.3, 0.66-3.7 over 3,000 seeds) passes."""
    result = _lesson("vanishing_relu", {"mlp_backward": _scaled_first_layer(factor)})
    assert result.passed is passes, result.feedback
    if not passes:
        assert f"(needs {checks.RELU_RATIO_MIN:g} to {checks.RELU_RATIO_MAX:g})" in result.feedback
        assert "neither vanishing nor exploding" in result.feedback


def _exploding_init(layer_sizes, activation, rng):
    return [(rng.normal(size=(i, o)), np.zeros(o)) for i, o in zip(layer_sizes[:-1],
                                                                   layer_sizes[1:], strict=True)]


def test_an_exploding_relu_net_is_not_healthy():
    result = _lesson("vanishing_relu", {"init_params": _exploding_init})
    assert not result.passed
    assert "neither vanishing nor exploding" in result.feedback


@pytest.mark.parametrize("name", sorted(LESSONS))
@pytest.mark.parametrize("layer", ["first", "all"])
@pytest.mark.parametrize("value", [0.0, np.nan, np.inf])
def test_a_zero_or_non_finite_gradient_is_not_a_vanish(name, layer, value):
    def mlp_backward(dout, caches):
        grads = REFERENCE["mlp_backward"](dout, caches)
        doomed = range(len(grads)) if layer == "all" else range(1)
        return [(np.full_like(dW, value) if i in doomed else dW, db)
                for i, (dW, db) in enumerate(grads)]

    result = _lesson(name, {"mlp_backward": mlp_backward})
    assert not result.passed
    if value == 0.0:
        assert "dW_1 is exactly 0: a gradient that is 0 has not vanished" in result.feedback
    else:
        assert "gradients are not finite numbers" in result.feedback


_SEED_NOTE = re.compile(r"seed (\d+):")


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_lesson_seeds_come_from_the_grading_seed(name):
    seeds = {}
    for grading_seed in (1, 2, GRADING_SEED):
        result = _lesson(name, {}, grading_seed)
        assert result.passed, result.feedback
        seeds[grading_seed] = [int(s) for n in result.notes for s in _SEED_NOTE.findall(n)]
        assert len(seeds[grading_seed]) == checks.LESSON_RUNS
    assert len({tuple(s) for s in seeds.values()}) == 3
    assert not {11, 12} & {s for v in seeds.values() for s in v}
    assert _lesson(name, {}, 1).notes == _lesson(name, {}, 1).notes  # and are reproducible


def _reference_ratios(seed: int) -> tuple[float, float, float]:
    """(sigmoid r, ReLU r, ReLU r_delta) of the reference nets for one net seed."""
    trial = Trial(_MAKE({}), LiveExpected(REFERENCE), 0, "measure", {})
    grads = checks._deep_gradients(trial, "sigmoid", seed)[-1]
    sigmoid = np.linalg.norm(grads[0][0]) / np.linalg.norm(grads[checks.DEPTH - 1][0])
    x, params, dout, grads = checks._deep_gradients(trial, "relu", seed)
    relu = np.linalg.norm(grads[0][0]) / np.linalg.norm(grads[checks.DEPTH - 1][0])
    delta = checks._ratio(*checks._delta_norms(trial, x, params, dout, grads))
    return float(sigmoid), float(relu), float(delta)


def test_the_margin_comments_hold_over_100_seeds():
    """The comments beside the thresholds, measured again: seeds 0-99 of the reference."""
    sigmoid, relu, delta = np.array([_reference_ratios(seed) for seed in range(100)]).T
    assert checks.VANISH_MAX / sigmoid.max() >= 600  # "650x"
    assert relu.min() / checks.RELU_RATIO_MIN >= 14  # "14x"; seed 68 gives the minimum, 0.143
    assert relu.argmin() == 68 and 0.142 < relu.min() < 0.144
    assert checks.RELU_RATIO_MAX / relu.max() >= 13  # "14x"
    assert delta.min() / checks.RELU_DELTA_MIN >= 6.8  # "6.9x"
    assert checks.RELU_DELTA_MAX / delta.max() >= 7.7  # "7.8x"


@pytest.mark.parametrize("grading_seed", [0, 1, 7211, 99991, 2**31 - 1])
@pytest.mark.parametrize("name", sorted(LESSONS))
def test_the_reference_passes_the_lessons_under_any_grading_seed(name, grading_seed):
    assert _lesson(name, {}, grading_seed).passed


def test_the_corpus_root_is_where_the_family_builds(tmp_path):
    folder = build_degenerate(tmp_path / "s", "zeros", ("layers",))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["__init__.py", *(f"{m}.py" for m in MODULES)])
    for module in ("activations", "network", "gradient_check"):
        assert (folder / f"{module}.py").read_text() == (SOLUTIONS_DIR / f"{module}.py").read_text()
    assert 'KIND = "zeros"' in (folder / "layers.py").read_text()
    assert Path(folder).is_dir()


# --- the notebook's blame loop applies the same rule --------------------------------------------

def _notebook_namespace(kind: str, functions: tuple[str, ...]) -> dict:
    """The solution notebook's definitions, then ``functions`` redefined degenerate in a later
    cell (as a student's cell would), in one namespace."""
    import json

    from course import notebook
    from grader.student.notebook_cells import notebook_source
    from tests.corpus.degenerate import degenerate_function_source

    namespace: dict = {}
    source = notebook_source(json.loads(notebook.NOTEBOOK.read_text()))
    exec(compile(source, "notebook_code.py", "exec"), namespace)
    for function in functions:
        exec(compile(degenerate_function_source(function, kind), "cell.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("kind", ["zeros", "noise", "passthrough", "not_implemented"])
@pytest.mark.parametrize("function", ["mlp_forward", "mlp_backward"])
def test_the_notebook_tests_refuse_a_lesson_without_the_students_net(kind, function, tmp_path):
    from grader.public import notebook as notebook_tests

    namespace = _notebook_namespace(kind, (function,))
    graded = {r.name: r for r in grade_in_process(
        build_degenerate(tmp_path / "s", kind, (), (function,)))}
    for name in sorted(LESSONS):
        results = notebook_tests.run_checks(name, namespace, LiveExpected(REFERENCE),
                                            GRADING_SEED, REFERENCE)
        assert {n: r.passed for n, r in results.items()} == {n: graded[n].passed
                                                            for n in results}
        assert not results[name].passed
        assert results[name].feedback == graded[name].feedback
        assert_notes_name_only_failed_functions(list(results.values()))


def test_the_notebook_tests_keep_precise_blame_for_a_wrong_backward():
    from grader.public import notebook as notebook_tests

    namespace = _notebook_namespace("zeros", ())
    exec("def mlp_backward(dout, caches, _right=mlp_backward):\n"
         "    return _right(dout, caches)[::-1]\n", namespace)
    results = notebook_tests.run_checks("vanishing_relu", namespace, LiveExpected(REFERENCE),
                                        GRADING_SEED, REFERENCE)
    assert {n for n, r in results.items() if not r.passed} == {"mlp_backward"}
    assert results["vanishing_relu"].notes[0] == (
        "tested with the reference mlp_backward in place of yours, which failed its own test, "
        "and the reference mlp_forward with it (a forward and its backward share a cache format)")


# --- a wrong answer is not "no maths" ------------------------------------------------------------

_WRONG_BUT_WRITTEN = {
    # A one-line slip leaves a result of the wrong structure: an ordinary wrong answer, so the
    # lesson checks run with the reference pair in its place (precise blame), as for any bug.
    "forgets to append": "def mlp_backward(dout, caches):\n    return []\n",
    "drops the first layer": ("def mlp_backward(dout, caches, _right=mlp_backward):\n"
                              "    return _right(dout, caches)[1:]\n"),
    "halves every gradient": ("def mlp_backward(dout, caches, _right=mlp_backward):\n"
                              "    return [(dW / 2, db / 2) for dW, db in _right(dout, caches)]\n"),
}


@pytest.mark.parametrize("slip", sorted(_WRONG_BUT_WRITTEN))
def test_a_wrong_backward_is_blamed_only_on_its_own_check(slip, tmp_path):
    folder = build_degenerate(tmp_path / "s", "zeros", ())  # the reference, untouched
    network = folder / "network.py"
    network.write_text(network.read_text() + "\n\n" + _WRONG_BUT_WRITTEN[slip])
    results = {r.name: r for r in grade_in_process(folder)}
    assert_exact(list(results.values()), {"mlp_backward"})
    assert results["mlp_backward"].missing == {}
    assert "computes nothing" not in results["mlp_backward"].feedback
