"""pytest wiring for ``grader/selfcheck.py``: the --submission option, and a score summary.

The summary counts confirmed points only: ``self-check score: k / 50 points`` when every check
was judged, ``self-check score: k / 50 confirmed; m points wait on X, Y`` when some are not
checked yet (they build on X or Y, which fail their own checks); the table marks those ``wait``
with the sentence saying what they need, and gives a passing check's notes after its score
(``ok   relu_grad  2/2  note: ...``): pytest prints nothing for a test that passes, so a note
such as "returns dtype bool ... return floats" would otherwise never reach the student.
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
    for r in results.values():
        for line in table_lines(r):
            terminalreporter.write_line(line)


def table_lines(result) -> list[str]:
    """The summary table's lines for one ``CheckResult``: its mark, name and score, then what a
    waiting check needs or a passing check's notes (a failing check's notes are already in its
    failure message)."""
    marks = {"pass": "ok  ", "fail": "FAIL", "wait": "wait"}
    line = f"  {marks[result.status]} {result.name:<24} {result.score}/{result.max_score}"
    if result.waiting:
        # pytest lists skip reasons only with -rs: say here what a waiting check needs.
        return [f"{line:<38}{result.feedback}"]
    if result.status != "pass" or not result.notes:
        return [line]
    lines = []
    for note in result.notes:
        # A note that spans lines keeps its lines under the first, so the table stays a table.
        first, *rest = note.splitlines() or [""]
        lines.append(f"{line if not lines else '':<38}note: {first}")
        lines += [f"{'':<44}{text}" for text in rest]
    return lines


def summary_line(results) -> str:
    """The self-check's score line for a list of ``CheckResult``."""
    from grader.checking.judge import total, waiting_summary

    score, possible = total(results)
    waiting, on = waiting_summary(results)
    if not waiting:
        return f"self-check score: {score} / {possible} points"
    return (f"self-check score: {score} / {possible} confirmed; {waiting} point"
            f"{'s' if waiting != 1 else ''} wait on {', '.join(on)}")
