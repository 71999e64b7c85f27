"""Our grader against ``nbgrader autograde`` on the same completed notebook, side by side.

Both grade the same completed notebooks in one run, interleaved: one submission at a time
(median of several), then a batch (default 50). nbgrader executes every cell of the notebook in
a Jupyter kernel (its quick-mode experiments included); ours extracts the graded functions and
runs the checks with the student code in sandboxed workers.

    python bench/vs_nbgrader.py [--runs 5] [--batch 50]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import PYTHON, REPO

ASSIGNMENT = "vanishing_gradients"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
BIN = Path(PYTHON).parent


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])  # nbgrader calls alembic
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=environment(), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def completed_notebook(course: Path) -> dict:
    """The released notebook with the instructor's solution cells put back (a perfect student)."""
    release = json.loads((course / "release" / ASSIGNMENT / NOTEBOOK).read_text())
    source = json.loads((course / "source" / ASSIGNMENT / NOTEBOOK).read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in release["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["metadata"].get("nbgrader", {}).get("solution") and grade_id in answers:
            cell["source"] = answers[grade_id]
    return release


def submit(course: Path, student: str, notebook: dict, loose: Path) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NOTEBOOK).write_text(json.dumps(notebook))
    (folder / "timestamp.txt").write_text("2026-01-05 09:00:00.000000 UTC")
    (loose / f"{student}.ipynb").write_text(json.dumps(notebook))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    nbgrader = [str(BIN / "nbgrader")]
    with tempfile.TemporaryDirectory() as tmp:
        course, loose = Path(tmp) / "course", Path(tmp) / "notebooks"
        loose.mkdir()
        subprocess.run([PYTHON, "-m", "course", "nbgrader", str(course)], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        run(nbgrader + ["generate_assignment", ASSIGNMENT], course)
        notebook = completed_notebook(course)
        submit(course, "solo", notebook, loose)

        ours, theirs = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            theirs.append(run(nbgrader + ["autograde", ASSIGNMENT, "--student", "solo",
                                          "--force"], course))
            ours.append(run([PYTHON, "-m", "grader", "grade", str(loose / "solo.ipynb"),
                             "--results", str(Path(tmp) / "results.json")], REPO))
        score = json.loads((Path(tmp) / "results.json").read_text())["score"]
        print(f"one notebook: nbgrader autograde median {statistics.median(theirs):.2f} s, "
              f"our grader median {statistics.median(ours):.2f} s "
              f"(ratio {statistics.median(theirs) / statistics.median(ours):.1f}x; "
              f"{args.runs} interleaved runs; our score {score}/50)")

        shutil.rmtree(course / "submitted")
        for path in loose.glob("*.ipynb"):
            path.unlink()
        for index in range(args.batch):
            submit(course, f"s{index:03d}", notebook, loose)
        batch_theirs = run(nbgrader + ["autograde", ASSIGNMENT, "--force"], course)
        batch_ours = run([PYTHON, "-m", "grader", "grade", str(loose), "--workers", "2",
                          "--gradebook", str(Path(tmp) / "book.sqlite")], REPO)
        print(f"batch of {args.batch}: nbgrader autograde {batch_theirs:.1f} s "
              f"({batch_theirs / args.batch:.2f} s each), our grader with 2 workers "
              f"{batch_ours:.1f} s ({batch_ours / args.batch:.2f} s each); "
              f"ratio {batch_theirs / batch_ours:.1f}x")


if __name__ == "__main__":
    main()
