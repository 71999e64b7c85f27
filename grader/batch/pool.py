"""Judge processes for a class: a pool that survives a judge dying, and the state a signal needs.

``Run`` owns everything one ``grade`` run must end or close when SIGINT or SIGTERM arrives (the
pool, the gradebook) and knows whether a gradebook transaction is under way, so a signal waits
for it. ``grade_pooled`` grades submissions in judge processes and passes each result on
exactly once, whatever a judge does (dies, raises).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from grader.batch.results import SubmissionResult
from grader.batch.run import grade_submission, judge_failed
from grader.sandbox.runs import tie_to_parent
from grader.spec.profile import Limits


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the run (a BaseException: no ``except Exception`` of the
    grading code may swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Run:
    """What a signal must know about one run: the pool to end, the gradebook to close, how
    many submissions were recorded, whether a gradebook transaction is under way.

    Lifetime: one ``grade`` run (``classroom.grade_class``); ``stop_pool`` leaves no process.
    """

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.gradebook: Any = None  # a batch.gradebook.Gradebook once opened
        self.total = 0
        self.recorded = 0
        self.graded = 0
        self.recording = False
        self.pending: int | None = None

    def on_signal(self, signum: int, _frame: object) -> None:
        """The SIGINT/SIGTERM handler: interrupt now, or once the transaction is over."""
        if self.pending is None:
            self.pending = signum
        if not self.recording:  # else the transaction ends first, see ``end_recording``
            raise Interrupted(signum)

    def begin_recording(self) -> None:
        self.recording = True

    def end_recording(self) -> None:
        self.recording = False
        if self.pending is not None:
            raise Interrupted(self.pending)

    def stop_pool(self) -> None:
        """SIGKILL the pool's processes (their templates and workers die with them: each is
        tied to its parent) and wait for them."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.kill()
        for process in processes:
            process.join(5)
        pool.shutdown(wait=True, cancel_futures=True)


def grade_one(path: str, seed: int, limits: Limits, sandbox: bool | None,
              measure: bool) -> SubmissionResult:
    """What a pool process runs for one submission (picklable: a module-level function)."""
    return grade_submission(Path(path), seed, limits, sandbox, measure)


def _grade_in_pool(run: Run, paths: list[Path], workers: int, job: tuple,
                   finish: Callable[[SubmissionResult], None],
                   grade: Callable[..., SubmissionResult]) -> list[Path]:
    """Grade ``paths`` in a pool of ``workers`` judge processes, passing each result to
    ``finish``; returns the paths left without a result because the pool broke."""
    run.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                   initializer=tie_to_parent, initargs=(os.getpid(),))
    futures = {run.pool.submit(grade, str(p), *job): p for p in paths}
    unfinished: list[Path] = []
    for future in as_completed(futures):
        try:
            result = future.result()
        except BrokenProcessPool:
            unfinished.append(futures[future])
            continue
        except Exception as error:  # noqa: BLE001 - the judge raised: this submission's 0
            result = judge_failed(futures[future], job[0], f"{type(error).__name__}: {error}")
        finish(result)
    if unfinished:
        run.stop_pool()
    else:
        run.pool.shutdown()
        run.pool = None
    return sorted(unfinished)


def grade_pooled(run: Run, paths: list[Path], workers: int, job: tuple,
                 finish: Callable[[SubmissionResult], None],
                 grade: Callable[..., SubmissionResult] | None = None) -> None:
    """Grade every path in a pool; each ends in ``finish`` exactly once, whatever happens.

    job: the arguments of ``grade`` after the path, the seed first (``grade_one``'s by
    default: seed, limits, sandbox, measure).

    A judge process that dies (the OOM killer, say) takes the pool with it: the submissions left
    are graded again one per fresh judge, so the one that kills its judge is known, and it is
    recorded as a 0 with the reason."""
    grade = grade or grade_one
    for path in _grade_in_pool(run, paths, workers, job, finish, grade):
        if _grade_in_pool(run, [path], 1, job, finish, grade):
            finish(judge_failed(path, job[0], "the grader's judge process died while grading "
                                "this submission"))
