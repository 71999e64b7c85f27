"""The life of a CLI run: its temporary folder, and its pool processes tied to it.

Every temporary file of a run (the judges' folders, staging folders, workers' working folders)
lives in one folder per run, ``vg-run-PID-START`` in the system's temporary folder; a run that
was killed cannot clean up, so the next run removes the folders (and pids cgroups) of runs whose
owner is dead. A live run's folder is never touched.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from grader.inside.confine import die_with_parent
from grader.sandbox.cgroups import remove_stale_cgroups
from grader.sandbox.processes import remove_tree
from grader.sandbox.template import TEMPLATES
from grader.sandbox.view import clear_caches

RUN_PREFIX = "vg-run-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), which with
    the pid names a process uniquely; None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _run_owner_alive(name: str) -> bool:
    """Whether the run that made folder ``name`` (vg-run-PID-START) is still running."""
    pid, _, start = name[len(RUN_PREFIX):].partition("-")
    try:
        return _start_time(int(pid)) == start
    except ValueError:
        return True  # not one of ours: leave it alone


def remove_stale_run_folders(base: Path | None = None) -> list[Path]:
    """Delete the run folders (and pids cgroups) that runs which died left behind; a live run's
    folder is never touched. Returns the folders removed."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.glob(f"{RUN_PREFIX}*"))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink() and not _run_owner_alive(entry.name):
            remove_tree(entry)
            removed.append(entry)
    remove_stale_cgroups()
    return removed


def claim_run_folder() -> Path:
    """Make this run's folder, ``vg-run-PID-START`` in the system's temporary folder, after
    removing those of dead runs, and send every temporary file of this process and of the
    processes it starts (TMPDIR is inherited) into it."""
    base = Path(tempfile.gettempdir())
    remove_stale_run_folders(base)
    folder = base / f"{RUN_PREFIX}{os.getpid()}-{_start_time(os.getpid()) or 0}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    return folder


def release_run_folder(folder: Path, previous_tmpdir: str | None) -> None:
    """End this process's worker template and delete the run's folder (see ``claim_run_folder``)."""
    TEMPLATES.close()
    tempfile.tempdir = None
    if previous_tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous_tmpdir
    clear_caches()
    remove_tree(folder)


def tie_to_parent(parent: int) -> None:
    """For a process of the CLI's pool (its ``initializer``): die with the CLI, even by SIGKILL
    (the kernel sends SIGKILL when the parent ends), and leave SIGINT and SIGTERM to it, which
    finishes the gradebook's transaction and ends the pool itself."""
    die_with_parent()
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
