"""Laws the reference obeys, checked on many generated inputs (hypothesis).

The grader trusts the reference as its oracle, so the oracle itself is held to the mathematics:
derivatives agree with central differences, shapes are preserved, symmetries hold, and backprop
through a small net agrees with finite differences."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from solutions import activations as A
from solutions import gradient_check as G
from solutions import layers as L
from solutions import network as N
from tests.strategies import ACTIVATIONS, SEEDS, finite_floats, float_arrays, generated, shapes

PAIRS = [(A.sigmoid, A.sigmoid_grad), (A.tanh, A.tanh_grad), (A.relu, A.relu_grad),
         (A.leaky_relu, A.leaky_relu_grad)]


@generated(60)
@given(float_arrays(-30, 30))
def test_derivatives_match_central_differences_away_from_the_kink(z):
    z = np.where(np.abs(z) < 1e-3, 0.5, z)
    h = 1e-6
    for forward, derivative in PAIRS:
        numerical = (forward(z + h) - forward(z - h)) / (2 * h)
        np.testing.assert_allclose(derivative(z), numerical, rtol=1e-5, atol=1e-9)


@generated(60)
@given(float_arrays(-1e4, 1e4))
def test_activations_keep_shape_leave_input_alone_and_stay_finite(z):
    before = z.copy()
    for forward, derivative in PAIRS:
        for function in (forward, derivative):
            out = np.asarray(function(z))
            assert out.shape == z.shape
            assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(z, before)


@generated(60)
@given(float_arrays(-800, 800))
def test_sigmoid_symmetry_and_bounds(z):
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # stable: no overflow
        s = A.sigmoid(z)
        np.testing.assert_allclose(s + A.sigmoid(-z), 1.0, atol=1e-15)
        assert np.all((0 <= s) & (s <= 1))
        assert np.all(A.sigmoid_grad(z) <= 0.25)


@generated(30)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), SEEDS)
def test_dense_backward_matches_numerical_gradient(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    dout = rng.normal(size=(n, m))
    dx, dW, db = L.dense_backward(dout, L.dense_forward(x, W, b)[1])
    assert G.relative_error(dx, G.numerical_gradient(
        lambda v: np.sum(dout * L.dense_forward(v, W, b)[0]), x.copy())) < 1e-8
    assert G.relative_error(dW, G.numerical_gradient(
        lambda v: np.sum(dout * L.dense_forward(x, v, b)[0]), W.copy())) < 1e-8
    assert G.relative_error(db, G.numerical_gradient(
        lambda v: np.sum(dout * L.dense_forward(x, W, v)[0]), b.copy())) < 1e-8


@generated(15)
@given(ACTIVATIONS, SEEDS)
def test_mlp_backward_matches_numerical_gradient_on_small_nets(activation, seed):
    rng = np.random.default_rng(seed)
    params = N.init_params([3, 4, 2], activation, rng)
    params = [(W, rng.normal(size=b.shape)) for W, b in params]
    x = rng.normal(size=(5, 3))
    dout = rng.normal(size=(5, 2))
    grads = N.mlp_backward(dout, N.mlp_forward(x, params, activation)[1])
    for layer, (W, _) in enumerate(params):
        def loss(v, layer=layer):
            changed = [(v, b) if i == layer else (w, b) for i, (w, b) in enumerate(params)]
            return np.sum(dout * N.mlp_forward(x, changed, activation)[0])
        # Kinks are measure-zero: a draw that lands within eps of one is vanishingly rare.
        assert G.relative_error(grads[layer][0], G.numerical_gradient(loss, W.copy())) < 1e-6


@generated(60)
@given(float_arrays(-30, 30, shapes(min_dims=1)))
def test_relative_error_is_symmetric_bounded_and_zero_on_equal(a):
    b = a[::-1].copy() if a.ndim else a * 2
    assert G.relative_error(a, b) == G.relative_error(b, a)
    assert 0.0 <= G.relative_error(a, b) <= 1.0
    assert G.relative_error(a, a) == 0.0


@generated(40)
@given(float_arrays(-3, 3, shapes(max_side=3)))
def test_numerical_gradient_of_a_quadratic_is_exact_and_restores_x(x):
    before = x.copy()
    grad = G.numerical_gradient(lambda v: float(np.sum(v * v)), x)
    np.testing.assert_allclose(grad, 2 * before, atol=1e-6)
    np.testing.assert_array_equal(x, before)


@generated(40)
@given(st.integers(1, 6), st.integers(2, 5), finite_floats(-1e4, 1e4), SEEDS)
def test_softmax_loss_is_shift_invariant_and_gradient_rows_sum_to_zero(n, c, shift, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c))
    labels = rng.integers(0, c, size=n)
    loss, dlogits = L.softmax_cross_entropy(logits, labels)
    shifted_loss, shifted_d = L.softmax_cross_entropy(logits + shift, labels)
    assert np.isclose(loss, shifted_loss, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dlogits, shifted_d, atol=1e-9)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-12)
