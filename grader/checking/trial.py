"""The machinery a check definition uses: the registry, the Trial, and where expected values come
from.

A check is a function ``check(t: Trial) -> None`` registered with ``@check(name, points, ...)``;
it raises ``CheckFailed`` with feedback on the first wrong answer. ``t.call`` runs a student
function through whatever ``Student`` the Trial holds and hands back plain data, after making sure
the call did not raise and left its inputs as they were. ``t.expect`` gives the right answer:
computed by the reference when grading, read from recorded data in the public self-check.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from grader.checking.compare import CheckFailed, describe_inputs
from grader.checking.diagnoses import VARIANTS, diagnose, variant_outputs
from grader.spec.protocol import Reply, Student


@dataclass(frozen=True)
class Check:
    """One graded check: the function(s) it blames, its points and what it depends on."""

    name: str
    points: int
    run: Callable[[Trial], None]
    tags: tuple[str, ...]
    depends: tuple[str, ...]
    title: str
    # Functions the check tests as the student's own work: when one of them is missing (not
    # implemented, or computing nothing), the check earns nothing, stand-ins or not.
    own: tuple[str, ...] = ()
    # Independent sub-parts (dense_backward: dx, dW, db) with their default points, which sum
    # to ``points``: a wrong part costs only its share (``Trial.part``). Empty: all or nothing.
    parts: tuple[tuple[str, int | float], ...] = ()


def whole(value: float) -> int | float:
    """``value`` as an int when it is a whole number (scores print as 3, not 3.0), else
    rounded to 1e-9 so that shares of a check add up to its points exactly."""
    rounded = round(float(value), 9)
    return int(rounded) if rounded.is_integer() else rounded


def part_points(check: Check, points: float | None = None,
                weights: dict[str, float] | None = None) -> dict[str, int | float]:
    """Each part's points: ``points`` (default: the check's) split in proportion to
    ``weights`` (default: the check's own split); {} for a check without parts. The shares
    always sum to ``points`` (the last part takes the rounding remainder)."""
    if not check.parts:
        return {}
    total = check.points if points is None else points
    chosen = dict(check.parts) if not weights else {p: weights.get(p, 0) for p, _ in check.parts}
    weight_sum = sum(chosen.values())
    if weight_sum <= 0:
        raise ValueError(f"check {check.name}: the weights of its parts sum to 0")
    shares = {p: whole(total * w / weight_sum) for p, w in chosen.items()}
    last = check.parts[-1][0]
    shares[last] = whole(total - sum(v for p, v in shares.items() if p != last))
    return shares


REGISTRY: dict[str, Check] = {}


def check(name: str, points: int, *, depends: tuple[str, ...] = (), tags: tuple[str, ...] = (),
          title: str = "", own: tuple[str, ...] = (), parts: dict[str, int | float] | None = None):
    """Register a check definition. Checks run in registration order, so define upstream first.

    own: functions (among the tags) that must be the student's own, written, non-degenerate
    work for the check to earn anything (see ``judge.missing_own_work``).
    parts: the check's independent sub-parts and their default points (summing to ``points``);
    the check compares each part inside ``with t.part(label):``.
    """

    def register(function: Callable[[Trial], None]) -> Callable[[Trial], None]:
        unknown = [d for d in depends if d not in REGISTRY]
        if unknown:
            raise ValueError(f"check {name} depends on unregistered {unknown}")
        if not set(own) <= set(tags or (name,)):
            raise ValueError(f"check {name}: own {own} must be among its tags")
        if parts and whole(sum(parts.values())) != points:
            raise ValueError(f"check {name}: its parts' points {parts} must sum to {points}")
        REGISTRY[name] = Check(name, points, function, tags or (name,), depends,
                               title or (function.__doc__ or name).strip().splitlines()[0], own,
                               tuple((parts or {}).items()))
        return function

    return register


def upstream(name: str) -> set[str]:
    """Every check that ``name`` depends on, directly or not."""
    seen: set[str] = set()
    stack = list(REGISTRY[name].depends)
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(REGISTRY[current].depends)
    return seen


# --- expected values -----------------------------------------------------------------------------

def _key(name: str, args: tuple) -> str:
    """A stable digest of a case: the same inputs give the same key in every process."""
    digest = hashlib.sha256(name.encode())
    for arg in args:
        if isinstance(arg, np.ndarray):
            digest.update(f"{arg.dtype.str}{arg.shape}".encode())
            digest.update(np.ascontiguousarray(arg).tobytes())
        else:
            digest.update(repr(arg).encode())
    return digest.hexdigest()[:24]


def _as_arrays(value: Any) -> tuple[np.ndarray, ...]:
    if isinstance(value, tuple | list):
        return tuple(np.asarray(v) for v in value)
    return (np.asarray(value),)


class LiveExpected:
    """Expected values computed by the reference implementation (instructor side only)."""

    def __init__(self, reference: dict[str, Callable], record: bool = False):
        self.reference = SimpleNamespace(**reference)
        self.record = record  # keep every value (to save the public answers); grading does not
        self.recorded: dict[str, tuple[np.ndarray, ...]] = {}

    def __call__(self, name: str, args: tuple, compute: Callable) -> tuple[np.ndarray, ...]:
        value = _as_arrays(compute(self.reference))
        if self.record:
            self.recorded[_key(name, args)] = value
        return value

    def note_variants(self, function: str, args: tuple) -> None:
        """While recording, keep what each known wrong variant of ``function`` outputs on
        ``args`` (a case a check diagnoses), so the self-check can name it; grading does not."""
        if self.record:
            for label, output in variant_outputs(function, args, self.reference):
                self.recorded[_variant_key(function, label, args)] = _as_arrays(output)

    def variants(self, function: str, args: tuple) -> list[tuple[str, object]] | None:
        """None: with the reference at hand, ``diagnose`` evaluates the variants itself."""
        return None

    def save(self, path: Path) -> None:
        """An .npz with fixed timestamps and order, so re-recording the same values gives the
        same bytes (no spurious diffs)."""
        arrays = {f"{key}.{i}": v for key, vs in self.recorded.items() for i, v in enumerate(vs)}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(arrays):
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as member:
                    np.lib.format.write_array(member, np.asarray(arrays[name]),
                                              allow_pickle=False)


class RecordedExpected:
    """Expected values read from data recorded with the public seed (the student's self-check)."""

    def __init__(self, path: Path):
        grouped: dict[str, list[tuple[int, np.ndarray]]] = {}
        with np.load(path, allow_pickle=False) as data:
            for entry in data.files:
                key, index = entry.rsplit(".", 1)
                grouped.setdefault(key, []).append((int(index), data[entry]))
        self.data = {key: tuple(v for _, v in sorted(items)) for key, items in grouped.items()}
        self.reference = None

    def __call__(self, name: str, args: tuple, compute: Callable) -> tuple[np.ndarray, ...]:
        try:
            return self.data[_key(name, args)]
        except KeyError:
            raise LookupError(
                f"no recorded expected value for a {name} case: the recorded data does not match "
                "this grader version (run `python -m grader record` as the instructor)"
            ) from None

    def note_variants(self, function: str, args: tuple) -> None:
        """Nothing to record: the variants were recorded with the expected values."""

    def variants(self, function: str, args: tuple) -> list[tuple[str, object]]:
        """The recorded outputs of ``function``'s known wrong variants on ``args``, as
        [(diagnosis, output)] in the order of ``VARIANTS``; an output of one array is that
        array, of several a tuple (the function's own result structure)."""
        found: list[tuple[str, object]] = []
        for label, _ in VARIANTS.get(function, []):
            arrays = self.data.get(_variant_key(function, label, args))
            if arrays is not None:
                found.append((label, arrays[0] if len(arrays) == 1 else arrays))
        return found


def _variant_key(function: str, label: str, args: tuple) -> str:
    """Where a wrong variant's output on ``args`` is recorded: keyed by its diagnosis text, so a
    reworded diagnosis is never matched against an output recorded for another."""
    return _key(f"{function}\0variant\0{label}", tuple(_flatten(args)))


def _flatten(args) -> Iterator[Any]:
    """The arrays and plain values of ``args``, lists and tuples (params) opened up, so every
    array is hashed whole rather than by its (abbreviated) repr."""
    for arg in args:
        if isinstance(arg, list | tuple):
            yield from _flatten(arg)
        else:
            yield arg


# --- the trial -----------------------------------------------------------------------------------

class Trial:
    """What one check sees while it runs against one submission."""

    def __init__(self, student: Student, expected, seed: int, check_name: str,
                 verdicts: dict[str, bool]):
        self.student = student
        self._expected = expected
        self.check_name = check_name
        self.seed = seed
        self.rng = np.random.default_rng([seed, zlib.crc32(check_name.encode())])
        self._verdicts = verdicts
        self.warnings: list[str] = []
        self.notes: list[str] = []
        # Functions found missing while this check ran: not available, not implemented, or
        # computing nothing (``mark_missing``), each with the reason.
        self.missing: dict[str, str] = {}
        # Of those, the ones no stand-in for another function can bring back: absent from the
        # submission, or raising the stub's own "NAME: not implemented yet" (a bare
        # NotImplementedError may come from a helper it calls).
        self.absent: set[str] = set()
        self.reference = getattr(expected, "reference", None)
        # The first failure of each sub-part (``part``), in the order they happened.
        self.failed_parts: dict[str, CheckFailed] = {}
        self._parts = {p for p, _ in REGISTRY[check_name].parts} if check_name in REGISTRY \
            else set()

    @contextmanager
    def part(self, label: str) -> Iterator[None]:
        """Compare one independent sub-part of the check: a CheckFailed inside fails only that
        part (the first failure of each is kept) and the check goes on with the others. A
        failure outside every part (the call raised, a wrong structure) still fails them all."""
        if label not in self._parts:
            raise ValueError(f"check {self.check_name} has no part {label!r}")
        try:
            yield
        except CheckFailed as failure:
            self.failed_parts.setdefault(label, failure)

    # Upstream verdicts let a check say "your dense_forward is wrong" instead of blaming the
    # function under test for a bug it only inherited.
    def failed(self, name: str) -> bool:
        return self._verdicts.get(name) is False

    def mark_missing(self, name: str, reason: str) -> None:
        """Record that the student's ``name`` is not really there (the first reason counts)."""
        self.missing.setdefault(name, reason)

    def expect(self, name: str, args: tuple, compute: Callable) -> tuple[np.ndarray, ...]:
        """The right answer for ``name`` on ``args``; ``compute(R)`` gets the reference ``R``."""
        return self._expected(name, args, compute)

    @contextmanager
    def diagnosing(self, function: str, args: tuple, got: Any) -> Iterator[None]:
        """On a failed comparison, name the known misconception the output matches, if any.

        The same in grading (the reference evaluates each variant) and in the self-check (the
        variants' outputs on these inputs were recorded): entering records them when recording.
        """
        note = getattr(self._expected, "note_variants", None)
        if note is not None:
            note(function, args)
        try:
            yield
        except CheckFailed as failure:
            if failure.diagnosis is None:
                source = getattr(self._expected, "variants", None)
                recorded = source(function, args) if source is not None else None
                failure.diagnosis = diagnose(function, args, got, self.reference, recorded)
            raise

    def call(self, name: str, *args: Any, inputs: dict[str, object] | None = None,
             **kwargs: Any) -> Any:
        """Call the student's ``name``; fail the check if it raised, returned junk or mutated."""
        reply = self.student.call(name, *args, **kwargs)
        value = self._accept(name, reply, inputs if inputs is not None else _default_inputs(args))
        after_args, after_kwargs = reply.inputs_after
        _assert_unchanged(name, args, after_args)
        for key, value_before in kwargs.items():
            _assert_unchanged(name, value_before, after_kwargs.get(key))
        return value

    def probe(self, name: str, calls: list[tuple]) -> list[Any]:
        """Call the student's ``name`` once per argument tuple of ``calls`` in one batch (the
        finite-difference probes of a check); fail the check if any call raised or returned junk.

        Inputs are not compared after these calls: each gets fresh copies, so a change in place
        cannot alter the values, and the function's own check blames such a change.
        """
        replies = self.student.call_many(name, [(tuple(args), {}) for args in calls])
        return [self._accept(name, reply, _default_inputs(tuple(args)))
                for reply, args in zip(replies, calls, strict=True)]

    def _accept(self, name: str, reply: Reply, shown: dict[str, object]) -> Any:
        if reply.missing:
            self.absent.add(name)
            self.mark_missing(name, f"is not available: {reply.missing}")
            raise CheckFailed(f"{name} is not available: {reply.missing}")
        if reply.error:
            if reply.error.startswith("NotImplementedError"):
                stub = _STUB.match(reply.error)
                if stub is None or stub.group(1) == name:
                    if stub is not None:
                        self.absent.add(name)
                    self.mark_missing(name, "is not implemented yet")
                    raise CheckFailed(f"{name} is not implemented yet (it raises "
                                      "NotImplementedError)")
                # A stub of another function raised: say which, not that this one is a stub.
                other = stub.group(1)
                self.mark_missing(name, f"calls {other}, which is not implemented yet")
                raise CheckFailed(
                    f"{name} calls {other}, which is not implemented yet where {name} finds it "
                    f"(it raises NotImplementedError)\n  {reply.error}\n  hint: write {other}; in "
                    f"a notebook, a cell that keeps {other} (a table of functions, say) holds the "
                    f"version that existed when it ran, so write {other} in its own exercise cell "
                    "and run the cells in order")
            raise CheckFailed(
                f"{name} raised an error\n  input: {describe_inputs(shown)}\n  {reply.error}"
            )
        if reply.bad_output:
            raise CheckFailed(f"{name} {reply.bad_output}\n  input: {describe_inputs(shown)}")
        self.warnings.extend(reply.warnings)
        return reply.value


# What the released stubs raise: ``NotImplementedError("sigmoid: not implemented yet")``.
_STUB = re.compile(r"NotImplementedError: (\w+): not implemented yet")


def _default_inputs(args: tuple) -> dict[str, object]:
    shown: dict[str, object] = {}
    for i, arg in enumerate(args):
        if isinstance(arg, np.ndarray):
            shown[f"arg{i + 1}"] = arg
        elif isinstance(arg, str | int | float):
            shown[f"arg{i + 1}"] = arg
    return shown


# Functions meant to move their input while they work and put it back: a change left behind is
# a missing restore, not an in-place operation, and gets its own diagnosis and hint.
PERTURB_AND_RESTORE = {"numerical_gradient": "x"}
# Changes this small (relative to the entry) are a finite-difference step left behind.
_STEP_SIZED = 1e-2


def _largest_change(before: np.ndarray, after: np.ndarray) -> str:
    """Where the input changed most: the index, the change and both values, at full precision
    (a step of 1e-6 is invisible in an abbreviated array)."""
    with np.errstate(all="ignore"):
        delta = np.abs(after.astype(np.float64) - before.astype(np.float64))
    delta = np.where(np.isnan(delta), np.inf, delta)
    index = np.unravel_index(int(np.argmax(delta)), before.shape)
    where = f"[{', '.join(map(str, index))}]" if before.ndim else ""
    changed = int(np.count_nonzero(delta))
    return (f"largest change at index {where or '()'}: {float(before[index])!r} became "
            f"{float(after[index])!r} (a change of {float(after[index]) - float(before[index]):.3g}"
            f"); {changed} of {before.size} entries changed")


def _assert_unchanged(name: str, before: Any, after: Any) -> None:
    if isinstance(before, np.ndarray):
        if after is None or after.shape != before.shape or not (
            np.array_equal(after, before) or np.array_equal(after, before, equal_nan=True)
        ):
            shown = describe_inputs({'x': after}) if after is not None else '?'
            argument = PERTURB_AND_RESTORE.get(name)
            what = (f"{name} modified its input array in place (it must leave its inputs "
                    "unchanged)") if argument is None else (
                    f"{name} left {argument} changed when it returned (it may move entries of "
                    f"{argument} while it measures, but must put every one back)")
            message = (f"{what}\n  input before: {describe_inputs({'x': before})}\n"
                       f"  input after:  {shown}")
            comparable = (after is not None and after.shape == before.shape
                          and before.dtype.kind in "biuf" and after.dtype.kind in "biuf")
            if comparable:
                message += f"\n  {_largest_change(before, after)}"
            if argument is None:
                raise CheckFailed(
                    message + "\n  hint: operations like z[z < 0] = 0 or x += ... write into the "
                    "caller's array; work on a copy or use functions that return new arrays "
                    "(np.maximum, np.where)",
                    diagnosis="writes into its input array in place: the caller's array (a "
                              "cache the backward pass reads, say) changes under it")
            small = comparable and bool(np.all(
                np.abs(after.astype(np.float64) - before)
                <= _STEP_SIZED * (1.0 + np.abs(before.astype(np.float64)))))
            raise CheckFailed(
                message + f"\n  hint: {name} may move {argument}[idx] while it measures, but "
                f"must put it back: keep old = {argument}[idx], evaluate f at old + eps and at "
                f"old - eps, then restore {argument}[idx] = old after both evaluations",
                diagnosis=(f"forgets to restore {argument}[idx] after evaluating f at "
                           f"{argument}[idx] + eps and {argument}[idx] - eps: {argument} is left "
                           "moved by a step") if small else None)
    elif isinstance(before, list | tuple):  # params: a list of (W, b) pairs
        after = after if isinstance(after, tuple) else (None,) * len(before)
        for item_before, item_after in zip(before, after, strict=False):
            _assert_unchanged(name, item_before, item_after)
