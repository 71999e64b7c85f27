"""Each submission's final grade: the autograded points plus what the policy adds or takes.

The one place the parts of a grade are added up, so every export (plain CSV, Canvas, Moodle),
the class report and the terminal summary agree on a student's total.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.batch.gradebook import Gradebook
from grader.batch.policy import Policy, resolve_extensions
from grader.checking.trial import whole


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
        return whole(max(0.0, self.auto + self.manual - self.late_penalty))


def totals(gradebook: Gradebook, *, policy: Policy | None = None) -> list[StudentTotal]:
    """Every recorded submission's total, by submission name.

    manual / manual_max: the marks of the written answers (``grader manual``); manual_max is the
    class's written maximum (every question anyone was marked on, at its max), so a student
    with an unmarked or missing answer is out of the same maximum as the others.
    late_penalty: ``policy.late`` applied to the recorded submission time (none without a
    policy or a time). override: the score set with ``grader override``, and its reason.
    """
    policy = policy or Policy()
    # [extensions] keyed as the instructor wrote them: by identity, or by a roster id, name or
    # email an earlier grade resolved (``policy.resolve_extensions``; kept in the gradebook).
    late = policy.late.resolved(resolve_extensions(
        policy.late.extensions, gradebook.names(), known=gradebook.extension_keys()))
    errors = gradebook.errors()
    times = gradebook.submitted_times()
    overrides = gradebook.overrides()
    marks: dict[str, float] = {}
    questions: dict[str, float] = {}
    for submission, question, points, most in gradebook.manual_scores():
        marks[submission] = marks.get(submission, 0.0) + points
        questions[question] = max(questions.get(question, 0.0), most)
    manual_max = whole(sum(questions.values()))
    rows = []
    for name, score, possible in gradebook.scores():
        manual = whole(marks.get(name, 0.0))
        penalty = late.penalty(name, times.get(name), possible + manual_max, score + manual)
        override, reason = overrides.get(name, (None, ""))
        rows.append(StudentTotal(name, whole(score), whole(possible), manual, manual_max,
                                 penalty, None if override is None else whole(override), reason,
                                 error=errors.get(name, "")))
    return rows
