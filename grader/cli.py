"""Command line of the grader.

    python -m grader grade PATH... [--results FILE] [--feedback DIR] [--gradebook FILE]
                                   [--csv FILE] [--summary DIR] [--workers N] [--seed S]
                                   [--config FILE] [--shard I/N] [--no-sandbox]
                                   [--roster CSV] [--layout canvas|moodle|folders]
    python -m grader export GRADEBOOK --csv FILE [--format plain|canvas|moodle] [--roster CSV]
                                   [--present-only CLASS_DIR] [--assignment NAME] ...
    python -m grader override GRADEBOOK STUDENT SCORE --reason TEXT  # or --clear
    python -m grader written PATH... --out DIR   # the written answers, one file per question
    python -m grader manual GRADEBOOK scores.csv  # the marks of the written answers
    python -m grader merge TARGET SHARD... [--roster CSV] # combine the gradebooks of --shard runs
    python -m grader report GRADEBOOK --out DIR [--feedback DIR] [--pass-mark F]
    python -m grader prune GRADEBOOK CLASS_DIR [--dry-run] # remove rows whose submission is gone
    python -m grader record          # instructors: re-record the public self-check's answers
    python -m grader demo [--out DIR]
    python -m grader similar CLASS... [--threshold 0.8] [--out FILE.csv]  # similar pairs

A PATH is one submission (a folder of modules, a .zip of one, or the notebook .ipynb); several
PATHs, or a folder of submission folders, make a batch. The exit status is 0 whenever grading
itself worked, however the students did. The instructor's settings (grader.toml) are described
in docs/settings.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.settings import CONFIG_NAME, DEFAULT_SEED, DEFAULT_WORKERS, Settings, SettingsError

if TYPE_CHECKING:
    from grader.batch.roster import Student

# Choices of the options, spelled here so that parsing imports nothing heavy.
LAYOUTS = ("canvas", "moodle", "folders")
FORMATS = ("plain", "canvas", "moodle")
DEFAULT_ASSIGNMENT = "Vanishing gradients"

# This module only parses arguments; each command imports what it runs when it runs, so that
# ``export`` or ``merge`` never load the judge or the sandbox.


def _no_gradebook(path: Path) -> bool:
    """True, after saying so, when ``path`` is no gradebook (opening it would make an empty
    one, and a typo would then export or report nothing without a word)."""
    if path.is_file():
        return False
    print(f"{path}: no such gradebook", file=sys.stderr)
    return True


def _policy(config: Path | None, gradebook: Path | None = None):
    """The points policy for ``export``/``report``, or None after printing why not: that of
    ``config`` (or ./grader.toml); with neither, the one ``grade`` stored in ``gradebook``
    (said on stderr), so forgetting --config never drops the late policy silently. A given
    policy that differs from the stored one wins, and that is said too."""
    from grader.batch.gradebook import Gradebook
    from grader.batch.policy import Policy, policy_text, stored_settings

    try:
        settings = Settings.load(config)
        stored = None
        if gradebook is not None:
            with Gradebook(gradebook) as book:
                stored = book.policy()
        if stored is None:
            return Policy.from_settings(settings)
        if settings.source is None:  # no --config and no ./grader.toml
            if stored != policy_text(settings):
                print("late policy: as graded (stored in the gradebook)", file=sys.stderr)
            return Policy.from_settings(stored_settings(stored))
        if stored != policy_text(settings):
            print(f"note: the policy of {settings.source} differs from the one the class was "
                  f"graded with (stored in the gradebook); {settings.source}'s applies",
                  file=sys.stderr)
        return Policy.from_settings(settings)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _shard(text: str) -> str:
    from grader.batch.shards import parse_shard

    try:
        parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def grade(args: argparse.Namespace) -> int:
    """``grade``: the settings, then ``batch.classroom.grade_class``."""
    try:
        settings = Settings.load(args.config).with_seed(args.seed)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from grader.batch.classroom import GradeOptions, grade_class
    from grader.batch.policy import Policy, parse_moment, read_times

    try:
        Policy.from_settings(settings)  # an unknown check in [points]: before any grading
        submitted_at = (parse_moment(args.submitted_at, "--submitted-at")
                        if args.submitted_at else None)
        times = read_times(args.times) if args.times else None
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.manual is not None and not args.manual.is_file():
        print(f"error: {args.manual}: no such file", file=sys.stderr)
        return 2
    return grade_class(GradeOptions(
        paths=tuple(args.paths), settings=settings, results=args.results,
        feedback=args.feedback, gradebook=args.gradebook, csv=args.csv, summary=args.summary,
        workers=args.workers, shard=args.shard, sandbox=False if args.no_sandbox else None,
        submitted_at=submitted_at, times=times, manual=args.manual,
        roster=args.roster, layout=args.layout))


def override(args: argparse.Namespace) -> int:
    """``override``: set (or --clear) a student's total by hand, with the reason."""
    from grader.batch.gradebook import Gradebook

    if _no_gradebook(args.gradebook):
        return 2
    with Gradebook(args.gradebook) as gradebook:
        names = {name for name, _, _ in gradebook.scores()}
        if args.student not in names:
            print(f"error: unknown student {args.student!r} (not in {args.gradebook})",
                  file=sys.stderr)
            return 2
        if args.clear:
            had = gradebook.clear_override(args.student)
            print(f"{args.student}: override cleared" if had
                  else f"{args.student}: had no override")
            return 0
        if args.score is None or not args.reason or not args.reason.strip():
            print("error: give SCORE and --reason TEXT (or --clear)", file=sys.stderr)
            return 2
        if not (args.score >= 0 and args.score < float("inf")):
            print(f"error: SCORE must be a number 0 or more, got {args.score}", file=sys.stderr)
            return 2
        gradebook.set_override(args.student, args.score, args.reason.strip())
        print(f"{args.student}: total set to {args.score:g} ({args.reason.strip()})")
    return 0


