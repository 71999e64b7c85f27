"""One submission graded end to end by the CLI (goal: <= 1 s), in the sandbox and without it.

    python bench/grade_one.py [--runs 7]
"""

import argparse

from common import PYTHON, REPO, summary, time_command


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    for sample in ("correct", "buggy"):
        command = [PYTHON, "-m", "grader", "grade", str(REPO / "examples" / sample),
                   "--results", "/tmp/vg-bench-results.json"]
        print(summary(f"CLI, examples/{sample}, bubblewrap", time_command(command, runs)))
        print(summary(f"CLI, examples/{sample}, plain subprocess",
                      time_command(command + ["--no-sandbox"], runs)))


if __name__ == "__main__":
    main()
