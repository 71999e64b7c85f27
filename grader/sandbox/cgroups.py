"""cgroup v1 pids controller: one cgroup per worker (and per template), beside the judge's own.

It caps the number of tasks of a worker and everything it starts (``Limits.processes``), and
lets the judge find and kill all of them, even setsid daemons whose parent died. Where the judge
may not create one (not root, no v1 pids hierarchy) ``make_cgroup`` answers None and the other
layers carry on (see ``grader/sandbox/__init__.py``). A cgroup's folder is named after the judge
that made it, ``vg-worker-PID-N``, so cgroups of dead judges can be found and removed.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from pathlib import Path

from grader.spec.profile import Limits

CGROUP_ROOT = Path("/sys/fs/cgroup/pids")
CGROUP_PREFIX = "vg-worker-"
_counter = itertools.count()  # names this process's cgroups


def _own_cgroup(controller: str) -> str | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def make_cgroup(limits: Limits, name: str | None = None) -> Path | None:
    """A fresh pids cgroup beside the judge's own, or None where we may not create one.

    name: what follows the judge's pid in the folder's name (default: a counter)."""
    own = _own_cgroup("pids")
    if own is None or not (CGROUP_ROOT / "cgroup.procs").exists():
        return None
    parent = CGROUP_ROOT / own.lstrip("/")
    _remove_stale(parent)
    path = parent / f"{CGROUP_PREFIX}{os.getpid()}-{name or next(_counter)}"
    try:
        path.mkdir()
    except OSError:
        return None
    try:
        (path / "pids.max").write_text(str(limits.processes))
    except OSError:
        remove_cgroup(path)
        return None
    return path


@functools.cache
def pids_cgroup_works() -> bool:
    """True when the judge may create pids cgroups for its workers (probed once)."""
    probe = make_cgroup(Limits())
    if probe is None:
        return False
    remove_cgroup(probe)
    return True


def join_cgroup(path: Path) -> None:
    """Move the calling process into ``path`` (best effort: it is one layer of several)."""
    try:
        (path / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        pass


def _remove_stale(parent: Path, wait: bool = True) -> None:
    """Empty cgroups left by judges that died without cleaning up (their pid is gone).

    wait: keep killing and retrying until each is gone (a few seconds at most); else one kill
    and one try each (killed tasks stay in their cgroup until their parent, often init, reaps
    them: a later run removes the cgroup)."""
    try:
        entries = list(parent.glob(f"{CGROUP_PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        try:
            owner = int(entry.name[len(CGROUP_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            if wait:
                empty_cgroup(entry)
                remove_cgroup(entry)
                continue
            for pid in _cgroup_pids(entry):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                entry.rmdir()
            except OSError:
                pass


def remove_stale_cgroups() -> None:
    """Kill the tasks of, and remove, pids cgroups whose judge died (killed pool processes),
    without waiting for any (a run's start must not wait on init reaping someone's tasks)."""
    own = _own_cgroup("pids")
    if own is not None and (CGROUP_ROOT / "cgroup.procs").exists():
        _remove_stale(CGROUP_ROOT / own.lstrip("/"), wait=False)


def _cgroup_pids(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def empty_cgroup(path: Path, seconds: float = 3.0) -> None:
    """SIGKILL every task of the cgroup until none is left (a task may fork while we kill)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = _cgroup_pids(path)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)


def remove_cgroup(path: Path) -> None:
    """Remove an emptied cgroup (retrying while its last killed tasks are still exiting)."""
    for _ in range(200):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
