"""The judge's side of a worker: a ``Student`` whose calls cross a process boundary.

``WorkerStudent.call`` sends the arguments, waits (with a wall-clock deadline) for plain data, and
checks that data itself: types, dtypes and structure follow ``api.RESULT_KINDS`` or the answer is
a wrong answer. When the student's code calls a function that is being stood in for, the worker
asks back and the judge runs its reference here, keeping the reference's caches on this side.

Nothing the worker says decides anything, and nothing it does can stall the judge: every read and
write has a deadline, a timed-out or dead worker is killed (``launch.stop_worker``: its whole
cgroup, process group and descendants) and replaced by a fresh one for the same submission, and a
function that timed out is not called again.

Loading is watched module by module: the worker announces each student module before running it.
If the worker dies or hangs during an import, the judge knows which module did it, leaves that
module out of every later worker for this submission, and grades the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.sandbox.launch import start_worker, stop_worker
from grader.sandbox.processes import Started
from grader.sandbox.template import TEMPLATES, TemplateChild
from grader.spec.api import MODULE_OF, MODULES, RESULT_KINDS
from grader.spec.profile import Limits
from grader.spec.protocol import BadOutput, Call, Handle, Reply, to_plain
from grader.spec.wire import JudgeHandle, WireError, WireTimeout, receive, send
from grader.student.loader import NOTEBOOK_MODULE

# Starting the interpreter and importing numpy, before the first line of student code runs.
STARTUP_SECONDS = 30.0
# What the judge accepts as arguments of a reference stand-in (the checks' inputs are far
# smaller): student code chooses these arguments and the judge computes with them.
_MAX_DIM, _MAX_ARRAY, _MAX_TOTAL, _MAX_LIST, _MAX_INT = 1024, 1 << 20, 1 << 22, 24, 1024
# Elements the stand-ins of one worker may produce in all (their caches stay in the judge).
_MAX_STAND_IN_ELEMENTS = 1 << 25
_TEXT_LIMIT = 4000
# Numbers one answer may hold (the largest right answer, a 20-layer net's parameters, holds
# ~90,000), and all the answers of one batch of probes together: the judge keeps them.
_MAX_ANSWER_ELEMENTS, _MAX_BATCH_ELEMENTS = 1 << 20, 1 << 23
_WARNING_LIMIT, _MAX_WARNINGS, _MAX_NOTES = 300, 50, 20
_NOT_TEXT = "(the worker sent something that is not text here)"
_SETUP_FAILED = "the sandbox could not be set up"


def _text(value: Any, limit: int) -> str:
    """What the worker sent where text belongs: a ``str`` (exact type) cut to ``limit`` characters.

    Anything else is replaced without being formatted: ``str()`` of a forged value (a list of
    arrays, say) can cost the judge far more than the submission's whole time budget."""
    if type(value) is not str:
        return _NOT_TEXT
    return value[:limit]


def _texts(values: Any, count: int, limit: int) -> tuple[str, ...]:
    """Up to ``count`` texts from what should be a list of ``str`` (other items are dropped)."""
    if type(values) is not list:
        return ()
    return tuple(v[:limit] for v in values[:count] if type(v) is str)


_STUDENT_MODULES = frozenset({*MODULES, NOTEBOOK_MODULE})


def _module_name(value: Any) -> bool:
    return type(value) is str and value.isidentifier() and len(value) <= 100


def _forged(module: str) -> str:
    return f"importing {module}.py wrote messages of its own to the grader's channel"


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
        if type(value) is not Handle:
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


def _check_stand_in_arguments(value: Any, depth: int = 0) -> int:
    """Refuse stand-in arguments far larger than any check uses; return their element count."""
    if depth > 6:
        raise ValueError("arguments nested too deeply for a reference stand-in")
    if type(value) is np.ndarray:
        if value.ndim > 4 or any(n > _MAX_DIM for n in value.shape) or value.size > _MAX_ARRAY:
            raise ValueError(f"an array of shape {value.shape} is too large for a reference "
                             "stand-in")
        return value.size
    if type(value) in (list, tuple):
        if len(value) > _MAX_LIST:
            raise ValueError(f"a list of {len(value)} items is too long for a reference stand-in")
        ints = [v for v in value if type(v) is int]
        # A list of ints is a list of layer sizes: bound the weights it describes.
        if sum(a * b for a, b in zip(ints, ints[1:], strict=False)) > _MAX_ARRAY * 4:
            raise ValueError("layer sizes too large for a reference stand-in")
        return sum(_check_stand_in_arguments(v, depth + 1) for v in value)
    if type(value) is int and abs(value) > _MAX_INT:
        raise ValueError(f"the number {value} is too large for a reference stand-in")
    if type(value) is str and len(value) > 100:
        raise ValueError("a string too long for a reference stand-in")
    return 0


