"""Experiment 1: how large is each layer's gradient after one backward pass at initialisation?

Every number comes from the implementation's own ``init_params``, ``mlp_forward``,
``mlp_backward`` and ``mse_loss``; nothing here runs a layer by itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .config import FULL, Flow
from .implementation import Implementation, checked, progress

Params = list[tuple[np.ndarray, np.ndarray]]

# init_params picks its scheme from the activation; these activations ask it for each scheme.
_ASKS_FOR = {"glorot": "tanh", "he": "relu"}
SMALL_STD = 0.01


def ratio(num: float, den: float) -> float:
    """num / den, without a ZeroDivisionError when a gradient underflowed to 0."""
    if den > 0:
        return num / den
    return float("inf") if num > 0 else float("nan")


def init_by_scheme(impl: Implementation, layer_sizes: Sequence[int], scheme: str,
                   rng: np.random.Generator) -> Params:
    """An MLP initialised by a named scheme, drawn by ``impl.init_params``.

    layer_sizes: [D_in, H_1, ..., D_out]; scheme: "glorot", "he" or "small".
    Returns [(W (fan_in, fan_out) float64, b (fan_out,) float64), ...].

    "glorot" and "he" are what ``init_params`` gives tanh and ReLU units. "small", N(0, 0.01^2),
    is the He draw rescaled to standard deviation 0.01: He draws N(0, 2 / fan_in), so W times
    0.01 / sqrt(2 / fan_in) is N(0, 0.01^2), from the same random numbers.
    """
    if scheme not in (*_ASKS_FOR, "small"):
        raise ValueError(f"unknown init scheme {scheme!r}; use glorot, he or small")
    impl = checked(impl)
    params = impl.init_params(list(layer_sizes), _ASKS_FOR.get(scheme, "relu"), rng)
    if scheme != "small":
        return params
    return [(W * (SMALL_STD / np.sqrt(2.0 / W.shape[0])), b) for W, b in params]


def pre_activation_norms(impl: Implementation, x: np.ndarray, params: Params, activation: str,
                         dout: np.ndarray) -> list[float]:
    """||dL/dz_l||_F for every layer l (output last), z_l the layer's pre-activation.

    x: (N, D_in) float64; dout: (N, D_out) float64, dL/d(output) for the whole batch.
    ``mlp_backward`` returns db_l, the sum of dL/dz_l over the batch's rows. An MLP treats its
    rows independently, so a forward and backward pass of row i alone (with row i of dout)
    gives that row's dL/dz_l as db_l; the squared norms of the rows add up to the batch's.
    """
    impl = checked(impl)
    squares = np.zeros(len(params))
    for row in range(x.shape[0]):
        _, caches = impl.mlp_forward(x[row : row + 1], params, activation)
        grads = impl.mlp_backward(dout[row : row + 1], caches)
        squares += [float(np.sum(np.square(db))) for _, db in grads]
    return [float(value) for value in np.sqrt(squares)]


def gradient_flow(impl: Implementation, activation: str, init: str,
                  config: Flow = FULL.flow) -> dict:
    """Gradient norms of every hidden layer after one forward/backward pass at initialisation.

    x: (batch, width) float64 and targets: (batch, n_out) float64 are N(0, 1), drawn from
    ``config.seed`` before the weights, so every activation and init sees the same data.

    Returns a dict with
      activation, init, depth, width, batch, seed: the settings;
      loss: float;
      dW_norms: list of ``depth`` floats, ||dL/dW_l||_F of hidden layers l = 1..depth;
      dW_out_norm: float, the same for the linear output layer;
      delta_norms: list of ``depth`` floats, ||dL/dz_l||_F, z_l the pre-activation of hidden
        layer l (see pre_activation_norms);
      ratio: ||dW_1|| / ||dW_L||, ratio_delta: ||dz_1|| / ||dz_L|| (L = last hidden layer).
    """
    impl = checked(impl)
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((config.batch, config.width))
    targets = rng.standard_normal((config.batch, config.n_out))
    sizes = [config.width] * (config.depth + 1) + [config.n_out]
    params = init_by_scheme(impl, sizes, init, rng)

    out, caches = impl.mlp_forward(x, params, activation)
    loss_value, dout = impl.mse_loss(out, targets)
    dW_norms = [float(np.linalg.norm(dW)) for dW, _ in impl.mlp_backward(dout, caches)]
    delta_norms = pre_activation_norms(impl, x, params, activation, dout)[:-1]

    return {
        "activation": activation,
        "init": init,
        "depth": config.depth,
        "width": config.width,
        "batch": config.batch,
        "seed": config.seed,
        "loss": float(loss_value),
        "dW_norms": dW_norms[:-1],
        "dW_out_norm": dW_norms[-1],
        "delta_norms": delta_norms,
        "ratio": ratio(dW_norms[0], dW_norms[-2]),
        "ratio_delta": ratio(delta_norms[0], delta_norms[-1]),
    }


def gradient_flow_grid(impl: Implementation, config: Flow = FULL.flow,
                       show_progress: bool = False) -> list[dict]:
    """``gradient_flow`` for every activation x init of ``config``, activation-major (all
    inits of the first activation first); ``show_progress``: a bar on stderr, one step a net."""
    pairs = [(activation, init) for activation in config.activations for init in config.inits]
    results = []
    with progress("gradient flow", len(pairs), show_progress) as advance:
        for activation, init in pairs:
            results.append(gradient_flow(impl, activation, init, config))
            advance()
    return results


def gradient_flow_table(results: Sequence[dict]) -> str:
    """Fixed-width text table of gradient_flow results, one row per (activation, init)."""
    header = (
        f"{'activation':<11} {'init':<7} {'||dW_1||':>10} {'||dW_L||':>10} "
        f"{'r=dW_1/dW_L':>12} {'r_delta=dz_1/dz_L':>18}"
    )
    lines = [header, "-" * len(header)]
    for res in results:
        lines.append(
            f"{res['activation']:<11} {res['init']:<7} {res['dW_norms'][0]:>10.2e} "
            f"{res['dW_norms'][-1]:>10.2e} {res['ratio']:>12.2e} {res['ratio_delta']:>18.2e}"
        )
    return "\n".join(lines)
