"""What grading one submission produces, as plain data: ``SubmissionResult``.

A light module on purpose: the gradebook, the reports and Gradescope's fallback results read and
write results without loading the judge or the sandbox (``python -m grader export`` imports
neither).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from grader.checking.judge import CheckResult


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
