"""The worker template: a process, inside bubblewrap, that has numpy and the worker imported and
forks a fresh worker for each submission. It never runs student code itself.

Started by the judge (``grader.sandbox.launch.Template``) as ``python -I zygote.py CONTROL_FD KEEP``
(KEEP: JSON list of folders the sandbox shows under /tmp), with the judge's staging folder bound
read-only at ``/submission``; it is PID 1 of the sandbox's PID namespace (bwrap ``--as-pid-1``),
so what its workers can learn of PID 1 is this neutral command line. Starting the interpreter and
importing numpy is most of what a worker costs; a fork of a process that has done it already
costs a few milliseconds. Each child is as separate from the template and from other children
as a new worker would be:

* its own user and mount namespace (``sandbox.isolate_template_child``): ``/submission`` shows
  only its own submission's folder, ``/tmp`` is a fresh size-limited tmpfs, and it keeps no
  capability;
* its own session and process group, its own rlimits, and the system-call filter the worker
  installs before the first line of student code (so it cannot start processes, signal the
  template or trace it);
* the template is not dumpable, so no child can read or write its memory through ``/proc``, and
  the child closes every descriptor but its two pipes to the judge.

The judge asks over the control socket (frames of ``spec.wire``): ``spawn`` (with the two pipe
ends passed as SCM_RIGHTS) forks a worker, ``status`` reports whether one has ended, ``kill``
SIGKILLs its process group and reaps it. The template ends when the judge closes the socket.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402 - imported once here, inherited by every worker
import numpy.random  # noqa: E402, F401 - loaded lazily by numpy; each worker reseeds it

from grader.inside import worker  # noqa: E402
from grader.sandbox.launch import (  # noqa: E402
    _PR_SET_DUMPABLE,
    _PR_SET_PDEATHSIG,
    Limits,
    _libc,
    _set_rlimits,
    isolate_template_child,
)
from grader.spec.wire import WireError, receive, send  # noqa: E402

os.environ.pop("LD_LIBRARY_PATH", None)  # see worker.py: only the interpreter's start needs it

_MAX_FD = 1 << 16
_KEEP: tuple[str, ...] = ()  # the interpreter's folders under /tmp (see isolate_template_child)


def _start_child(control: int, fd_in: int, fd_out: int, body: dict) -> None:
    """In the forked child: isolate, limit, then become a worker (never returns)."""
    try:
        os.close(control)
        os.setsid()
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        low, high = sorted((fd_in, fd_out))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, _MAX_FD)
        limits = Limits(**body["limits"])
        isolate_template_child(f"/submission/{body['folder']}", limits.tmp_bytes,
                               limits.tmp_files, _KEEP)
        _set_rlimits(limits)
        os.chdir("/tmp")
        # A fresh interpreter would draw new seeds; so does each child.
        random.seed()
        np.random.seed()
        worker.main(["worker", str(fd_in), str(fd_out), "/submission",
                     json.dumps(body["options"])])
    except BaseException as error:  # noqa: BLE001 - report and end, never return to the loop
        try:
            send(fd_out, {"op": "failed", "body": {"reason": f"{type(error).__name__}: {error}"}})
        finally:
            os._exit(3)
    os._exit(0)


def serve(control: int) -> None:
    children: dict[int, int] = {}  # judge's id -> pid
    ended: dict[int, int] = {}  # judge's id -> exit code
    sock = socket.socket(fileno=control)

    def reap(child: int, seconds: float) -> int | None:
        if child in ended:
            return ended[child]
        pid = children.get(child)
        if pid is None:
            return None
        deadline = time.monotonic() + seconds
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                ended[child] = os.waitstatus_to_exitcode(status)
                del children[child]
                return ended[child]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    while True:
        try:
            marker, fds, _, _ = socket.recv_fds(sock, 1, 2)
            if not marker:
                return
            request = receive(control)
        except (OSError, WireError):
            return
        op, body = request.get("op"), request.get("body") or {}
        child = body.get("child")
        if op == "spawn" and len(fds) == 2:
            try:
                pid = os.fork()
            except OSError as error:  # e.g. the pids cgroup is full: the judge falls back
                pid, answer = -1, {"error": f"fork: {error}"}
            if pid == 0:
                _start_child(control, fds[0], fds[1], body)
            for fd in fds:
                os.close(fd)
            if pid > 0:
                children[child] = pid
                answer = {"pid": pid}
        else:
            for fd in fds:
                os.close(fd)
            if op == "status":
                answer = {"code": reap(child, float(body.get("wait", 0)))}
            elif op == "kill":
                pid = children.get(child)
                if pid is not None:
                    for kill in (os.killpg, os.kill):
                        try:
                            kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                answer = {"code": reap(child, 5.0)}
            else:
                answer = {"error": f"unknown request {op!r}"}
        send(control, {"op": "answer", "body": answer})


def _probe_isolation() -> str | None:
    """None when a child can isolate itself here (nested user namespaces), else why not."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            isolate_template_child("/submission", 1 << 20, 64, _KEEP)
            os._exit(0)
        except BaseException as error:  # noqa: BLE001
            os.write(write, f"{type(error).__name__}: {error}".encode()[:300])
            os._exit(1)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        reason = pipe.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return None if code == 0 else reason or f"exit status {code}"


def main(argv: list[str]) -> None:
    # No child (same uid) may open /proc/<template>/mem, fd or environ.
    _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    control = int(argv[1])
    global _KEEP
    _KEEP = tuple(str(path) for path in json.loads(argv[2])) if len(argv) > 2 else ()
    send(control, {"op": "ready", "body": {"isolation": _probe_isolation()}})
    serve(control)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
