"""Start a worker process with limits enforced from outside it.

On Linux with bubblewrap, the worker runs with no network, its own PID/IPC/UTS namespaces, an
unprivileged uid, a cleared environment, a private /tmp and a read-only view that holds only the
interpreter, its libraries, the grader's worker code and the submission: the reference solutions,
the gradebook and the results path are simply not there. Without bubblewrap it falls back to a
plain subprocess with the same rlimits, and says so (``Sandbox.mode``).

Every worker gets rlimits (address space, CPU seconds, file size, open files, no core dumps) and
its own session, so the judge can SIGKILL the whole process group; under bubblewrap, killing the
outer process also ends the PID namespace and everything in it.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker. Wall-clock limits are enforced by the judge (remote.py)."""

    memory_bytes: int = 1 << 30
    cpu_seconds: int = 60
    file_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 16
    call_seconds: float = 10.0
    submission_seconds: float = 120.0
    stdout_bytes: int = 64 << 10


@functools.cache
def bubblewrap_works() -> bool:
    """True when bwrap exists and can create the namespaces we need here."""
    bwrap = shutil.which("bwrap")
    if not bwrap or sys.platform != "linux" or os.environ.get("VG_NO_SANDBOX"):
        return False
    try:
        probe = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "--die-with-parent",
             "--uid", "65534", "--gid", "65534", "true"],
            capture_output=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _python_roots() -> list[Path]:
    """Folders the interpreter needs: its prefixes and library paths (venv and base)."""
    roots = set()
    for value in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        roots.add(Path(value).resolve())
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(Path(path).resolve())
    roots.add(Path(sys.executable).resolve().parent)
    # Only keep outermost folders, and never the whole filesystem or /usr twice.
    kept: list[Path] = []
    for root in sorted(roots, key=lambda p: len(p.parts)):
        if root == Path("/") or any(root.is_relative_to(k) for k in kept):
            continue
        if root.is_relative_to("/usr"):
            continue
        kept.append(root)
    return kept


def _numpy_libs() -> list[Path]:
    """numpy's site-packages may sit outside the prefixes (e.g. a user install)."""
    import numpy

    return [Path(numpy.__file__).resolve().parent.parent]


def bubblewrap_command(submission: Path) -> list[str]:
    command = [
        shutil.which("bwrap") or "bwrap",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]
    for extra in ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf",
                  "/etc/ld.so.conf.d"):
        if Path(extra).exists():
            command += ["--ro-bind", extra, extra]
    roots = _python_roots()
    for root in roots + [p for p in _numpy_libs() if not any(p.is_relative_to(r) for r in roots)]:
        if not root.is_relative_to("/usr"):
            command += ["--ro-bind", str(root), str(root)]
    command += [
        "--ro-bind", str(GRADER_DIR), "/opt/vg/grader",
        "--ro-bind", str(submission), "/submission",
        "--chdir", "/tmp",
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--uid", "65534", "--gid", "65534",
        "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
        "--setenv", "MPLBACKEND", "Agg",
    ]
    return command


def _limit_self(limits: Limits) -> None:
    """Runs in the child between fork and exec: rlimits, and death with the judge."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() != 0:  # NPROC is per real uid and ignored for root: bwrap's PID ns covers it
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die if the judge dies
    except (OSError, AttributeError):
        pass


@dataclass
class Started:
    process: subprocess.Popen
    to_worker: int
    from_worker: int
    mode: str


def start_worker(submission: Path, overrides: list[str], limits: Limits,
                 sandbox: bool | None = None) -> Started:
    """Start one worker for ``submission``; returns the process and the judge's pipe ends."""
    submission = Path(submission).resolve()
    use_bwrap = bubblewrap_works() if sandbox is None else sandbox
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    if use_bwrap:
        worker_args = [sys.executable, "-I", "/opt/vg/grader/worker.py",
                       str(request_read), str(reply_write), "/submission", ",".join(overrides)]
        command = bubblewrap_command(submission) + worker_args
        env = None
        mode = "bubblewrap"
    else:
        command = [sys.executable, "-I", str(GRADER_DIR / "worker.py"), str(request_read),
                   str(reply_write), str(submission), ",".join(overrides)]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
        mode = "subprocess"
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(request_read, reply_write), env=env,
            cwd="/tmp", start_new_session=True, preexec_fn=functools.partial(_limit_self, limits),
        )
    finally:
        os.close(request_read)
        os.close(reply_write)
    return Started(process, request_write, reply_read, mode)


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
