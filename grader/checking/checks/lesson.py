"""The lesson's checks: vanishing gradients in the student's own sigmoid net, healthy ones in
their own ReLU net (init_params, mlp_forward and mlp_backward together).

These are statistical: a ratio of gradient norms against a threshold, measured on the reference
over thousands of seeds (the margins are noted by each threshold). They name mlp_forward and
mlp_backward as the student's own work (``own``): a stand-in may replace one, never both.
"""

from __future__ import annotations

import numpy as np

from grader.checking.compare import CheckFailed, check_shape
from grader.checking.trial import Trial, check
from grader.spec.protocol import RngSeed

DEPTH, WIDTH, BATCH, OUTPUTS = 10, 64, 64, 10
# Thresholds and what the reference (its init_params, mlp_forward, mlp_backward) gives on the nets
# below, measured over seeds 0-99 and 0-2999 (r = ||dW_1|| / ||dW_10||, r_delta = ||dL/dz_1|| /
# ||dL/dz_10||). Every seed is drawn from the grading seed, so the margins hold for any of them.
VANISH_MAX = 1e-3  # sigmoid + Glorot: r <= 1.53e-6 (100 seeds), <= 3.1e-6 (3,000): 650x / 330x
RELU_RATIO_MIN = 1e-2  # ReLU + He: r >= 0.143 (100 seeds; seed 68), >= 0.135 (3,000): 14x / 13x
RELU_RATIO_MAX = 10.0  # ... and r <= 0.73 (100 seeds; seed 34), <= 1.30 (3,000): 14x / 7.7x
RELU_DELTA_MIN = 0.1  # ReLU + He: r_delta >= 0.687 (100 seeds), >= 0.659 (3,000): 6.9x / 6.6x
RELU_DELTA_MAX = 20.0  # ... and r_delta <= 2.57 (100 seeds), <= 3.65 (3,000): 7.8x / 5.5x
LESSON_RUNS = 2  # nets per lesson check, each with its own seed from t.rng


def _lesson_seeds(t: Trial) -> list[int]:
    """The seeds of a lesson check's nets (data and init), drawn from the grading seed."""
    return [int(seed) for seed in t.rng.integers(1 << 31, size=LESSON_RUNS)]


def _deep_gradients(t: Trial, activation: str, seed: int):
    """Student's init + forward + backward on a deep MSE problem; the judge computes dL/dout.

    Fails unless the first and the last hidden layer's weight gradients are finite and non-zero:
    a gradient of exactly 0 did not vanish, nothing was propagated (and 0 / 0 is no ratio).
    """
    data = np.random.default_rng(seed)
    x = data.normal(size=(BATCH, WIDTH))
    target = data.normal(size=(BATCH, OUTPUTS))
    sizes = [WIDTH] * (DEPTH + 1) + [OUTPUTS]
    params = t.call("init_params", sizes, activation, RngSeed(seed))
    if len(params) != len(sizes) - 1:
        raise CheckFailed(f"init_params({sizes}, {activation!r}) returned {len(params)} layers")
    out, caches = t.call("mlp_forward", x, params, activation)
    check_shape(f"mlp_forward's output for the {DEPTH}-layer {activation} net", out,
                target.shape, {"x": x})
    dout = (out - target) / BATCH
    grads = t.call("mlp_backward", dout, caches)
    if len(grads) != len(params) or any(dW.shape != W.shape
                                        for (dW, _), (W, _) in zip(grads, params, strict=True)):
        raise CheckFailed(f"mlp_backward's gradients for the {DEPTH}-layer {activation} net do "
                          "not have the shapes of the parameters")
    if not all(np.all(np.isfinite(dW)) for dW, _ in grads):
        raise CheckFailed(f"the {DEPTH}-layer {activation} net's gradients are not finite numbers")
    for layer in (1, DEPTH):
        if not np.any(grads[layer - 1][0]):
            raise CheckFailed(
                f"in the {DEPTH}-hidden-layer {activation} net (seed {seed}) dW_{layer} is exactly "
                "0: a gradient that is 0 has not vanished, nothing reached that layer (check "
                "that mlp_forward and mlp_backward compute the net's values and gradients)")
    return x, params, dout, grads


