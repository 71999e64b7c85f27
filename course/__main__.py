"""``python -m course stubs [--check]``: regenerate ``exercises/`` from ``solutions/``."""

import argparse
import sys

from . import stubs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stub_parser = commands.add_parser("stubs", help="regenerate exercises/ from solutions/")
    stub_parser.add_argument("--check", action="store_true",
                             help="only report files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    if args.command == "stubs":
        if args.check:
            stale = stubs.drift()
            for name in stale:
                print(f"exercises/{name} differs from what solutions/ generates")
            return 1 if stale else 0
        for path in stubs.write():
            print(f"wrote {path.relative_to(stubs.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
