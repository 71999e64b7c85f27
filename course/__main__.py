"""``python -m course COMMAND``: build what students and courses get from ``solutions/``.

Each command lives in its own module, which provides ``register(subparsers)`` (adding its
sub-parser with ``set_defaults(run=...)``).
"""

import argparse
import importlib
import sys

COMMAND_MODULES = ("stubs", "notebook", "lesson_md", "nbgrader_course", "gradescope", "release",
                   "measured")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"course.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"course.{name}":
                raise
            continue
        module.register(commands)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
