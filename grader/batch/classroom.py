"""Grade a class: ``python -m grader grade`` once its arguments are parsed (and ``make demo``).

``grade_class(GradeOptions(...))`` runs the steps in order: find the submissions (refusing a
typo or a clash of names before anything is graded), skip those the gradebook already holds
unchanged, grade the rest (in this process, or in a pool of judge processes), record each one
as it finishes, then print the score table and write the exports asked for.

Exit status: 0 whenever grading itself worked, however the students did; 2 for bad arguments;
130 after SIGINT (Ctrl-C) and 143 after SIGTERM, once the submission being recorded is in the
gradebook. Nothing the run started outlives it, and its temporary files go with it (see
``sandbox.runs.claim_run_folder``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from grader import __version__
from grader.batch.gradebook import Gradebook
from grader.batch.identity import BatchRefused, check_unique, submission_name, visible
from grader.batch.policy import (
    Extensions,
    Policy,
    policy_text,
    resolve_extensions,
    submission_mtime,
)
from grader.batch.pool import Interrupted, Run, grade_pooled
from grader.batch.results import SubmissionResult
from grader.batch.run import grade_submission, judge_failed, sandbox_description
from grader.sandbox.runs import claim_run_folder, release_run_folder
from grader.settings import Settings

if TYPE_CHECKING:
    from grader.batch.lms import Found
    from grader.batch.roster import Student


@dataclass(frozen=True)
class GradeOptions:
    """What to grade and what to write (the ``grade`` command's arguments).

    sandbox: None to use bubblewrap when it works, False for the plain-subprocess fallback.
    shard: "I/N" to grade only shard I of N (``batch.shards``).
    roster: the class roster CSV (``batch.roster``); layout: ``canvas``, ``moodle`` or
    ``folders`` for every class folder (None: detected, ``batch.lms``).
    """

    paths: tuple[Path, ...]
    settings: Settings = Settings()
    results: Path | None = None
    feedback: Path | None = None
    gradebook: Path | None = None
    csv: Path | None = None
    summary: Path | None = None
    workers: int = 1
    shard: str | None = None
    sandbox: bool | None = None
    # The points policy (issue #11): when each submission was handed in (--submitted-at for
    # all of this run's, --times per student; else the file's mtime), and --manual marks.
    submitted_at: datetime | None = None
    times: dict[str, datetime] | None = None
    manual: Path | None = None
    roster: Path | None = None
    layout: str | None = None


class Refused(Exception):
    """The run is refused before anything is graded (exit status 2); the message says why."""


def shown(text: str, stream: TextIO | None = None, keep: str = "") -> str:
    """``text`` as a terminal may print it: control characters visible (``identity.visible``;
    those in ``keep`` stay, for text whose lines are already safe), and characters the stream
    cannot encode written as escapes instead of raising."""
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

    def __init__(self, total: int, stream: TextIO | None = None):
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


def say_left_out(paths: list[Path]) -> None:
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


def grade_class(options: GradeOptions) -> int:
    """Grade ``options.paths`` (see the module docstring for the exit status)."""
    run = Run()
    previous_tmpdir = os.environ.get("TMPDIR")
    # Only the main thread may handle signals (called from another thread, they stay as they
    # are).
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.signal(s, run.on_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
        if main_thread else {}
    folder = None
    try:
        folder = claim_run_folder()
        return _grade(options, run)
    except Refused as refusal:
        print(refusal, file=sys.stderr)
        return 2
    except Interrupted as stop:
        for number in handlers:  # a second Ctrl-C must not interrupt the cleaning up
            signal.signal(number, signal.SIG_IGN)
        run.stop_pool()
        _say_interrupted(run, stop.signum)
        return 128 + stop.signum
    finally:
        for number in handlers:
            signal.signal(number, signal.SIG_IGN)
        run.stop_pool()
        if folder is not None:
            release_run_folder(folder, previous_tmpdir)
        for number, handler in handlers.items():
            signal.signal(number, handler)


def _say_interrupted(run: Run, signum: int) -> None:
    name = signal.Signals(signum).name
    if run.gradebook is not None:
        run.gradebook.close()
        print(f"interrupted by {name}: {run.recorded} submission(s) recorded in the "
              f"gradebook, {run.total - run.recorded} not graded (grading again grades "
              "only those)", file=sys.stderr)
    else:
        print(f"interrupted by {name}: {run.graded} of {run.total} submission(s) graded, "
              "nothing recorded (no --gradebook)", file=sys.stderr)


def _grade(options: GradeOptions, run: Run) -> int:
    paths, class_list = _submissions(options)
    extensions = _extensions(options, paths, class_list)
    print(f"grading {len(paths)} submission(s) with grader {__version__}; student code runs in "
          f"{sandbox_description(options.sandbox)}", file=sys.stderr)
    where = options.gradebook
    if where is None and (options.csv or options.summary):
        # The CSV and the summary are read from a gradebook: without --gradebook, one for this
        # run only, in the run's own temporary folder (removed with it).
        where = Path(tempfile.mkdtemp(prefix="vg-gradebook-")) / "gradebook.sqlite"
    gradebook = _open_gradebook(where)
    run.gradebook = gradebook
    run.total = len(paths)  # until the unchanged ones are known
    progress = Progress(len(paths))
    policy = Policy.from_settings(options.settings)
    if gradebook is not None:
        gradebook.set_policy(policy_text(options.settings))  # for export/report without --config
        gradebook.set_extension_keys(extensions.keys)  # whose extension each key is
        for line in record_times(gradebook, paths, options, class_list):
            print(line, file=sys.stderr)
    todo, skipped = _changed(paths, gradebook, options.settings.seed, progress,
                             policy.version(__version__))
    if gradebook is not None:
        for name in skipped:
            class_list.record_origin(gradebook, name)
    recorder = _Recorder(run, options, gradebook, progress, class_list)
    _grade_all(run, todo, options, recorder.finish)
    if options.manual is not None and gradebook is not None:
        from grader.batch.written import ManualError, import_manual

        try:
            print(import_manual(gradebook, options.manual))
        except ManualError as error:
            _report(options, recorder.results, skipped, gradebook, class_list)
            print(f"error: {error}", file=sys.stderr)
            return 2
    similar = similar_pairs(paths) if options.summary and len(paths) > 1 else []
    _report(options, recorder.results, skipped, gradebook, class_list, similar)
    return 0


def _extensions(options: GradeOptions, paths: list[Path], class_list: ClassList) -> Extensions:
    """[extensions] keyed by submission identity (``policy.resolve_extensions``), before
    anything is graded; Refused, one line per key, for a key that finds no student (it would
    be silently ignored) or finds several. A shard sees only its own submissions, so there a
    key matching nothing is another shard's student, not a mistake; a run writing neither a
    gradebook nor a CSV or class report applies no late policy, and is not refused."""
    policy = Policy.from_settings(options.settings)
    identities = {submission_name(p) for p in paths}
    if options.gradebook is not None and Path(options.gradebook).is_file():
        with Gradebook(options.gradebook) as earlier:  # graded before: still this class
            identities |= set(earlier.names())
            known = earlier.extension_keys()
    else:
        known = {}
    matching = None
    if class_list.students is not None:
        from grader.batch.roster import Candidate, match

        matching = match(class_list.students, [Candidate(f.identity, tuple(f.names), f.lms_user)
                                               for f in class_list.found.values()])
    resolved = resolve_extensions(policy.late.extensions, identities, class_list.students,
                                  matching, known, policy.source)
    problems = resolved.problems
    if options.shard:
        problems = [line for line in problems if line not in resolved.unknown.values()]
    if options.gradebook is None and not (options.csv or options.summary):
        problems = []  # nothing this run writes applies the late policy
    if problems:
        raise Refused("\n".join(f"error: {shown(line, sys.stderr)}" for line in problems))
    return resolved


def record_times(gradebook: Gradebook, paths: list[Path], options: GradeOptions,
                 class_list: ClassList | None = None) -> list[str]:
    """Keep each submission's time in the gradebook (the late policy reads it from there, so
    it survives re-runs): --times and --submitted-at are kept over any later mtime; a plain
    folder's time is otherwise its files' mtime. An LMS download's files carry the download's
    mtime, not the student's, so they get no time from it (no time: not penalised).

    Returns the lines to print on stderr (``time_warnings``) when a late policy is set."""
    for name, when in (options.times or {}).items():
        gradebook.set_submitted_at(name, when, "times")
    no_time: list[str] = []  # LMS downloads with no time given
    for path in paths:
        name = submission_name(path)
        if options.submitted_at is not None:
            gradebook.set_submitted_at(name, options.submitted_at, "flag")
        elif name not in (options.times or {}):
            found = class_list.found.get(name) if class_list is not None else None
            if found is not None and found.layout != "folders":
                no_time.append(name)
                continue
            when = submission_mtime(path)
            if when is not None:
                gradebook.set_submitted_at(name, when, "mtime")
    if Policy.from_settings(options.settings).late.deadline is None:
        return []
    return time_warnings(gradebook, [submission_name(p) for p in paths], no_time, class_list)


def time_warnings(gradebook: Gradebook, names: list[str], no_time: list[str],
                  class_list: ClassList | None) -> list[str]:
    """What the instructor must know about this run's submission times under a late policy:
    how many come from file mtimes (a copy resets them), how many LMS submissions have none
    (not penalised), and which Canvas marked LATE with no time given."""
    lines = []
    origins = gradebook.submission_times()
    from_mtime = [n for n in names if origins.get(n, (None, ""))[1] == "mtime"]
    if from_mtime:
        lines.append(f"warning: the late policy takes the submission time of {len(from_mtime)} "
                     "submission(s) from their files' modification times (mtime); copying the "
                     "files (cp -r, unzipping, a download) resets mtimes and makes students "
                     "look late: give the real times with --times CSV (student, submitted_at "
                     "columns, e.g. from the LMS) or --submitted-at TIME")
    untimed = [n for n in no_time if n not in origins]
    if untimed:
        lines.append(f"note: {len(untimed)} submission(s) of an LMS download have no submission "
                     "time (the files' times are the download's, not the students'): they are "
                     "not penalised as late; give their times with --times CSV or "
                     "--submitted-at TIME")
    found = class_list.found if class_list is not None else {}
    flagged = sorted(n for n in untimed if n in found and found[n].late)
    if flagged:
        listed = ", ".join(shown(n, sys.stderr) for n in flagged[:10])
        more = f" and {len(flagged) - 10} more" if len(flagged) > 10 else ""
        lines.append(f"warning: {len(flagged)} student(s) are marked late by Canvas (LATE_ in "
                     f"the file name) but no submission time was given, so they are not "
                     f"penalised: {listed}{more}; give their times with --times CSV")
    return lines


class ClassList:
    """The submissions of a run as ``batch.lms`` found them (by identity) and the roster."""

    def __init__(self, found: list[Found], students: list[Student] | None):
        self.found = {f.identity: f for f in found}
        self.students = students

    def recorded(self, result: SubmissionResult) -> SubmissionResult:
        """``result`` as the gradebook keeps it: from an LMS download, the source is the
        student's first file as downloaded (not the staged copy) and the notes say which
        upload was graded."""
        found = self.found.get(result.name)
        if found is not None and found.layout != "folders":
            result.source = os.fsdecode(found.paths[0]) if found.paths else result.source
            result.notes = [*found.notes, *result.notes]
        return result

    def record_origin(self, gradebook: Gradebook, name: str) -> None:
        found = self.found.get(name)
        if found is not None:
            gradebook.record_origin(name, found.layout, found.lms_user, found.names, found.late)


def _roster(options: GradeOptions) -> list[Student] | None:
    if options.roster is None:
        return None
    from grader.batch.roster import RosterError, read_roster

    try:
        return read_roster(options.roster)
    except RosterError as error:
        raise Refused(f"error: --roster {shown(str(error), sys.stderr)}") from None


def _staged(options: GradeOptions,
            students: list[Student] | None) -> tuple[list[Path], list[Found]]:
    """Every submission of the command line, one per student (``lms.discover``), as paths
    ``submissions.prepare`` reads: LMS downloads are copied, one folder or file per student,
    into this run's temporary folder. Says what was left out and which uploads were chosen."""
    from grader.batch.lms import detect_layout, discover, stage
    from grader.batch.roster import Candidate, RosterError, describe, match, user_ids

    known = user_ids(students) if students else set()
    try:
        found, left = discover(list(options.paths), options.layout, known)
    except BatchRefused as refusal:  # before anything is graded: see identity.check_unique
        raise Refused(shown(str(refusal), sys.stderr, keep="\n")) from None
    say_left_out([p for p in options.paths
                  if (options.layout or detect_layout(Path(p))) == "folders"])
    if left:
        listed = ", ".join(shown(n, sys.stderr) for n in left[:10])
        more = f" and {len(left) - 10} more" if len(left) > 10 else ""
        print(f"left out of the LMS download, not named like a submission: {listed}{more}",
              file=sys.stderr)
    if students is not None:
        try:
            matching = match(students, [Candidate(f.identity, tuple(f.names), f.lms_user)
                                        for f in found])
        except RosterError as error:
            raise Refused(f"error: --roster: {shown(str(error), sys.stderr)}") from None
        for line in describe(matching, len(students)):
            print(shown(line, sys.stderr), file=sys.stderr)
    if options.shard:  # copy only this shard's (the same split select_shard makes)
        from grader.batch.shards import parse_shard, shard_of

        index, count = parse_shard(options.shard)
        found = [f for f in found if shard_of(f.identity, count) == index]
    where = Path(tempfile.mkdtemp(prefix="vg-staged-"))
    paths = []
    for item in found:
        paths.append(stage(item, where))
        for note in item.notes:
            print(shown(note, sys.stderr), file=sys.stderr)
    return paths, found