def _elements(value: Any, depth: int = 0) -> int:
    """Array elements held by a value the judge keeps (a stand-in's answer or cache)."""
    if isinstance(value, np.ndarray):
        return value.size
    if depth < 8 and isinstance(value, list | tuple):
        return sum(_elements(v, depth + 1) for v in value)
    if depth < 8 and isinstance(value, dict):
        return sum(_elements(v, depth + 1) for v in value.values())
    return 0


def _describe_exit(process: subprocess.Popen) -> str:
    try:
        code = process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return "the process stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@dataclass
class _SubmissionState:
    """What every worker of one submission shares: modules left out, notes already given."""

    excluded: dict[str, str] = field(default_factory=dict)
    noted: set[str] = field(default_factory=set)


# Keyed by the submission's files (path, sizes, mtimes) and how it runs, so the stand-in workers
# of one grading reuse what the first worker learnt instead of hanging on the same import again.
_STATES: OrderedDict[tuple, _SubmissionState] = OrderedDict()


def _state_for(submission: Path, sandbox: bool | None, call_seconds: float) -> _SubmissionState:
    folder = Path(submission).resolve()
    try:
        files = tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                             for p in folder.rglob("*.py")))
    except OSError:
        files = ()
    key = (str(folder), files, sandbox, call_seconds)
    state = _STATES.pop(key, None) or _SubmissionState()
    _STATES[key] = state
    while len(_STATES) > 64:
        _STATES.popitem(last=False)
    return state


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
        self._state = _state_for(self.submission, sandbox, self.limits.call_seconds)
        self._judge_store: dict[int, Any] = {}
        self._stand_in_elements = 0
        self._started: Started | None = None
        self._next_id = 0
        # Instance 0 is the submission as handed in; stand_ins() adds fresh imports of it with
        # reference stand-ins, in the same process (a new process costs a numpy import).
        self._instances: dict[int, dict[str, Callable]] = {0: self.overrides}
        self._hung: dict[int, dict[str, str]] = {0: self.hung}
        self._loaded: set[int] = set()
        # The module that ran last before the current worker said "ready", until a real reply.
        self._ready_after: str | None = None
        # Whether any worker of this student got as far as "ready"; if none did, why not.
        self.ever_ready = False
        self.load_failure: str | None = None

    def stand_ins(self, overrides: dict[str, Callable]) -> StandInStudent:
        """A student whose named functions are the given stand-ins, run by this same worker."""
        instance = len(self._instances)
        self._instances[instance] = dict(overrides)
        self._hung[instance] = {}
        return StandInStudent(self, instance)

    @property
    def excluded(self) -> dict[str, str]:
        """Modules left out of this submission's workers, with the reason shown to the student."""
        return self._state.excluded

    # -- lifecycle --
    def _note(self, text: str) -> None:
        if text not in self._state.noted:
            self._state.noted.add(text)
            self.events.append(text)

    def _budget_message(self) -> str:
        return (f"the submission's time budget ({self.limits.submission_seconds:g} s) "
                "is used up")

    def _start(self) -> None:
        try:
            self._start_once()
        except WorkerGone as gone:
            if not self.ever_ready:
                self.load_failure = self.load_failure or str(gone)
            raise
        self.ever_ready = True

    def _start_once(self) -> None:
        # One start per module at most can end in an exclusion, plus the one that succeeds.
        for _ in range(len(MODULES) + 3):
            if time.monotonic() >= self.deadline:
                raise WorkerGone(self._budget_message())
            self.starts += 1
            try:
                self._started = start_worker(self.submission, sorted(self.overrides),
                                             self.limits, self.sandbox, self.excluded)
            except (OSError, subprocess.SubprocessError) as error:
                # A judge-side failure (no bwrap binary, refused namespace): report it per call.
                raise WorkerGone(f"the worker could not be started ({error})") from None
            self.mode = self._started.mode
            for note in self._started.notes:
                self._note(note)
            culprit, reason = self._await_ready(self._started)
            if reason is None:
                self._loaded = {0}
                return
            from_template = isinstance(self._started.process, TemplateChild)
            self.close()
            if from_template and culprit is None and reason.startswith(_SETUP_FAILED):
                # Before any student code: the template cannot make workers here. The classic
                # way (a sandbox and an interpreter per worker) is tried next.
                TEMPLATES.refuse(reason)
                continue
            if culprit is None:
                raise WorkerGone(reason)
            self.excluded[culprit] = reason
            self._note(f"{reason}: that module was left out and its functions count as missing")
        raise WorkerGone("the submission could not be loaded (the worker kept failing)")

    def _await_ready(self, started: Started) -> tuple[str | None, str | None]:
        """Follow the worker's loading. Returns (None, None) once ready, else the module being
        imported when it failed (None if no student code was running) and the reason."""
        importing: list[str] = []
        last_module: str | None = None  # the student module that ran most recently
        deadline = min(self.deadline, time.monotonic() + STARTUP_SECONDS)
        while True:
            try:
                message = receive(started.from_worker, deadline)
            except WireTimeout:
                if time.monotonic() >= self.deadline:
                    return None, self._budget_message()
                if importing:
                    return importing[-1], (
                        f"importing {importing[-1]}.py did not finish within "
                        f"{self.limits.call_seconds:g} s (an endless loop or a long wait at "
                        "import time?); it was stopped")
                return None, f"the worker did not start within {STARTUP_SECONDS:g} s"
            except WireError as error:
                how = _describe_exit(started.process)
                if importing:
                    return importing[-1], f"importing {importing[-1]}.py ended the process ({how})"
                return None, (f"the worker stopped before running any student code ({how}; "
                              f"{error})")
            op, body = message.get("op"), message.get("body")
            module = body.get("module") if type(body) is dict else None
            # While a student module runs, only "importing"/"imported" may come, and after student
            # code ran only those and "ready": anything else was written by student code, most
            # likely the module that ran last (a forger that blames another only loses points).
            culprit = importing[-1] if importing else last_module
            if op in ("importing", "imported") and _module_name(module):
                if op == "importing":
                    importing.append(module)
                elif importing and importing[-1] == module:
                    importing.pop()
                last_module = module
                # Each student module gets the time of one call to import.
                deadline = min(self.deadline, time.monotonic() + self.limits.call_seconds)
            elif importing or (culprit is not None and op != "ready"):
                return culprit, _forged(culprit)
            elif op == "ready" and type(body) is dict:
                missing = body.get("missing", {})
                self.missing = ({k: _text(v, _TEXT_LIMIT) for k, v in list(missing.items())[:100]
                                 if type(k) is str and len(k) <= 100}
                                if type(missing) is dict else {})
                # What loading the submission said about it (a notebook's skipped cells, say).
                for note in _texts(body.get("notes"), _MAX_NOTES, _WARNING_LIMIT):
                    self._note(note)
                self._ready_after = last_module
                return None, None
            elif op == "failed" and type(body) is dict and last_module is None:
                # Only the worker's own set-up can fail this way; after a module began, the
                # message may be the student's forgery.
                return None, f"{_SETUP_FAILED}: {_text(body.get('reason'), 300)}"
            else:
                return None, "the worker broke the protocol while loading"

    def close(self) -> None:
        """Kill the current worker (if any) and everything it started."""
        if self._started is not None:
            started, self._started = self._started, None
            stop_worker(started)
            for fd in (started.to_worker, started.from_worker):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __del__(self):
        self.close()

    # -- calls --
    def _excluded_reason(self, name: str) -> str | None:
        return self.excluded.get(MODULE_OF.get(name, "")) or self.excluded.get(NOTEBOOK_MODULE)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Reply:
        """Run the student's ``name`` in the worker; every failure becomes a Reply, never raises."""
        return self.call_in(0, name, args, kwargs)

    def call_many(self, name: str, calls: list[Call]) -> list[Reply]:
        """Run the student's ``name`` on each of ``calls`` in one request (see Student)."""
        return self.call_many_in(0, name, calls)

    def call_in(self, instance: int, name: str, args: tuple, kwargs: dict) -> Reply:
        return self._run(instance, name, 1, lambda: self._exchange(
            "call", name, {"args": list(args), "kwargs": kwargs}, 1, instance))[0]

    def call_many_in(self, instance: int, name: str, calls: list[Call]) -> list[Reply]:
        if not calls:
            return []
        return self._run(instance, name, len(calls), lambda: self._exchange(
            "map", name, {"calls": [[list(args), kwargs] for args, kwargs in calls]},
            len(calls), instance))

    def _run(self, instance: int, name: str, count: int,
             exchange: Callable[[], list[Reply]]) -> list[Reply]:
        hung = self._hung[instance]
        if name in hung:
            return [Reply(error=hung[name])] * count
        try:
            if self._started is None:
                self._start()
            self._ensure_loaded(instance)
            reason = self._excluded_reason(name)
            if reason is not None:
                return [Reply(missing=reason)] * count
            return exchange()
        except WorkerGone as gone:
            self.close()
            return [Reply(error=f"WorkerError: {gone}")] * count

    def _ensure_loaded(self, instance: int) -> None:
        """Import a stand-in instance in the current worker (again, after a restart)."""
        if instance in self._loaded:
            return
        deadline = min(self.deadline, time.monotonic() + self.limits.call_seconds)
        try:
            send(self._started.to_worker, {"op": "load", "body": {
                "instance": instance, "overrides": sorted(self._instances[instance])}}, deadline)
        except OSError:
            raise WorkerGone("the worker is gone (it exited or crashed)") from None
        culprit, reason = self._await_ready(self._started)
        if reason is not None:
            self.close()
            if culprit is not None:
                self.excluded[culprit] = reason
            raise WorkerGone(reason)
        self._loaded.add(instance)

    def _timed_out(self, name: str, instance: int = 0) -> Reply:
        self.close()
        if self.deadline - time.monotonic() <= 0:
            reason = (f"TimeoutError: the submission used up its "
                      f"{self.limits.submission_seconds:g} s")
        else:
            reason = (f"TimeoutError: {name} did not return within "
                      f"{self.limits.call_seconds:g} s (an endless loop?); it was stopped")
        self._hung[instance][name] = reason
        self.events.append(reason)
        return Reply(error=reason)

    def _exchange(self, op: str, name: str, request: dict, count: int,
                  instance: int) -> list[Reply]:
        """Send one request, then read ``count`` replies, each within the time of one call;
        answer the worker's stand-in callbacks meanwhile. A call that times out ends the worker:
        it and the calls after it get the timeout as their reply."""
        started = self._started
        self._next_id += 1
        request_id = self._next_id
        call_deadline = min(self.deadline, time.monotonic() + self.limits.call_seconds)
        try:
            send(started.to_worker, {"op": op, "id": request_id, "body": {
                "name": name, "instance": instance, **request}}, call_deadline)
        except WireTimeout:
            return [self._timed_out(name, instance)] * count
        except OSError:
            raise WorkerGone("the worker is gone (it exited or crashed)") from None
        replies: list[Reply] = []
        kept = 0  # numbers held by the replies so far
        while len(replies) < count:
            try:
                message = receive(started.from_worker, call_deadline)
            except WireTimeout:
                return replies + [self._timed_out(name, instance)] * (count - len(replies))
            except WireError as error:
                self.close()
                code = started.process.poll()
                how = f"exit status {code}" if code is not None else str(error)
                raise WorkerGone(f"the worker stopped while running {name} ({how}): the code "
                                 "may call exit(), crash the interpreter, or run out of "
                                 "memory") from None
            message_op = message.get("op")
            if message_op == "callback":
                try:
                    self._answer_callback(message, call_deadline)
                except WireTimeout:
                    return replies + [self._timed_out(name, instance)] * (count - len(replies))
                continue
            if message_op != "reply" or message.get("id") != request_id \
                    or message.get("index", 0) != len(replies):
                # A stray message before any real reply means the "ready" was forged while the
                # last module loaded (so the real loading messages are still in the pipe).
                culprit, self._ready_after = self._ready_after, None
                if culprit in _STUDENT_MODULES:
                    self.excluded[culprit] = _forged(culprit)
                    self._note(f"{_forged(culprit)}: that module was left out and its functions "
                               "count as missing")
                raise WorkerGone("the worker broke the protocol (an unexpected message)")
            self._ready_after = None
            reply = self._reply(name, message.get("body"), snapshot=op == "call")
            kept += _elements(reply.value) + _elements(reply.inputs_after)
            if kept > _MAX_BATCH_ELEMENTS:
                reply = Reply(bad_output=f"returned more than {_MAX_BATCH_ELEMENTS:,} numbers "
                                         "in all for one check's probes")
            replies.append(reply)
            call_deadline = min(self.deadline, time.monotonic() + self.limits.call_seconds)
        return replies

    def _reply(self, name: str, body: Any, snapshot: bool = True) -> Reply:
        if type(body) is not dict:
            raise WorkerGone("the worker broke the protocol (a malformed reply)")
        reply = Reply()
        for field_name in ("error", "bad_output", "missing", "stdout"):
            value = body.get(field_name)
            if value is not None:
                limit = min(_TEXT_LIMIT, self.limits.stdout_bytes) if field_name == "stdout" \
                    else _TEXT_LIMIT
                setattr(reply, field_name, _text(value, limit))
        reply.warnings = _texts(body.get("warnings"), _MAX_WARNINGS, _WARNING_LIMIT)
        if reply.error or reply.bad_output or reply.missing:
            return reply
        try:
            reply.value = _check_plain(body.get("value"), RESULT_KINDS[name])
            held = _elements(reply.value)
            if held > _MAX_ANSWER_ELEMENTS:
                raise BadOutput(f"{held:,} numbers, far more than any answer here (at most "
                                f"{_MAX_ANSWER_ELEMENTS:,})")
            if snapshot:
                after = body.get("inputs_after")
                if type(after) is not tuple or len(after) != 2:
                    raise BadOutput("malformed snapshot")
                reply.inputs_after = (_check_snapshot(after[0]), _check_snapshot(after[1]))
                if _elements(reply.inputs_after) > _MAX_ANSWER_ELEMENTS:
                    raise BadOutput("malformed snapshot (far larger than the inputs)")
            else:
                reply.inputs_after = None
        except BadOutput as bad:
            reply.value = None
            reply.bad_output = f"returned {bad}"
        return reply

    def _answer_callback(self, message: dict, deadline: float) -> None:
        """The student's code called a function we stand in for: run the reference here."""
        body = message.get("body")
        name = message.get("name")
        instance = message.get("instance", 0)
        stand_ins = self._instances.get(instance, {}) if type(instance) is int else {}
        answer: dict[str, Any] = {"op": "answer"}
        try:
            if name not in stand_ins or type(body) is not dict:
                raise ValueError(f"no stand-in for {name!r}")
            if self._stand_in_elements > _MAX_STAND_IN_ELEMENTS:
                raise ValueError("the reference stand-ins were asked for too much data")
            raw_args, raw_kwargs = body.get("args", []), body.get("kwargs") or {}
            if type(raw_args) is not list or type(raw_kwargs) is not dict:
                raise ValueError("malformed arguments")
            if _check_stand_in_arguments([*raw_args, *raw_kwargs.values()]) > _MAX_TOTAL:
                raise ValueError("arguments too large for a reference stand-in")
            args = self._from_worker(tuple(raw_args))
            kwargs = {str(k): self._from_worker(v) for k, v in raw_kwargs.items()}
            value = stand_ins[name](*args, **kwargs)
            self._stand_in_elements += _elements(value)
            answer["body"] = to_plain(value, RESULT_KINDS[name], self._keep_judge_value)
        except Exception as error:  # noqa: BLE001 - the student passed something unusable
            answer = {"op": "answer", "error": f"{type(error).__name__}: {error}"}
        answer["body"] = _to_judge_handles(answer.get("body"))
        try:
            send(self._started.to_worker, answer, deadline)
        except OSError:
            raise WorkerGone("the worker is gone (it exited or crashed)") from None

    def _keep_judge_value(self, value: Any) -> Handle:
        handle = Handle(len(self._judge_store))
        self._judge_store[handle.id] = value
        return handle

    def _from_worker(self, value: Any) -> Any:
        """Arguments the student's code passed to a stand-in: copies, with our caches restored."""
        if type(value) is JudgeHandle:
            if value.id not in self._judge_store:
                raise ValueError("an unknown cache")
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


class StandInStudent:
    """The submission re-imported with reference stand-ins, in its worker's process."""

    def __init__(self, worker: WorkerStudent, instance: int):
        self.worker = worker
        self.instance = instance

    def call(self, name: str, *args: Any, **kwargs: Any) -> Reply:
        return self.worker.call_in(self.instance, name, args, kwargs)

    def call_many(self, name: str, calls: list[Call]) -> list[Reply]:
        return self.worker.call_many_in(self.instance, name, calls)


def _to_judge_handles(value: Any) -> Any:
    """Handles created on this side travel to the worker as judge handles."""
    if type(value) is Handle:
        return JudgeHandle(value.id)
    if type(value) is tuple:
        return tuple(_to_judge_handles(v) for v in value)
    if type(value) is list:
        return [_to_judge_handles(v) for v in value]
    return value
