"""Saturation, the second mechanism: how many units sit where their activation is flat?

A saturated unit (tanh near +-1, sigmoid near 0 or 1) has a slope near 0 and passes almost no
gradient back. At initialisation with Glorot's scale few units are saturated, so that is not
why a sigmoid net's gradient vanishes (its slope is at most 1/4 everywhere); but large SGD
steps can drive the units there during training, and then the gradient vanishes for this second
reason. The histograms of every layer's activations over the spirals, at initialisation and
after training, show which of the two happens.

Every activation comes from the implementation's ``mlp_forward`` (see ``dial.layer_outputs``);
the nets are trained by ``train.train_classifier``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .config import FULL, Saturation
from .dial import layer_outputs
from .implementation import Implementation, progress
from .train import make_spirals, train_classifier

# Where each activation is flat: its slope there is below 0.02 (tanh: 1 - 0.99^2; sigmoid:
# 0.01 * 0.99), a fiftieth of tanh's slope at 0 and a twelfth of sigmoid's. (The sigmoid's low
# threshold is written out: 1 - 0.99 is 0.010000000000000009 in float64.)
SATURATED_ABOVE = 0.99
SIGMOID_SATURATED_BELOW = 0.01
# The range of values each activation takes (the histograms' bins span it), and the values
# outside which it is saturated.
ACTIVATION_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
FLAT_OUTSIDE = {"tanh": (-SATURATED_ABOVE, SATURATED_ABOVE),
                "sigmoid": (SIGMOID_SATURATED_BELOW, SATURATED_ABOVE)}


def saturated_fraction(a: np.ndarray, activation: str) -> float:
    """The fraction of the entries of ``a`` (any shape, float64: one layer's activations over
    the inputs) that are saturated: |a| > 0.99 for tanh, a < 0.01 or a > 0.99 for sigmoid."""
    values = np.asarray(a, dtype=np.float64)
    if activation == "tanh":
        flat = np.abs(values) > SATURATED_ABOVE
    elif activation == "sigmoid":
        flat = (values < SIGMOID_SATURATED_BELOW) | (values > SATURATED_ABOVE)
    else:
        raise ValueError(f"saturation is measured for tanh and sigmoid, not {activation!r}")
    return float(np.mean(flat))


def activation_histograms(impl: Implementation, x: np.ndarray, params, activation: str,
                          edges: np.ndarray) -> dict:
    """Per hidden layer, the histogram of its activations over the rows of x (N, D) float64
    and the saturated fraction: {"counts": (L, B) int64 with ``edges`` (B + 1,),
    "saturated": (L,) float64}. Values outside the edges (rounding) count in the end bins."""
    outputs = layer_outputs(impl, x, params, activation)
    counts = [np.histogram(np.clip(a, edges[0], edges[-1]), bins=edges)[0] for a in outputs]
    return {"counts": np.array(counts, dtype=np.int64),
            "saturated": np.array([saturated_fraction(a, activation) for a in outputs])}


def saturation_histograms(impl: Implementation, config: Saturation = FULL.saturation,
                          show_progress: bool = False) -> dict:
    """Per-layer activation histograms over the spirals, at initialisation and after training.

    One net per (activation, lr) of ``config.runs`` (tanh or sigmoid), D -> net.depth x
    net.width -> C, trained by ``train_classifier`` for ``net.epochs`` epochs at that lr; the
    init is the trained net's starting point (the same seed). ``show_progress``: a bar on
    stderr, one step an epoch.

    Returns a dict with
      depth, width, epochs, n_points: the settings and the number of inputs;
      runs: one dict per entry of ``runs`` with activation, lr, final_accuracy (training
        accuracy after the epochs), edges: (bins + 1,) float64 spanning the activation's
        range, flat_outside: (low, high), the values outside which a unit is saturated, and
        "init" and "trained", each {"counts": (depth, bins) int64, "saturated": (depth,)
        float64} (see activation_histograms), hidden layer 1 first.
    """
    x, labels = make_spirals(config.data)
    net = config.net
    runs = []
    with progress("training (saturation)", len(config.runs) * net.epochs,
                  show_progress) as advance:
        for activation, lr in config.runs:
            if activation not in ACTIVATION_RANGE:
                raise ValueError(f"saturation is measured for tanh and sigmoid, not "
                                 f"{activation!r}")
            edges = np.linspace(*ACTIVATION_RANGE[activation], config.bins + 1)
            start = train_classifier(impl, x, labels, activation, replace(net, lr=lr, epochs=0))
            trained = train_classifier(impl, x, labels, activation, replace(net, lr=lr),
                                       on_epoch=advance)
            runs.append({
                "activation": activation,
                "lr": lr,
                "final_accuracy": trained["final_accuracy"],
                "edges": edges,
                "flat_outside": FLAT_OUTSIDE[activation],
                "init": activation_histograms(impl, x, start["params"], activation, edges),
                "trained": activation_histograms(impl, x, trained["params"], activation, edges),
            })
    return {"depth": net.depth, "width": net.width, "epochs": net.epochs,
            "n_points": int(x.shape[0]), "runs": runs}


def saturation_table(data: dict) -> str:
    """One line per run: the saturated share of each hidden layer at init and after training."""
    lines = []
    for run in data["runs"]:
        for stage in ("init", "trained"):
            shares = " ".join(f"{share:4.0%}" for share in run[stage]["saturated"])
            lines.append(f"  {run['activation']:<8} lr {run['lr']:<4} {stage:<8} "
                         f"layer 1..{len(run[stage]['saturated'])}: {shares}")
    return "\n".join(lines)