def _submissions(options: GradeOptions) -> tuple[list[Path], ClassList]:
    """The submissions to grade, in order, and the class they make; Refused for a path that
    does not exist, a clash of names, a bad roster, nothing to grade, or --results with more
    than one."""
    absent = [str(p) for p in options.paths if not Path(p).exists()]
    if absent:  # a typo must not become a student with 0 points in the gradebook
        raise Refused(f"no such file or folder: {', '.join(absent)}")
    students = _roster(options)
    paths, found = _staged(options, students)
    try:
        check_unique(paths)
    except BatchRefused as refusal:
        raise Refused(shown(str(refusal), sys.stderr, keep="\n")) from None
    if options.shard:
        from grader.batch.shards import select_shard

        paths = select_shard(paths, options.shard)
    if not paths:
        raise Refused("no submissions found")
    if options.results and len(paths) != 1:
        raise Refused("--results writes one submission's results.json: give exactly one PATH")
    return paths, ClassList(found, students)


def _open_gradebook(path: Path | None) -> Gradebook | None:
    if path is None:
        return None
    try:
        return Gradebook(path)
    except (OSError, sqlite3.Error) as error:
        raise Refused(f"cannot open the gradebook {path}: {error}") from None


def _changed(paths: list[Path], gradebook: Gradebook | None, seed: int,
             progress: Progress, version: str = __version__) -> tuple[list[Path], list[str]]:
    """(the paths to grade, the names skipped): a submission the gradebook holds with the same
    content, seed and grader version (with the points policy's digest) is skipped."""
    from grader.batch.submissions import prepare

    todo: list[Path] = []
    skipped: list[str] = []
    for path in paths:
        if gradebook is not None:
            try:
                prepared = prepare(path)
                current = gradebook.is_current(prepared.name, prepared.content_hash, seed,
                                               version)
                prepared.cleanup()
            except Exception:  # noqa: BLE001 - unreadable: let grading report it
                current = False
            if current:
                skipped.append(submission_name(path))
                progress.update(None, submission_name(path), skipped=True)
                continue
        todo.append(path)
    return todo, skipped


