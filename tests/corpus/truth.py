"""What every graded result must say truthfully, whatever the submission: the notes that call a
function failed name only functions whose own check failed."""

from __future__ import annotations

import re

from grader.checking.judge import CheckResult
from grader.checking.trial import REGISTRY

_NAMES = re.compile(r"[a-z_]+")
_LIST = r"[a-z_]+(?:(?:, | and )[a-z_]+)*"  # "a", "a and b", "a, b and c"
_FAILED_CLAIMS = (
    re.compile(rf"^(?P<names>{_LIST}) failed (?:its|their) own (?:check|test)"),
    re.compile(rf"reference (?P<names>{_LIST}) in place of yours, which failed"),
    re.compile(rf"^not graded on its own: it runs only {_LIST}, and (?P<names>{_LIST}) failed"),
    re.compile(rf"^not graded on its own: it runs only (?P<names>{_LIST}), which failed"),
)


def failed_functions_named(note: str) -> set[str]:
    """The functions a note says failed (empty when it says none did)."""
    named: set[str] = set()
    for claim in _FAILED_CLAIMS:
        match = claim.search(note)
        if match:
            named |= set(_NAMES.findall(match["names"])) - {"and"}
    return named


def assert_notes_name_only_failed_functions(results: list[CheckResult]) -> None:
    """Every note that says a function failed names only functions whose own check failed."""
    failed = {r.name for r in results if not r.passed}
    for result in results:
        for note in result.notes:
            named = failed_functions_named(note)
            assert named <= failed, (result.name, note, sorted(named - failed))


__all__ = ["assert_notes_name_only_failed_functions", "failed_functions_named"]


# The corpus's one-bug entries whose checks now earn part of their points, with the exact
# scores (check's score, submission's total out of 50) at tests/helpers.GRADING_SEED.
CORPUS_PARTIAL = {
    "dense_backward_db_axis1": ("dense_backward", 3, 49),
    "dense_backward_db_mean": ("dense_backward", 3, 49),
    "dense_backward_db_scalar": ("dense_backward", 3, 49),
    "dense_backward_dw_transposed": ("dense_backward", 2, 48),
    "mse_grad_divided_twice": ("mse_loss", 1, 49),
    "mse_missing_half": ("mse_loss", 1, 49),
    "mse_sign_flip": ("mse_loss", 1, 49),
    "softmax_log_of_probabilities": ("softmax_cross_entropy", 2, 49),
    "softmax_missing_minus_one": ("softmax_cross_entropy", 1, 48),
}


def expected_total(slug: str, blames: tuple[str, ...] | list[str]) -> int:
    """What a one-bug corpus entry scores out of 50: every blamed check's points lost, except
    the part credit ``CORPUS_PARTIAL`` records."""
    total = sum(c.points for c in REGISTRY.values())
    if slug in CORPUS_PARTIAL:
        return CORPUS_PARTIAL[slug][2]
    return total - sum(REGISTRY[c].points for c in blames)
