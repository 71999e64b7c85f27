"""The dial: how much does one layer shrink (or grow) the gradient, as the weight scale turns?

Back-propagation through hidden layer l multiplies dL/dz by W_l^T and then by the activation's
slope, so each layer scales the gradient by about (weight scale) x (slope). This experiment
turns the weight scale sigma_w * sqrt(n) (W ~ N(0, sigma_w^2), n the fan-in) from far below to
far above 1 and measures, for each activation, the per-layer gain of the backward pass,
||dL/dz_l|| / ||dL/dz_{l+1}||, and of the forward pass, the spread of the activations across
inputs. Below gain 1 the gradient vanishes, above it explodes: one dial, and the activation
decides where it must sit (Glorot's scale 1 assumes a slope of 1 at 0, as tanh has).

Every number comes from the implementation's ``init_params``, ``mlp_forward`` and
``mlp_backward``; nothing here runs a layer by itself.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

from .config import FULL, Dial
from .flow import SMALL_STD, Params, pre_activation_norms
from .implementation import Implementation, StudentCodeError, checked, progress

# The sigmoid shifted down by 1/2, so that it is 0 at 0 like tanh (its slope stays 1/4).
CENTRED_SIGMOID = "centred_sigmoid"

# A spread of activations counts only while it is this far above their size: a sigmoid unit
# near 1/2 cannot vary by less than float64's resolution there (about 1e-16), and a
# forward gain measured from rounding noise would read as "no change".
SPREAD_RESOLUTION = 1e-9


def layer_outputs(impl: Implementation, x: np.ndarray, params: Params,
                  activation: str) -> list[np.ndarray]:
    """The activations a_l of every hidden layer, l = 1..len(params) - 1.

    x: (N, D_in) float64. Returns one (N, H_l) float64 array per hidden layer. The net cut
    after hidden layer l, with an identity matrix as its (linear) output layer, returns a_l:
    the implementation's own forward pass computes every number.
    """
    impl = checked(impl)
    outputs = []
    for layer in range(1, len(params)):
        units = params[layer - 1][0].shape[1]
        cut = [*params[:layer], (np.eye(units), np.zeros(units))]
        outputs.append(np.asarray(impl.mlp_forward(x, cut, activation)[0]))
    return outputs


def scaled_weights(base: Params, scale: float, centred: bool = False) -> Params:
    """``base`` with each W rescaled to root-mean-square scale / sqrt(fan_in), biases kept.

    base: [(W (fan_in, fan_out), b (fan_out,)), ...] float64 with W not all zero.
    ``centred``: the biases that turn a sigmoid net into a centred-sigmoid one. A layer fed by
    sigmoid(z) - 1/2 computes (sigmoid(z) - 1/2) W + b = sigmoid(z) W + (b - W.sum(axis=0) / 2),
    so a sigmoid net with those biases has the centred net's pre-activations and the same
    dL/dz in every layer (the two activations have the same slope).
    """
    params = []
    for layer, (W, b) in enumerate(base):
        W = W * (scale / np.sqrt(W.shape[0]) / np.sqrt(np.mean(np.square(W))))
        if centred and layer > 0:
            b = b - 0.5 * W.sum(axis=0)
        params.append((W, b))
    return params


def geometric_mean(values: np.ndarray) -> float:
    """exp(mean(log v)) over the finite positive entries of ``values``; NaN if there are none."""
    values = np.asarray(values, dtype=np.float64)
    good = values[np.isfinite(values) & (values > 0)]
    return statistics.geometric_mean(good.tolist()) if good.size else float("nan")


def forward_spread(outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(spread, resolved) per layer: spread_l = sqrt(mean over units of the variance across
    inputs of a_l), (L,) float64; resolved_l: the spread is SPREAD_RESOLUTION above the
    activations' root-mean-square size, (L,) bool."""
    spread = np.array([np.sqrt(np.mean(np.var(a, axis=0))) for a in outputs])
    size = np.array([np.sqrt(np.mean(np.square(a))) for a in outputs])
    return spread, spread > SPREAD_RESOLUTION * size


def unit_gain_scale(scales: np.ndarray, gains: np.ndarray) -> float:
    """The weight scale at which ``gains`` (measured at the increasing ``scales``) first reaches
    1, interpolated on log-log axes between the two points around it; NaN if it never does."""
    scales, gains = np.asarray(scales, dtype=np.float64), np.asarray(gains, dtype=np.float64)
    above = np.flatnonzero(np.isfinite(gains) & (gains >= 1.0))
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0 or not gains[i - 1] > 0:
        return float(scales[i])
    # On log-log axes the two points are joined by a straight line; where it crosses log 1 = 0.
    logs = np.log10(gains[i - 1 : i + 1]), np.log10(scales[i - 1 : i + 1])
    return float(10.0 ** np.interp(0.0, *logs))


def init_scales(width: int) -> dict[str, float]:
    """The weight scale sigma_w * sqrt(n) of each init scheme in the dial's square net
    (fan-in = fan-out = ``width``): Glorot's variance 2 / (n + n) gives 1, He's 2 / n gives
    sqrt(2), "small" N(0, 0.01^2) gives 0.01 * sqrt(n)."""
    return {"glorot": 1.0, "he": float(np.sqrt(2.0)), "small": SMALL_STD * float(np.sqrt(width))}