class _Recorder:
    """Where each finished submission goes: the results list, the gradebook (one transaction
    a signal waits for), the feedback folder and the progress line."""

    def __init__(self, run: Run, options: GradeOptions, gradebook: Gradebook | None,
                 progress: Progress, class_list: ClassList | None = None):
        self.run, self.options, self.gradebook, self.progress = run, options, gradebook, progress
        self.class_list = class_list or ClassList([], None)
        self.results: list[SubmissionResult] = []
        self.reference: dict = {}
        self.policy = Policy.from_settings(options.settings)
        if options.feedback:  # the reference's gradient flow, drawn beside each student's
            from grader.batch.measure import reference_flow
            from grader.student.loader import reference_functions

            self.reference = reference_flow(reference_functions())

    def finish(self, result: SubmissionResult) -> None:
        self.run.begin_recording()  # a signal now waits for the transaction (end_recording)
        try:
            result = self.class_list.recorded(result)
            result = self.policy.score(result)  # grader.toml's [points] and [parts]
            self.results.append(result)
            self.run.graded += 1
            if self.gradebook is not None:
                self.gradebook.record(result)
                self.class_list.record_origin(self.gradebook, result.name)
                self.run.recorded += 1
            if self.options.feedback:
                from grader.batch.report import write_feedback

                write_feedback(result, Path(self.options.feedback), self.reference)
            self.progress.update(result, result.name)
        finally:
            self.run.end_recording()


