"""The worker: the only process that runs student code. It decides nothing.

Started by the judge (``grader.sandbox.launch``; the containment is told in
``grader/sandbox/__init__.py``) as ``python -I worker.py FD_IN FD_OUT SUBMISSION
OPTIONS``, or forked by the worker template (``inside.zygote``), which calls ``main`` with the
same arguments; usually inside bubblewrap. OPTIONS is JSON: ``overrides`` (API names replaced by
proxies that ask the judge to run its reference, so the reference never enters here),
``exclude`` (modules not to import, with the judge's reason) and ``seccomp``.

Order matters: everything the worker needs is imported first, then the system-call filter is
installed, and only then does student code run. While loading, the worker tells the judge which
module it is about to import, so a module that kills or hangs the process can be named and left
out by the next worker. It then answers ``call`` requests with plain data (``spec.wire``) until
told to stop or killed: ``call`` runs one function once, ``map`` runs one function on many
inputs and replies to each in turn. Nothing it says is trusted: the judge checks every answer.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script inside the sandbox: the grader package sits next to this file's folder
    # (/opt/vg/grader there; the interpreter is at /opt/vg/python, see sandbox.view).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# Only the interpreter's start needed it (a shared libpython at a neutral path): student code
# sees the environment the sandbox sets, nothing more.
os.environ.pop("LD_LIBRARY_PATH", None)

from grader.inside.confine import install_landlock, install_seccomp, readable_roots  # noqa: E402
from grader.spec.api import RESULT_KINDS  # noqa: E402
from grader.spec.protocol import Handle  # noqa: E402
from grader.spec.wire import WireError, receive, send  # noqa: E402
from grader.student.calling import call_and_capture, describe_exception  # noqa: E402
from grader.student.loader import find_module_dir, load_submission  # noqa: E402


def _proxy(fd_in: int, fd_out: int, name: str, instance: int = 0):
    """A stand-in for the student's ``name`` that asks the judge to run the reference."""

    def reference_stand_in(*args, **kwargs):
        send(fd_out, {"op": "callback", "name": name, "instance": instance,
                      "body": {"args": list(args), "kwargs": kwargs}})
        answer = receive(fd_in)
        if answer.get("error"):
            raise RuntimeError(f"the reference {name} (standing in for yours) failed: "
                               f"{answer['error']}")
        return answer["body"]

    reference_stand_in.__name__ = name
    return reference_stand_in


def _reply_to(name: object, args: object, kwargs: object, functions: dict, missing: dict, keep,
              resolve, student_files: tuple[str, ...], snapshot: bool = True) -> dict:
    if name not in functions:
        return {"missing": missing.get(name, f"{name} is not defined")}
    if type(args) is not list or type(kwargs or {}) is not dict:
        return {"error": "malformed request"}
    try:
        result = call_and_capture(functions[name], name, tuple(args), kwargs or {}, keep, resolve,
                                  student_files, snapshot)
    except BaseException as error:  # noqa: BLE001 - sys.exit() or KeyboardInterrupt in a call
        return {"error": describe_exception(error, student_files)}
    return {"value": result.value, "error": result.error, "bad_output": result.bad_output,
            "warnings": list(result.warnings), "inputs_after": result.inputs_after,
            "stdout": result.stdout}


def serve(fd_in: int, fd_out: int, submission: str, overrides: list[str],
          exclude: dict[str, str]) -> None:
    """Load the submission (reporting each module import), then answer calls until EOF."""
    store: dict[int, object] = {}

    def keep(value):
        handle = Handle(len(store))
        store[handle.id] = value
        return handle

    def resolve(handle):
        if isinstance(handle, Handle):
            return store[handle.id]
        return handle

    loading = [False]

    def report(event: str, module: str) -> None:
        # Only while loading: the judge names a module that ends the worker at import by these
        # messages. A helper module first imported inside a call (``import utils`` in a
        # function) is part of that call, and a message in the middle of one would break it.
        if loading[0]:
            send(fd_out, {"op": event, "body": {"module": module}})

    folder = str(find_module_dir(Path(submission)).resolve())

    def load(instance: int, names: list[str]):
        proxies = {n: _proxy(fd_in, fd_out, n, instance) for n in names if n in RESULT_KINDS}
        loading[0] = True
        try:
            loaded = load_submission(Path(submission), proxies, exclude=exclude,
                                     on_import=report)
        finally:
            loading[0] = False
        send(fd_out, {"op": "ready", "body": {"missing": loaded.missing, "notes": loaded.notes}})
        return loaded

    # Instance 0 is the submission as handed in; the judge may ask for more instances, each a
    # fresh import of the same files with other functions stood in for by the reference.
    instances = {0: load(0, overrides)}
    while True:
        try:
            request = receive(fd_in)
        except WireError:
            return
        op, body = request.get("op"), request.get("body")
        if op == "load" and type(body) is dict and type(body.get("instance")) is int:
            names = body.get("overrides")
            instances[body["instance"]] = load(body["instance"],
                                               [str(n) for n in names or []])
            continue
        if op not in ("call", "map") or type(body) is not dict:
            return
        instance = body.get("instance", 0)
        if instance not in instances:
            return
        loaded = instances[instance]
        name = body.get("name")
        if op == "call":
            calls, snapshot = [[body.get("args"), body.get("kwargs")]], True
        else:  # one function on many inputs, one reply each, without the inputs' snapshot
            calls, snapshot = body.get("calls"), False
            if type(calls) is not list:
                return
        for index, call in enumerate(calls):
            args, kwargs = call if type(call) is list and len(call) == 2 else (None, None)
            reply = _reply_to(name, args, kwargs, loaded.functions, loaded.missing, keep,
                              resolve, (folder,), snapshot)
            header = {"op": "reply", "id": request.get("id"), "index": index}
            try:
                send(fd_out, {**header, "body": reply})
            except (TypeError, ValueError) as error:  # a value the wire cannot carry
                send(fd_out, {**header, "body": {
                    "bad_output": f"returned data that cannot be sent: {error}"}})


def main(argv: list[str]) -> None:
    fd_in, fd_out = int(argv[1]), int(argv[2])
    options = json.loads(argv[4]) if len(argv) > 4 else {}
    overrides = [str(n) for n in options.get("overrides", [])]
    unknown = [n for n in overrides if n not in RESULT_KINDS]
    if unknown:
        raise SystemExit(f"unknown override {unknown}")
    exclude = {str(k): str(v) for k, v in options.get("exclude", {}).items()}
    # Nothing inherited but the two pipes: bwrap's options (the host paths it bound) came in a
    # descriptor too (a template's worker has closed everything already).
    low, high = sorted((fd_in, fd_out))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 1 << 16)
    # No file outside the sandbox's own folders can be opened for reading (in bubblewrap: no
    # /proc, whose mountinfo and cmdline would name host paths); best effort where the kernel
    # has no Landlock.
    install_landlock(readable_roots(argv[3]))
    if options.get("seccomp", True):
        # Before the first line of student code. A failure must not leave us running unfiltered:
        # say why and stop (the judge reports it), rather than run student code without it.
        try:
            install_seccomp()
        except OSError as error:
            send(fd_out, {"op": "failed", "body": {"reason": f"seccomp: {error}"}})
            os._exit(3)
    serve(fd_in, fd_out, argv[3], overrides, exclude)
    # Skip interpreter shutdown: no atexit hooks or finalizers of student code run.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
