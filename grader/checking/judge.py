"""Run the checks against one submission and decide the score: the one blame engine.

The judge owns the verdicts: it generates inputs, compares, and scores. Student code is reached
only through a ``Student`` (a sandboxed worker when grading, direct calls in the self-check, the
notebook's own functions in its test cells). ``grade`` is the only loop over the checks: the
grader and the self-check run all of them, a notebook cell runs one check and what it builds on
(``only``), and all three get the same verdicts, scores and notes (a cell's notes say "test"
where the grader's say "check", see ``Words``).

Precise blame: when a check fails and a function it builds on failed its own check, the check is
run again with the reference put in place of those broken functions (when the reference is
available). If it then passes, the bug was upstream and this check keeps its points.

Not checked yet: without the reference (the public self-check and the notebook's visible cells)
nothing can stand in, so such a failure proves nothing about the check's own function. Its
verdict is then a third state, neither pass nor fail (``CheckResult.waiting``): "not checked yet:
needs X, which fails its own check", no hint, no points confirmed. What stays a failure without
the reference is what the grader would fail too whatever the stand-ins: the check's own function
is absent or still the stub, or nothing of the student's would be left to test. A lesson whose
own net a waiting check found missing waits too (the stand-ins may bring it back). So the
self-check's confirmed total never exceeds the grader's score on the same inputs, and equals it
when nothing waits (tests/test_selfcheck_agrees.py).

Own work: a check may name functions it tests as the student's own (``own``; the lesson checks
name mlp_forward and mlp_backward). When one of them is missing, that is, its own check found it
not implemented, not available or computing nothing, the check earns nothing and no stand-in is
tried: a bug costs its own check, but code that is not there cannot earn a lesson's points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from grader.checking import checks as _checks  # noqa: F401 - registers the check definitions
from grader.checking.compare import CheckFailed
from grader.checking.trial import REGISTRY, Check, Trial, part_points, upstream, whole
from grader.spec.api import FUNCTIONS, PARTNER
from grader.spec.protocol import Student

PUBLIC_SEED = 0


@dataclass(frozen=True)
class Words:
    """How notes name a check: the grader and the self-check say a check was "graded"; a
    notebook's test cell says its test was "tested". The sentences are the same."""

    verb: str = "graded"
    noun: str = "check"


GRADER_WORDS = Words()
NOTEBOOK_WORDS = Words("tested", "test")


@dataclass
class CheckResult:
    """The judge's verdict on one check, with everything a student needs to act on it."""

    name: str
    title: str
    max_score: int | float
    score: int | float
    passed: bool
    feedback: str = ""
    diagnosis: str | None = None
    tags: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    substituted: tuple[str, ...] = ()
    internal_error: bool = False
    # Functions this check found not really there (not available, not implemented, computing
    # nothing), with the reason; only the check's own functions count (see ``record_missing``).
    missing: dict[str, str] = field(default_factory=dict)
    # Not checked yet (no reference to stand in): the failed checks, nearest first, whose fix
    # this verdict waits on. Empty for a pass or a fail.
    waiting: tuple[str, ...] = ()
    # The check's functions certainly not there whatever stands in for others (absent from the
    # submission, or the stub's own NotImplementedError): a failure even without the reference.
    absent: tuple[str, ...] = ()
    # A check with sub-parts (``Check.parts``): which parts were right, by name; a failed check
    # earns the points of its right parts. Empty for a check without parts, or not run.
    parts: dict[str, bool] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """"pass", "fail" or "wait" (not checked yet: see ``waiting``)."""
        if self.passed:
            return "pass"
        return "wait" if self.waiting else "fail"


def run_check(check: Check, student: Student, expected, seed: int,
              verdicts: dict[str, bool]) -> CheckResult:
    trial = Trial(student, expected, seed, check.name, verdicts)
    result = CheckResult(check.name, check.title, check.points, 0, False, tags=check.tags)
    try:
        check.run(trial)
    except CheckFailed as failure:
        # The first failure is what the student reads, as when a check stopped at it.
        first = next(iter(trial.failed_parts.values()), failure)
        result.feedback = first.message
        result.diagnosis = first.diagnosis
        result.parts = {p: False for p, _ in check.parts}
    except Exception as error:  # noqa: BLE001 - an unforeseen answer must not stop the batch
        result.feedback = (f"the grader could not evaluate this check: {type(error).__name__}: "
                           f"{error}")
        result.internal_error = True
        result.parts = {p: False for p, _ in check.parts}
    else:
        result.parts = {p: p not in trial.failed_parts for p, _ in check.parts}
        if trial.failed_parts:
            first = next(iter(trial.failed_parts.values()))
            result.feedback = first.message
            result.diagnosis = first.diagnosis
            result.score = score_of(check, result)
            if any(result.parts.values()):
                trial.notes.append(partial_note(result.parts))
        else:
            result.passed = True
            result.score = check.points
    result.notes = trial.notes
    result.warnings = sorted(set(trial.warnings))
    if not result.passed:
        result.missing = {f: why for f, why in trial.missing.items() if f in check.tags}
        result.absent = tuple(sorted(trial.absent & set(check.tags)))
    return result


