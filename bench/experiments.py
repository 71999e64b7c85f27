"""Wall time of the experiments students run (goal: at most 30 s on 2 cores), full and --quick,
on the reference solutions, with the median time of each step as the run prints it.

    python bench/experiments.py [--runs 3]

``python -m exercises.experiments`` runs the same code on the student's package; the reference
stands in for a finished one (the lesson's cost is the calls of those functions).
"""

import argparse
import re
import resource
import statistics
import subprocess
import tempfile
import time

from common import PYTHON, REPO, summary

STEP = re.compile(r"^\[(\w+): ([0-9.]+) s\]$", re.MULTILINE)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_runs(extra: list[str], runs: int,
               cpu: list[float] | None = None) -> tuple[list[float], dict[str, list[float]]]:
    """Wall seconds of each run, and each step's own printed seconds per run; ``cpu``, if
    given, receives each run's CPU seconds (user + system), which a busy machine inflates far
    less than the wall time."""
    totals: list[float] = []
    steps: dict[str, list[float]] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            cpu_before = _children_cpu()
            started = time.perf_counter()
            done = subprocess.run([PYTHON, "-m", "lesson", "--on", "solutions", "--out", out,
                                   *extra], cwd=REPO, check=True, capture_output=True,
                                  text=True)
            totals.append(time.perf_counter() - started)
            if cpu is not None:
                cpu.append(_children_cpu() - cpu_before)
        for name, seconds in STEP.findall(done.stdout):
            steps.setdefault(name, []).append(float(seconds))
    return totals, steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for label, extra in (("experiments, full size", []), ("experiments, --quick", ["--quick"])):
        cpu: list[float] = []
        totals, steps = timed_runs(extra, runs, cpu)
        print(summary(label, totals))
        print(f"  CPU time: median {statistics.median(cpu):.1f} s")
        print("  steps (median): " + ", ".join(
            f"{name} {statistics.median(values):.1f} s" for name, values in steps.items()))


if __name__ == "__main__":
    main()
