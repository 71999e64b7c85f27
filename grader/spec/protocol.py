"""How a check talks to student code: calls in, plain data out.

A check never touches the student's objects. It asks a ``Student`` to call an API function with
arguments it generated and gets back a ``Reply`` holding plain numbers only: exact ``numpy.ndarray``
copies of numeric dtype, floats, or ``Handle``s standing for values only the student's own code
reads (caches). ``grader.student.calling`` makes the call and packs the reply, in this process
(the self-check) or in the sandboxed worker across a process boundary (instructor grading), so
one set of checks serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

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
