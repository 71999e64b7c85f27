"""Command line of the grader.

    python -m grader grade PATH... [--results FILE] [--feedback DIR] [--gradebook FILE]
                                   [--csv FILE] [--summary DIR] [--workers N] [--seed S]
                                   [--config FILE] [--shard I/N] [--no-sandbox]
    python -m grader export GRADEBOOK --csv FILE
    python -m grader merge TARGET SHARD... # combine the gradebooks of --shard runs
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

from grader.settings import CONFIG_NAME, DEFAULT_SEED, DEFAULT_WORKERS, Settings, SettingsError

# This module only parses arguments; each command imports what it runs when it runs, so that
# ``export`` or ``merge`` never load the judge or the sandbox.


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

    return grade_class(GradeOptions(
        paths=tuple(args.paths), settings=settings, results=args.results,
        feedback=args.feedback, gradebook=args.gradebook, csv=args.csv, summary=args.summary,
        workers=args.workers, shard=args.shard, sandbox=False if args.no_sandbox else None))


def export(args: argparse.Namespace) -> int:
    """``export``: the gradebook as CSV."""
    from grader.batch.gradebook import Gradebook

    if not args.gradebook.is_file():  # opening it would make an empty one
        print(f"{args.gradebook}: no such gradebook", file=sys.stderr)
        return 2
    with Gradebook(args.gradebook) as gradebook:
        print(gradebook.export_csv(args.csv))
    return 0


def merge(args: argparse.Namespace) -> int:
    """``merge``: shard gradebooks into one."""
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


def record(args: argparse.Namespace) -> int:
    """``record``: the public self-check's expected values."""
    from grader.public.engine import record as record_expected

    print(f"wrote {record_expected()}")
    return 0


def demo(args: argparse.Namespace) -> int:
    """``demo``: grade the samples, run the experiments."""
    from grader.batch.demo import run_demo

    return run_demo(args.out, quick=args.quick)


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
    command.add_argument("--summary", type=Path, help="write the class summary into this folder")
    command.add_argument("--workers", type=_at_least_one, default=DEFAULT_WORKERS,
                         help="submissions graded in parallel (default: 2 or the CPU count)")
    command.add_argument("--seed", type=int, help="grading seed (hidden inputs); default: "
                         f"{CONFIG_NAME} or {DEFAULT_SEED}")
    command.add_argument("--config", type=Path,
                         help=f"instructor settings (default ./{CONFIG_NAME})")
    command.add_argument("--shard", type=_shard, help="grade only shard I of N (I/N, 1-based)")
    command.add_argument("--no-sandbox", action="store_true",
                         help="run student code in a plain subprocess even if bubblewrap works")
    command.set_defaults(run=grade)

    command = commands.add_parser("export", help="export a gradebook as CSV")
    command.add_argument("gradebook", type=Path)
    command.add_argument("--csv", type=Path, required=True)
    command.set_defaults(run=export)

    command = commands.add_parser("merge", help="combine shard gradebooks into one")
    command.add_argument("target", type=Path, help="gradebook to merge into (created if needed)")
    command.add_argument("shards", type=Path, nargs="+",
                         help="gradebooks written by --shard runs")
    command.set_defaults(run=merge)

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
