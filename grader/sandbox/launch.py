"""Start a worker process for one submission, and end it with everything it started.

A worker comes, in this order of preference (see ``grader/sandbox/__init__.py`` for why each
layer is there): forked by this judge's worker template (``template.TEMPLATES``), or one
bubblewrap sandbox of its own (``view.bubblewrap_command``), or, without bubblewrap, a plain
subprocess in a private working folder, isolated further when the judge is root. ``Started``
says which (its ``mode`` and ``notes`` reach the results).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox import cgroups
from grader.sandbox.processes import ChildSetup, Started, cleanup, kill_tree, remove_tree
from grader.sandbox.template import TEMPLATES, TemplateChild, TemplateError, Templates
from grader.sandbox.view import (
    GRADER_DIR,
    bubblewrap_command,
    bubblewrap_popen,
    bubblewrap_works,
    sandbox_view,
)
from grader.spec.profile import (
    FALLBACK_PATH,
    NOBODY,
    SANDBOX_GRADER,
    SANDBOX_SUBMISSION,
    WORKER_ENV,
    Limits,
)
from grader.student.loader import SOLUTIONS_DIR


@functools.cache
def root_isolation_works() -> bool:
    """True when the judge is root and a fallback worker can be isolated
    (``confine.isolate_as_root``).

    Probed once: in a container without CAP_SYS_ADMIN the namespaces are refused, and the
    fallback then runs with the judge's own privileges (reported in the notes).
    """
    if sys.platform != "linux" or os.getuid() != 0:
        return False
    workdir = Path(tempfile.mkdtemp(prefix="vg-probe-"))
    try:
        probe = subprocess.run(
            [sys.executable, "-I", "-c", "import os, numpy; open('probe', 'w').write('1'); "
             f"assert os.getuid() == {NOBODY}"],
            preexec_fn=ChildSetup(Limits(), None, workdir, (SOLUTIONS_DIR,)), cwd=workdir,
            env={"PATH": FALLBACK_PATH, "OPENBLAS_NUM_THREADS": "1"},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60,
        )
        return probe.returncode == 0 and not any(workdir.iterdir())
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        remove_tree(workdir)


def start_worker(submission: Path, overrides: list[str], limits: Limits,
                 sandbox: bool | None = None, exclude: dict[str, str] | None = None,
                 templates: Templates = TEMPLATES) -> Started:
    """Start one worker for ``submission``; returns the process and the judge's pipe ends.

    overrides: API names the worker replaces by stand-ins that call back to the judge.
    sandbox: use bubblewrap (None: when it works here, see ``view.bubblewrap_works``).
    exclude: student modules not to import (module name -> the reason shown to the student).
    templates: the owner of the worker template to fork from (this process's by default).
    """
    submission = Path(submission).resolve()
    use_bwrap = bubblewrap_works() if sandbox is None else sandbox
    settings = {"overrides": sorted(overrides), "exclude": dict(exclude or {}),
                "seccomp": limits.seccomp}
    if use_bwrap and templates.usable(limits):
        template = templates.get()
        if template is not None:
            try:
                return template.spawn(submission, settings, limits)
            except TemplateError:
                pass  # a new worker the classic way; the next one gets a new template
    options = json.dumps(settings)
    notes: list[str] = []
    workdir: Path | None = None
    setup = ChildSetup(limits, cgroups.make_cgroup(limits), covered=(SOLUTIONS_DIR,))
    if setup.cgroup is None:
        notes.append("no pids cgroup could be created: process count relies on seccomp, "
                     "rlimits and the time limit")
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    try:
        if use_bwrap:
            program = [sandbox_view().executable, "-I", f"{SANDBOX_GRADER}/inside/worker.py",
                       str(request_read), str(reply_write), SANDBOX_SUBMISSION, options]
            process = bubblewrap_popen(bubblewrap_command(submission, limits), program,
                                       (request_read, reply_write), setup)
            mode = "bubblewrap"
        else:
            workdir = Path(tempfile.mkdtemp(prefix="vg-worker-"))
            if root_isolation_works():
                setup.isolate_workdir = workdir
            elif os.getuid() == 0:
                notes.append("the fallback worker could not be isolated (namespaces refused): "
                             "it ran as root with rlimits and seccomp only")
            command = [sys.executable, "-I", str(GRADER_DIR / "inside" / "worker.py"),
                       str(request_read), str(reply_write), str(submission), options]
            env = {"PATH": FALLBACK_PATH, "HOME": str(workdir), "TMPDIR": str(workdir),
                   **dict(WORKER_ENV)}
            mode = "subprocess"
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(request_read, reply_write), env=env,
                cwd=str(workdir), start_new_session=True, preexec_fn=setup,
            )
    except BaseException:
        for fd in (request_write, reply_read):
            os.close(fd)
        cleanup(setup.cgroup, workdir)
        raise
    finally:
        os.close(request_read)
        os.close(reply_write)
    return Started(process, request_write, reply_read, mode, setup.cgroup, workdir, notes)


def stop_worker(started: Started) -> None:
    """End the worker and everything it started (SIGKILL to every task of its cgroup, its
    process group and its known descendants, or the template's kill), then delete what it left
    behind."""
    if isinstance(started.process, TemplateChild):
        started.process.kill()
        remove_tree(started.process.stage)
        return
    if started.cgroup is not None:
        cgroups.empty_cgroup(started.cgroup)
    kill_tree(started.process)
    cleanup(started.cgroup, started.workdir)
