"""The worker template: a process, inside bubblewrap, that has numpy and the worker imported and
forks a fresh worker for each submission. It never runs student code itself.

Started by the judge (``grader.sandbox.template.Template``) as
``python -I zygote.py CONTROL_FD KEEP`` (KEEP: JSON list of folders the sandbox shows under
/tmp), with the judge's staging folder bound read-only at ``/submission``; it is PID 1 of its
sandbox (bwrap ``--as-pid-1``) and not dumpable. Starting the interpreter and importing numpy is
most of what a worker costs; a fork of a process that has done it costs a few milliseconds. A
child isolates itself (``confine.isolate_template_child``), takes its own session, rlimits and
descriptors, then runs the worker; how that keeps it as separate as a new worker would be is
told in ``grader/sandbox/__init__.py``.

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
from grader.inside.confine import (  # noqa: E402
    die_with_parent,
    isolate_template_child,
    make_undumpable,
    set_rlimits,
)
from grader.spec.profile import SANDBOX_SUBMISSION, Limits  # noqa: E402
from grader.spec.wire import WireError, receive, send  # noqa: E402

os.environ.pop("LD_LIBRARY_PATH", None)  # see worker.py: only the interpreter's start needs it

_MAX_FD = 1 << 16


def _start_child(control: int, fd_in: int, fd_out: int, body: dict,
                 keep: tuple[str, ...]) -> None:
    """In the forked child: isolate, limit, then become a worker (never returns).

    keep: the folders the sandbox shows under /tmp (see ``confine.isolate_template_child``)."""
    try:
        os.close(control)
        os.setsid()
        die_with_parent()
        low, high = sorted((fd_in, fd_out))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, _MAX_FD)
        limits = Limits(**body["limits"])
        isolate_template_child(f"{SANDBOX_SUBMISSION}/{body['folder']}", limits.tmp_bytes,
                               limits.tmp_files, keep)
        set_rlimits(limits)
        os.chdir("/tmp")
        # A fresh interpreter would draw new seeds; so does each child.
        random.seed()
        np.random.seed()
        worker.main(["worker", str(fd_in), str(fd_out), SANDBOX_SUBMISSION,
                     json.dumps(body["options"])])
    except BaseException as error:  # noqa: BLE001 - report and end, never return to the loop
        try:
            send(fd_out, {"op": "failed", "body": {"reason": f"{type(error).__name__}: {error}"}})
        finally:
            os._exit(3)
    os._exit(0)


def serve(control: int, keep: tuple[str, ...] = ()) -> None:
    """Answer the judge's requests until it closes the control socket."""
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
                _start_child(control, fds[0], fds[1], body, keep)
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


def _probe_isolation(keep: tuple[str, ...]) -> str | None:
    """None when a child can isolate itself here (nested user namespaces), else why not."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            isolate_template_child(SANDBOX_SUBMISSION, 1 << 20, 64, keep)
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
    make_undumpable()
    control = int(argv[1])
    keep = tuple(str(path) for path in json.loads(argv[2])) if len(argv) > 2 else ()
    send(control, {"op": "ready", "body": {"isolation": _probe_isolation(keep)}})
    serve(control, keep)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