def _grade_all(run: Run, todo: list[Path], options: GradeOptions,
               finish: Callable[[SubmissionResult], None]) -> None:
    """Grade ``todo``, each result to ``finish`` exactly once."""
    seed, limits = options.settings.seed, options.settings.limits()
    measure = bool(options.feedback)  # the gradient-flow measurement only feeds the feedback
    workers = max(1, min(options.workers, len(todo))) if todo else 1
    run.total = len(todo)
    if workers == 1:
        for path in todo:
            try:
                result = grade_submission(path, seed, limits, options.sandbox, measure)
            except Exception as error:  # noqa: BLE001 - one submission never stops the batch
                result = judge_failed(path, seed, f"{type(error).__name__}: {error}")
            finish(result)
    else:
        # Judges in separate processes: each drives its own sandboxed workers, and dies with
        # this process (tie_to_parent), taking its templates and workers along.
        grade_pooled(run, todo, workers, (seed, limits, options.sandbox, measure), finish)


def similar_pairs(paths: list[Path]) -> list[tuple[str, str, float, str]]:
    """The pairs of submissions sharing their own code (``batch.similarity``), for the class
    report; none, with a note, where copydetect is not installed."""
    try:
        from grader.batch.similarity import compare_class
    except ModuleNotFoundError:
        print("note: copydetect is not installed: the class report lists no similar pairs",
              file=sys.stderr)
        return []
    try:
        result = compare_class(paths, progress=len(paths) >= 20 and sys.stderr.isatty())
    except ModuleNotFoundError:
        print("note: copydetect is not installed: the class report lists no similar pairs",
              file=sys.stderr)
        return []
    return [(pair.a, pair.b, pair.score, pair.where()) for pair in result.pairs]


