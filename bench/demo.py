"""Wall time of ``make demo`` (grade the reference and the samples in examples/, then run the
experiments with the reference): the median of N runs, and the median of each stage's share.

    python bench/demo.py [--runs 3]

Runs ``python -m grader demo`` into a fresh folder each time (what ``make demo`` runs once the
environment exists), so the gradebook and the plots are really written. On a shared machine the
figure depends on the load: the load average is printed with it.
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

from common import PYTHON, REPO, summary

# The experiments print "[step: 1.2 s]" after each step; the rest of a run is grading.
STEP = re.compile(r"^\[(\w+): ([0-9.]+) s\]$", re.MULTILINE)


def timed_runs(runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds of each whole run, and of each run's experiment steps together."""
    totals: list[float] = []
    experiments: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            done = subprocess.run([PYTHON, "-m", "grader", "demo", "--out", out], cwd=REPO,
                                  check=True, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
            totals.append(time.perf_counter() - started)
        experiments.append(sum(float(s) for _, s in STEP.findall(done.stdout)))
    return totals, experiments


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    load = os.getloadavg()[0]
    totals, experiments = timed_runs(runs)
    print(summary("make demo (python -m grader demo)", totals))
    rest = statistics.median(totals) - statistics.median(experiments)
    print(f"  of which the experiments' steps (median): {statistics.median(experiments):.1f} s; "
          f"grading and start-up: {rest:.1f} s")
    print(f"  load average at the start: {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