def written(args: argparse.Namespace) -> int:
    """``written``: collect the written answers of a class, one file per question."""
    from grader.batch.identity import BatchRefused
    from grader.batch.written import collect

    absent = [str(p) for p in args.paths if not p.exists()]
    if absent:
        print(f"error: no such file or folder: {', '.join(absent)}", file=sys.stderr)
        return 2
    try:
        report = collect(list(args.paths), args.out, layout=args.layout)
    except BatchRefused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def manual(args: argparse.Namespace) -> int:
    """``manual``: the marks of scores.csv into the gradebook."""
    from grader.batch.gradebook import Gradebook
    from grader.batch.written import ManualError, import_manual

    if _no_gradebook(args.gradebook):
        return 2
    with Gradebook(args.gradebook) as gradebook:
        try:
            print(import_manual(gradebook, args.scores))
        except ManualError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


def _read_roster(path: Path | None) -> tuple[list[Student] | None, int]:
    """(the roster's students or None, 0), or (None, 2) after printing why it is refused."""
    if path is None:
        return None, 0
    from grader.batch.roster import RosterError, read_roster

    try:
        return read_roster(path), 0
    except RosterError as error:
        print(f"error: --roster {_visible(str(error))}", file=sys.stderr)
        return None, 2


def _visible(text: str) -> str:
    from grader.batch.identity import visible

    return visible(text)


def _present(folder: Path, layout: str | None,
             students: list[Student] | None) -> frozenset[str]:
    """The identities a class folder holds now (``batch.lms.discover``); BatchRefused when it
    cannot be read."""
    from grader.batch.lms import discover
    from grader.batch.roster import user_ids

    known = user_ids(students) if students else set()
    found, _ = discover([folder], layout, known)
    return frozenset(f.identity for f in found)


