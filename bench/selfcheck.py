"""Wall time of the student's self-check (goal: under 3 s), reference and stubs.

    python bench/selfcheck.py [--runs 7]
"""

import argparse

from common import PYTHON, summary, time_command


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    base = [PYTHON, "-m", "pytest", "grader/selfcheck.py", "-q", "-p", "no:cacheprovider"]
    print(summary("self-check, reference solutions", time_command(
        base + ["--submission", "solutions"], runs)))
    # The stubs fail every test, so pytest exits 1: time it through a shell that ignores that.
    print(summary("self-check, untouched stubs", time_command(
        ["sh", "-c", " ".join(base) + " >/dev/null; true"], runs)))


if __name__ == "__main__":
    main()