def backward_gain_sweep(impl: Implementation, config: Dial = FULL.dial,
                        show_progress: bool = False) -> dict:
    """The per-layer gains of the backward and the forward pass against the weight scale.

    x: (batch, width) and dout = dL/d(output): (batch, width) are N(0, 1), drawn from
    ``config.seed`` before the weights; the weights are one He draw of ``impl.init_params``,
    rescaled to each scale (the same random numbers at every scale and for every activation,
    so the curves are smooth and comparable). ``show_progress``: a bar, one step a point.

    Returns a dict with
      depth, width, batch, backward_rows, seed: the settings;
      scales: (S,) float64, increasing: the ``points`` scales and the three inits' scales;
      marks: {"glorot", "he", "small"} -> that init's scale (an entry of ``scales``);
      curves: one dict per activation of ``config.activations``, with
        activation: str;
        backward_gain: (S,) float64, the geometric mean over layers of
          ||dL/dz_l|| / ||dL/dz_{l+1}|| (z_{depth+1} the output), NaN where every norm is 0;
        unit_gain_scale: float, the scale where backward_gain reaches 1 (NaN: not in range);
        layer_backward_gains: (S, depth) float64, those ratios layer by layer (l = 1 first);
        forward_gain: (S,) float64, the geometric mean of spread_{l+1} / spread_l over the
          layers whose spread is resolved (see forward_spread), NaN if fewer than two are;
        forward_spread: (S, depth) float64, spread_l of hidden layer l (l = 1 first).
    """
    impl = checked(impl)
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((config.batch, config.width))
    dout = rng.standard_normal((config.batch, config.width))
    base = impl.init_params([config.width] * (config.depth + 2), "relu", rng)
    if any(not np.any(W) for W, _ in base):
        raise StudentCodeError("init_params", "init_params returned a weight matrix of zeros "
                               "for relu: it must draw He's N(0, 2 / fan_in)")
    marks = init_scales(config.width)
    scales = np.unique(np.concatenate([
        np.geomspace(config.scale_min, config.scale_max, config.points), list(marks.values())]))
    rows = slice(0, config.backward_rows)

    curves = []
    with progress("dial", len(config.activations) * len(scales), show_progress) as advance:
        for name in config.activations:
            activation = "sigmoid" if name == CENTRED_SIGMOID else name
            layer_gains, spreads, backward, forward = [], [], [], []
            for scale in scales:
                params = scaled_weights(base, float(scale), centred=name == CENTRED_SIGMOID)
                norms = np.array(pre_activation_norms(impl, x[rows], params, activation,
                                                      dout[rows]))
                with np.errstate(divide="ignore", invalid="ignore"):
                    gains = norms[:-1] / norms[1:]
                spread, resolved = forward_spread(layer_outputs(impl, x, params, activation))
                with np.errstate(divide="ignore", invalid="ignore"):
                    steps = spread[1:] / spread[:-1]
                steps[~(resolved[1:] & resolved[:-1])] = np.nan
                layer_gains.append(gains)
                spreads.append(spread)
                backward.append(geometric_mean(gains))
                forward.append(geometric_mean(steps))
                advance()
            curves.append({
                "activation": name,
                "backward_gain": np.array(backward),
                "unit_gain_scale": unit_gain_scale(scales, np.array(backward)),
                "layer_backward_gains": np.array(layer_gains),
                "forward_gain": np.array(forward),
                "forward_spread": np.array(spreads),
            })
    return {
        "depth": config.depth,
        "width": config.width,
        "batch": config.batch,
        "backward_rows": config.backward_rows,
        "seed": config.seed,
        "scales": scales,
        "marks": {name: float(scales[np.argmin(np.abs(scales - value))])
                  for name, value in marks.items()},
        "curves": curves,
    }


def gain_at(data: dict, activation: str, mark: str, key: str = "backward_gain") -> float:
    """The measured gain (``key``) of ``activation`` at init ``mark``'s scale in a sweep."""
    index = int(np.flatnonzero(data["scales"] == data["marks"][mark])[0])
    curve = next(c for c in data["curves"] if c["activation"] == activation)
    return float(curve[key][index])


def dial_table(data: dict) -> str:
    """Fixed-width text table of a sweep: per activation, the backward (and forward) gain at
    each init's scale and the scale where the backward gain reaches 1."""
    marks = list(data["marks"])
    titles = [f"{mark} ({data['marks'][mark]:.2g})" for mark in marks]
    header = (f"{'activation':<16} " + " ".join(f"{title:>17}" for title in titles)
              + f" {'gain 1 at scale':>16}")
    lines = [header, "-" * len(header)]
    top = float(np.max(data["scales"]))
    for curve in data["curves"]:
        cells = [f"{gain_at(data, curve['activation'], m):.3g} / "
                 f"{gain_at(data, curve['activation'], m, 'forward_gain'):.3g}" for m in marks]
        crossing = curve["unit_gain_scale"]
        where = f"{crossing:.2g}" if np.isfinite(crossing) else f"> {top:.3g}"
        lines.append(f"{curve['activation']:<16} " + " ".join(f"{c:>17}" for c in cells)
                     + f" {where:>16}")
    return "\n".join(lines)
