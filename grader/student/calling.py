"""Calling a student's function and packing what it did into a ``Reply`` of plain data.

``call_and_capture`` is the one place where student code is called: in this process by
``InProcessStudent`` (the self-check, the notebook's test cells) and in the sandboxed worker
(``grader.inside.worker``) for grading. ``RoutedStudent`` runs the reference's stand-ins here and
the rest through the student it wraps.
"""

from __future__ import annotations

import io
import traceback
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.spec.api import RESULT_KINDS
from grader.spec.protocol import (
    BadOutput,
    Call,
    Handle,
    Reply,
    RngSeed,
    ScalarFunction,
    Student,
    to_plain,
)


def _copy_args(value: Any, resolve_handle) -> Any:
    """Give the student fresh copies, and turn stand-ins into the real objects."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Handle):
        return resolve_handle(value)
    if isinstance(value, RngSeed):
        return np.random.default_rng(value.seed)
    if isinstance(value, ScalarFunction):
        return value.build()
    if isinstance(value, list):
        return [_copy_args(item, resolve_handle) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy_args(item, resolve_handle) for item in value)
    return value


def _snapshot(sent: Any, given: Any) -> Any:
    """Plain copies, after the call, of the arrays the judge sent (not of resolved caches)."""
    if isinstance(sent, np.ndarray) and type(given) is np.ndarray:
        return given.copy()
    if isinstance(sent, list | tuple) and isinstance(given, list | tuple):
        return tuple(_snapshot(s, g) for s, g in zip(sent, given, strict=False))
    return None


def describe_exception(error: BaseException, student_files: tuple[str, ...] = ()) -> str:
    """One line for the error, plus the deepest line of student code it passed through."""
    text = f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if any(f.filename.startswith(root) for root in student_files)]
    if own:
        frame = own[-1]
        text += f"\n  at {Path(frame.filename).name}, line {frame.lineno}: {frame.line}"
    return text


# What a reply carries of a call's warnings: the judge reads no more (grader.sandbox.remote),
# and 20,000 warnings of a correct function once made a reply too large to send.
MAX_WARNINGS, MAX_WARNING_CHARS = 50, 300


def _distinct_warnings(caught: list) -> tuple[str, ...]:
    """The distinct warning messages of a call, in order, at most ``MAX_WARNINGS`` of them."""
    seen: dict[str, None] = {}
    for warning in caught:
        try:
            text = f"{warning.category.__name__}: {warning.message}"[:MAX_WARNING_CHARS]
        except Exception:  # noqa: BLE001 - a student's warning object may fail to format
            text = "a warning that could not be shown"
        seen.setdefault(text)
        if len(seen) >= MAX_WARNINGS:
            break
    return tuple(seen)


def call_and_capture(function, name: str, args: tuple, kwargs: dict, keep, resolve_handle,
                     student_files: tuple[str, ...] = (), snapshot: bool = True) -> Reply:
    """Run one student function and pack everything the judge may look at into a Reply.

    snapshot: also send back copies of the array arguments as they are after the call."""
    real_args = _copy_args(args, resolve_handle)
    real_kwargs = {key: _copy_args(v, resolve_handle) for key, v in kwargs.items()}
    reply = Reply()
    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(over="warn", invalid="warn", divide="warn"), redirect_stdout(buffer):
            try:
                value = function(*real_args, **real_kwargs)
            except Exception as error:  # noqa: BLE001 - any student exception is a verdict
                reply.error = describe_exception(error, student_files)
                value = None
    reply.warnings = _distinct_warnings(caught)
    reply.stdout = buffer.getvalue()[-2000:]
    if snapshot:
        reply.inputs_after = (_snapshot(args, real_args),
                              {k: _snapshot(kwargs[k], v) for k, v in real_kwargs.items()})
    else:
        reply.inputs_after = None
    if reply.error is None:
        try:
            reply.value = to_plain(value, RESULT_KINDS[name], keep)
        except BadOutput as bad:
            reply.bad_output = f"returned {bad}"
    return reply


@dataclass
class InProcessStudent:
    """Calls the student's functions directly, in this process (the self-check)."""

    functions: dict[str, Any]
    missing: dict[str, str] = field(default_factory=dict)
    student_files: tuple[str, ...] = ()
    _store: dict[int, Any] = field(default_factory=dict)

    def _keep(self, value: Any) -> Handle:
        handle = Handle(len(self._store))
        self._store[handle.id] = value
        return handle

    def _resolve(self, handle: Handle) -> Any:
        return self._store[handle.id]

    def call(self, name: str, *args: Any, **kwargs: Any) -> Reply:
        return self._call(name, args, kwargs, snapshot=True)

    def call_many(self, name: str, calls: list[Call]) -> list[Reply]:
        return [self._call(name, args, kwargs, snapshot=False) for args, kwargs in calls]

    def _call(self, name: str, args: tuple, kwargs: dict, snapshot: bool) -> Reply:
        if name not in self.functions:
            return Reply(missing=self.missing.get(name, f"{name} is not defined"))
        return call_and_capture(self.functions[name], name, args, kwargs, self._keep,
                                self._resolve, self.student_files, snapshot)


class RoutedStudent:
    """A student whose stand-in functions are called here, directly, and the rest as usual.

    When a check itself calls a function that the reference stands in for (``init_params`` in a
    re-run of a vanishing check, say), there is no reason to go through the student's process.
    Handles made here are numbered below zero so they never mix with the student's.
    """

    def __init__(self, student: Student, stand_ins: dict[str, Any]):
        self.student = student
        self.local = InProcessStudent(dict(stand_ins))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Reply:
        if name not in self.local.functions:
            return self.student.call(name, *args, **kwargs)
        reply = self.local.call(name, *_local_handles(args), **{
            key: _local_handles(value) for key, value in kwargs.items()})
        reply.value = _routed_handles(reply.value)
        return reply

    def call_many(self, name: str, calls: list[Call]) -> list[Reply]:
        if name not in self.local.functions:
            return self.student.call_many(name, calls)
        replies = self.local.call_many(name, [
            (_local_handles(args), {k: _local_handles(v) for k, v in kwargs.items()})
            for args, kwargs in calls])
        for reply in replies:
            reply.value = _routed_handles(reply.value)
        return replies


def _local_handles(value: Any) -> Any:
    if isinstance(value, Handle):
        if value.id >= 0:
            raise ValueError("a cache of the student's code cannot reach a reference stand-in")
        return Handle(-1 - value.id)
    if isinstance(value, tuple):
        return tuple(_local_handles(v) for v in value)
    if isinstance(value, list):
        return [_local_handles(v) for v in value]
    return value


def _routed_handles(value: Any) -> Any:
    if isinstance(value, Handle):
        return Handle(-1 - value.id)
    if isinstance(value, tuple):
        return tuple(_routed_handles(v) for v in value)
    if isinstance(value, list):
        return [_routed_handles(v) for v in value]
    return value
