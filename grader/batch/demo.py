"""``make demo``: grade the reference and the samples in ``examples/`` the way an instructor
grades a class, then run the experiments with the reference, and say where everything went."""

from __future__ import annotations

import sys
from pathlib import Path

from grader.batch.classroom import GradeOptions, grade_class
from grader.settings import DEFAULT_WORKERS, SOLUTIONS_DIR, Settings, SettingsError
from grader.settings import PROJECT_DIR as REPO


def run_demo(out: Path, quick: bool = False) -> int:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = [SOLUTIONS_DIR, *sorted(p for p in (REPO / "examples").iterdir() if p.is_dir())]
    print("== Grading the reference and the sample submissions in examples/ ==", flush=True)
    gradebook = out / "gradebook.sqlite"
    gradebook.unlink(missing_ok=True)
    # As `python -m grader grade` would with these options (the settings of ./grader.toml).
    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    status = grade_class(GradeOptions(
        paths=tuple(samples), settings=settings, gradebook=gradebook, csv=out / "grades.csv",
        feedback=out / "feedback", summary=out / "summary", workers=DEFAULT_WORKERS))
    if status != 0:
        return status

    print("\n== The experiments, run with the reference solutions ==", flush=True)
    from grader.student.loader import reference_functions
    from lesson.cli import main as run_lesson
    from lesson.implementation import Implementation

    run_lesson(["--out", str(out / "experiments")] + (["--quick"] if quick else []),
               Implementation.of(reference_functions()))

    print(f"""
== Where the outputs are ==
  {out / 'feedback'}/<name>.md        feedback per submission, with its gradient-flow plot
  {out / 'grades.csv'}                  grades, one row per submission
  {out / 'gradebook.sqlite'}            the gradebook (one row per submission x check)
  {out / 'summary' / 'summary.md'}      class summary and score histogram
  {out / 'experiments'}/                gradient flow, layer speed and training plots
""")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo(Path("out/demo")))
