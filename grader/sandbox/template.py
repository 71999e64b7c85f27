"""The judge's side of the worker template (``grader/inside/zygote.py``): one bubblewrap sandbox
per judge process whose interpreter has numpy loaded and forks each worker (why and how it is
contained: ``grader/sandbox/__init__.py``).

``Templates`` owns the template of one judge process: it starts one when first asked, replaces a
dead one, remembers why the template cannot be used here (then workers come one sandbox each),
and ends it on ``close`` or at the process's exit. ``TEMPLATES`` is the one owner per process.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from grader.inside.confine import seccomp_supported
from grader.sandbox import cgroups
from grader.sandbox.processes import ChildSetup, Started, cleanup, kill_tree, remove_tree
from grader.sandbox.view import bubblewrap_command, bubblewrap_popen, sandbox_view
from grader.settings import switch
from grader.spec.profile import SANDBOX_GRADER, TEMPLATE_LIMITS, Limits
from grader.spec.wire import WireError, receive, send


class TemplateError(Exception):
    """The worker template could not start, or stopped answering (it is then discarded)."""


class TemplateChild:
    """A worker forked by the template, seen from the judge: ``poll``, ``wait`` and ``kill``
    like a ``subprocess.Popen`` (its pid lives in the sandbox's PID namespace, not ours)."""

    def __init__(self, template: Template, child: int, stage: Path):
        self.template = template
        self.child = child
        self.stage = stage
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self._status(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._status(3600.0 if timeout is None else timeout)
        if code is None:
            raise subprocess.TimeoutExpired("worker", timeout or 0)
        return code

    def _status(self, wait: float) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = self.template.ask("status", {"child": self.child,
                                                               "wait": wait}, wait + 5)
            except TemplateError:
                self.returncode = -signal.SIGKILL  # the template took all its children along
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the worker's process group and reap it; if the template cannot, end the
        template's whole sandbox (and with it every process in it)."""
        if self.returncode is not None:
            return
        try:
            code = self.template.ask("kill", {"child": self.child}, 10.0)
        except TemplateError:
            code = None
        if code is None:
            self.template.close()
            code = -signal.SIGKILL
        self.returncode = code


def kept_under_tmp() -> list[str]:
    """Folders the sandbox shows under /tmp (only numpy installed outside the interpreter's
    folders under the host's /tmp: the interpreter itself is at /opt/vg): a forked worker
    mounts its own /tmp and must bring these back."""
    kept: list[Path] = []
    for _, inside in sorted(sandbox_view().binds, key=lambda b: len(Path(b[1]).parts)):
        root = Path(inside)
        if root.is_relative_to("/tmp") and root != Path("/tmp") \
                and not any(root.is_relative_to(k) for k in kept):
            kept.append(root)
    return [str(k) for k in kept]


class Template:
    """One running worker template: its sandbox, its control socket, its staging folder.

    Submissions are copied into the staging folder, bound read-only at ``/submission`` in the
    sandbox; each child sees only its own sub-folder there (``confine.isolate_template_child``).
    """

    def __init__(self, start_seconds: float = 60.0):
        self.owner = os.getpid()
        self.closed = False
        self._ids = itertools.count()
        self.stage = Path(tempfile.mkdtemp(prefix="vg-stage-"))
        self.cgroup = cgroups.make_cgroup(TEMPLATE_LIMITS, "template")
        ours, theirs = socket.socketpair()
        self.control = ours
        program = [sandbox_view().executable, "-I", f"{SANDBOX_GRADER}/inside/zygote.py",
                   str(theirs.fileno()), json.dumps(kept_under_tmp())]
        try:
            self.process = bubblewrap_popen(
                bubblewrap_command(self.stage, TEMPLATE_LIMITS, template=True), program,
                (theirs.fileno(),), ChildSetup(TEMPLATE_LIMITS, self.cgroup))
        except (OSError, subprocess.SubprocessError) as error:
            self._release()
            raise TemplateError(f"the worker template could not be started: {error}") from None
        finally:
            theirs.close()
        try:
            ready = receive(self.control.fileno(), time.monotonic() + start_seconds)
        except WireError as error:
            self.close()
            raise TemplateError(f"the worker template did not start: {error}") from None
        body = ready.get("body")
        isolation = body.get("isolation") if type(body) is dict else "no answer"
        if ready.get("op") != "ready" or isolation is not None:
            self.close()
            raise TemplateError(f"workers cannot isolate themselves here: {isolation}")

    def spawn(self, submission: Path, options: dict, limits: Limits) -> Started:
        """Fork a fresh worker for ``submission`` (a copy of it goes into the staging folder)."""
        child = next(self._ids)
        folder = self.stage / str(child)
        shutil.copytree(submission, folder, symlinks=True)
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        body = {"child": child, "folder": str(child), "options": options,
                "limits": dataclasses.asdict(limits)}
        try:
            self.ask("spawn", body, 10.0, fds=(request_read, reply_write))
        except BaseException:
            for fd in (request_write, reply_read):
                os.close(fd)
            remove_tree(folder)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        return Started(TemplateChild(self, child, folder), request_write, reply_read,
                       "bubblewrap")

    def ask(self, op: str, body: dict, seconds: float, fds: tuple[int, ...] = ()) -> Any:
        """One request to the template and its answer (the template is trusted: it never runs
        student code, but it may have died)."""
        if self.closed:
            raise TemplateError("the worker template was stopped")
        deadline = time.monotonic() + seconds
        try:
            socket.send_fds(self.control, [b"R"], list(fds))
            send(self.control.fileno(), {"op": op, "body": body}, deadline)
            answer = receive(self.control.fileno(), deadline)
        except (OSError, WireError) as error:
            self.close()
            raise TemplateError(f"the worker template stopped answering: {error}") from None
        body = answer.get("body")
        if type(body) is not dict or "error" in body:
            self.close()
            raise TemplateError(f"the worker template refused {op}: {body}")
        return body.get("code")

    def alive(self) -> bool:
        return not self.closed and self.process.poll() is None

    def close(self) -> None:
        """End the template's sandbox and every worker in it; delete the staging folder."""
        if self.closed or self.owner != os.getpid():
            return
        self.closed = True
        if self.cgroup is not None:
            cgroups.empty_cgroup(self.cgroup)
        kill_tree(self.process)
        self._release()

    def _release(self) -> None:
        self.control.close()
        cleanup(self.cgroup, self.stage)


class Templates:
    """The owner of one judge process's worker template.

    Its lifetime is the process's: ``get`` starts a template when first asked (and registers
    ``close`` to run at exit, also in multiprocessing's workers, which end with ``os._exit``),
    replaces a dead one or one inherited across a fork; ``refuse`` turns templates off for the
    rest of the process; ``close`` ends the template now (a later ``get`` starts a new one).
    """

    def __init__(self) -> None:
        self.current: Template | None = None
        self.refused: str | None = None  # why templates are not used in this process

    def usable(self, limits: Limits) -> bool:
        """Workers come from the template when bubblewrap runs them with the system-call filter
        (which keeps a forked worker from starting processes of its own), unless refused here
        or turned off by ``VG_NO_TEMPLATE``."""
        return (limits.seccomp and seccomp_supported() and self.refused is None
                and not switch("VG_NO_TEMPLATE"))

    def get(self) -> Template | None:
        """This process's running template, started if need be; None when it cannot run here
        (the reason is kept in ``refused``)."""
        current = self.current
        if current is not None and (current.owner != os.getpid() or not current.alive()):
            current.close()  # a no-op for one inherited across a fork: its owner closes it
            self.current = None
        if self.current is None and self.refused is None:
            try:
                self.current = Template()
            except TemplateError as error:
                self.refused = str(error)
                return None
            import multiprocessing.util

            multiprocessing.util.Finalize(None, self.current.close, exitpriority=0)
        return self.current

    def refuse(self, reason: str) -> None:
        """Stop using templates in this process (a worker one forked could not set itself up)."""
        self.refused = reason
        self.close()

    def close(self) -> None:
        """End this process's template now, if one runs (it would be at exit)."""
        if self.current is not None:
            self.current.close()
            self.current = None


TEMPLATES = Templates()
