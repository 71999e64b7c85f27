"""`make check` is the whole suite less the tests marked slow, and only those.

The quick loop is only worth trusting if what it leaves out is known: every test it does not run
carries ``pytest.mark.slow`` for a reason listed in tests/conftest.py's ``SLOW``, every listed
reason still marks something, and no test file drops out of the selection some other way (a
path list, ``-k``, ``--ignore`` or ``--deselect`` in the Makefile, or a misspelt marker).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Options of pytest (and pytest-xdist) that take the next word as their value.
VALUED = {"-m", "-p", "-o", "-c", "-W", "-k", "-n", "--dist", "--durations", "--maxfail",
          "--numprocesses", "--maxprocesses", "--ignore", "--ignore-glob", "--deselect",
          "--rootdir"}
WORKERS = {"-n", "--numprocesses", "--maxprocesses", "--dist"}


def check_pytest_args() -> list[str]:
    """The arguments `make check` gives pytest, as make itself expands them."""
    shown = subprocess.run(["make", "--no-print-directory", "-n", "-B", "check"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout
    lines = [line for line in shown.splitlines() if " -m pytest" in line]
    assert len(lines) == 1, shown
    words = shlex.split(lines[0])
    return words[words.index("pytest") + 1:]


def without_workers(args: list[str]) -> list[str]:
    """``args`` less pytest-xdist (the plugin and its options): the same selection, collected
    in one process, also where xdist is not installed."""
    kept, skip = [], False
    for word, following in zip(args, [*args[1:], ""], strict=True):
        if skip:
            skip = False
        elif word in WORKERS or (word == "-p" and following == "xdist"):
            skip = True
        elif not (word.startswith("-n") and word[2:].isalnum() or word.split("=")[0] in WORKERS
                  or word == "-pxdist"):
            kept.append(word)
    return kept


def selecting(args: list[str]) -> list[tuple[str, str]]:
    """What in ``args`` chooses tests: -m, -k, --ignore and --deselect values, and paths."""
    chosen, words = [], iter(args)
    for word in words:
        name, _, value = word.partition("=")
        if word in VALUED:
            value = next(words, "")
            if word in ("-m", "-k", "--ignore", "--ignore-glob", "--deselect"):
                chosen.append((word, value))
        elif name in ("--ignore", "--deselect", "--ignore-glob") and value:
            chosen.append((name, value))
        elif word.startswith("-k") and len(word) > 2:
            chosen.append(("-k", word[2:]))
        elif not word.startswith("-"):
            chosen.append(("path", word))
    return sorted(chosen)


@pytest.fixture(scope="module")
def selection(request, suite_plan, tmp_path_factory) -> dict:
    """What `make check` collects: {"items": [{"id", "selected", "slow"}], "skipped_files"}."""
    args = without_workers(check_pytest_args())
    invoked = request.config.invocation_params
    if Path(invoked.dir) == REPO and selecting(list(invoked.args)) == selecting(args) \
            and suite_plan.selection.items:
        plan = suite_plan.selection  # this run selects as `make check` does: no second collection
        return {"items": plan.items, "skipped_files": plan.skipped_files}
    record = tmp_path_factory.mktemp("selection") / "items.json"
    done = subprocess.run([sys.executable, "-m", "pytest", *args, "--collect-only",
                           "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, suite_plan.selection_file: str(record),
                               "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(record.read_text())


def test_without_workers_keeps_everything_but_the_worker_options():
    assert without_workers(["-m", "not slow", "-n", "2", "--dist=load", "-n4", "-q"]) == [
        "-m", "not slow", "-q"]
    assert without_workers(["-m", "not slow", "--numprocesses=auto", "--no-header"]) == [
        "-m", "not slow", "--no-header"]
    assert without_workers(["-p", "xdist", "-m", "not slow", "-p", "no:x", "-n", "auto"]) == [
        "-m", "not slow", "-p", "no:x"]


def test_selecting_finds_every_way_of_choosing_tests():
    assert selecting(["-m", "not slow", "-q", "-n", "2", "--durations=0", "-p", "no:x"]) == [
        ("-m", "not slow")]
    assert selecting(["-kfoo", "--ignore=tests/a.py", "--deselect", "tests/b.py::t",
                      "tests/c.py", "--ignore-glob", "*.py"]) == [
        ("--deselect", "tests/b.py::t"), ("--ignore", "tests/a.py"), ("--ignore-glob", "*.py"),
        ("-k", "foo"), ("path", "tests/c.py")]


def test_make_check_runs_pytest_on_the_whole_suite_less_the_slow_marker():
    # No paths, keywords or ignores: those would leave tests out without a marker saying so.
    assert selecting(check_pytest_args()) == [("-m", "not slow")]


def test_make_check_leaves_out_exactly_the_tests_marked_slow(selection):
    items = selection["items"]
    left_out = {item["id"] for item in items if not item["selected"]}
    slow = {item["id"] for item in items if item["slow"]}
    assert left_out == slow
    assert len(items) > len(left_out) > 0


def test_every_test_file_is_collected(selection):
    files = {item["id"].split("::")[0] for item in selection["items"]}
    on_disk = {str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py")}
    assert on_disk - files - set(selection["skipped_files"]) == set(), "collects nothing"


def test_every_slow_test_is_listed_with_its_reason(selection, suite_plan):
    def listed(nodeid: str) -> str | None:
        for key in suite_plan.slow:
            if nodeid == key or nodeid.startswith((key + "::", key + "[")):
                return key
        return None

    slow = [item["id"] for item in selection["items"] if item["slow"]]
    assert sorted(i for i in slow if listed(i) is None) == [], \
        "marked slow without a reason in tests/conftest.py SLOW"
    listed_files = {key.split("::")[0] for key in suite_plan.slow}
    assert set(suite_plan.slow) - {listed(i) for i in slow} <= set(selection["skipped_files"]) \
        | {k for k in suite_plan.slow if k.split("::")[0] in selection["skipped_files"]}, \
        "listed as slow but marks nothing"
    assert all(reason.strip() for reason in suite_plan.slow.values())
    assert all((REPO / name).is_file() for name in listed_files)


def test_the_slow_marker_is_registered_and_markers_are_strict():
    ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in ini["addopts"].split()
    assert [m for m in ini["markers"] if m.split(":")[0].strip() == "slow"]


def test_every_generated_test_is_reproducible(selection):
    """Derandomized, with no example database and no deadline: the same cases on every run."""
    generated = {i["id"]: i["generated"] for i in selection["items"] if i["generated"]}
    assert len(generated) > 20  # the hypothesis tests are seen at all
    wrong = {name: found for name, found in generated.items()
             if found != {"derandomize": True, "database": False, "deadline": False}}
    assert wrong == {}, "use tests/strategies.py generated() or the loaded profile"