def score_of(check: Check, result: CheckResult, points: float | None = None,
             weights: Mapping[str, float] | None = None) -> int | float:
    """What ``result`` earns when ``check`` is worth ``points`` (default: its own) split by
    ``weights``: all of it for a pass, the shares of the right parts for a failed check with
    parts, else nothing (a check that waits, or is refused, has no right parts)."""
    total_points = check.points if points is None else points
    if result.passed:
        return whole(total_points)
    shares = part_points(check, total_points, dict(weights) if weights else None)
    return whole(sum(shares[p] for p, ok in result.parts.items() if ok and p in shares))


def partial_note(parts: Mapping[str, bool]) -> str:
    """The note of a check some of whose parts are right: which, and which cost the points."""
    right = [p for p, ok in parts.items() if ok]
    wrong = [p for p, ok in parts.items() if not ok]
    return (f"partial credit: {_join(right)} {'is' if len(right) == 1 else 'are'} right and "
            f"earn{'s' if len(right) == 1 else ''} {_its(right)} share; only "
            f"{_join(wrong)} lose{'s' if len(wrong) == 1 else ''} points")


def apply_points(results: list[CheckResult], points: Mapping[str, float],
                 weights: Mapping[str, Mapping[str, float]]) -> list[CheckResult]:
    """``results`` scored under a points policy (grader.toml's ``[points]`` and ``[parts]``):
    a check named in ``points`` is worth that much, its parts split by ``weights``; the verdicts
    stay as they are. Without a policy the results come back equal."""
    scored = []
    for result in results:
        check = REGISTRY.get(result.name)
        if check is None or (result.name not in points and result.name not in weights):
            scored.append(result)
            continue
        worth = points.get(result.name, check.points)
        scored.append(dataclasses.replace(
            result, max_score=whole(worth),
            score=score_of(check, result, worth, weights.get(result.name))))
    return scored


def record_missing(check: Check, result: CheckResult, missing: dict[str, str]) -> None:
    """Add to ``missing`` the functions a failed check found not really there.

    Only the check's final verdict counts (a function that raised NotImplementedError because of
    a helper it calls passes once the reference stands in for the helper), and only the
    function(s) the check grades, never another one it happened to call.
    """
    if not result.passed:
        for function, why in result.missing.items():
            if function in check.tags:
                missing.setdefault(function, why)


def missing_own_work(check: Check, missing: dict[str, str]) -> str | None:
    """Why ``check`` earns nothing because a function it tests as the student's own is missing
    (not implemented, or computing nothing), or None. No stand-in may take its place: the
    check's points are for the student's own net, not for the reference's."""
    absent = [f for f in check.own if f in missing]
    if not absent:
        return None
    reasons = "; ".join(f"your {f} {missing[f]}" for f in absent)
    return (f"not graded: this check tests your own {_join(list(check.own))}, and {reasons} "
            f"(see {_its(absent)} own check{'s' if len(absent) > 1 else ''}); a reference "
            "stand-in cannot earn these points")


def blame_note(stand_ins: set[str], failed: set[str], words: Words) -> str:
    """The note of a re-run with stand-ins, naming as failed only the functions that failed;
    a partner that came along (forward/backward pairs share a cache format) is said as such."""
    broken = sorted(stand_ins & failed)
    partners = sorted(stand_ins - failed)
    note = (f"{words.verb} with the reference {_join(broken)} in place of yours, which failed "
            f"{_its(broken)} own {words.noun}")
    if partners:
        with_them = "it" if len(broken) == 1 else "them"
        note += (f", and the reference {_join(partners)} with {with_them} (a forward and its "
                 "backward share a cache format)")
    return note


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


