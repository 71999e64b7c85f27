"""The judge's side of a worker: a ``Student`` whose calls cross a process boundary.

``WorkerStudent.call`` sends the arguments, waits (with a wall-clock deadline) for plain data, and
checks that data itself: types, dtypes and structure follow ``api.RESULT_KINDS`` or the answer is
a wrong answer. When the student's code calls a function that is being stood in for, the worker
asks back and the judge runs its reference here, keeping the reference's caches on this side.
A timed-out or dead worker is killed (whole process group) and replaced by a fresh one for the
same submission; a function that timed out is not called again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .api import RESULT_KINDS
from .protocol import BadOutput, Handle, Reply, to_plain
from .sandbox import Limits, kill_tree, start_worker
from .wire import JudgeHandle, WireError, WireTimeout, receive, send


class WorkerGone(Exception):
    """The worker died, broke the protocol, or ran out of time."""


def _check_plain(value: Any, kind: Any) -> Any:
    """Re-validate what the (untrusted) worker claims is plain data of the given kind."""
    if kind in ("array", "scalar"):
        if kind == "scalar" and type(value) is float:
            return value
        if type(value) is not np.ndarray:
            raise BadOutput("malformed data (expected an array)")
        if kind == "scalar":
            if value.size != 1:
                raise BadOutput(f"an array of shape {value.shape} (expected a single number)")
            return float(value.reshape(()))
        return value
    if kind == "opaque":
        if not isinstance(value, Handle):
            raise BadOutput("malformed data (expected a cache handle)")
        return value
    if kind == "params":
        if type(value) is not list:
            raise BadOutput("malformed data (expected a list of (W, b) pairs)")
        return [tuple(_check_plain(a, "array") for a in _pair(p)) for p in value]
    if isinstance(kind, tuple):
        if type(value) is not tuple or len(value) != len(kind):
            raise BadOutput("malformed data (expected a tuple)")
        return tuple(_check_plain(v, k) for v, k in zip(value, kind, strict=True))
    raise BadOutput("malformed data")


def _pair(value: Any) -> tuple:
    if type(value) is not tuple or len(value) != 2:
        raise BadOutput("malformed data (expected (W, b) pairs)")
    return value


def _check_snapshot(value: Any) -> Any:
    if value is None or type(value) is np.ndarray:
        return value
    if type(value) is tuple:
        return tuple(_check_snapshot(v) for v in value)
    if type(value) is dict:
        return {str(k): _check_snapshot(v) for k, v in value.items()}
    raise BadOutput("malformed snapshot")


class WorkerStudent:
    """Runs a submission's functions in a sandboxed worker; see the module docstring."""

    def __init__(self, submission: Path, overrides: dict[str, Callable] | None = None,
                 limits: Limits | None = None, sandbox: bool | None = None,
                 deadline: float | None = None):
        self.submission = Path(submission)
        self.overrides = dict(overrides or {})
        self.limits = limits or Limits()
        self.sandbox = sandbox
        # The submission's wall-clock budget is shared by every worker started for it.
        self.deadline = deadline or time.monotonic() + self.limits.submission_seconds
        self.hung: dict[str, str] = {}
        self.missing: dict[str, str] = {}
        self.mode = "not started"
        self.starts = 0
        self.events: list[str] = []
        self._judge_store: dict[int, Any] = {}
        self._started = None
        self._next_id = 0

    # -- lifecycle --
    def _start(self) -> None:
        if time.monotonic() >= self.deadline:
            raise WorkerGone(f"the submission's time budget "
                             f"({self.limits.submission_seconds:g} s) is used up")
        self.starts += 1
        self._started = start_worker(self.submission, sorted(self.overrides), self.limits,
                                     self.sandbox)
        self.mode = self._started.mode
        try:
            ready = receive(self._started.from_worker,
                            min(self.deadline, time.monotonic() + self.limits.call_seconds + 20))
        except WireError as error:
            self.close()
            raise WorkerGone(f"the submission could not be loaded ({error}): it may exit, "
                             "hang or crash while being imported") from None
        body = ready.get("body")
        if ready.get("op") != "ready" or type(body) is not dict:
            self.close()
            raise WorkerGone("the worker did not start properly")
        missing = body.get("missing", {})
        self.missing = {str(k): str(v) for k, v in missing.items()} if type(missing) is dict else {}

    def close(self) -> None:
        if self._started is not None:
            started, self._started = self._started, None
            kill_tree(started.process)
            for fd in (started.to_worker, started.from_worker):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __del__(self):
        self.close()

    # -- calls --
    def call(self, name: str, *args: Any, **kwargs: Any) -> Reply:
        if name in self.hung:
            return Reply(error=self.hung[name])
        try:
            if self._started is None:
                self._start()
            return self._call(name, args, kwargs)
        except WorkerGone as gone:
            self.close()
            return Reply(error=f"WorkerError: {gone}")

    def _call(self, name: str, args: tuple, kwargs: dict) -> Reply:
        started = self._started
        self._next_id += 1
        request_id = self._next_id
        try:
            send(started.to_worker, {"op": "call", "id": request_id,
                                     "body": {"name": name, "args": list(args),
                                              "kwargs": kwargs}})
        except OSError:
            raise WorkerGone("the worker is gone (it exited or crashed)") from None
        call_deadline = min(self.deadline, time.monotonic() + self.limits.call_seconds)
        while True:
            try:
                message = receive(started.from_worker, call_deadline)
            except WireTimeout:
                self.close()
                budget_left = self.deadline - time.monotonic()
                if budget_left <= 0:
                    reason = (f"TimeoutError: the submission used up its "
                              f"{self.limits.submission_seconds:g} s")
                else:
                    reason = (f"TimeoutError: {name} did not return within "
                              f"{self.limits.call_seconds:g} s (an endless loop?); it was stopped")
                self.hung[name] = reason
                self.events.append(reason)
                return Reply(error=reason)
            except WireError as error:
                self.close()
                code = started.process.poll()
                how = f"exit status {code}" if code is not None else str(error)
                raise WorkerGone(f"the worker stopped while running {name} ({how}): the code "
                                 "may call exit(), crash the interpreter, or run out of "
                                 "memory") from None
            op = message.get("op")
            if op == "callback":
                self._answer_callback(message)
                continue
            if op != "reply" or message.get("id") != request_id:
                raise WorkerGone("the worker broke the protocol (an unexpected message)")
            return self._reply(name, message.get("body"))

    def _reply(self, name: str, body: Any) -> Reply:
        if type(body) is not dict:
            raise WorkerGone("the worker broke the protocol (a malformed reply)")
        reply = Reply()
        for field_name in ("error", "bad_output", "missing", "stdout"):
            value = body.get(field_name)
            if value is not None:
                setattr(reply, field_name, str(value)[:4000])
        warnings = body.get("warnings") or []
        reply.warnings = tuple(str(w)[:300] for w in warnings[:50]) if type(warnings) is list \
            else ()
        if reply.error or reply.bad_output or reply.missing:
            return reply
        try:
            reply.value = _check_plain(body.get("value"), RESULT_KINDS[name])
            after = body.get("inputs_after")
            if type(after) is not tuple or len(after) != 2:
                raise BadOutput("malformed snapshot")
            reply.inputs_after = (_check_snapshot(after[0]), _check_snapshot(after[1]))
        except BadOutput as bad:
            reply.value = None
            reply.bad_output = f"returned {bad}"
        return reply

    def _answer_callback(self, message: dict) -> None:
        """The student's code called a function we stand in for: run the reference here."""
        body = message.get("body")
        name = message.get("name")
        answer: dict[str, Any] = {"op": "answer"}
        try:
            if name not in self.overrides or type(body) is not dict:
                raise ValueError(f"no stand-in for {name!r}")
            args = self._from_worker(tuple(body.get("args", [])))
            kwargs = {str(k): self._from_worker(v) for k, v in (body.get("kwargs") or {}).items()}
            value = self.overrides[name](*args, **kwargs)
            answer["body"] = to_plain(value, RESULT_KINDS[name], self._keep_judge_value)
        except Exception as error:  # noqa: BLE001 - the student passed something unusable
            answer = {"op": "answer", "error": f"{type(error).__name__}: {error}"}
        answer["body"] = _to_judge_handles(answer.get("body"))
        try:
            send(self._started.to_worker, answer)
        except OSError:
            raise WorkerGone("the worker is gone (it exited or crashed)") from None

    def _keep_judge_value(self, value: Any) -> Handle:
        handle = Handle(len(self._judge_store))
        self._judge_store[handle.id] = value
        return handle

    def _from_worker(self, value: Any) -> Any:
        """Arguments the student's code passed to a stand-in: copies, with our caches restored."""
        if isinstance(value, JudgeHandle):
            return self._judge_store[value.id]
        if type(value) is np.ndarray:
            return value.copy()
        if type(value) is list:
            return [self._from_worker(v) for v in value]
        if type(value) is tuple:
            return tuple(self._from_worker(v) for v in value)
        if value is None or type(value) in (bool, int, float, str):
            return value
        raise ValueError(f"a {type(value).__name__} cannot be passed to a reference stand-in")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _to_judge_handles(value: Any) -> Any:
    """Handles created on this side travel to the worker as judge handles."""
    if isinstance(value, Handle):
        return JudgeHandle(value.id)
    if type(value) is tuple:
        return tuple(_to_judge_handles(v) for v in value)
    if type(value) is list:
        return [_to_judge_handles(v) for v in value]
    return value
