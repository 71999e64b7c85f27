"""Wall time of the experiments students run (goal: at most 30 s on 2 cores), full and --quick,
on the reference solutions, with the median time of each step as the run prints it.

    python bench/experiments.py [--runs 3]

``python -m exercises.experiments`` runs the same code on the student's package; the reference
stands in for a finished one (the lesson's cost is the calls of those functions).
"""

import argparse
import re
import statistics
import subprocess
import tempfile
import time

from common import PYTHON, REPO, summary

STEP = re.compile(r"^\[(\w+): ([0-9.]+) s\]$", re.MULTILINE)


def timed_runs(extra: list[str], runs: int) -> tuple[list[float], dict[str, list[float]]]:
    """Wall seconds of each run, and each step's own printed seconds per run."""
    totals: list[float] = []
    steps: dict[str, list[float]] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            done = subprocess.run([PYTHON, "-m", "lesson", "--on", "solutions", "--out", out,
                                   *extra], cwd=REPO, check=True, capture_output=True,
                                  text=True)
            totals.append(time.perf_counter() - started)
        for name, seconds in STEP.findall(done.stdout):
            steps.setdefault(name, []).append(float(seconds))
    return totals, steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for label, extra in (("experiments, full size", []), ("experiments, --quick", ["--quick"])):
        totals, steps = timed_runs(extra, runs)
        print(summary(label, totals))
        print("  steps (median): " + ", ".join(
            f"{name} {statistics.median(values):.1f} s" for name, values in steps.items()))


if __name__ == "__main__":
    main()
