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
# Written by ``python -m course gradescope`` beside grader.toml: how results.json is shown.
OPTIONS_NAME = "gradescope.json"
DEFAULT_OPTIONS = {"hidden_visibility": "after_due_date", "output_format": "simple_format"}
# The whole run must end inside Gradescope's 10 minutes; the public-input run (informative, no
# points) gets what the graded run left of this, and is skipped below a useful minimum.
RUN_BUDGET_SECONDS = 540.0
MIN_PUBLIC_SECONDS = 30.0
PUBLIC_PREFIX = "public inputs: "


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


def read_options(source: Path) -> dict:
    """The build's display options (``gradescope.json``), the defaults for any it lacks."""
    try:
        loaded = json.loads((source / OPTIONS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        loaded = {}
    return DEFAULT_OPTIONS | {k: v for k, v in loaded.items() if k in DEFAULT_OPTIONS}


def shown_as(data: dict, options: dict, public: dict | None) -> dict:
    """results.json as Gradescope shows it: the graded tests (inputs from the hidden seed) with
    the build's visibility, then, when the public-input run gave them, the same checks on the
    public inputs (the student's own self-check) as visible tests worth no points, and the
    output format on the whole and on every test."""
    form = options["output_format"]
    for test in data.get("tests", []):
        test["visibility"] = options["hidden_visibility"]
        test["output_format"] = form
    for test in (public or {}).get("tests", []):
        data["tests"].append(test | {
            "name": PUBLIC_PREFIX + test["name"], "score": 0, "max_score": 0,
            "visibility": "visible", "output_format": form,
            "tags": [*test.get("tags", []), "public"]})
    data["output_format"] = form
    data["test_output_format"] = form
    if public is None and data.get("tests"):
        data["output"] = (data.get("output", "") + "\nThe checks on the public inputs (what "
                          "the self-check runs) could not be shown this time.").strip()
    return data


def run_grader(target: Path, results: Path, config: Path, timeout: float,
               seed: int | None = None) -> tuple[int | None, str]:
    """Run ``python -m grader grade``; returns (exit status or None on timeout, its output).
    seed: instead of the config's (the public-input run)."""
    command = [sys.executable, "-P", "-m", "grader", "grade", str(target), "--results",
               str(results), "--config", str(config), "--workers", "1"]
    if seed is not None:
        command += ["--seed", str(seed)]
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


def public_results(target: Path, results: Path, config: Path, spent: float) -> dict | None:
    """The grader's results on the public inputs (the seed of the student's self-check), or
    None when there is no time left for them or the run fails (the graded results stand)."""
    from grader.checking.judge import PUBLIC_SEED

    timeout = min(grading_timeout(config), RUN_BUDGET_SECONDS - spent)
    if timeout < MIN_PUBLIC_SECONDS:
        print(f"run_grader: no time left for the public-input run ({spent:.0f} s spent)")
        return None
    path = results.with_name("public_results.json")
    status, output = run_grader(target, path, config, timeout, seed=PUBLIC_SEED)
    if status != 0 or not valid_results(path):
        print(output, end="")
        print(f"run_grader: public-input run exit status {status}; shown without it")
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    return data


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
            data = json.loads(results.read_text(encoding="utf-8"))
            public = public_results(target, results, config, time.monotonic() - started)
            results.write_text(json.dumps(shown_as(data, read_options(root / "source"), public),
                                          indent=2) + "\n", encoding="utf-8")
            return 0
        if status is None:
            # The grader limits every call of student code itself, so this is the grader's fault.
            message = ("Grading did not finish within the autograder's time limit, so no checks "
                       f"could be reported (score 0 for now). {ASK_INSTRUCTOR}")
        else:
            message = f"The autograder failed while grading (score 0 for now). {ASK_INSTRUCTOR}"
        print(f"run_grader: grader exit status {status}; writing a score of 0")
    data = failure_results(message, time.monotonic() - started)
    # Nothing hidden is in it (every check at 0 with the reason): shown now, in the same format.
    form = read_options(root / "source")["output_format"]
    data["output_format"] = data["test_output_format"] = form
    for test in data["tests"]:
        test["output_format"] = form
    results.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
