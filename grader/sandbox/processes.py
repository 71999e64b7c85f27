"""One worker process from the judge's side: what runs between fork and exec, what it holds,
and how it is ended with everything it started (see ``grader/sandbox/__init__.py``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.inside import confine
from grader.sandbox import cgroups
from grader.spec.profile import Limits

if TYPE_CHECKING:
    from grader.sandbox.template import TemplateChild


@dataclass
class Started:
    """A running worker: the process (bwrap or python), the judge's pipe ends, and what to clean.

    mode: "bubblewrap" or "subprocess". cgroup: its pids cgroup, if any. workdir: the fallback's
    private working folder on the judge's side (deleted by ``launch.stop_worker``). notes: what
    the containment could not do this time (reported to the instructor).
    """

    process: subprocess.Popen | TemplateChild
    to_worker: int
    from_worker: int
    mode: str
    cgroup: Path | None = None
    workdir: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ChildSetup:
    """What runs in the child between fork and exec (``preexec_fn``): join the cgroup first (so
    every later task is counted and findable), a root fallback's isolation when
    ``isolate_workdir`` is set, the rlimits, no new privileges, and death with the judge (after
    any uid change, which clears it).

    covered: folders a root fallback's isolation hides (the solutions)."""

    limits: Limits
    cgroup: Path | None = None
    isolate_workdir: Path | None = None
    covered: tuple[Path, ...] = ()

    def __call__(self) -> None:
        if self.cgroup is not None:
            cgroups.join_cgroup(self.cgroup)
        if self.isolate_workdir is not None:
            confine.isolate_as_root(self.isolate_workdir, self.limits.tmp_bytes,
                                    self.limits.tmp_files, self.covered)
        confine.set_rlimits(self.limits)
        confine.no_new_privileges()
        confine.die_with_parent()


def cleanup(cgroup: Path | None, workdir: Path | None) -> None:
    """Empty and remove a worker's cgroup, delete its working folder (either may be None)."""
    if cgroup is not None:
        cgroups.empty_cgroup(cgroup)
        cgroups.remove_cgroup(cgroup)
    if workdir is not None:
        remove_tree(workdir)


def remove_tree(path: Path) -> None:
    """Delete a folder the worker wrote into, whatever permissions it set on its content."""

    def make_writable_and_retry(function, name, _excinfo):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
            function(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable_and_retry)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the worker's process group and every descendant still known to /proc."""
    pids = _descendants(process.pid) | {process.pid}
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found
