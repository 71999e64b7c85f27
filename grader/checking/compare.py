"""Comparisons that explain themselves: every failure names the input, expected vs got, the error
measure and its limit. Used by the checks; never sees student objects, only plain arrays."""

from __future__ import annotations

import numpy as np


class CheckFailed(Exception):
    """A check found a wrong answer. ``str(error)`` is the feedback shown to the student."""

    def __init__(self, message: str, diagnosis: str | None = None):
        super().__init__(message)
        self.message = message
        self.diagnosis = diagnosis


def show(array: np.ndarray, limit: int = 6) -> str:
    """A few numbers of an array, compactly: 'array (5, 4) float64 [0.31, -1.2, ...]'."""
    array = np.asarray(array)
    flat = array.reshape(-1)
    numbers = ", ".join(f"{v:.4g}" for v in flat[:limit])
    more = ", ..." if flat.size > limit else ""
    if array.ndim == 0:
        return f"{float(array):.6g} ({array.dtype}, 0-d)"
    return f"array {array.shape} {array.dtype} [{numbers}{more}]"


def describe_inputs(inputs: dict[str, object]) -> str:
    parts = []
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{name} = {show(value)}")
        else:
            parts.append(f"{name} = {value!r}")
    return "; ".join(parts)


def check_shape(what: str, got: np.ndarray, expected_shape: tuple, inputs: dict) -> None:
    if got.shape != tuple(expected_shape):
        raise CheckFailed(
            f"{what} has shape {got.shape}, expected {tuple(expected_shape)}\n"
            f"  input: {describe_inputs(inputs)}"
        )


def assert_close(
    what: str,
    got: np.ndarray,
    expected: np.ndarray,
    inputs: dict[str, object],
    *,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    hint: str = "",
    elementwise_input: np.ndarray | None = None,
) -> None:
    """Elementwise |got - expected| <= atol + rtol * |expected|, with shape and finiteness first.

    elementwise_input: for elementwise functions, the input whose entry at the worst position is
    shown next to the worst output, so a student sees f(z_i) = expected vs got.
    """
    got = np.asarray(got)
    expected = np.asarray(expected)
    check_shape(what, got, expected.shape, inputs)
    bad_finite = np.isfinite(expected) & ~np.isfinite(got)
    excess = np.abs(got.astype(np.float64) - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if not bad_finite.any() and not (excess > 0).any():
        return
    index = np.unravel_index(int(np.argmax(np.where(bad_finite, np.inf, excess))), got.shape)
    where = f"[{', '.join(map(str, index))}]" if got.ndim else ""
    at = ""
    if elementwise_input is not None:
        value = np.asarray(elementwise_input)[index]
        at = f" at input {float(value):.6g}"
    with np.errstate(all="ignore"):
        worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
    message = (
        f"{what} is wrong{at}: {what}{where} = {float(got[index]):.6g}, "
        f"expected {float(expected[index]):.6g}\n"
        f"  input: {describe_inputs(inputs)}\n"
        f"  error: max |got - expected| = {worst:.3g} (allowed {atol:g} + {rtol:g} * |expected|)"
    )
    if bad_finite.any():
        message += f"\n  {int(bad_finite.sum())} value(s) are inf or NaN where finite ones are due"
    if hint:
        message += f"\n  hint: {hint}"
    raise CheckFailed(message)


def norm_error(got: np.ndarray, expected: np.ndarray) -> float:
    """||got - expected|| / ||expected|| (Frobenius); exact zeros on both sides give 0."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.linalg.norm(expected)
    diff = np.linalg.norm(got - expected)
    if not np.isfinite(diff):
        return float("inf")
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return float(diff / scale)


def assert_norm_close(
    what: str,
    got: np.ndarray,
    expected: np.ndarray,
    inputs: dict[str, object],
    *,
    tol: float,
    hint: str = "",
) -> None:
    """Relative error in norm, ||got - expected|| / ||expected|| <= tol.

    Unlike an elementwise tolerance with an absolute floor, this fails an all-zero gradient even
    when the true gradient is tiny (deep sigmoid layers reach 1e-20).
    """
    got = np.asarray(got)
    expected = np.asarray(expected)
    check_shape(what, got, expected.shape, inputs)
    error = norm_error(got, expected)
    if error <= tol:
        return
    message = (
        f"{what} is wrong: ||got - expected|| / ||expected|| = {error:.3g} (allowed {tol:g})\n"
        f"  input: {describe_inputs(inputs)}\n"
        f"  expected {show(expected)}\n  got      {show(got)}"
    )
    if hint:
        message += f"\n  hint: {hint}"
    raise CheckFailed(message)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): the gradient-check measure (0 for two exact zeros).

    Arrays of different shapes are infinitely far apart: broadcasting would compare a (1, M)
    answer with an (M,) one as equal, or fail with a ValueError the check did not expect."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    if not np.isfinite(denominator):
        return float("inf")
    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)