def checks_for(name: str | None) -> list[Check]:
    """Every check in grading (dependency) order, or only ``name`` and the checks it builds on."""
    if name is None:
        return list(REGISTRY.values())
    wanted = upstream(name) | {name}
    return [check for check in REGISTRY.values() if check.name in wanted]


def grade(make_student: Callable[[dict[str, Callable]], Student], expected, seed: int,
          reference: Mapping[str, Callable] | None = None,
          progress: Callable[[CheckResult], None] | None = None, *,
          only: str | None = None, words: Words = GRADER_WORDS) -> list[CheckResult]:
    """Run the checks in order and blame each failure precisely: the one loop behind the
    grader, the self-check and the notebook's test cells.

    make_student(overrides): a fresh student whose named functions are replaced by the given
    callables (called with overrides only when ``reference`` is given). only: run just that
    check and those it builds on (a notebook cell); its verdict is the one the whole run gives,
    since a check sees only the verdicts of what it builds on. words: the notes' vocabulary.
    """
    student = make_student({})
    verdicts: dict[str, bool] = {}
    waits: dict[str, tuple[str, ...]] = {}
    missing: dict[str, str] = {}
    results = []
    # Functions that a check which waits found missing: unsure (the stand-in the grader puts
    # upstream may make them work), so they neither refuse a lesson nor let it be confirmed.
    unsure: dict[str, tuple[str, ...]] = {}
    for check in checks_for(only):
        refusal = missing_own_work(check, missing)
        unsure_own = [f for f in check.own if f in unsure] if not refusal else []
        if refusal:
            # Not run at all: whatever it would find, the student's own net is not there.
            result = CheckResult(check.name, check.title, check.points, 0, False,
                                 feedback=refusal, tags=check.tags)
        elif unsure_own:
            needs = tuple(n for n in REGISTRY if any(n in unsure[f] for f in unsure_own))
            result = CheckResult(check.name, check.title, check.points, 0, False,
                                 feedback=not_checked_yet_message(needs, words),
                                 tags=check.tags, waiting=needs)
        else:
            result = run_check(check, student, expected, seed, verdicts)
            if not result.passed:
                seen_missing = result.missing
                result = _blame(check, result, make_student, expected, seed, reference,
                                verdicts, words, waits)
                if result.waiting:
                    unsure.update({f: result.waiting for f in seen_missing})
        verdicts[check.name] = result.passed
        if result.waiting:
            waits[check.name] = result.waiting
        record_missing(check, result, missing)
        results.append(result)
        if progress:
            progress(result)
    return results


def _blame(check: Check, result: CheckResult,
           make_student: Callable[[dict[str, Callable]], Student], expected, seed: int,
           reference: Mapping[str, Callable] | None, verdicts: dict[str, bool],
           words: Words, waits: Mapping[str, tuple[str, ...]]) -> CheckResult:
    """The verdict on a failed check once broken upstream functions are accounted for.

    The stand-in policy: with the reference at hand, the failed functions the check builds on
    (and their partners) are replaced by the reference and the check runs again; the re-run
    counts unless the grader itself could not evaluate it. Not when nothing of the student's
    would be left to test (``nothing_left``). Whatever the outcome, a check that still fails
    names the upstream failure to fix first. Without the reference, see ``_not_checked_yet``.
    """
    failed = {n for n, ok in verdicts.items() if not ok}
    broken_upstream = sorted(upstream(check.name) & failed)
    if not broken_upstream:
        return result
    if reference is None:
        waiting = _not_checked_yet(check, result, failed, waits, words)
        if waiting is not None:
            return waiting
        # Otherwise a failure whatever stood in: the checks that only wait are no failures.
        failed -= set(waits)
        broken_upstream = sorted(upstream(check.name) & failed)
    stand_ins = stand_ins_for(check.name, failed)
    if stand_ins and nothing_left(check, stand_ins, failed):
        # Nothing of the student's would be left in this check: no points to earn.
        result.notes.insert(0, _nothing_left_note(check, failed, words))
    elif reference is not None and stand_ins:
        patched = make_student({f: reference[f] for f in stand_ins})
        retry = run_check(check, patched, expected, seed, verdicts)
        retry.substituted = tuple(sorted(stand_ins))
        retry.notes.insert(0, blame_note(stand_ins, failed, words))
        if retry.passed or not retry.internal_error:
            result = retry
    if not result.passed and not result.absent:
        # (A function that is absent or still its stub fails whatever comes before it: no
        # upstream failure can explain that, so none is named.)
        nearest = [d for d in check.depends if d in failed] or broken_upstream
        result.notes.insert(0, f"{_join(nearest)} failed {_its(nearest)} own {words.noun}; "
                               "this failure may come from there: fix that first")
    return result


