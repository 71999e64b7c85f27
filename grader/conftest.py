"""pytest wiring for ``grader/selfcheck.py``: the --submission option, and a score summary.

The summary counts confirmed points only: ``self-check score: k / 50 points`` when every check
was judged, ``self-check score: k / 50 confirmed; m points wait on X, Y`` when some are not
checked yet (they build on X or Y, which fail their own checks); the table marks those ``wait``
with the sentence saying what they need.
"""

from pathlib import Path

import pytest

DEFAULT = Path(__file__).resolve().parent.parent / "exercises"


def pytest_addoption(parser):
    parser.addoption("--submission", default=str(DEFAULT),
                     help="folder holding your exercise modules (default: exercises/)")


@pytest.fixture(scope="session")
def self_check_results(request):
    from grader.public.engine import self_check

    path = Path(request.config.getoption("--submission"))
    results = {r.name: r for r in self_check(path)}
    request.config._vg_results = results
    return results


def pytest_terminal_summary(terminalreporter, config):
    results = getattr(config, "_vg_results", None)
    if not results:
        return
    terminalreporter.write_sep("=", summary_line(list(results.values())))
    marks = {"pass": "ok  ", "fail": "FAIL", "wait": "wait"}
    for r in results.values():
        line = f"  {marks[r.status]} {r.name:<24} {r.score}/{r.max_score}"
        # pytest lists skip reasons only with -rs: say here what a waiting check needs.
        terminalreporter.write_line(f"{line:<38}{r.feedback}" if r.waiting else line)


def summary_line(results) -> str:
    """The self-check's score line for a list of ``CheckResult``."""
    from grader.checking.judge import total, waiting_summary

    score, possible = total(results)
    waiting, on = waiting_summary(results)
    if not waiting:
        return f"self-check score: {score} / {possible} points"
    return (f"self-check score: {score} / {possible} confirmed; {waiting} point"
            f"{'s' if waiting != 1 else ''} wait on {', '.join(on)}")
