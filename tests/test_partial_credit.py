"""Partial credit: a check with independent sub-parts (``Check.parts``) loses only the share of
the part that is wrong, in the grader, the self-check and the notebook's cells alike, and under
any points policy of grader.toml ([points], [parts]) the scores add up to its maximum.

Enumerated: one fault in each part of every check that has parts (a new part without a fault
here fails ``test_every_part_has_a_fault``); generated (hypothesis): points maps and weights.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.batch.policy import Policy, PolicyError
from grader.batch.results import SubmissionResult
from grader.checking.judge import PUBLIC_SEED, apply_points, grade, score_of, total
from grader.checking.trial import REGISTRY, LiveExpected, part_points
from grader.public.engine import in_process_student_factory, self_check
from grader.settings import Settings
from grader.student.loader import reference_functions
from tests.corpus.build import Entry, build_submission
from tests.corpus.truth import CORPUS_PARTIAL
from tests.helpers import grade_in_process, scaled

FULL = sum(c.points for c in REGISTRY.values())
WITH_PARTS = {name: c for name, c in REGISTRY.items() if c.parts}

# One fault per part: (module, source of the replaced function). Each keeps the shapes of the
# other parts right, so only that part's comparison can fail.
FAULTS: dict[tuple[str, str], tuple[str, str]] = {
    ("dense_backward", "dx"): ("layers", """
def dense_backward(dout, cache):
    x, W = cache
    return 2.0 * (dout @ W.T), x.T @ dout, dout.sum(axis=0)
"""),
    ("dense_backward", "dW"): ("layers", """
def dense_backward(dout, cache):
    x, W = cache
    return dout @ W.T, 0.5 * (x.T @ dout), dout.sum(axis=0)
"""),
    # The issue's example: db summed with keepdims=True, shape (1, M) instead of (M,).
    ("dense_backward", "db"): ("layers", """
def dense_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0, keepdims=True)
"""),
    ("mse_loss", "value"): ("layers", """
def mse_loss(pred, target):
    n = pred.shape[0]
    return float(((pred - target) ** 2).sum() / n), (pred - target) / n
"""),
    ("mse_loss", "gradient"): ("layers", """
def mse_loss(pred, target):
    n = pred.shape[0]
    return float(((pred - target) ** 2).sum() / (2 * n)), 2.0 * (pred - target) / n
"""),
    ("softmax_cross_entropy", "value"): ("layers", """
import numpy as np

def softmax_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    p = np.exp(log_p)
    p[np.arange(n), labels] -= 1.0
    return float(-log_p[np.arange(n), labels].sum()), p / n
"""),
    ("softmax_cross_entropy", "gradient"): ("layers", """
import numpy as np

