"""Shared helpers for the project's tests: grading a folder in this process."""

from __future__ import annotations

import os
from pathlib import Path

from grader.checking.judge import CheckResult, grade
from grader.checking.trial import LiveExpected
from grader.public.engine import in_process_student_factory
from grader.student.loader import reference_functions

GRADING_SEED = 20261129
# `make fuzz` sets VG_FUZZ_SCALE: every generated-input test runs that many times more cases
# (still derandomized, so a failure found once is found again).
FUZZ_SCALE = max(1, int(os.environ.get("VG_FUZZ_SCALE", "1")))


def scaled(examples: int) -> int:
    """A generated-input test's number of cases: ``examples`` in `make test`, more in fuzzing."""
    return examples * FUZZ_SCALE


def grade_in_process(path: Path, seed: int = GRADING_SEED) -> list[CheckResult]:
    """Grade like the instructor does (reference answers, stand-ins), without a worker."""
    reference = reference_functions()
    return grade(in_process_student_factory(path), LiveExpected(reference), seed, reference)


def failed_checks(results: list[CheckResult]) -> set[str]:
    return {r.name for r in results if not r.passed}
