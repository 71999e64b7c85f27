"""pytest wiring for ``grader/selfcheck.py``: the --submission option, and a score summary."""

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
    score = sum(r.score for r in results.values())
    possible = sum(r.max_score for r in results.values())
    terminalreporter.write_sep("=", f"self-check score: {score} / {possible} points")
    for r in results.values():
        mark = "ok  " if r.passed else "FAIL"
        terminalreporter.write_line(f"  {mark} {r.name:<24} {r.score}/{r.max_score}")
