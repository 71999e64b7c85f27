"""Run every check against one submission and decide the score.

The judge owns the verdicts: it generates inputs, compares, and scores. Student code is reached
only through a ``Student`` (direct calls in the self-check, a sandboxed worker when grading).

Precise blame: when a check fails and a function it builds on failed its own check, the check is
run again with the reference put in place of those broken functions (when the reference is
available). If it then passes, the bug was upstream and this check keeps its points. Without the
reference (the public self-check) the feedback names the upstream failure to fix first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import checks as _checks  # noqa: F401 - registers the check definitions
from .api import FUNCTIONS, PARTNER
from .compare import CheckFailed
from .protocol import Student
from .trial import REGISTRY, Check, Trial, upstream

PUBLIC_SEED = 0


@dataclass
class CheckResult:
    """The judge's verdict on one check, with everything a student needs to act on it."""

    name: str
    title: str
    max_score: int
    score: int
    passed: bool
    feedback: str = ""
    diagnosis: str | None = None
    tags: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    substituted: tuple[str, ...] = ()
    internal_error: bool = False


def run_check(check: Check, student: Student, expected, seed: int,
              verdicts: dict[str, bool]) -> CheckResult:
    trial = Trial(student, expected, seed, check.name, verdicts)
    result = CheckResult(check.name, check.title, check.points, 0, False, tags=check.tags)
    try:
        check.run(trial)
    except CheckFailed as failure:
        result.feedback = failure.message
        result.diagnosis = failure.diagnosis
    except Exception as error:  # noqa: BLE001 - an unforeseen answer must not stop the batch
        result.feedback = (f"the grader could not evaluate this check: {type(error).__name__}: "
                           f"{error}")
        result.internal_error = True
    else:
        result.passed = True
        result.score = check.points
    result.notes = trial.notes
    result.warnings = sorted(set(trial.warnings))
    return result


def stand_ins_for(name: str, failed: set[str]) -> set[str]:
    """API functions to replace by the reference when re-running check ``name``.

    The failed functions it builds on, with their forward/backward partners (a cache format is
    shared by a pair), but never the function under test or its own partner: a backward whose
    forward is broken is instead judged against that forward (see the checks).
    """
    own = {name, PARTNER.get(name)}
    chosen = {f for f in upstream(name) & failed if f in FUNCTIONS} - own
    chosen |= {PARTNER[f] for f in chosen if f in PARTNER} - own
    return chosen


def grade(make_student: Callable[[dict[str, Callable]], Student], expected, seed: int,
          reference: dict[str, Callable] | None = None,
          progress: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run all checks in order. ``make_student(overrides)`` gives a fresh student whose named
    functions are replaced by the given callables (only called when ``reference`` is given)."""
    student = make_student({})
    verdicts: dict[str, bool] = {}
    results = []
    for check in REGISTRY.values():
        result = run_check(check, student, expected, seed, verdicts)
        failed = {n for n, ok in verdicts.items() if not ok}
        broken_upstream = sorted(upstream(check.name) & failed)
        if not result.passed and broken_upstream:
            stand_ins = stand_ins_for(check.name, failed)
            if reference is not None and stand_ins and set(check.tags) <= stand_ins:
                # Nothing of the student's would be left in this check: no points to earn.
                result.notes.insert(0, f"not graded on its own: it runs only "
                                       f"{_join(sorted(check.tags))}, which failed")
            elif reference is not None and stand_ins:
                patched = make_student({f: reference[f] for f in stand_ins})
                retry = run_check(check, patched, expected, seed, verdicts)
                retry.substituted = tuple(sorted(stand_ins))
                retry.notes.insert(0, f"graded with the reference {', '.join(sorted(stand_ins))} "
                                      "in place of yours, which failed its own check")
                if retry.passed or not retry.internal_error:
                    result = retry
            if not result.passed:
                nearest = [d for d in check.depends if d in failed] or broken_upstream
                result.notes.insert(0, f"{_join(nearest)} failed {_its(nearest)} own check; "
                                       "this failure may come from there: fix that first")
        verdicts[check.name] = result.passed
        results.append(result)
        if progress:
            progress(result)
    return results


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _its(names: list[str]) -> str:
    return "its" if len(names) == 1 else "their"


def total(results: list[CheckResult]) -> tuple[int, int]:
    return sum(r.score for r in results), sum(r.max_score for r in results)