def softmax_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    return float(-log_p[np.arange(n), labels].mean()), np.exp(log_p) / n
"""),
}



def _fault_folder(check: str, part: str, root: Path) -> Path:
    module, source = FAULTS[(check, part)]
    path = root / f"{check}_{part}.py"
    path.write_text(f"# module: {module}\n# blames: {check}\n# why: {part} wrong\n{source}")
    entry = Entry(f"{check}_{part}", "bug", module, (check,), f"{part} wrong", False, path)
    return build_submission(entry, root / f"{check}_{part}")


@functools.cache
def _graded(check: str, part: str, root: str) -> tuple:
    return tuple(grade_in_process(_fault_folder(check, part, Path(root))))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("faults"))


def test_every_part_has_a_fault():
    assert set(FAULTS) == {(c.name, p) for c in WITH_PARTS.values() for p, _ in c.parts}
    # The default splits are today's points, so the default maximum stays 50.
    assert FULL == 50
    for check in WITH_PARTS.values():
        assert sum(part_points(check).values()) == check.points


@pytest.mark.parametrize("check,part", sorted(FAULTS), ids=[f"{c}-{p}" for c, p in sorted(FAULTS)])
def test_a_fault_in_one_part_loses_exactly_that_parts_points(check, part, root):
    results = {r.name: r for r in _graded(check, part, root)}
    share = part_points(REGISTRY[check])[part]
    mine = results[check]
    assert not mine.passed
    assert mine.parts == {p: p != part for p, _ in REGISTRY[check].parts}
    assert mine.score == REGISTRY[check].points - share
    assert mine.max_score == REGISTRY[check].points
    assert mine.feedback.strip()
    others = {r.name for r in results.values() if not r.passed} - {check}
    assert others == set()
    assert total(list(results.values())) == (FULL - share, FULL)
    right = [p for p, _ in REGISTRY[check].parts if p != part]
    assert mine.notes[-1] == (f"partial credit: {' and '.join(right) if len(right) < 3 else ''}"
                              f" {'is' if len(right) == 1 else 'are'} right and "
                              f"earn{'s' if len(right) == 1 else ''} "
                              f"{'its' if len(right) == 1 else 'their'} share; only {part} "
                              "loses points").replace(":  ", ": ")


def test_the_issues_example_db_with_keepdims_costs_only_db(root):
    results = {r.name: r for r in _graded("dense_backward", "db", root)}
    assert (results["dense_backward"].score, results["dense_backward"].max_score) == (3, 4)
    assert results["dense_backward"].feedback.startswith("db has shape (1, 3), expected (3,)")
    assert total(list(results.values())) == (49, 50)


@pytest.mark.parametrize("check,part", sorted(FAULTS), ids=[f"{c}-{p}" for c, p in sorted(FAULTS)])
def test_the_self_check_gives_the_same_partial_credit(check, part, root):
    """One engine: the self-check (recorded answers, public seed) confirms the same parts and
    points as the grader on the same inputs."""
    folder = Path(root) / f"{check}_{part}"
    if not folder.exists():
        _fault_folder(check, part, Path(root))
    reference = reference_functions()
    graded = {r.name: r for r in grade(in_process_student_factory(folder),
                                       LiveExpected(reference), PUBLIC_SEED, reference)}
    mine = {r.name: r for r in self_check(folder)}
    assert (mine[check].parts, mine[check].score) == (graded[check].parts, graded[check].score)
    assert mine[check].score == REGISTRY[check].points - part_points(REGISTRY[check])[part]


@pytest.mark.parametrize("slug", sorted(CORPUS_PARTIAL))
def test_the_corpus_bugs_that_now_earn_partial_credit(slug, tmp_path):
    from tests.corpus.build import load_entries

    entry = next(e for e in load_entries("bug") if e.slug == slug)
    results = grade_in_process(build_submission(entry, tmp_path / slug))
    check, score, overall = CORPUS_PARTIAL[slug]
    assert {r.name for r in results if not r.passed} == {check}
    assert next(r.score for r in results if r.name == check) == score
    assert total(results) == (overall, FULL)


# --- any points policy -----------------------------------------------------------------------

WEIGHT = st.one_of(st.integers(0, 10), st.floats(0, 10, allow_nan=False).map(lambda v: round(v, 3)))
POINTS = st.integers(0, 20)  # grader.toml's [points] are whole numbers


@st.composite
def policies(draw) -> tuple[dict, dict]:
    points = draw(st.dictionaries(st.sampled_from(sorted(REGISTRY)), POINTS, max_size=6))
    weights = {}
    for name in draw(st.sets(st.sampled_from(sorted(WITH_PARTS)))):
        parts = [p for p, _ in REGISTRY[name].parts]
        drawn = {p: draw(WEIGHT) for p in parts}
        if sum(drawn.values()) <= 0:
            drawn[parts[0]] = 1
        weights[name] = drawn
    return points, weights


@settings(derandomize=True, deadline=None, max_examples=scaled(30))
@given(policies(), st.sampled_from(sorted(FAULTS)))
def test_any_policy_adds_up_and_a_fault_costs_only_its_part(tmp_path_factory, policy, fault):
    points, weights = policy
    results = list(_graded(*fault, str(_shared_root(tmp_path_factory))))
    scored = apply_points(results, points, weights)
    configured = sum(points.get(c.name, c.points) for c in REGISTRY.values())
    score, possible = total(scored)
    assert possible == pytest.approx(configured, abs=1e-9)
    check, part = fault
    worth = points.get(check, REGISTRY[check].points)
    shares = part_points(REGISTRY[check], worth, weights.get(check))
    assert sum(shares.values()) == pytest.approx(worth, abs=1e-9)
    assert all(v >= 0 for v in shares.values())
    faulty = next(r for r in scored if r.name == check)
    assert faulty.score == pytest.approx(worth - shares[part], abs=1e-9)
    assert score == pytest.approx(configured - shares[part], abs=1e-9)
    # The verdicts are the judge's, whatever the points.
    assert [(r.name, r.passed, r.parts) for r in scored] == [(r.name, r.passed, r.parts)
                                                              for r in results]
    # And the submission scored by batch.policy says the same.
    policy_object = Policy(points, weights)
    result = SubmissionResult("s", "s", "h", 1, "v", *total(results), results, "none", 0.0)
    rescored = policy_object.score(result)
    assert (rescored.score, rescored.max_score) == (score, possible)
    assert rescored.grader_version == policy_object.version("v")
    assert (rescored.grader_version == "v") == (not points and not weights)


_ROOT: list[Path] = []


def _shared_root(factory) -> Path:
    if not _ROOT:
        _ROOT.append(factory.mktemp("policy-faults"))
    return _ROOT[0]


def test_score_of_a_check_without_parts_is_all_or_nothing(root):
    results = {r.name: r for r in _graded("mse_loss", "value", root)}
    sigmoid = results["sigmoid"]
    assert score_of(REGISTRY["sigmoid"], sigmoid, 7) == 7
    failed = type(sigmoid)(**{**sigmoid.__dict__, "passed": False, "score": 0})
    assert score_of(REGISTRY["sigmoid"], failed, 7) == 0


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "grader.toml"
    path.write_text(text)
    return Settings.load(path)


@pytest.mark.parametrize("text,message", [
    ("[points]\nno_such_check = 3\n", "[points] names no check: no_such_check; checks: "),
    ("[parts.sigmoid]\nvalue = 1\n", "[parts.sigmoid]: sigmoid has no parts; checks with parts: "
     "dense_backward, mse_loss, softmax_cross_entropy"),
    ("[parts.dense_backward]\ndx = 1\ndW = 1\n", "[parts.dense_backward] must give a weight to "
     "each of dx, dW, db (got dx, dW)"),
    ("[parts.mse_loss]\nvalue = 1\ngradient = 1\nextra = 1\n", "[parts.mse_loss] must give a "
     "weight to each of value, gradient (got value, gradient, extra)"),
])
def test_a_policy_naming_what_does_not_exist_is_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(PolicyError) as refused:
        Policy.from_settings(_settings(tmp_path, text))
    assert str(refused.value).startswith(f"{tmp_path / 'grader.toml'}: {message}")
    assert "\n" not in str(refused.value)


def test_the_default_policy_is_todays_fifty_points(tmp_path):
    policy = Policy.from_settings(_settings(tmp_path, "seed = 5\n"))
    assert policy == Policy()
    assert policy.max_score() == 50
    assert policy.version("1.2") == "1.2"
    doubled = Policy.from_settings(_settings(tmp_path, "[points]\ndense_backward = 8\n"))
    assert doubled.max_score() == 54
    assert doubled.version("1.2").startswith("1.2+points.")
