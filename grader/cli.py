"""Command line of the grader.

    python -m grader grade PATH... [--results FILE] [--feedback DIR] [--gradebook FILE]
                                   [--csv FILE] [--summary DIR] [--workers N] [--seed S]
    python -m grader export GRADEBOOK --csv FILE
    python -m grader merge TARGET SHARD... # combine the gradebooks of --shard runs
    python -m grader record          # instructors: re-record the public self-check's answers
    python -m grader demo [--out DIR]

A PATH is one submission (a folder of modules, a .zip of one, or the notebook .ipynb); several
PATHs, or a folder of submission folders, make a batch. The exit status is 0 whenever grading
itself worked, however the students did.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from grader import __version__
from grader.batch.run import (
    DEFAULT_SEED,
    SubmissionResult,
    grade_submission,
    judge_failed,
    sandbox_description,
)
from grader.sandbox.runs import claim_run_folder, release_run_folder, tie_to_parent
from grader.spec.profile import Limits

CONFIG_NAME = "grader.toml"


def _load_config(path: Path | None) -> dict:
    """The instructor's settings: ``seed``, ``call_seconds``, ``submission_seconds``,
    ``memory_mb`` (TOML). Looked up as ./grader.toml when --config is not given."""
    candidate = path or Path(CONFIG_NAME)
    if not candidate.is_file():
        if path is not None:
            raise SystemExit(f"config file {path} not found")
        return {}
    with open(candidate, "rb") as handle:
        return tomllib.load(handle)


def shown(text: str, stream=None, keep: str = "") -> str:
    """``text`` as a terminal may print it: control characters visible (``identity.visible``;
    those in ``keep`` stay, for text whose lines are already safe), and characters the stream
    cannot encode written as escapes instead of raising."""
    from grader.batch.identity import visible

    text = visible(text, keep)
    encoding = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text


class Progress:
    """One line per finished submission, or a redrawn bar on a terminal.

    Names are shown with ``shown``: an escape sequence or newline in a submission's name can
    neither move the cursor nor forge a line."""

    def __init__(self, total: int, stream=None):
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def update(self, result: SubmissionResult | None, name: str, skipped: bool = False) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        what = "unchanged, skipped" if skipped else f"{result.score}/{result.max_score}"
        name = shown(name, self.stream)
        if self.tty:
            filled = int(30 * self.done / max(self.total, 1))
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {rate:4.1f}/s  "
                              f"{name[:24]:<24} {what:<18}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done:>4}/{self.total}] {name}: {what}\n")
        self.stream.flush()


def _grade_one(path: str, seed: int, limits: Limits, sandbox: bool | None,
               measure: bool) -> SubmissionResult:
    return grade_submission(Path(path), seed, limits, sandbox, measure)


class _Interrupted(BaseException):
    """SIGINT or SIGTERM reached the CLI (a BaseException: no ``except Exception`` of the
    grading code may swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Run:
    """What a signal must know about the batch: the pool to end, the gradebook to close, how
    many submissions were recorded, whether a gradebook transaction is under way."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.gradebook = None
        self.total = 0
        self.recorded = 0
        self.graded = 0
        self.recording = False
        self.pending: int | None = None

    def on_signal(self, signum: int, _frame) -> None:
        if self.pending is None:
            self.pending = signum
        if not self.recording:  # else the transaction ends first, see ``end_recording``
            raise _Interrupted(signum)

    def begin_recording(self) -> None:
        self.recording = True

    def end_recording(self) -> None:
        self.recording = False
        if self.pending is not None:
            raise _Interrupted(self.pending)

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


def run_grade(args: argparse.Namespace) -> int:
    """``grade``: exit 0 when grading worked; 2 for bad arguments; 130 after SIGINT (Ctrl-C) and
    143 after SIGTERM, once the submission being recorded is in the gradebook. Nothing the run
    started outlives it, and its temporary files go with it (see ``sandbox.claim_run_folder``)."""
    run = _Run()
    previous_tmpdir = os.environ.get("TMPDIR")
    # Only the main thread may handle signals (run_grade called from another thread leaves
    # them as they are).
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.signal(s, run.on_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
        if main_thread else {}
    folder = None
    try:
        folder = claim_run_folder()
        return _grade(args, run)
    except _Interrupted as stop:
        for number in handlers:  # a second Ctrl-C must not interrupt the cleaning up
            signal.signal(number, signal.SIG_IGN)
        run.stop_pool()
        name = signal.Signals(stop.signum).name
        if run.gradebook is not None:
            run.gradebook.close()
            print(f"interrupted by {name}: {run.recorded} submission(s) recorded in the "
                  f"gradebook, {run.total - run.recorded} not graded (grading again grades "
                  "only those)", file=sys.stderr)
        else:
            print(f"interrupted by {name}: {run.graded} of {run.total} submission(s) graded, "
                  "nothing recorded (no --gradebook)", file=sys.stderr)
        return 128 + stop.signum
    finally:
        for number in handlers:
            signal.signal(number, signal.SIG_IGN)
        run.stop_pool()
        if folder is not None:
            release_run_folder(folder, previous_tmpdir)
        for number, handler in handlers.items():
            signal.signal(number, handler)


def _grade_in_pool(run: _Run, paths: list[Path], workers: int, job: tuple,
                   finish: Callable[[SubmissionResult], None],
                   grade_one: Callable[..., SubmissionResult] | None = None) -> list[Path]:
    """Grade ``paths`` in a pool of ``workers`` judge processes, passing each result to
    ``finish``; returns the paths left without a result because the pool broke.

    job: the arguments of ``grade_one`` after the path (``_grade_one``'s by default)."""
    grade_one = grade_one or _grade_one
    run.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                   initializer=tie_to_parent, initargs=(os.getpid(),))
    futures = {run.pool.submit(grade_one, str(p), *job): p for p in paths}
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


def grade_pooled(run: _Run, paths: list[Path], workers: int, job: tuple,
                 finish: Callable[[SubmissionResult], None],
                 grade_one: Callable[..., SubmissionResult] | None = None) -> None:
    """Grade every path in a pool; each ends in ``finish`` exactly once, whatever happens.

    A judge process that dies (the OOM killer, say) takes the pool with it: the submissions left
    are graded again one per fresh judge, so the one that kills its judge is known, and it is
    recorded as a 0 with the reason."""
    for path in _grade_in_pool(run, paths, workers, job, finish, grade_one):
        if _grade_in_pool(run, [path], 1, job, finish, grade_one):
            finish(judge_failed(path, job[0], "the grader's judge process died while grading "
                                "this submission"))


def _say_left_out(paths: list[Path]) -> None:
    """Name what the class folders hold that is not a submission (a .tar.gz, a README), so no
    student is dropped unseen."""
    from grader.batch.identity import is_one_submission, left_out

    for path in map(Path, paths):
        if not path.is_dir() or is_one_submission(path):
            continue
        names = left_out(path)
        if names:
            listed = ", ".join(shown(n, sys.stderr) for n in names[:10])
            more = f" and {len(names) - 10} more" if len(names) > 10 else ""
            print(f"left out of {shown(os.fsdecode(path), sys.stderr)}, not a folder, .zip or "
                  f".ipynb: {listed}{more}", file=sys.stderr)


def _grade(args: argparse.Namespace, run: _Run) -> int:
    from grader.batch.gradebook import Gradebook
    from grader.batch.identity import BatchRefused, expand, submission_name
    from grader.batch.measure import reference_flow
    from grader.batch.report import class_summary, score_table, write_feedback, write_results_json
    from grader.batch.submissions import prepare
    from grader.student.loader import reference_functions

    config = _load_config(args.config)
    seed = args.seed if args.seed is not None else int(config.get("seed", DEFAULT_SEED))
    limits = Limits(
        call_seconds=float(config.get("call_seconds", Limits.call_seconds)),
        submission_seconds=float(config.get("submission_seconds", Limits.submission_seconds)),
        memory_bytes=int(config.get("memory_mb", Limits.memory_bytes >> 20)) << 20,
    )
    sandbox = False if args.no_sandbox else None
    absent = [str(p) for p in args.paths if not Path(p).exists()]
    if absent:  # a typo must not become a student with 0 points in the gradebook
        print(f"no such file or folder: {', '.join(absent)}", file=sys.stderr)
        return 2
    try:
        paths = expand(args.paths)
    except BatchRefused as refusal:  # before anything is graded: see identity.check_unique
        print(shown(str(refusal), sys.stderr, keep="\n"), file=sys.stderr)
        return 2
    _say_left_out(args.paths)
    if args.shard:
        from grader.batch.shards import select_shard

        paths = select_shard(paths, args.shard)
    if not paths:
        print("no submissions found", file=sys.stderr)
        return 2
    if args.results and len(paths) != 1:
        print("--results writes one submission's results.json: give exactly one PATH",
              file=sys.stderr)
        return 2
    print(f"grading {len(paths)} submission(s) with grader {__version__}; student code runs in "
          f"{sandbox_description(sandbox)}", file=sys.stderr)

    try:
        gradebook = Gradebook(args.gradebook) if args.gradebook else None
    except (OSError, sqlite3.Error) as error:
        print(f"cannot open the gradebook {args.gradebook}: {error}", file=sys.stderr)
        return 2
    run.gradebook = gradebook
    run.total = len(paths)  # until the unchanged ones are known
    todo: list[Path] = []
    skipped: list[str] = []
    progress = Progress(len(paths))
    for path in paths:
        if gradebook is not None:
            try:
                prepared = prepare(path)
                current = gradebook.is_current(prepared.name, prepared.content_hash, seed,
                                               __version__)
                prepared.cleanup()
            except Exception:  # noqa: BLE001 - unreadable: let grading report it
                current = False
            if current:
                skipped.append(submission_name(path))
                progress.update(None, submission_name(path), skipped=True)
                continue
        todo.append(path)

    reference = reference_flow(reference_functions()) if args.feedback else {}
    results: list[SubmissionResult] = []

    def finish(result: SubmissionResult) -> None:
        run.begin_recording()  # a signal now waits for the transaction (end_recording)
        try:
            results.append(result)
            run.graded += 1
            if gradebook is not None:
                gradebook.record(result)
                run.recorded += 1
            if args.feedback:
                write_feedback(result, Path(args.feedback), reference)
            progress.update(result, result.name)
        finally:
            run.end_recording()

    measure = bool(args.feedback)  # the gradient-flow measurement only feeds the feedback plot
    workers = max(1, min(args.workers, len(todo))) if todo else 1
    run.total = len(todo)
    job = (seed, limits, sandbox, measure)
    if workers == 1:
        for path in todo:
            try:
                result = grade_submission(path, seed, limits, sandbox, measure)
            except Exception as error:  # noqa: BLE001 - one submission never stops the batch
                result = judge_failed(path, seed, f"{type(error).__name__}: {error}")
            finish(result)
    else:
        # Judges in separate processes: each drives its own sandboxed workers, and dies with
        # this process (tie_to_parent), taking its templates and workers along.
        grade_pooled(run, todo, workers, job, finish)

    if args.results:
        write_results_json(results[0], Path(args.results))
    results.sort(key=lambda r: r.name)
    if results:
        print(shown(score_table(results), keep="\n"))
    if skipped:
        print(f"{len(skipped)} unchanged submission(s) skipped (already in the gradebook)")
    if gradebook is not None:
        if args.csv:
            print(f"grades: {gradebook.export_csv(Path(args.csv))}")
        if args.summary:
            path = class_summary(gradebook.check_rows(), gradebook.scores(), Path(args.summary))
            print(f"class summary: {path}")
        print(f"gradebook: {gradebook.path}")
        gradebook.close()
    elif args.csv or args.summary:
        print("--csv and --summary read the gradebook: add --gradebook FILE", file=sys.stderr)
    if args.feedback:
        print(f"feedback: {args.feedback} (which file is whose: {args.feedback}/index.csv)")
    if args.results:
        print(f"results.json: {args.results}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade one submission or a batch")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    grade.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    grade.add_argument("--feedback", type=Path, help="write Markdown feedback into this folder")
    grade.add_argument("--gradebook", type=Path, help="SQLite gradebook (resumes, skips "
                       "unchanged submissions)")
    grade.add_argument("--csv", type=Path, help="export the gradebook as CSV")
    grade.add_argument("--summary", type=Path, help="write the class summary into this folder")
    grade.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                       help="submissions graded in parallel (default: 2 or the CPU count)")
    grade.add_argument("--seed", type=int, help="grading seed (hidden inputs); default: "
                       f"{CONFIG_NAME} or {DEFAULT_SEED}")
    grade.add_argument("--config", type=Path, help=f"instructor settings (default ./{CONFIG_NAME})")
    grade.add_argument("--shard", help="grade only shard I of N (I/N, 1-based)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code in a plain subprocess even if bubblewrap works")

    export = commands.add_parser("export", help="export a gradebook as CSV")
    export.add_argument("gradebook", type=Path)
    export.add_argument("--csv", type=Path, required=True)

    merge = commands.add_parser("merge", help="combine shard gradebooks into one")
    merge.add_argument("target", type=Path, help="gradebook to merge into (created if needed)")
    merge.add_argument("shards", type=Path, nargs="+", help="gradebooks written by --shard runs")

    commands.add_parser("record", help="record the public self-check's expected values")

    demo = commands.add_parser("demo", help="grade the samples in examples/ and run experiments")
    demo.add_argument("--out", type=Path, default=Path("out/demo"))
    demo.add_argument("--quick", action="store_true", help="short experiments")

    args = parser.parse_args(argv)
    if args.command == "grade":
        return run_grade(args)
    if args.command == "export":
        from grader.batch.gradebook import Gradebook

        with Gradebook(args.gradebook) as gradebook:
            print(gradebook.export_csv(args.csv))
        return 0
    if args.command == "merge":
        from grader.batch.gradebook import Gradebook

        with Gradebook(args.target) as gradebook:
            for shard in args.shards:
                if not shard.is_file():
                    print(f"{shard}: no such gradebook", file=sys.stderr)
                    return 2
                copied, kept = gradebook.merge_from(shard)
                print(f"{shard}: {copied} submission(s) merged, {kept} newer already present")
            print(f"{len(gradebook.scores())} submission(s) in {args.target}")
        return 0
    if args.command == "record":
        from grader.public.engine import record

        print(f"wrote {record()}")
        return 0
    if args.command == "demo":
        from grader.batch.demo import run_demo

        return run_demo(args.out, quick=args.quick)
    return 2


if __name__ == "__main__":
    sys.exit(main())
