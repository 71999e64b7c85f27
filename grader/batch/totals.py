"""Each submission's final grade: the autograded points plus what the policy adds or takes.

The one place the parts of a grade are added up, so every export (plain CSV, Canvas, Moodle),
the class report and the terminal summary agree on a student's total.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.batch.gradebook import Gradebook


@dataclass(frozen=True)
class StudentTotal:
    """One submission's grade, in points.

    auto / auto_max: the autograder's score and maximum; manual / manual_max: marked written
    answers (0 / 0 when none are recorded); late_penalty: points taken for lateness (>= 0);
    override: a score set by hand (replaces the computed total) and its reason; total: what is
    exported; max_total: auto_max + manual_max.
    """

    submission: str
    auto: float
    auto_max: int
    manual: float = 0.0
    manual_max: int = 0
    late_penalty: float = 0.0
    override: float | None = None
    override_reason: str = ""
    error: str = ""

    @property
    def max_total(self) -> int:
        return self.auto_max + self.manual_max

    @property
    def total(self) -> float:
        if self.override is not None:
            return self.override
        return max(0.0, self.auto + self.manual - self.late_penalty)


def totals(gradebook: Gradebook) -> list[StudentTotal]:
    """Every recorded submission's total, by submission name."""
    errors = gradebook.errors()
    return [StudentTotal(name, float(score), int(possible), error=errors.get(name, ""))
            for name, score, possible in gradebook.scores()]
