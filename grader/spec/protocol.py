"""How a check talks to student code: calls in, plain data out.

A check never touches the student's objects. It asks a ``Student`` to call an API function with
arguments it generated and gets back a ``Reply`` holding plain numbers only: exact ``numpy.ndarray``
copies of numeric dtype, floats, or ``Handle``s standing for values only the student's own code
reads (caches). ``InProcessStudent`` does this with direct calls (the self-check); the sandboxed
worker does the same across a process boundary (instructor grading), so one set of checks serves
both.
"""

from __future__ import annotations

import io
import traceback
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from grader.spec.api import RESULT_KINDS
from grader.spec.functions import SCALAR_FUNCTIONS


@dataclass(frozen=True)
class Handle:
    """A value (a cache) that stays with the student's code; the judge only passes it back."""

    id: int


@dataclass(frozen=True)
class RngSeed:
    """Stands for ``np.random.default_rng(seed)``, built where the student's code runs."""

    seed: int


@dataclass(frozen=True)
class ScalarFunction:
    """A trusted scalar function of ``grader.spec.functions``, built where it is called."""

    name: str
    arrays: tuple[tuple[str, np.ndarray], ...]

    def build(self):
        return SCALAR_FUNCTIONS[self.name](**dict(self.arrays))


@dataclass
class Reply:
    """What came back from one call: the plain value, or why there is none.

    value: plain data shaped by ``api.RESULT_KINDS`` (arrays, floats, Handles).
    error: the student's exception as text, with the line of their code that raised it.
    bad_output: why the returned value is not acceptable plain data.
    warnings: warning messages emitted during the call.
    inputs_after: plain copies of the array arguments after the call, for the mutation check
        (None from ``call_many``, which does not take them).
    """

    value: Any = None
    error: str | None = None
    bad_output: str | None = None
    warnings: tuple[str, ...] = ()
    inputs_after: tuple | None = ()
    stdout: str = ""
    missing: str | None = None


# One call of a batch: positional arguments and keyword arguments.
Call = tuple[tuple, dict]


class Student(Protocol):
    """Anything that can run the student's API functions and reply with plain data.

    ``call_many`` runs one function on many inputs (the finite-difference probes of a check) and
    replies to each in order, without the snapshot of the inputs afterwards (``inputs_after`` is
    None): every call gets fresh copies, so a change in place cannot affect the values, and the
    function's own check is where such a change is blamed.
    """

    def call(self, name: str, *args: Any, **kwargs: Any) -> Reply: ...

    def call_many(self, name: str, calls: list[Call]) -> list[Reply]: ...


class BadOutput(Exception):
    """The student's function returned something that is not the plain data the API promises."""


_NUMERIC_KINDS = "biuf"
_NUMPY_SCALARS = frozenset(
    np.dtype(code).type for code in "?bhilqBHILQefdg"
)


def plain_array(value: Any) -> np.ndarray:
    """An exact, numeric ndarray copy of value, or BadOutput. Never runs the value's methods."""
    kind = type(value)
    if kind is np.ndarray:
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise BadOutput(f"an array of dtype {value.dtype} (expected a float array)")
        return np.array(value, copy=True)
    if kind in _NUMPY_SCALARS:
        return np.array(value)
    if kind in (float, int):
        return np.array(value, dtype=np.float64 if kind is float else np.int64)
    if isinstance(value, np.ndarray):
        raise BadOutput(f"an ndarray subclass {kind.__name__} (expected a plain numpy array)")
    raise BadOutput(f"a {kind.__name__} (expected a numpy array)")


def plain_scalar(value: Any) -> float:
    array = plain_array(value)
    if array.size != 1:
        raise BadOutput(f"an array of shape {array.shape} (expected a single number)")
    return float(array.reshape(()))


def to_plain(value: Any, kind: Any, keep: Any) -> Any:
    """Convert a student's return value to plain data following ``kind`` (see api.RESULT_KINDS).

    keep: a callable storing an opaque value and returning its Handle.
    """
    if kind == "array":
        return plain_array(value)
    if kind == "scalar":
        return plain_scalar(value)
    if kind == "opaque":
        return keep(value)
    if kind == "params":
        if type(value) not in (list, tuple):
            raise BadOutput(f"a {type(value).__name__} (expected a list of (W, b) pairs)")
        pairs = []
        for pair in value:
            if type(pair) not in (list, tuple) or len(pair) != 2:
                raise BadOutput("a list whose items are not (W, b) pairs")
            pairs.append((plain_array(pair[0]), plain_array(pair[1])))
        return pairs
    if isinstance(kind, tuple):
        if type(value) not in (list, tuple):
            raise BadOutput(f"a {type(value).__name__} (expected a tuple of {len(kind)} values)")
        if len(value) != len(kind):
            raise BadOutput(f"{len(value)} values (expected a tuple of {len(kind)})")
        return tuple(to_plain(item, sub, keep) for item, sub in zip(value, kind, strict=True))
    raise ValueError(f"unknown result kind {kind!r}")


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