def export(args: argparse.Namespace) -> int:
    """``export``: the gradebook as CSV (plain, Canvas's or Moodle's import format)."""
    from grader.batch.exports import ExportOptions
    from grader.batch.exports import export as write
    from grader.batch.gradebook import Gradebook
    from grader.batch.identity import BatchRefused
    from grader.batch.roster import RosterError

    if _no_gradebook(args.gradebook):
        return 2
    students, status = _read_roster(args.roster)
    if status:
        return status
    present = None
    if args.present_only is not None:
        if not args.present_only.is_dir():
            print(f"--present-only {args.present_only}: no such class folder", file=sys.stderr)
            return 2
        try:
            present = _present(args.present_only, args.layout, students)
        except BatchRefused as refusal:
            print(_visible(str(refusal)), file=sys.stderr)
            return 2
    policy = _policy(args.config, args.gradebook)
    if policy is None:
        return 2
    options = ExportOptions(format=args.format, assignment=args.assignment,
                            assignment_id=args.assignment_id or "", identifier=args.identifier,
                            feedback=args.feedback_column, present=present, policy=policy)
    with Gradebook(args.gradebook) as gradebook:
        try:
            path, said = write(gradebook, args.csv, options, students)
        except RosterError as error:
            print(f"error: --roster: {_visible(str(error))}", file=sys.stderr)
            return 2
        if present is not None:
            left = len(gradebook.names()) - len(present & set(gradebook.names()))
            said.append(f"{left} submission(s) of the gradebook left out: not in "
                        f"{args.present_only} (--present-only)")
    for line in said:
        print(_visible(line), file=sys.stderr)
    print(path)
    return 0


def prune(args: argparse.Namespace) -> int:
    """``prune``: remove the gradebook rows whose submission is no longer in the class folder."""
    from grader.batch.gradebook import Gradebook
    from grader.batch.identity import BatchRefused

    if _no_gradebook(args.gradebook):
        return 2
    if not args.class_dir.is_dir():
        print(f"{args.class_dir}: no such class folder", file=sys.stderr)
        return 2
    try:
        present = _present(args.class_dir, args.layout, None)
    except BatchRefused as refusal:
        print(_visible(str(refusal)), file=sys.stderr)
        return 2
    with Gradebook(args.gradebook) as gradebook:
        gone = gradebook.prune(present, dry_run=args.dry_run)
        left = len(gradebook.names()) - (len(gone) if args.dry_run else 0)
    verb = "would remove" if args.dry_run else "removed"
    for name in gone:
        print(f"{verb}: {_visible(name)}")
    print(f"{verb} {len(gone)} submission(s) no longer in {args.class_dir}; "
          f"{left} left in the gradebook" + (" (dry run: nothing changed)" if args.dry_run
                                             else ""))
    return 0


def merge(args: argparse.Namespace) -> int:
    """``merge``: shard gradebooks into one (with ``--roster``: who is in it, who is not)."""
    from grader.batch.gradebook import Gradebook

    students, status = _read_roster(args.roster)
    if status:
        return status

    with Gradebook(args.target) as gradebook:
        for shard in args.shards:
            if not shard.is_file():
                print(f"{shard}: no such gradebook", file=sys.stderr)
                return 2
            copied, kept = gradebook.merge_from(shard)
            gradebook.merge_policy_from(shard)  # submission times, marks, overrides
            print(f"{shard}: {copied} submission(s) merged, {kept} newer already present")
        print(f"{len(gradebook.scores())} submission(s) in {args.target}")
        if students is not None:
            from grader.batch.exports import candidates
            from grader.batch.roster import RosterError, describe, match

            try:
                matching = match(students, candidates(gradebook))
            except RosterError as error:
                print(f"error: --roster: {_visible(str(error))}", file=sys.stderr)
                return 2
            for line in describe(matching, len(students)):
                print(_visible(line))
    return 0