def nearest_failures(check: Check, failed: set[str],
                     waits: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The failed checks nearest to ``check``, in grading order: its direct dependencies that
    failed their own checks; when none did, what the dependencies that wait are waiting on.
    ``failed`` holds only checks that failed (not those that wait)."""
    found = [d for d in check.depends if d in failed]
    if not found:
        found = [name for d in check.depends for name in waits.get(d, ())]
    if not found:  # a broken check further up whose dependants passed
        found = [n for n in REGISTRY if n in upstream(check.name) & failed]
    return tuple(n for n in REGISTRY if n in found)


def not_checked_yet_message(names: tuple[str, ...] | list[str], words: Words = GRADER_WORDS) -> str:
    """The one sentence a check that waits gets, in the grader's or the notebook's words."""
    names = list(names)
    if len(names) == 1:
        return f"not checked yet: needs {names[0]}, which fails its own {words.noun}"
    return f"not checked yet: needs {_join(names)}, which fail their own {words.noun}s"


def _not_checked_yet(check: Check, result: CheckResult, failed: set[str],
                     waits: Mapping[str, tuple[str, ...]], words: Words) -> CheckResult | None:
    """Without the reference, a failed ``check`` that builds on a failed one is not checked yet,
    unless the grader would fail it whatever stood in: its own function is absent or raises its
    own stub's NotImplementedError (``CheckResult.absent``), or (``nothing_left``) nothing of
    the student's would be left to test. Returns the waiting verdict, or None for a failure.
    ``failed`` includes the checks that wait."""
    truly_failed = failed - set(waits)
    if result.absent:
        return None
    stand_ins = stand_ins_for(check.name, truly_failed)
    if stand_ins and nothing_left(check, stand_ins, truly_failed):
        return None
    needs = nearest_failures(check, truly_failed, waits)
    # No hint, notes, diagnosis or missing functions of its own: whatever this run saw may come
    # from the upstream bug (a function that calls a broken one is not missing).
    return CheckResult(check.name, check.title, check.points, 0, False,
                       feedback=not_checked_yet_message(needs, words), tags=check.tags,
                       waiting=needs)


def nothing_left(check: Check, stand_ins: set[str], failed: set[str]) -> bool:
    """Whether a re-run of ``check`` with ``stand_ins`` would test nothing of the student's:
    every function it runs would be the reference's, or every function it names as the student's
    own work failed its own check (a lesson check with both mlp_forward and mlp_backward broken
    would measure the reference's net; with one broken, the other is still the student's)."""
    if set(check.tags) <= stand_ins:
        return True
    return bool(check.own) and set(check.own) <= failed


def _nothing_left_note(check: Check, failed: set[str], words: Words) -> str:
    tags = check.tags
    if check.own and set(check.own) <= failed and not set(tags) <= failed:
        return (f"not graded on its own: it tests your own {_join(list(check.own))}, and "
                f"{'both' if len(check.own) == 2 else 'all'} failed their own {words.noun}s (the "
                "reference would stand in for your whole net)")
    broken = sorted(set(tags) & failed)
    partners = sorted(set(tags) - failed)
    note = f"not graded on its own: it runs only {_join(sorted(tags))}"
    note += f", and {_join(broken)} failed" if partners else ", which failed"
    if partners:
        note += (f" (the reference {_join(partners)} must stand in with "
                 f"{'it' if len(broken) == 1 else 'them'}: a forward and its backward share a "
                 "cache format)")
    return note


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _its(names: list[str]) -> str:
    return "its" if len(names) == 1 else "their"


def total(results: list[CheckResult]) -> tuple[int | float, int | float]:
    """(score, maximum) of ``results``: whole numbers print without a decimal point."""
    return whole(sum(r.score for r in results)), whole(sum(r.max_score for r in results))


def waiting_summary(results: list[CheckResult]) -> tuple[int, tuple[str, ...]]:
    """(points of the checks not checked yet, the failed checks they wait on in grading order)."""
    waiting = [r for r in results if r.waiting]
    on = {name for r in waiting for name in r.waiting}
    return sum(r.max_score for r in waiting), tuple(n for n in REGISTRY if n in on)
