"""The pattern diagnoses the checks ask ``grader.checking.diagnoses`` for, on generated inputs:
each names its misconception when the answer is exactly that slip, and nothing for the right
answer or for another wrong one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checking.diagnoses import (
    numerical_gradient_mistake,
    relative_error_mistake,
    reversed_layers,
)
from grader.spec.functions import central_differences, curved
from tests.helpers import scaled

_SETTINGS = settings(max_examples=scaled(40), derandomize=True, deadline=None, database=None)
REVERSED = "returns the right gradients in reversed order: return them first layer first"
FORWARD = ("uses forward differences (f(x + eps) - f(x)) / eps; central differences "
           "(f(x + eps) - f(x - eps)) / (2 eps) are far more accurate")
FACTOR_TWO = "misses the factor 2: central differences divide by 2 * eps"
NO_FLOOR = "divides by ||a|| + ||b|| without the 1e-12 floor: 0 / 0 = NaN when both are zero"
BY_A = "divides by ||a|| only; the measure is symmetric in a and b"
ROWS = ("perturbs a whole row at a time: for an n-d x, x[i] is a row; step every entry, for idx "
        "in np.ndindex(x.shape)")


def _net(seed: int, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(i, o)), rng.normal(size=o))
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)]


def _flat(grads) -> tuple:
    return tuple(array for pair in grads for array in pair)


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), width=st.integers(1, 5), depth=st.integers(1, 5))
def test_reversed_layers_are_named_only_when_reversed(seed, width, depth):
    # Square layers, so a reversed list has the right shapes and only its order is wrong.
    grads = _net(seed, [width] * (depth + 1))
    right = _flat(grads)
    assert reversed_layers(grads, right) is None
    assert reversed_layers(grads[::-1], right) == (REVERSED if depth > 1 else None)
    halved = [(dW / 2, db / 2) for dW, db in grads[::-1]]
    assert reversed_layers(halved, right) is None
    assert reversed_layers(grads[::-1][:-1], right) is None  # a layer too few: another bug


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1),
       shape=st.sampled_from([(), (1,), (5,), (3, 4), (2, 2, 3)]),
       eps=st.sampled_from([1e-6, 1e-4, 1e-3]))
def test_finite_difference_slips_are_named(seed, shape, eps):
    rng = np.random.default_rng(seed)
    f = curved(rng.uniform(0.5, 2.0, size=shape), rng.uniform(-1.0, 1.0, size=shape))
    x = np.array(rng.normal(size=shape))
    right = central_differences(f, x, eps)
    forward = np.zeros_like(right)
    for index in np.ndindex(x.shape):
        moved = x.copy()
        moved[index] += eps
        forward[index] = (f(moved) - f(x)) / eps
    assert numerical_gradient_mistake(right, f, x, eps, right) is None
    assert numerical_gradient_mistake(2 * right, f, x, eps, right) == FACTOR_TWO
    assert numerical_gradient_mistake(forward, f, x, eps, right) == FORWARD
    assert numerical_gradient_mistake(-right, f, x, eps, right) is None
    # Another shape is another bug (an n-d x flattened, say), never one of these slips.
    assert numerical_gradient_mistake(2 * right.reshape(-1, 1), f, x, eps, right) is None


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(3,), (4, 3), (2, 3, 2)]))
def test_relative_error_slips_are_named(seed, shape):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    right = np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
    assert relative_error_mistake(float(right), a, b) is None
    assert relative_error_mistake(float(np.linalg.norm(a - b) / np.linalg.norm(a)), a, b) == BY_A
    assert relative_error_mistake(float("nan"), a, b) == NO_FLOOR
    zeros = np.zeros(shape)
    with np.errstate(all="ignore"):
        assert relative_error_mistake(float("nan"), zeros, zeros) == NO_FLOOR


def _row_loop(f, x, eps, copy_row):
    """A student's loop over range(x.shape[0]): ``old = x[i]`` (a view) or ``x[i].copy()``."""
    x = x.copy()
    grad = np.zeros_like(x)
    for i in range(x.shape[0]):
        old = x[i].copy() if copy_row else x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(2, 3), (3, 4), (2, 2, 3), (4, 1)]),
       eps=st.sampled_from([1e-6, 1e-4, 1e-3]), copy_row=st.booleans())
def test_a_loop_over_rows_is_named_for_an_nd_x(seed, shape, eps, copy_row):
    rng = np.random.default_rng(seed)
    f = curved(rng.uniform(0.5, 2.0, size=shape), rng.uniform(-1.0, 1.0, size=shape))
    x = rng.normal(size=shape)
    right = central_differences(f, x, eps)
    got = _row_loop(f, x, eps, copy_row)
    if shape[-1] == 1 and copy_row:
        # Rows of one entry: stepping a row is stepping an entry, and the answer is right.
        assert numerical_gradient_mistake(got, f, x, eps, right) is None
    else:
        assert numerical_gradient_mistake(got, f, x, eps, right) == ROWS
    # A vector is its own rows: the same loop is right there, and nothing is named.
    v = x.reshape(-1)
    g = curved(np.ones(v.shape), np.zeros(v.shape))
    assert numerical_gradient_mistake(central_differences(g, v, eps), g, v, eps,
                                      central_differences(g, v, eps)) is None