def record(args: argparse.Namespace) -> int:
    """``record``: the public self-check's expected values."""
    from grader.public.engine import record as record_expected

    print(f"wrote {record_expected()}")
    return 0


def report(args: argparse.Namespace) -> int:
    """``report``: the class report (HTML and Markdown) from a gradebook."""
    from grader.batch.class_report import analyse, write_reports
    from grader.batch.gradebook import Gradebook

    if _no_gradebook(args.gradebook):
        return 2
    students, status = _read_roster(args.roster)
    if status:
        return status
    policy = _policy(args.config, args.gradebook)
    if policy is None:
        return 2
    with Gradebook(args.gradebook) as gradebook:
        analysis = analyse(gradebook, pass_mark=args.pass_mark, feedback=args.feedback,
                           policy=policy, students=students)
        written = write_reports(analysis, args.out)
    print(f"class report: {written['html']} (and {written['markdown'].name} for a terminal)")
    return 0


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: give a fraction of the maximum, 0 to 1")
    return value


def demo(args: argparse.Namespace) -> int:
    """``demo``: grade the samples, run the experiments."""
    from grader.batch.demo import run_demo

    return run_demo(args.out, quick=args.quick)


def _roster_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--roster", type=Path, metavar="CSV",
                         help="class roster: id, name, email, submission columns (see "
                         "grader/batch/roster.py)")


def _layout_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--layout", choices=LAYOUTS,
                         help="how class folders are laid out (default: detected): an unpacked "
                         "Canvas or Moodle download, or a folder/.zip/.ipynb per student")
def similar(args: argparse.Namespace) -> int:
    """``similar``: pairs of submissions sharing their own code (``batch.similarity``)."""
    from grader.batch.similarity import run

    return run(args.paths, args.threshold, args.out)


