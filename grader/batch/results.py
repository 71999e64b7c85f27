"""What grading one submission produces, as plain data: ``SubmissionResult``.

A light module on purpose: the gradebook, the reports and Gradescope's fallback results read and
write results without loading the judge or the sandbox (``python -m grader export`` imports
neither).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from grader.checking.judge import CheckResult

# What happened to one check of one submission, as the gradebook and the class report count it.
OUTCOMES = ("pass", "fail", "knock_on", "not_attempted", "grader_error")


def outcome(check: CheckResult) -> str:
    """One of ``OUTCOMES``: only "fail" is a failure of the check's own function.

    not_attempted: the function is absent or still raises its stub's NotImplementedError;
    knock_on: not graded on its own (what it builds on failed, or the student's own net is
    missing: the judge's refusal), a backward that could not be tested because the student's
    own forward fails on every input (``checks.helpers.require_tested``), or, in a self-check,
    waiting on another check.
    """
    if check.passed:
        return "pass"
    if check.internal_error:
        return "grader_error"
    if check.absent:
        return "not_attempted"
    if (check.waiting or check.feedback.startswith("not graded")
            or " could not be tested: your " in check.feedback
            or any(note.startswith("not graded on its own") for note in check.notes)):
        return "knock_on"
    return "fail"


@dataclass
class SubmissionResult:
    """Everything the judge decided about one submission (plain data, JSON-ready).

    gradient_flow: per-layer gradient norms by activation name (floats, first layer first),
    for the feedback plot; empty unless measured.
    """

    name: str
    source: str
    content_hash: str
    seed: int
    grader_version: str
    score: int
    max_score: int
    checks: list[CheckResult]
    sandbox: str
    seconds: float
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    gradient_flow: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)
