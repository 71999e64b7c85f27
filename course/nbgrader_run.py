"""Run nbgrader from a course directory the way this project needs it (``vg-nbgrader``).

    vg-nbgrader generate_assignment vanishing_gradients     # from the course directory
    vg-nbgrader autograde vanishing_gradients
    python -m course.nbgrader_run ARGS...                    # the same, without the script

Every argument goes to ``nbgrader`` unchanged. What the wrapper adds, each for a reason seen in
a fresh shell:

* **The environment's ``bin/`` first on PATH.** nbgrader runs ``alembic`` (its gradebook's
  migrations) as a program; outside an activated virtualenv it is not found and the first
  command fails. The wrapper puts the directory of the Python it runs on first, and the
  project's folder on PYTHONPATH, so the kernel imports the ``grader`` this wrapper belongs to.
* **No half-made gradebook.** A first run that fails after creating ``gradebook.db`` (bare
  ``nbgrader`` without ``alembic`` on PATH) leaves tables without alembic's version stamp, and
  every later run trips on them. A gradebook holding tables but not one row (not even the
  stamp) is such a leftover: the wrapper removes it, before the run or after a failed one, and
  says so. A gradebook holding anything is never touched.
* **One line instead of a warning per test cell.** ``autograde`` warns "Attribute 'checksum'
  for cell ... has changed!" for every test cell holding hidden tests, for every student:
  ``generate_assignment`` stores such a cell's checksum before it clears the hidden tests, so
  the released cell can never match it (jupyter/nbgrader#1961, open); autograde then restores
  the stored cell, hidden tests included, which is what grading needs. Those warnings say
  nothing about the student, so the wrapper counts them and prints one line saying why. The
  same warning for any other cell (a student edited a read-only cell) is shown as nbgrader
  wrote it, and so is every other line.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

PROJECT = Path(__file__).resolve().parent.parent
GRADEBOOK = "gradebook.db"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
# nbgrader 0.9's OverwriteCells.report_change, for the checksum attribute.
_CHECKSUM = re.compile(r"Attribute 'checksum' for cell (?P<cell>\S+) has changed!")
PREFIX = "vg-nbgrader:"


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the environment's bin/ first on
    PATH and the project first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    # Not resolved: a virtualenv's python is a link to the base interpreter, whose bin/ has
    # neither alembic nor nbgrader.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep)
                                              if p and p != bin_dir]])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(PROJECT)]
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT), *paths])
    return env


def nbgrader_command() -> list[str]:
    """nbgrader from the environment this wrapper runs in."""
    script = Path(sys.executable).parent / "nbgrader"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nbgrader"]


def hidden_test_cells(course: Path) -> set[str]:
    """The grade_ids of the course's source cells holding hidden tests (their checksum warning
    at autograde is nbgrader#1961, not the student)."""
    found: set[str] = set()
    for path in sorted(Path(course).glob("source/*/*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for cell in cells:
            source = cell.get("source", "")
            text = source if isinstance(source, str) else "".join(source)
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if HIDDEN_BEGIN in text and isinstance(grade_id, str):
                found.add(grade_id)
    return found


def half_made(gradebook: Path) -> bool:
    """Whether ``gradebook`` is a database nbgrader began but never stamped with its migration
    version, holding no row at all (what a first run that failed on ``alembic`` leaves).

    nbgrader stamps a new gradebook right after creating its tables, before it writes anything
    else, so such a file holds nothing an instructor could lose."""
    try:
        db = sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        if not tables:
            return False  # not nbgrader's: leave it to the instructor
        return all(db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] == 0
                   for name in tables)
    except sqlite3.Error:
        return False  # not a database we understand: leave it to the instructor
    finally:
        db.close()


def _filtered(stream: TextIO, out: TextIO, hidden: set[str]) -> int:
    """Copy ``stream`` to ``out`` line by line, leaving out the checksum warnings of the cells
    in ``hidden``; returns how many were left out."""
    dropped = 0
    for line in stream:
        match = _CHECKSUM.search(line)
        if match and match.group("cell") in hidden:
            dropped += 1
            continue
        out.write(line)
        out.flush()
    return dropped


def run(args: Sequence[str], course: Path | None = None, out: TextIO | None = None) -> int:
    """Run ``nbgrader ARGS`` in ``course`` (default: the working directory); returns its exit
    status. Messages of the wrapper go to ``out`` (default stderr), prefixed ``vg-nbgrader:``."""
    course = Path.cwd() if course is None else Path(course)
    out = sys.stderr if out is None else out
    gradebook = course / GRADEBOOK
    if gradebook.is_file() and half_made(gradebook):
        gradebook.unlink()
        print(f"{PREFIX} removed {GRADEBOOK}: an earlier run failed while creating it (it has "
              f"tables but no version stamp and no rows), and nbgrader cannot use it.", file=out)
    existed = gradebook.exists()
    hidden = hidden_test_cells(course)
    process = subprocess.Popen([*nbgrader_command(), *args], cwd=course, env=environment(),
                               stderr=subprocess.PIPE, text=True, errors="replace")
    assert process.stderr is not None
    try:
        # nbgrader (traitlets) logs on stderr; its stdout goes straight through.
        dropped = _filtered(process.stderr, out, hidden)
        status = process.wait()
    except KeyboardInterrupt:
        process.wait()
        raise
    if dropped:
        print(f"{PREFIX} {dropped} \"checksum has changed\" warning(s) not shown: they are for "
              f"test cells holding hidden tests, whose stored checksum includes the hidden tests "
              f"(jupyter/nbgrader#1961); nbgrader restores those cells, hidden tests included, "
              f"as grading needs. Nothing is wrong with the submissions.", file=out)
    if status != 0 and not existed and gradebook.is_file() and half_made(gradebook):
        gradebook.unlink()
        print(f"{PREFIX} nbgrader failed (exit status {status}); removed the {GRADEBOOK} it had "
              f"only begun to create, so the next run starts clean.", file=out)
    return status


def main(argv: list[str] | None = None) -> int:
    """The ``vg-nbgrader`` console script."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        if not args:
            return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
