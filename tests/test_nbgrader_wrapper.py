"""``vg-nbgrader`` (course/nbgrader_run.py): nbgrader's steps work as copied into a fresh shell.

The real run is a clean environment (``env -i``: HOME, a PATH without the venv's bin/, and
PYTHONPATH only so that this checkout's code is the one run): bare nbgrader fails there on
``alembic`` and leaves a half-made gradebook (the issue, reproduced); the wrapper removes it,
generates the assignment and autogrades one submission, showing one line instead of the 22
checksum warnings of the hidden-test cells, and still showing the warning for a read-only cell
the student edited. The fast tests drive ``run`` with a stand-in for nbgrader.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from course import nbgrader_run
from course.nbgrader_run import half_made, hidden_test_cells, run

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSIGNMENT = "vanishing_gradients"
CHECKSUM = "Attribute 'checksum' for cell {} has changed! (should be: 1, got: 2)"


def _course_with_hidden(tmp_path: Path, cells: dict[str, bool]) -> Path:
    """A course folder whose source notebook has the given cells (grade_id -> hidden tests)."""
    notebook = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": gid}},
                           "source": ["x = 1\n", "### BEGIN HIDDEN TESTS\n" if hidden else "",
                                      "### END HIDDEN TESTS\n" if hidden else ""]}
                          for gid, hidden in cells.items()]}
    source = tmp_path / "source" / "a" / "a.ipynb"
    source.parent.mkdir(parents=True)
    source.write_text(json.dumps(notebook), encoding="utf-8")
    return tmp_path


def _fake_nbgrader(monkeypatch, script: str) -> None:
    monkeypatch.setattr(nbgrader_run, "nbgrader_command", lambda: [sys.executable, "-c", script])


def _half_made_db(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE student (id TEXT)")
        db.execute("CREATE TABLE assignment (id TEXT)")
    db.close()


# --- fast: the wrapper's own logic, with a stand-in for nbgrader ------------------------------


@pytest.mark.parametrize("status", [0, 1])
def test_only_hidden_test_cells_checksum_warnings_become_one_line(tmp_path, monkeypatch,
                                                                  status):
    course = _course_with_hidden(tmp_path, {"test_a": True, "test_b": True, "setup": False})
    lines = [f"[AutogradeApp | WARNING] {CHECKSUM.format(c)}"
             for c in ("test_a", "test_b", "setup", "test_a")]
    lines.append("[AutogradeApp | INFO] done")
    _fake_nbgrader(monkeypatch, f"import sys; sys.stderr.write({chr(10).join(lines)!r} + "
                                f"'\\n'); sys.exit({status})")
    out = io.StringIO()
    assert run(["autograde", "a"], course, out) == status
    shown = out.getvalue().splitlines()
    assert shown[:2] == [f"[AutogradeApp | WARNING] {CHECKSUM.format('setup')}",
                         "[AutogradeApp | INFO] done"]
    assert shown[2].startswith('vg-nbgrader: 3 "checksum has changed" warning(s) not shown: '
                               "they are for test cells holding hidden tests")
    assert "jupyter/nbgrader#1961" in shown[2] and len(shown) == 3


def test_no_line_when_nothing_was_left_out(tmp_path, monkeypatch):
    course = _course_with_hidden(tmp_path, {"test_a": True})
    _fake_nbgrader(monkeypatch, "import sys; print('hello', file=sys.stderr)")
    out = io.StringIO()
    assert run(["export"], course, out) == 0
    assert out.getvalue() == "hello\n"


def test_a_failed_first_run_leaves_no_half_made_gradebook(tmp_path, monkeypatch):
    script = ("import sqlite3, sys; db = sqlite3.connect('gradebook.db'); "
              "db.execute('CREATE TABLE student (id TEXT)'); db.commit(); "
              "sys.stderr.write('FileNotFoundError: alembic\\n'); sys.exit(1)")
    _fake_nbgrader(monkeypatch, script)
    out = io.StringIO()
    assert run(["generate_assignment", "a"], tmp_path, out) == 1
    assert not (tmp_path / "gradebook.db").exists()
    assert out.getvalue().splitlines()[-1] == (
        "vg-nbgrader: nbgrader failed (exit status 1); removed the gradebook.db it had only "
        "begun to create, so the next run starts clean.")


@pytest.mark.parametrize("content", ["stamped", "rows", "not a database", "no tables"])
def test_a_gradebook_holding_anything_is_kept(tmp_path, monkeypatch, content):
    db_path = tmp_path / "gradebook.db"
    if content == "not a database":
        db_path.write_bytes(b"precious notes")
    elif content == "no tables":
        sqlite3.connect(db_path).close()
    else:
        _half_made_db(db_path)
        with sqlite3.connect(db_path) as db:
            if content == "stamped":
                db.execute("CREATE TABLE alembic_version (version_num TEXT)")
                db.execute("INSERT INTO alembic_version VALUES ('abc')")
            else:
                db.execute("INSERT INTO student VALUES ('alice')")
        db.close()
    before = db_path.read_bytes()
    assert not half_made(db_path)
    _fake_nbgrader(monkeypatch, "import sys; sys.exit(3)")
    out = io.StringIO()
    assert run(["autograde", "a"], tmp_path, out) == 3
    assert db_path.read_bytes() == before and out.getvalue() == ""


def test_a_leftover_from_an_earlier_failed_run_is_removed_first(tmp_path, monkeypatch):
    _half_made_db(tmp_path / "gradebook.db")
    assert half_made(tmp_path / "gradebook.db")
    _fake_nbgrader(monkeypatch, "import os, sys; sys.exit(os.path.exists('gradebook.db'))")
    out = io.StringIO()
    assert run(["generate_assignment", "a"], tmp_path, out) == 0
    assert out.getvalue().startswith("vg-nbgrader: removed gradebook.db: an earlier run failed")


def test_the_environment_puts_this_bin_first_once(monkeypatch):
    env = nbgrader_run.environment({"PATH": f"/usr/bin{os.pathsep}{BIN}", "HOME": "/h"})
    assert env["PATH"].split(os.pathsep) == [str(BIN), "/usr/bin"]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO) and env["HOME"] == "/h"


def test_the_console_script_is_declared():
    with open(REPO / "pyproject.toml", "rb") as handle:
        scripts = tomllib.load(handle)["project"]["scripts"]
    assert scripts["vg-nbgrader"] == "course.nbgrader_run:main"


@pytest.mark.parametrize("installed", [True, False])
def test_the_course_readme_uses_the_wrapper(tmp_path, monkeypatch, installed):
    from course import nbgrader_course

    bin_dir = tmp_path / "env" / "bin"
    bin_dir.mkdir(parents=True)
    if installed:
        (bin_dir / "vg-nbgrader").write_text("#!/bin/sh\n")
    monkeypatch.setattr(nbgrader_course.sys, "executable", str(bin_dir / "python"))
    wrapper = (f"{bin_dir}/vg-nbgrader" if installed
               else f"{bin_dir}/python -m course.nbgrader_run")
    assert nbgrader_course.wrapper_command() == wrapper
    nbgrader_course.build_course(tmp_path)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    for step in (f"generate_assignment {ASSIGNMENT}", f"autograde {ASSIGNMENT}", "export"):
        assert f"       {wrapper} {step}" in readme
    bare = r"^\s+nbgrader (generate_assignment|autograde|generate_feedback|export)"
    assert re.search(bare, readme, re.M) is None  # no bare nbgrader step left
    assert "jupyter/nbgrader#1961" in readme
    assert hidden_test_cells(tmp_path) >= {"test_dense_forward", "test_relu"}


# --- slow: real nbgrader in a clean environment ------------------------------------------------


def _clean_env(home: Path) -> dict[str, str]:
    # What a fresh shell has, less the venv: no VIRTUAL_ENV, no .venv/bin on PATH. PYTHONPATH
    # only makes this checkout's code the one that runs (an installed project needs none).
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}


@pytest.mark.slow
def test_the_wrapper_runs_nbgrader_as_copied_into_a_fresh_shell(tmp_path):
    pytest.importorskip("nbgrader")
    if not (BIN / "nbgrader").is_file():
        pytest.skip("nbgrader's script is not in the interpreter's bin/")
    course = tmp_path / "course"
    env = _clean_env(tmp_path)
    subprocess.run([str(BIN / "python"), "-m", "course", "nbgrader", str(course)], cwd=REPO,
                   env=env, check=True, capture_output=True)
    # The issue, as it was: bare nbgrader cannot find alembic, and leaves a gradebook behind.
    bare = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", ASSIGNMENT],
                          cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert bare.returncode != 0 and "alembic" in bare.stdout + bare.stderr
    assert half_made(course / "gradebook.db")

    # The console script as pip writes it, from the entry point pyproject declares.
    script = tmp_path / "vg-nbgrader"
    script.write_text(f"#!{BIN / 'python'}\nimport sys\nfrom course.nbgrader_run import main\n"
                      "sys.exit(main())\n", encoding="utf-8")
    script.chmod(0o755)

    def wrapped(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(script), *args], cwd=course, env=env, capture_output=True,
                              text=True, timeout=300)

    generated = wrapped("generate_assignment", ASSIGNMENT)
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert generated.stderr.startswith("vg-nbgrader: removed gradebook.db: an earlier run "
                                       "failed")
    assert not half_made(course / "gradebook.db")

    # One student: the release as handed out, with a note added to the read-only setup cell.
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = json.loads(release.read_text(encoding="utf-8"))
    setup = next(c for c in notebook["cells"]
                 if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    setup["source"] = [*setup["source"], "\n# my note\n"]
    submitted = course / "submitted" / "alice" / ASSIGNMENT
    submitted.mkdir(parents=True)
    (submitted / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")

    graded = wrapped("autograde", ASSIGNMENT)
    assert graded.returncode == 0, graded.stderr[-3000:]
    hidden = hidden_test_cells(course)
    checksum_lines = [line for line in graded.stderr.splitlines() if "'checksum'" in line]
    # Only the edited read-only cell's warning is left; the hidden-test cells' became one line.
    assert len(checksum_lines) == 1 and "for cell setup has changed" in checksum_lines[0]
    summary = [line for line in graded.stderr.splitlines() if line.startswith("vg-nbgrader:")]
    assert summary == [f'vg-nbgrader: {len(hidden)} "checksum has changed" warning(s) not '
                       "shown: they are for test cells holding hidden tests, whose stored "
                       "checksum includes the hidden tests (jupyter/nbgrader#1961); nbgrader "
                       "restores those cells, hidden tests included, as grading needs. Nothing "
                       "is wrong with the submissions."]
    assert len(hidden) == 22
    with sqlite3.connect(course / "gradebook.db") as db:
        graded_cells, score = db.execute("SELECT COUNT(*), SUM(auto_score) FROM grade").fetchone()
    db.close()
    assert graded_cells > len(hidden) and score == 0  # the release's stubs earn nothing
    shutil.rmtree(course / "autograded", ignore_errors=True)
