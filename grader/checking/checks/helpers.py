"""What the checks of several exercise modules share: the finite-difference step and tolerance,
inputs away from a kink, and the one way a backward is held to the student's own forward.

A backward whose forward is broken (the forward's own check failed) is not blamed for that
forward's bug: when it disagrees with the reference, it is asked instead whether it is the exact
gradient of the student's own forward (``own_numerical``, ``agrees_with_own_forward``), as long as
that forward is a function worth differentiating (``trivial_derivative``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.checking.compare import CheckFailed, check_shape, relative_difference
from grader.checking.trial import Trial
from grader.spec.functions import differences, probe_points

H = 1e-5  # finite-difference step: float64 central differences are accurate to ~1e-10 with it
GRADIENT_TOL = 1e-6  # ||g - g_num|| / (||g|| + ||g_num||): correct code 1e-9..1e-11, bugs >= 0.2


def away_from_zero(rng: np.random.Generator, shape, scale: float, gap: float) -> np.ndarray:
    """Random values with |z| >= gap, so derivatives of ReLU-type functions are well defined."""
    z = rng.normal(0.0, scale, size=shape)
    return np.where(np.abs(z) < gap, np.copysign(gap, z) + z, z)


def backward_on_own_cache(t: Trial, forward: str, backward: str, args: tuple,
                          upstream: np.ndarray, inputs: dict) -> Any | None:
    """The student's ``backward(upstream, cache)`` on the cache of their own ``forward(*args)``
    (its second result), or None to skip this input.

    When the student's forward is broken (its own check failed) and crashes on an input, that
    input cannot test the backward; it is skipped rather than blamed on the backward.
    """
    try:
        cache = t.call(forward, *args, inputs=inputs)[1]
    except CheckFailed:
        if t.failed(forward):
            return None
        raise
    return t.call(backward, upstream, cache, inputs=inputs)


def require_tested(t: Trial, name: str, forward: str, tested: int) -> None:
    if tested == 0:
        raise CheckFailed(f"{name} could not be tested: your {forward} fails on every input "
                          f"{name} is checked with (see {forward}'s own check)")


def trivial_derivative(forward: str, numericals: dict[str, np.ndarray],
                       upstream: np.ndarray, elementwise: bool = False,
                       rows_apart: bool = True) -> str | None:
    """Why finite differences of the student's own ``forward`` cannot vindicate a backward, or
    None when they can.

    numericals: the finite-difference gradient of sum(upstream * forward(...)) for each input
    (name -> array shaped like that input); upstream: that random upstream gradient. A forward
    that does not change when one of its inputs changes (a constant, zeros, an input handed back
    while another is ignored) has a numerical gradient of exactly 0 there, and a backward that
    returns zeros "agrees" with it. elementwise: the forward is an activation of its only input,
    whose slope numerical / upstream must vary over the inputs (a forward with one slope
    everywhere, such as z itself, is linear: there is no activation to differentiate). The
    inputs span both signs, so every activation of the course has two slopes or more on them.
    rows_apart: whether the forward kept a batch's examples apart (``rows_apart``); one that
    mixes them is no layer or network.
    """
    scale = float(np.linalg.norm(upstream))
    for name, numerical in numericals.items():
        # A correct forward's gradient is O(||upstream||) for every input; differences of a
        # function that ignores the input are exactly 0 (or roundoff, <= 1e-10 of that).
        if not np.all(np.isfinite(numerical)) or float(np.linalg.norm(numerical)) <= 1e-8 * scale:
            return (f"your {forward} does not change when {name} changes (its finite-difference "
                    f"gradient with respect to {name} is 0), so it cannot vouch for a backward")
    if not rows_apart:
        return (f"your {forward} mixes the examples of a batch (moving one row of x changes "
                "other rows of out), so it is no layer and cannot vouch for a backward")
    if elementwise:
        (numerical,) = numericals.values()
        with np.errstate(all="ignore"):
            slopes = numerical / upstream
        if np.ptp(slopes) <= 1e-6 * (1.0 + float(np.max(np.abs(slopes)))):
            return (f"your {forward} has the same slope {float(np.mean(slopes)):.3g} at every "
                    "input: it is linear, with no activation to differentiate, so it cannot "
                    "vouch for a backward")
    return None

def rows_apart(outputs: list[np.ndarray], shape: tuple[int, ...]) -> bool:
    """Whether a forward's outputs at ``probe_points(x)`` (x: (N, D)) change only in the row
    of the example that was moved, as a layer's do: every example goes through it on its own.

    A forward that mixes the batch (every output a sum over all of x, say) is no layer, and a
    backward consistent with it proves nothing."""
    if not outputs or any(o.ndim != 2 or o.shape[0] != shape[0] for o in outputs):
        return False
    for (row, _), plus, minus in zip(np.ndindex(shape), outputs[0::2], outputs[1::2],
                                     strict=True):
        others = np.delete(np.abs(plus - minus), row, axis=0)
        scale = 1e-9 * (1.0 + float(np.max(np.abs(plus))))
        if others.size and not float(np.max(others)) <= scale:
            return False
    return True


def own_numerical(t: Trial, forward: str, values: Sequence[np.ndarray],
                  assemble: Callable[[list[np.ndarray]], tuple], dout: np.ndarray,
                  batch: np.ndarray | None = None) -> tuple[list[np.ndarray], bool]:
    """Finite differences of sum(dout * out) through the student's own ``forward``, judge-side,
    with every probe in one batch of calls.

    values: the arrays to differentiate with respect to (any shapes); assemble(values): the
    forward's arguments for those values (whose first output is ``out``, shaped like dout).
    Returns one float64 gradient per value, shaped like it, and whether the forward keeps the
    examples of ``batch`` (its first argument, (N, D)) apart (``rows_apart``; True when no batch
    is given). When the batch is ``values[0]`` its probes are the ones already made.
    """
    calls, sizes = [], []
    for position, value in enumerate(values):
        points = probe_points(value, H)
        sizes.append(len(points))
        for point in points:
            moved = list(values)
            moved[position] = point
            calls.append(assemble(moved))
    reuse = batch is not None and len(values) > 0 and values[0] is batch
    extra = []
    if batch is not None and not reuse:
        rest = assemble(list(values))[1:]
        extra = [(point, *rest) for point in probe_points(batch, H)]
    outputs = [out for out, _ in t.probe(forward, calls + extra)]
    losses = iter([float(np.sum(dout * out)) for out in outputs[:len(calls)]])
    numerical = [differences([next(losses) for _ in range(size)], value, H)
                 for value, size in zip(values, sizes, strict=True)]
    if batch is None:
        return numerical, True
    moved_rows = outputs[:sizes[0]] if reuse else outputs[len(calls):]
    return numerical, rows_apart(moved_rows, batch.shape)


def agrees_with_own_forward(t: Trial, forward: str, got: Sequence[np.ndarray],
                            numericals: dict[str, np.ndarray], dout: np.ndarray, *,
                            rows_apart: bool = True, elementwise: bool = False,
                            cannot_vouch: Callable[[], str | None] | None = None,
                            about: str = "", shapes: dict[str, object] | None = None) -> bool:
    """Whether a backward's answer ``got`` (its arrays, in the order of ``numericals``) is the
    gradient of the student's own broken ``forward``: the check's fallback once the answer
    disagreed with the reference.

    numericals: name of each input -> finite differences through that forward (``own_numerical``).
    A forward that cannot vouch for a backward (``trivial_derivative``, or ``cannot_vouch()``
    when that finds nothing) vindicates nothing: the reason goes to the notes (followed by
    ``about``) and False is returned. shapes: the inputs to show when an array of ``got`` has
    the wrong shape (then d<name> fails on its shape, as for the reference). Every array must
    agree to ``GRADIENT_TOL``.
    """
    trivial = trivial_derivative(forward, numericals, dout, elementwise=elementwise,
                                 rows_apart=rows_apart)
    if trivial is None and cannot_vouch is not None:
        trivial = cannot_vouch()
    if trivial:
        t.notes.append(f"{trivial}{about}")
        return False
    for (name, numerical), g in zip(numericals.items(), got, strict=True):
        if shapes is not None:
            check_shape(f"d{name}", g, numerical.shape, shapes)
        if relative_difference(g, numerical) > GRADIENT_TOL:
            return False
    return True