def _delta_norms(t: Trial, x: np.ndarray, params, dout: np.ndarray, grads) -> tuple[float, float]:
    """||dL/dz_1|| and ||dL/dz_L|| (L = last hidden layer) of the student's ReLU net, exactly.

    dz_1 comes from the student's own backward pass: dW_1 = x^T dz_1 and x is a square Gaussian
    matrix, so dz_1 = solve(x^T, dW_1). dz_L is one layer from the output: the output layer is
    linear, so dz_L = (dout W_out^T) * relu'(z_L), with relu'(z_L) = [a_L > 0] read from the
    student's own forward pass (their net cut after layer L, with an identity output layer).
    Both agree with per-example backward passes to 1e-15 at a 32nd of the cost.
    """
    dz_first = np.linalg.solve(x.T, grads[0][0])
    cut = [*params[:DEPTH], (np.eye(WIDTH), np.zeros(WIDTH))]
    a_last, _ = t.call("mlp_forward", x, cut, "relu")
    if a_last.shape != (BATCH, WIDTH):
        raise CheckFailed(f"mlp_forward on a net ending in a {WIDTH}-unit linear layer returned "
                          f"shape {a_last.shape}, expected {(BATCH, WIDTH)}")
    dz_last = (dout @ params[DEPTH][0].T) * (a_last > 0)
    return float(np.linalg.norm(dz_first)), float(np.linalg.norm(dz_last))


def _ratio(first: float, last: float) -> float:
    """first / last; inf when last is 0 (the checks make sure first is not)."""
    return first / last if last != 0.0 else float("inf")


@check("vanishing_sigmoid", 3, depends=("init_params", "mlp_forward", "mlp_backward"),
       tags=("init_params", "mlp_forward", "mlp_backward"), own=("mlp_forward", "mlp_backward"))
def check_vanishing_sigmoid(t: Trial) -> None:
    """In your 10-layer sigmoid net (Glorot init) the first layer's gradient vanishes"""
    for seed in _lesson_seeds(t):
        grads = _deep_gradients(t, "sigmoid", seed)[-1]
        norms = [float(np.linalg.norm(dW)) for dW, _ in grads]
        ratio = _ratio(norms[0], norms[DEPTH - 1])
        t.notes.append(f"sigmoid, seed {seed}: ||dW_1|| / ||dW_{DEPTH}|| = {ratio:.3g}")
        if ratio > VANISH_MAX:
            raise CheckFailed(
                f"in a {DEPTH}-hidden-layer sigmoid net of width {WIDTH} (your init_params, "
                f"mlp_forward, mlp_backward; seed {seed}) ||dW_1|| / ||dW_{DEPTH}|| = "
                f"{ratio:.3g}; it should vanish (<= {VANISH_MAX:g}): each sigmoid layer "
                "multiplies the gradient by its slope sigma'(z) (at most 1/4) times its "
                "weights, and Glorot's weights (sized for a slope of 1) do not make up the 1/4"
            )


@check("vanishing_relu", 3, depends=("init_params", "mlp_forward", "mlp_backward"),
       tags=("init_params", "mlp_forward", "mlp_backward"), own=("mlp_forward", "mlp_backward"))
def check_vanishing_relu(t: Trial) -> None:
    """In your 10-layer ReLU net (He init) the first layer still gets a healthy gradient"""
    for seed in _lesson_seeds(t):
        x, params, dout, grads = _deep_gradients(t, "relu", seed)
        norms = [float(np.linalg.norm(dW)) for dW, _ in grads]
        ratio = _ratio(norms[0], norms[DEPTH - 1])
        delta_ratio = _ratio(*_delta_norms(t, x, params, dout, grads))
        t.notes.append(f"relu, seed {seed}: ||dW_1|| / ||dW_{DEPTH}|| = {ratio:.3g}, "
                       f"||dL/dz_1|| / ||dL/dz_{DEPTH}|| = {delta_ratio:.3g}")
        # A band, not a floor: a gradient that grows layer to layer (an exploding net) is no
        # healthier than one that vanishes.
        if not (RELU_RATIO_MIN <= ratio <= RELU_RATIO_MAX
                and RELU_DELTA_MIN <= delta_ratio <= RELU_DELTA_MAX):
            raise CheckFailed(
                f"in a {DEPTH}-hidden-layer ReLU net of width {WIDTH} with He init (seed "
                f"{seed}) ||dW_1|| / ||dW_{DEPTH}|| = {ratio:.3g} (needs {RELU_RATIO_MIN:g} to "
                f"{RELU_RATIO_MAX:g}) and ||dL/dz_1|| / ||dL/dz_{DEPTH}|| = {delta_ratio:.3g} "
                f"(needs {RELU_DELTA_MIN:g} to {RELU_DELTA_MAX:g}); ReLU with He init keeps "
                "the gradient's size layer to layer, neither vanishing nor exploding"
            )
