"""The grader tells the truth on the corpus: every correct variant earns full marks, and every
one-bug submission loses exactly the points of the checks its entry blames."""

import pytest

from tests.corpus.build import build_submission, load_entries
from tests.corpus.truth import assert_notes_name_only_failed_functions
from tests.helpers import failed_checks, grade_in_process

CORRECT = load_entries("correct")
BUGS = load_entries("bug")


def test_corpus_is_big_enough():
    assert len(CORRECT) >= 10
    assert len(BUGS) >= 30


@pytest.mark.parametrize("entry", CORRECT, ids=[e.slug for e in CORRECT])
def test_correct_variant_earns_full_marks(entry, tmp_path):
    results = grade_in_process(build_submission(entry, tmp_path / entry.slug))
    failures = {r.name: r.feedback for r in results if not r.passed}
    assert failures == {}
    assert not any(r.internal_error for r in results)


@pytest.mark.parametrize("entry", BUGS, ids=[e.slug for e in BUGS])
def test_bug_loses_exactly_the_blamed_checks(entry, tmp_path):
    results = grade_in_process(build_submission(entry, tmp_path / entry.slug))
    assert failed_checks(results) == set(entry.blames), {
        r.name: r.feedback for r in results if not r.passed
    }
    assert not any(r.internal_error for r in results)
    for result in results:
        if not result.passed:
            assert result.feedback.strip(), result.name
    assert_notes_name_only_failed_functions(results)


# Every check draws its inputs (the lesson checks their nets) from the grading seed: a correct
# variant must keep full marks under any of them, not only the one above.
OTHER_SEEDS = (1, 7211, 2**31 - 1)


@pytest.mark.parametrize("seed", OTHER_SEEDS)
@pytest.mark.parametrize("entry", CORRECT, ids=[e.slug for e in CORRECT])
def test_correct_variant_earns_full_marks_under_other_grading_seeds(entry, seed, tmp_path):
    results = grade_in_process(build_submission(entry, tmp_path / entry.slug), seed=seed)
    assert {r.name: r.feedback for r in results if not r.passed} == {}
