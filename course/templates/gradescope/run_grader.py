"""Grade the one submission in ``<root>/submission``; always leave ``<root>/results/results.json``.

Started by ``run_autograder`` with the grader on ``PYTHONPATH``. Gradescope gives every submission
a fresh container, so this grades exactly one submission, with one judge process.

It never imports or runs anything from the submission: it only looks at file names to decide what
to hand to ``python -m grader grade`` (the folder of modules, the notebook or a zip), and the
grader runs the student's code in its sandboxed workers. Whatever goes wrong (nothing gradable,
a grader crash, a timeout) ends in a results.json with a score of 0 and a message saying why; the
details go to standard output, which Gradescope shows to instructors.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# Gradescope's default limit for a whole run is 10 minutes; past it nothing is shown at all, so the
# grader is stopped well before: the grader's own budget plus room for starting its workers.
EXTRA_SECONDS = 240.0
# Only when the grader cannot read grader.toml (then the grader run fails at once anyway).
FALLBACK_SUBMISSION_SECONDS = 120.0
ASK_INSTRUCTOR = ("This is not caused by your code: please tell your instructor, who can see the "
                  "details.")


def exercise_modules() -> tuple[str, ...]:
    """The module names a submission must provide (from the grader, which knows them)."""
    from grader.spec.api import MODULES

    return tuple(MODULES)


def _holds_modules(folder: Path, modules: tuple[str, ...]) -> bool:
    return any((folder / f"{name}.py").is_file() for name in modules)


def choose_submission(folder: Path, modules: tuple[str, ...]) -> tuple[Path | None, str]:
    """What to grade in Gradescope's submission folder, or None and the reason.

    Students upload the modules (Gradescope unpacks an uploaded zip, keeping its folders), the
    notebook, or a zip. Modules win over a notebook uploaded beside them.
    """
    if not folder.is_dir():
        return None, f"{folder} does not exist"
    if _holds_modules(folder, modules) or _holds_modules(folder / "exercises", modules):
        return folder, ""
    visible = [p for p in sorted(folder.rglob("*"))
               if not any(part.startswith((".", "__")) for part in p.relative_to(folder).parts)]
    module_dirs = sorted({p.parent for p in visible
                          if p.suffix == ".py" and p.stem in modules
                          and len(p.relative_to(folder).parts) <= 3})
    notebooks = [p for p in visible if p.suffix == ".ipynb"]
    zips = [p for p in visible if p.suffix == ".zip"]
    for found in (module_dirs, notebooks, zips):
        if len(found) == 1:
            return found[0], ""
    names = [str(p.relative_to(folder)) for p in visible if p.is_file()]
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    expected = ", ".join(f"{name}.py" for name in modules)
    if len(module_dirs) > 1 or len(notebooks) > 1:
        problem = "several copies of the exercises were uploaded; upload exactly one"
    else:
        problem = "no exercise modules or notebook were found"
    return None, (f"Your submission was not graded: {problem}. Upload {expected} (or a zip of "
                  f"your exercises folder), or your notebook (.ipynb). Files received: "
                  f"{shown or 'none'}.")


def failure_results(message: str, seconds: float) -> dict:
    """results.json for a submission the grader did not grade: every check at 0, with why."""
    tests: list[dict] = []
    try:  # the grader's own format, so these tests look like a normal run's
        from grader import __version__
        from grader.batch.report import gradescope_results
        from grader.batch.results import SubmissionResult
        from grader.checking.judge import CheckResult
        from grader.checking.trial import REGISTRY

        checks = [CheckResult(name=c.name, title=c.title, max_score=c.points, score=0,
                              passed=False, feedback=message, tags=c.tags)
                  for c in REGISTRY.values()]
        result = SubmissionResult(
            name="submission", source="", content_hash="", seed=0, grader_version=__version__,
            score=0, max_score=sum(c.points for c in REGISTRY.values()), checks=checks,
            sandbox="none", seconds=round(seconds, 3), error=None)
        tests = gradescope_results(result)["tests"]
    except Exception as error:  # noqa: BLE001 - the grader may be what is broken
        print(f"run_grader: could not list the checks: {error!r}")
    return {"score": 0, "execution_time": round(seconds, 3), "output": message, "tests": tests}


def valid_results(path: Path) -> bool:
    """True when ``path`` holds a results.json Gradescope can show (a score and a test list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(data, dict) and isinstance(data.get("score"), int | float)
            and isinstance(data.get("tests"), list))


def grading_timeout(config: Path) -> float:
    """Seconds the grader may take: VG_TIMEOUT, else the config's budget plus start-up room."""
    if os.environ.get("VG_TIMEOUT"):
        return float(os.environ["VG_TIMEOUT"])
    try:  # the grader's own reader of grader.toml, so both agree on the budget
        from grader.settings import Settings

        budget = Settings.load(config).limits().submission_seconds
    except Exception:  # noqa: BLE001 - the grader run will report what is wrong; it fails fast
        budget = FALLBACK_SUBMISSION_SECONDS
    return budget + EXTRA_SECONDS


def run_grader(target: Path, results: Path, config: Path, timeout: float) -> tuple[int | None, str]:
    """Run ``python -m grader grade``; returns (exit status or None on timeout, its output)."""
    command = [sys.executable, "-P", "-m", "grader", "grade", str(target), "--results",
               str(results), "--config", str(config), "--workers", "1"]
    # A session of its own, so a timeout can end the judge and every worker it started.
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    root = args.root.resolve()
    results = root / "results" / "results.json"
    config = root / "source" / "grader.toml"
    results.parent.mkdir(parents=True, exist_ok=True)

    try:
        target, problem = choose_submission(root / "submission", exercise_modules())
    except Exception as error:  # noqa: BLE001 - a broken install must still give a results.json
        target, problem = None, f"The autograder failed before grading. {ASK_INSTRUCTOR}"
        print(f"run_grader: {error!r}")
    if target is None:
        print(f"run_grader: {problem}")
        message = problem
    else:
        print(f"run_grader: grading {target.relative_to(root)}")
        status, output = run_grader(target, results, config, grading_timeout(config))
        print(output, end="")
        if status == 0 and valid_results(results):
            return 0
        if status is None:
            # The grader limits every call of student code itself, so this is the grader's fault.
            message = ("Grading did not finish within the autograder's time limit, so no checks "
                       f"could be reported (score 0 for now). {ASK_INSTRUCTOR}")
        else:
            message = f"The autograder failed while grading (score 0 for now). {ASK_INSTRUCTOR}"
        print(f"run_grader: grader exit status {status}; writing a score of 0")
    results.write_text(json.dumps(failure_results(message, time.monotonic() - started),
                                  indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
