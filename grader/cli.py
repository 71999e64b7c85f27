"""Command line: ``python -m grader record`` and ``python -m grader grade PATH...``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("record", help="record the public self-check's expected values")
    args = parser.parse_args(argv)
    if args.command == "record":
        from .public import record

        print(f"wrote {record()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
