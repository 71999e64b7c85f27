"""A class of 200 submissions graded on 2 workers (goal: >= 5 submissions/s).

The class mixes the samples and the corpus (correct variants and one-bug submissions), so the
re-runs with reference stand-ins that buggy work triggers are part of the cost.

    python bench/batch.py [--size 200] [--workers 2] [--runs 3]
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, REPO

sys.path.insert(0, str(REPO))
from tests.corpus.build import build_submission, load_entries  # noqa: E402


def make_class(folder: Path, size: int) -> None:
    sources: list = [("example", REPO / "examples" / name)
                     for name in ("correct", "buggy", "half_done")]
    sources += [("entry", entry) for entry in load_entries()]
    for index in range(size):
        kind, source = sources[index % len(sources)]
        target = folder / f"student{index:03d}"
        if kind == "example":
            shutil.copytree(source, target)
        else:
            build_submission(source, target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        make_class(folder, args.size)
        rates = []
        for run in range(args.runs):
            book = Path(tmp) / f"book{run}.sqlite"
            started = time.perf_counter()
            subprocess.run([PYTHON, "-m", "grader", "grade", str(folder), "--gradebook",
                            str(book), "--workers", str(args.workers)], cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
            rates.append(args.size / seconds)
            print(f"run {run + 1}: {args.size} submissions in {seconds:.1f} s "
                  f"= {rates[-1]:.2f} submissions/s")
        print(f"batch of {args.size} on {args.workers} workers: median "
              f"{statistics.median(rates):.2f} submissions/s")


if __name__ == "__main__":
    main()
