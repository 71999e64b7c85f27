"""The worker: the only process that runs student code. It decides nothing.

Started by the judge (``grader.sandbox``) as ``python -I worker.py FD_IN FD_OUT SUBMISSION
[OVERRIDES]``, usually inside bubblewrap. It loads the submission, then answers ``call`` requests
with plain data (``grader.wire``) until told to stop or killed. Functions named in OVERRIDES are
replaced by proxies that ask the judge to run its reference, so the reference never enters here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script inside the sandbox: the grader package sits next to this file's folder.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.api import RESULT_KINDS  # noqa: E402
from grader.loader import find_module_dir, load_submission  # noqa: E402
from grader.protocol import Handle, call_and_capture  # noqa: E402
from grader.wire import WireError, receive, send  # noqa: E402


class _Channel:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in = fd_in
        self.fd_out = fd_out


def _proxy(channel: _Channel, name: str):
    """A stand-in for the student's ``name`` that asks the judge to run the reference."""

    def reference_stand_in(*args, **kwargs):
        send(channel.fd_out, {"op": "callback", "name": name,
                              "body": {"args": list(args), "kwargs": kwargs}})
        answer = receive(channel.fd_in)
        if answer.get("error"):
            raise RuntimeError(f"the reference {name} (standing in for yours) failed: "
                               f"{answer['error']}")
        return answer["body"]

    reference_stand_in.__name__ = name
    return reference_stand_in


def serve(fd_in: int, fd_out: int, submission: str, overrides: list[str]) -> None:
    channel = _Channel(fd_in, fd_out)
    store: dict[int, object] = {}

    def keep(value):
        handle = Handle(len(store))
        store[handle.id] = value
        return handle

    def resolve(handle):
        if isinstance(handle, Handle):
            return store[handle.id]
        return handle

    folder = str(find_module_dir(Path(submission)).resolve())
    loaded = load_submission(Path(submission), {n: _proxy(channel, n) for n in overrides})
    send(fd_out, {"op": "ready", "body": {"missing": loaded.missing}})
    while True:
        try:
            request = receive(fd_in)
        except WireError:
            return
        if request.get("op") != "call":
            return
        body = request["body"]
        name = body["name"]
        if name not in loaded.functions:
            reply = {"missing": loaded.missing.get(name, f"{name} is not defined")}
        else:
            result = call_and_capture(loaded.functions[name], name, tuple(body["args"]),
                                      body["kwargs"], keep, resolve, (folder,))
            reply = {"value": result.value, "error": result.error,
                     "bad_output": result.bad_output, "warnings": list(result.warnings),
                     "inputs_after": result.inputs_after, "stdout": result.stdout}
        try:
            send(fd_out, {"op": "reply", "id": request.get("id"), "body": reply})
        except TypeError as error:  # a value the wire cannot carry: report it, keep serving
            send(fd_out, {"op": "reply", "id": request.get("id"),
                          "body": {"bad_output": f"returned data that cannot be sent: {error}"}})


def main(argv: list[str]) -> None:
    fd_in, fd_out = int(argv[1]), int(argv[2])
    overrides = [n for n in (argv[4] if len(argv) > 4 else "").split(",") if n]
    unknown = [n for n in overrides if n not in RESULT_KINDS]
    if unknown:
        raise SystemExit(f"unknown override {unknown}")
    # Student code should not write to the judge's pipes by accident: keep them off 0-2.
    serve(fd_in, fd_out, argv[3], overrides)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