def _report(options: GradeOptions, results: list[SubmissionResult], skipped: list[str],
            gradebook: Gradebook | None, class_list: ClassList | None = None,
            similar: list[tuple[str, str, float, str]] | None = None) -> None:
    """Print the score table and write the exports asked for; ``similar``: the pairs the class
    report lists."""
    from grader.batch.report import score_table, write_results_json

    if options.results:
        write_results_json(results[0], Path(options.results))
    results.sort(key=lambda r: r.name)
    if results:
        print(shown(score_table(results), keep="\n"))
    if skipped:
        print(f"{len(skipped)} unchanged submission(s) skipped (already in the gradebook)")
    if gradebook is not None:
        if options.csv:
            from grader.batch.exports import ExportOptions, export

            students = class_list.students if class_list is not None else None
            path, said = export(gradebook, Path(options.csv), ExportOptions(
                policy=Policy.from_settings(options.settings)), students=students)
            for line in said:
                print(shown(line))
            print(f"grades: {path}")
        if options.summary:
            from grader.batch.class_report import analyse, write_reports

            students = class_list.students if class_list is not None else None
            written = write_reports(analyse(gradebook, feedback=options.feedback,
                                            policy=Policy.from_settings(options.settings),
                                            similar_pairs=similar or (), students=students),
                                    Path(options.summary))
            print(f"class report: {written['html']} (and {written['markdown'].name} "
                  "for a terminal)")
        if options.gradebook is not None:
            print(f"gradebook: {gradebook.path}")
        gradebook.close()
    if options.feedback:
        print(f"feedback: {options.feedback} (which file is whose: "
              f"{options.feedback}/index.csv)")
    if options.results:
        print(f"results.json: {options.results}")
