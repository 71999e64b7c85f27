"""Grade one submission end to end (a class: ``grader.batch.classroom``).

``grade_submission`` copies the submission into a clean folder, runs every check with the
student's code in sandboxed workers (a fresh one per submission, and per set of reference
stand-ins), and returns plain results. It never raises for anything a submission does: a crash,
a hang or a hostile file ends in a clear message and a score for what was honestly done.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from grader import __version__
from grader.batch.identity import submission_name
from grader.batch.measure import gradient_flow
from grader.batch.results import SubmissionResult
from grader.batch.submissions import one_line, prepare
from grader.checking.judge import CheckResult, grade, total
from grader.checking.trial import REGISTRY, LiveExpected
from grader.sandbox.remote import WorkerStudent
from grader.sandbox.view import bubblewrap_works
from grader.settings import DEFAULT_SEED, switch
from grader.spec.api import FUNCTIONS
from grader.spec.profile import Limits
from grader.student.calling import RoutedStudent
from grader.student.loader import SubmissionError, reference_functions


def _unloadable(name: str, source: str, seed: int, message: str, seconds: float,
                content_hash: str = "") -> SubmissionResult:
    checks = [CheckResult(c.name, c.title, c.points, 0, False, feedback=message, tags=c.tags)
              for c in REGISTRY.values()]
    return SubmissionResult(name, source, content_hash, seed, __version__, 0,
                            sum(c.points for c in REGISTRY.values()), checks, "none", seconds,
                            error=message)


def judge_failed(path: Path, seed: int, what: str) -> SubmissionResult:
    """The recorded 0 of a submission whose judge itself failed (its process died, say): the
    batch goes on, and the reason is in the results, gradebook, CSV and feedback."""
    message = one_line(f"internal grader error: {what}; please report it (grading it again "
                       "may work)", 400)
    return _unloadable(submission_name(Path(path)), str(path), seed, message, 0.0)


def _internal(stage: str, error: Exception) -> str:
    """The one-line reason recorded for a grader bug; the traceback goes to the instructor's
    terminal (stderr), not into the student's feedback."""
    traceback.print_exception(error, limit=8, file=sys.stderr)
    return one_line(f"internal grader error while {stage} ({type(error).__name__}: {error}); "
                    "please report it", 400)


def grade_submission(path: Path, seed: int = DEFAULT_SEED, limits: Limits | None = None,
                     sandbox: bool | None = None, measure: bool = True) -> SubmissionResult:
    """Grade one submission (folder, .zip or .ipynb) with the student's code in workers.

    measure: also record the student's gradient flow (for the feedback plot; no points)."""
    started = time.monotonic()
    limits = limits or Limits()
    name = submission_name(Path(path))
    try:
        prepared = prepare(Path(path))
    except (SubmissionError, OSError) as error:
        return _unloadable(name, str(path), seed,
                           f"the submission could not be read: {one_line(error)}",
                           time.monotonic() - started)
    except Exception as error:  # noqa: BLE001 - a reader bug must not stop a batch either
        return _unloadable(name, str(path), seed, _internal("reading the submission", error),
                           time.monotonic() - started)
    reference = reference_functions()
    deadline = time.monotonic() + limits.submission_seconds
    workers: list[WorkerStudent] = []

    def make_student(overrides):
        if overrides and workers:
            # A re-run with stand-ins: a fresh import of the same files in the same worker.
            return RoutedStudent(workers[0].stand_ins(overrides), overrides)
        worker = WorkerStudent(prepared.folder, overrides, limits, sandbox, deadline)
        workers.append(worker)
        return RoutedStudent(worker, overrides) if overrides else worker

    flow: dict[str, list[float]] = {}
    try:
        results = grade(make_student, LiveExpected(reference), seed, reference)
        if measure and workers and time.monotonic() < deadline:
            flow = gradient_flow(workers[0])
    except Exception as error:  # noqa: BLE001 - a judge bug must not stop a batch; it is reported
        return _unloadable(name, str(path), seed, _internal("grading", error),
                           time.monotonic() - started, prepared.content_hash)
    finally:
        for worker in workers:
            worker.close()
        prepared.cleanup()
    score, possible = total(results)
    error = _nothing_loaded(workers[0]) if workers else None
    modes = {w.mode for w in workers if w.mode != "not started"}
    notes = list(prepared.notes)
    for worker in workers:
        notes.extend(worker.events)
    if "subprocess" in modes:
        notes.append(f"{why_no_bubblewrap(sandbox)}: student code ran in a plain subprocess "
                     "with resource limits (and, when the grader runs as root, its own network "
                     "namespace, a read-only view and an unprivileged uid)")
    return SubmissionResult(name, str(path), prepared.content_hash, seed, __version__, score,
                            possible, results, ",".join(sorted(modes)) or "none",
                            round(time.monotonic() - started, 3), error=error, notes=notes,
                            gradient_flow=flow)


def _nothing_loaded(worker: WorkerStudent) -> str | None:
    """Why none of the submission's functions could be graded (every module failed to import,
    or no worker ever loaded it), as the one-line reason of its 0; None when anything loaded."""
    if not worker.ever_ready and worker.load_failure:
        return one_line(f"the submission could not be loaded: {worker.load_failure}", 400)
    if worker.ever_ready and set(FUNCTIONS) <= set(worker.missing):
        reasons = list(dict.fromkeys(worker.missing[f] for f in FUNCTIONS))
        return one_line("none of the exercise functions could be loaded: "
                        + "; ".join(reasons), 400)
    return None


def why_no_bubblewrap(sandbox: bool | None) -> str:
    """Why the plain-subprocess fallback runs: asked for (``--no-sandbox``, ``VG_NO_SANDBOX``)
    or bubblewrap missing or refused by the kernel."""
    if sandbox is False:
        return "bubblewrap was turned off (--no-sandbox)"
    if switch("VG_NO_SANDBOX"):
        return "bubblewrap was turned off (VG_NO_SANDBOX is set)"
    return "bubblewrap is not available"


def sandbox_description(sandbox: bool | None) -> str:
    if sandbox is False or (sandbox is None and not bubblewrap_works()):
        return (f"a plain subprocess with rlimits ({why_no_bubblewrap(sandbox)}): weaker "
                "isolation, see the notes in the results")
    return "bubblewrap (no network, read-only view, private /tmp, unprivileged uid)"