def parser() -> argparse.ArgumentParser:
    """The argument parser; each sub-command's ``run`` is the function above that does it."""
    top = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)

    command = commands.add_parser("grade", help="grade one submission or a batch")
    command.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    command.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    command.add_argument("--feedback", type=Path,
                         help="write Markdown feedback into this folder")
    command.add_argument("--gradebook", type=Path, help="SQLite gradebook (resumes, skips "
                         "unchanged submissions)")
    command.add_argument("--csv", type=Path, help="export the gradebook as CSV")
    command.add_argument("--summary", type=Path, help="write the class report (report.html, "
                         "summary.md) into this folder")
    command.add_argument("--workers", type=_at_least_one, default=DEFAULT_WORKERS,
                         help="submissions graded in parallel (default: 2 or the CPU count)")
    command.add_argument("--seed", type=int, help="grading seed (hidden inputs); default: "
                         f"{CONFIG_NAME} or {DEFAULT_SEED}")
    command.add_argument("--config", type=Path,
                         help=f"instructor settings (default ./{CONFIG_NAME})")
    command.add_argument("--shard", type=_shard, help="grade only shard I of N (I/N, 1-based)")
    command.add_argument("--no-sandbox", action="store_true",
                         help="run student code in a plain subprocess even if bubblewrap works")
    command.add_argument("--submitted-at", metavar="TIME",
                         help="when these submissions were handed in (ISO 8601 with offset); "
                         "default: each file's modification time")
    command.add_argument("--times", type=Path, metavar="CSV", help="submission times: a CSV "
                         "with student and submitted_at columns (kept in the gradebook)")
    command.add_argument("--manual", type=Path, metavar="CSV",
                         help="marks of the written answers (scores.csv of `written`)")
    _roster_options(command)
    _layout_option(command)
    command.set_defaults(run=grade)

    command = commands.add_parser("override", help="set a student's total by hand, with a reason")
    command.add_argument("gradebook", type=Path)
    command.add_argument("student")
    command.add_argument("score", type=float, nargs="?")
    command.add_argument("--reason", help="why (shown with the total in every export)")
    command.add_argument("--clear", action="store_true", help="remove the override")
    command.set_defaults(run=override)

    command = commands.add_parser("written", help="collect the written answers for marking")
    command.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    command.add_argument("--out", type=Path, required=True,
                         help="folder for <question>.md and scores.csv")
    _layout_option(command)
    command.set_defaults(run=written)

    command = commands.add_parser("manual", help="record the marks of the written answers")
    command.add_argument("gradebook", type=Path)
    command.add_argument("scores", type=Path, help="scores.csv (student, question, points, max)")
    command.set_defaults(run=manual)

    command = commands.add_parser("export", help="export a gradebook as CSV (plain, Canvas or "
                                  "Moodle import format)")
    command.add_argument("gradebook", type=Path)
    command.add_argument("--csv", type=Path, required=True, help="the CSV file to write")
    command.add_argument("--format", choices=FORMATS, default="plain",
                         help="plain (default), canvas (Gradebook import) or moodle (grade "
                         "import)")
    _roster_options(command)
    command.add_argument("--present-only", type=Path, metavar="CLASS_DIR",
                         help="leave out submissions no longer in this class folder")
    _layout_option(command)
    command.add_argument("--assignment", default=DEFAULT_ASSIGNMENT,
                         help=f"assignment / grade item name (default {DEFAULT_ASSIGNMENT!r})")
    command.add_argument("--assignment-id", help="Canvas: the assignment's id (in its URL)")
    command.add_argument("--identifier", choices=("email", "idnumber"), default="email",
                         help="Moodle: identify users by email (default) or ID number")
    command.add_argument("--feedback-column", action="store_true",
                         help="Moodle: add a Feedback column")
    command.add_argument("--config", type=Path,
                         help=f"instructor settings: the late policy (default ./{CONFIG_NAME})")
    command.set_defaults(run=export)

    command = commands.add_parser("merge", help="combine shard gradebooks into one")
    command.add_argument("target", type=Path, help="gradebook to merge into (created if needed)")
    command.add_argument("shards", type=Path, nargs="+",
                         help="gradebooks written by --shard runs")
    _roster_options(command)
    command.set_defaults(run=merge)

    command = commands.add_parser("report", help="the class report (HTML) from a gradebook")
    command.add_argument("gradebook", type=Path)
    command.add_argument("--out", type=Path, required=True, help="folder for report.html")
    command.add_argument("--feedback", type=Path,
                         help="the feedback folder written by grade (links each student)")
    command.add_argument("--pass-mark", type=_fraction, default=0.5,
                         help="the share of the maximum that passes (default 0.5)")
    command.add_argument("--config", type=Path,
                         help=f"instructor settings: the late policy (default ./{CONFIG_NAME})")
    _roster_options(command)
    command.set_defaults(run=report)

    command = commands.add_parser("prune", help="remove gradebook rows whose submission is "
                                  "gone from the class folder")
    command.add_argument("gradebook", type=Path)
    command.add_argument("class_dir", type=Path, metavar="CLASS_DIR")
    command.add_argument("--dry-run", action="store_true", help="list, change nothing")
    _layout_option(command)
    command.set_defaults(run=prune)

    command = commands.add_parser("record", help="record the public self-check's expected values")
    command.set_defaults(run=record)

    command = commands.add_parser("demo",
                                  help="grade the samples in examples/ and run experiments")
    command.add_argument("--out", type=Path, default=Path("out/demo"))
    command.add_argument("--quick", action="store_true", help="short experiments")
    command.set_defaults(run=demo)

    command = commands.add_parser("similar", help="pairs of submissions that share own code")
    command.add_argument("paths", nargs="+", type=Path, metavar="CLASS",
                         help="a class folder, or submissions")
    command.add_argument("--threshold", type=float, default=0.8,
                         help="list pairs scoring at least this (0 to 1; default 0.8)")
    command.add_argument("--out", type=Path, help="also write the pairs as CSV")
    command.set_defaults(run=similar)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
