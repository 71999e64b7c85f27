"""Experiments: watch gradients vanish in a deep network, and watch the cure work.

Run with your own code:   python -m exercises.experiments --out DIR
(or the reference:        python -m solutions.experiments --out DIR)

1. Gradient flow. One backward pass through a 20-layer MLP for every activation x initialisation;
   we record the gradient norm of every layer's weights and of every pre-activation.
2. Earlier layers learn slower. While a deep net trains, how far does each layer's weight
   matrix move per epoch, relative to its size?
3. The cure pays. Train a 10-layer net on a spiral data set: with sigmoid it stays at chance
   (at every learning rate we tried), with ReLU and He initialisation it learns the spirals.
   tanh learns them too, but only with a step small enough to keep its units out of saturation.

Computation and plotting are kept apart: the computing functions return plain dicts (floats,
lists of floats, numpy float64 arrays), and the ``plot_*`` functions take those dicts and write
PNG files. Every computing function takes the network functions as keyword arguments, defaulting
to the ones in this package, so the same experiment can run on another implementation.
"""

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .layers import (
    activation_backward,
    activation_forward,
    dense_backward,
    dense_forward,
    mse_loss,
    softmax_cross_entropy,
)
from .network import init_params, mlp_backward, mlp_forward

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
INITS = ("glorot", "he", "small")

# A log axis cannot show 0. Gradients that underflowed to exactly 0 are drawn at this floor
# (and the plot says so) instead of crashing or silently vanishing from the figure.
LOG_FLOOR = 1e-300

Params = list[tuple[np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------------------------
# Experiment 1: gradient flow at initialisation
# --------------------------------------------------------------------------------------------


def init_weights(layer_sizes: Sequence[int], scheme: str, rng: np.random.Generator) -> Params:
    """Initialise an MLP with a named scheme (here the scheme is the experimental variable).

    layer_sizes: [D_in, H_1, ..., D_out]; scheme: "glorot", "he" or "small".
    Returns a list of (W, b): W (fan_in, fan_out) float64, b (fan_out,) float64 zeros.

    - glorot: W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))
    - he:     W ~ N(0, 2 / fan_in)
    - small:  W ~ N(0, 0.01**2), the "just use small random numbers" recipe
    """
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if scheme == "glorot":
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        elif scheme == "he":
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        elif scheme == "small":
            W = rng.normal(0.0, 0.01, size=(fan_in, fan_out))
        else:
            raise ValueError(f"unknown init scheme {scheme!r}; use one of {INITS}")
        params.append((W, np.zeros(fan_out)))
    return params


def _ratio(num: float, den: float) -> float:
    """num / den, without a ZeroDivisionError when a gradient underflowed to 0."""
    if den > 0:
        return num / den
    return float("inf") if num > 0 else float("nan")


def gradient_flow(
    activation: str,
    init: str,
    *,
    depth: int = 20,
    width: int = 64,
    batch: int = 64,
    n_out: int = 10,
    seed: int = 0,
    forward: Callable = mlp_forward,
    backward: Callable = mlp_backward,
    loss: Callable = mse_loss,
    dense_forward: Callable = dense_forward,
    dense_backward: Callable = dense_backward,
    activation_forward: Callable = activation_forward,
    activation_backward: Callable = activation_backward,
) -> dict:
    """Gradient norms of every hidden layer after one forward/backward pass at initialisation.

    The net is [width] -> depth hidden layers of `width` units -> linear output of `n_out` units.
    x: (batch, width) float64 and targets: (batch, n_out) float64 are N(0, 1); MSE loss.
    The same seed gives the same x and targets for every activation and init.

    Returns a dict with
      activation, init, depth, width, batch, seed: the settings;
      loss: float;
      dW_norms: list of `depth` floats, ||dL/dW_l||_F for hidden layers l = 1..depth (from
        `backward`); dW_out_norm: float, the same for the linear output layer;
      delta_norms: list of `depth` floats, ||dL/dz_l||_F, z_l the pre-activation of hidden
        layer l (from a layer-by-layer backward loop);
      ratio: ||dW_1|| / ||dW_L||, ratio_delta: ||dz_1|| / ||dz_L|| (L = last hidden layer).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    targets = rng.standard_normal((batch, n_out))
    params = init_weights([width] + [width] * depth + [n_out], init, rng)

    out, caches = forward(x, params, activation)
    loss_value, dout = loss(out, targets)
    grads = backward(dout, caches)
    dW_norms = [float(np.linalg.norm(dW)) for dW, _ in grads]

    # mlp_backward only hands back dW and db, so to see dL/dz_l we redo the pass one layer at a
    # time and read the gradient off between the activation and the dense layer below it.
    layer_caches = []
    a = x
    for W, b in params[:-1]:
        z, dense_cache = dense_forward(a, W, b)
        a, act_cache = activation_forward(z, activation)
        layer_caches.append((dense_cache, act_cache))
    out, out_cache = dense_forward(a, *params[-1])
    _, dout = loss(out, targets)
    da, _, _ = dense_backward(dout, out_cache)
    delta_norms = [0.0] * depth
    for layer in reversed(range(depth)):
        dense_cache, act_cache = layer_caches[layer]
        dz = activation_backward(da, act_cache)
        delta_norms[layer] = float(np.linalg.norm(dz))
        da, _, _ = dense_backward(dz, dense_cache)

    return {
        "activation": activation,
        "init": init,
        "depth": depth,
        "width": width,
        "batch": batch,
        "seed": seed,
        "loss": float(loss_value),
        "dW_norms": dW_norms[:-1],
        "dW_out_norm": dW_norms[-1],
        "delta_norms": delta_norms,
        "ratio": _ratio(dW_norms[0], dW_norms[-2]),
        "ratio_delta": _ratio(delta_norms[0], delta_norms[-1]),
    }


def gradient_flow_grid(
    activations: Sequence[str] = ACTIVATIONS, inits: Sequence[str] = INITS, **kwargs
) -> list[dict]:
    """Run `gradient_flow` for every activation x init; kwargs are passed through.

    Returns a list of result dicts, activation-major (all inits of the first activation first).
    """
    return [gradient_flow(act, init, **kwargs) for act in activations for init in inits]


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


# --------------------------------------------------------------------------------------------
# Data and training (experiments 2 and 3)
# --------------------------------------------------------------------------------------------


def make_spirals(
    n_per_class: int = 300,
    noise: float = 0.2,
    rng: np.random.Generator | None = None,
    n_classes: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """The CS231n spiral: `n_classes` interleaved arms, not separable by any straight line.

    Point i of class k sits at radius r = i / (n_per_class - 1) in [0, 1] and angle
    4 k + 4 r + noise * N(0, 1) (radians).
    Returns x: (n_classes * n_per_class, 2) float64 and labels: (n_classes * n_per_class,) int64,
    class-major (all of class 0 first).
    """
    if rng is None:
        rng = np.random.default_rng(0)
    xs, labels = [], []
    radius = np.linspace(0.0, 1.0, n_per_class)
    for k in range(n_classes):
        angle = 4.0 * k + 4.0 * radius + noise * rng.standard_normal(n_per_class)
        xs.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(n_per_class, k, dtype=np.int64))
    return np.concatenate(xs).astype(np.float64), np.concatenate(labels)


def _predict(x: np.ndarray, params: Params, activation: str, forward, block: int = 128):
    """Predicted class per row of x: (N,) int64.

    Rows go through in blocks: on larger products OpenBLAS wakes its worker threads, which for
    matrices this small burns about twice the CPU time for no gain in speed.
    """
    preds = [
        np.argmax(forward(x[i : i + block], params, activation)[0], axis=1)
        for i in range(0, x.shape[0], block)
    ]
    return np.concatenate(preds).astype(np.int64)


def train_classifier(
    x: np.ndarray,
    labels: np.ndarray,
    activation: str,
    *,
    depth: int = 10,
    width: int = 32,
    lr: float = 0.1,
    epochs: int = 300,
    batch: int = 32,
    seed: int = 0,
    track_updates: bool = False,
    init: Callable = init_params,
    forward: Callable = mlp_forward,
    backward: Callable = mlp_backward,
    loss: Callable = softmax_cross_entropy,
) -> dict:
    """Train an MLP classifier with plain minibatch SGD (no momentum, no weight decay).

    x: (N, D) float64; labels: (N,) int64 in [0, C). The net is D -> depth x width -> C, built
    by `init` (which picks the init that matches the activation). Minibatches of `batch` rows
    from a fresh shuffle every epoch; the last, smaller minibatch is kept.

    Returns a dict with
      activation, depth, width, lr, epochs, batch, seed: the settings;
      accuracy: list of `epochs` floats, the training accuracy during each epoch: the fraction
        of examples the net classified correctly when it met them, before its step on them
        (free to compute, unlike a separate pass over the data after every epoch);
      loss: list of `epochs` floats, the mean minibatch loss during each epoch;
      final_accuracy: float, training accuracy of the trained net, from a separate pass;
      params: the trained list of (W, b), float64;
      final_grad_norms: list of floats, ||dL/dW_l||_F per layer (output last) on the whole
        data set with the trained params;
      update_ratios (only if track_updates): one list per layer (hidden layers first, output
        layer last) of `epochs` floats, ||W_l(epoch end) - W_l(epoch start)||_F divided by
        ||W_l(epoch start)||_F.
    """
    rng = np.random.default_rng(seed)
    n_classes = int(labels.max()) + 1
    params = init([x.shape[1]] + [width] * depth + [n_classes], activation, rng)
    n = x.shape[0]
    history = {"accuracy": [], "loss": []}
    update_ratios = [[] for _ in params]

    for _ in range(epochs):
        start = [W for W, _ in params]
        order = rng.permutation(n)
        epoch_losses, correct = [], 0
        for i in range(0, n, batch):
            rows = order[i : i + batch]
            out, caches = forward(x[rows], params, activation)
            loss_value, dout = loss(out, labels[rows])
            correct += int(np.sum(np.argmax(out, axis=1) == labels[rows]))
            grads = backward(dout, caches)
            params = [
                (W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads, strict=True)
            ]
            epoch_losses.append(float(loss_value))
        history["loss"].append(float(np.mean(epoch_losses)))
        history["accuracy"].append(correct / n)
        if track_updates:
            for layer, (W0, (W, _)) in enumerate(zip(start, params, strict=True)):
                step = float(np.linalg.norm(W - W0))
                update_ratios[layer].append(_ratio(step, float(np.linalg.norm(W0))))

    # Which layers still receive a gradient where training ended: one full-batch backward pass.
    out, caches = forward(x, params, activation)
    _, dout = loss(out, labels)
    final_grad_norms = [float(np.linalg.norm(dW)) for dW, _ in backward(dout, caches)]

    result = {
        "activation": activation,
        "depth": depth,
        "width": width,
        "lr": lr,
        "epochs": epochs,
        "batch": batch,
        "seed": seed,
        "accuracy": history["accuracy"],
        "loss": history["loss"],
        "final_accuracy": float(np.mean(_predict(x, params, activation, forward) == labels)),
        "final_grad_norms": final_grad_norms,
        "params": params,
    }
    if track_updates:
        result["update_ratios"] = update_ratios
    return result


# --------------------------------------------------------------------------------------------
# Experiment 2: earlier layers learn slower
# --------------------------------------------------------------------------------------------


def layer_speed(
    activations: Sequence[str] = ("sigmoid", "relu"),
    *,
    depth: int = 8,
    width: int = 32,
    lr: float = 0.1,
    epochs: int = 30,
    batch: int = 32,
    n_per_class: int = 300,
    noise: float = 0.2,
    seed: int = 0,
    init: Callable = init_params,
    forward: Callable = mlp_forward,
    backward: Callable = mlp_backward,
    loss: Callable = softmax_cross_entropy,
) -> dict:
    """Relative weight update per layer per epoch while training on the spirals.

    Each activation gets the init that `init` pairs with it (Glorot for sigmoid, He for relu)
    and the same lr, so the layers of one net can be compared with each other.
    Returns {"depth", "width", "lr", "epochs", "runs": [one dict per activation]}; each run is
    {"activation", "update_ratios" (layers x epochs, see train_classifier), "accuracy",
    "final_accuracy"}.
    """
    x, labels = make_spirals(n_per_class, noise, np.random.default_rng(seed))
    runs = []
    for act in activations:
        res = train_classifier(
            x,
            labels,
            act,
            depth=depth,
            width=width,
            lr=lr,
            epochs=epochs,
            batch=batch,
            seed=seed,
            track_updates=True,
            init=init,
            forward=forward,
            backward=backward,
            loss=loss,
        )
        runs.append(
            {
                "activation": act,
                "update_ratios": res["update_ratios"],
                "accuracy": res["accuracy"],
                "final_accuracy": res["final_accuracy"],
            }
        )
    return {"depth": depth, "width": width, "lr": lr, "epochs": epochs, "runs": runs}


# --------------------------------------------------------------------------------------------
# Experiment 3: the cure pays
# --------------------------------------------------------------------------------------------

# (activation, learning rate) pairs. sigmoid stays at chance at every lr we tried (0.1 to 5).
# tanh at lr 0.5 learns at first, then its large steps push the units into saturation, where
# the gradient vanishes; at lr 0.1 it learns the spirals, so both are shown. The shallow sigmoid
# control shows that depth, not the data set, is what defeats the sigmoid.
DEFAULT_RUNS = (("sigmoid", 0.5), ("tanh", 0.5), ("tanh", 0.1), ("relu", 0.1))
DEFAULT_CONTROLS = (("sigmoid", 0.5),)


def _decision_grid(params, activation, forward, extent, resolution) -> dict:
    """Predicted class on a resolution x resolution grid covering extent = (lo, hi)."""
    ticks = np.linspace(extent[0], extent[1], resolution)
    g0, g1 = np.meshgrid(ticks, ticks)
    pred = _predict(np.column_stack([g0.ravel(), g1.ravel()]), params, activation, forward)
    return {"ticks": ticks, "pred": pred.reshape(g0.shape)}


def training_comparison(
    runs: Sequence[tuple[str, float]] = DEFAULT_RUNS,
    *,
    depth: int = 10,
    width: int = 32,
    epochs: int = 300,
    batch: int = 32,
    n_per_class: int = 300,
    noise: float = 0.2,
    seed: int = 0,
    controls: Sequence[tuple[str, float]] = DEFAULT_CONTROLS,
    control_depth: int = 2,
    grid_resolution: int = 150,
    init: Callable = init_params,
    forward: Callable = mlp_forward,
    backward: Callable = mlp_backward,
    loss: Callable = softmax_cross_entropy,
) -> dict:
    """Train one deep net per (activation, lr) in `runs` on the spirals, plus shallow controls.

    Every net gets the init that `init` pairs with its activation, the same data, and the same
    seed. Returns a dict with
      x: (N, 2) float64, labels: (N,) int64: the data set;
      depth, width, epochs, chance: settings and the chance accuracy 1 / n_classes;
      runs: one dict per entry of `runs` with activation, depth, lr, accuracy (list of `epochs`
        floats, training accuracy during each epoch), loss, final_accuracy, best_accuracy and
        best_epoch (1-based): the highest per-epoch accuracy and when, final_grad_norms (see
        train_classifier), and grid = {"ticks": (R,) float64, "pred": (R, R) int64}: the
        predicted class over the plane, for a decision-boundary plot;
      controls: the same (without grid) for nets of depth `control_depth`, one per `controls`.
    """
    x, labels = make_spirals(n_per_class, noise, np.random.default_rng(seed))
    extent = (float(x.min()) - 0.1, float(x.max()) + 0.1)
    networks = dict(init=init, forward=forward, backward=backward, loss=loss)

    def run(act: str, lr: float, n_layers: int, with_grid: bool) -> dict:
        res = train_classifier(
            x,
            labels,
            act,
            depth=n_layers,
            width=width,
            lr=lr,
            epochs=epochs,
            batch=batch,
            seed=seed,
            **networks,
        )
        keep = (
            "activation",
            "depth",
            "lr",
            "accuracy",
            "loss",
            "final_accuracy",
            "final_grad_norms",
        )
        summary = {key: res[key] for key in keep}
        best = int(np.argmax(res["accuracy"]))
        summary["best_accuracy"] = res["accuracy"][best]
        summary["best_epoch"] = best + 1
        if with_grid:
            summary["grid"] = _decision_grid(res["params"], act, forward, extent, grid_resolution)
        return summary

    return {
        "x": x,
        "labels": labels,
        "depth": depth,
        "width": width,
        "epochs": epochs,
        "chance": 1.0 / (int(labels.max()) + 1),
        "runs": [run(act, lr, depth, True) for act, lr in runs],
        "controls": [run(act, lr, control_depth, False) for act, lr in controls],
    }


# --------------------------------------------------------------------------------------------
# Plotting: each function takes the data above and writes one PNG
# --------------------------------------------------------------------------------------------


def _figure(nrows: int, ncols: int, figsize: tuple[float, float]):
    """A figure drawn by the Agg backend, without touching pyplot's global backend.

    (matplotlib.use("Agg") would also switch the backend of a notebook that imports us.)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _floored(values) -> tuple[np.ndarray, np.ndarray]:
    """(values with zeros raised to LOG_FLOOR, mask of the raised entries)."""
    values = np.asarray(values, dtype=np.float64)
    zero = ~(values > 0)
    return np.where(zero, LOG_FLOOR, values), zero


def _plot_norms_by_activation(results, key: str, ylabel: str, title: str, path) -> Path:
    from matplotlib.ticker import MaxNLocator, NullLocator

    activations = list(dict.fromkeys(res["activation"] for res in results))
    ncols = 2 if len(activations) > 1 else 1
    nrows = -(-len(activations) // ncols)
    fig, axes = _figure(nrows, ncols, (5.2 * ncols, 3.8 * nrows))
    any_floored = False
    for ax, act in zip(axes.flat, activations, strict=False):
        for res in results:
            if res["activation"] != act:
                continue
            values, zero = _floored(res[key])
            layers = np.arange(1, len(values) + 1)
            (line,) = ax.plot(layers, values, marker="o", markersize=3, label=res["init"])
            if zero.any():
                any_floored = True
                ax.plot(layers[zero], values[zero], "x", color=line.get_color(), markersize=8)
        ax.set_yscale("log")
        # These axes span many decades: minor ticks would only add clutter (and drawing time).
        ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(act)
        ax.set_xlabel("hidden layer l (1 = next to the input)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(title="init", fontsize=8)
    for ax in list(axes.flat)[len(activations) :]:
        ax.set_visible(False)
    first = results[0]
    suptitle = f"{title}  (depth {first['depth']}, width {first['width']}, batch {first['batch']})"
    if any_floored:
        suptitle += f"\nx = exactly 0 (underflow), drawn at {LOG_FLOOR:g}"
    fig.suptitle(suptitle)
    return _save(fig, path)


def plot_gradient_flow(results: Sequence[dict], path) -> Path:
    """One subplot per activation: ||dL/dW_l||_F vs hidden layer, one line per init (log y)."""
    return _plot_norms_by_activation(
        results,
        "dW_norms",
        r"$\|\partial L / \partial W_l\|_F$",
        "Weight-gradient norm per layer at initialisation",
        path,
    )


def plot_delta_flow(results: Sequence[dict], path) -> Path:
    """One subplot per activation: ||dL/dz_l||_F vs hidden layer, one line per init (log y)."""
    return _plot_norms_by_activation(
        results,
        "delta_norms",
        r"$\|\partial L / \partial z_l\|_F$",
        "Gradient norm w.r.t. each pre-activation at initialisation",
        path,
    )


def plot_layer_speed(data: dict, path) -> Path:
    """One subplot per activation: ||dW_l|| / ||W_l|| per epoch, one line per layer (log y)."""
    from matplotlib import colormaps

    runs = data["runs"]
    fig, axes = _figure(1, len(runs), (5.0 * len(runs) + 1.2, 4.2))
    cmap = colormaps["viridis"]
    any_floored = False
    for ax, run in zip(axes.flat, runs, strict=True):
        n_layers = len(run["update_ratios"])
        for layer, ratios in enumerate(run["update_ratios"]):
            values, zero = _floored(ratios)
            any_floored |= bool(zero.any())
            epochs = np.arange(1, len(values) + 1)
            name = "output" if layer == n_layers - 1 else f"layer {layer + 1}"
            ax.plot(epochs, values, color=cmap(layer / max(n_layers - 1, 1)), label=name)
        ax.set_yscale("log")
        ax.set_title(f"{run['activation']} (final train acc {run['final_accuracy']:.0%})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(r"$\|\Delta W_l\|_F \,/\, \|W_l\|_F$ over the epoch")
        ax.grid(True, which="major", alpha=0.3)
    # Every panel has the same layers: one legend, outside, so no curve is hidden under it.
    fig.legend(
        *ax.get_legend_handles_labels(),
        loc="outside right center",
        fontsize=8,
        title="layer\n(dark = near input)",
    )
    title = (
        f"Relative weight change per epoch, plain SGD lr {data['lr']}, "
        f"{data['depth']} hidden layers x {data['width']}"
    )
    if any_floored:
        title += f"\n(changes of exactly 0 drawn at {LOG_FLOOR:g})"
    fig.suptitle(title)
    return _save(fig, path)


def plot_training(data: dict, path) -> Path:
    """Training accuracy vs epoch: one panel per deep run, with the chance line at 1/n_classes.

    A shallow control with the same activation is drawn dashed in that activation's panels.
    (One panel each, because several runs sit exactly on the chance line and would hide there.)
    """
    runs = data["runs"]
    ncols = 2 if len(runs) > 1 else 1
    nrows = -(-len(runs) // ncols)
    fig, axes = _figure(nrows, ncols, (5.4 * ncols, 3.4 * nrows + 0.6))
    for index, (ax, run) in enumerate(zip(axes.flat, runs, strict=False)):
        color = f"C{index}"
        epochs = np.arange(1, len(run["accuracy"]) + 1)
        ax.plot(
            epochs,
            run["accuracy"],
            color=color,
            linewidth=1.2,
            label=f"depth {run['depth']}: final {run['final_accuracy']:.1%}, "
            f"best {run['best_accuracy']:.1%} (epoch {run['best_epoch']})",
        )
        for control in data["controls"]:
            if control["activation"] != run["activation"]:
                continue
            epochs = np.arange(1, len(control["accuracy"]) + 1)
            ax.plot(
                epochs,
                control["accuracy"],
                color=color,
                linestyle="--",
                linewidth=0.9,
                alpha=0.7,
                label=f"control, depth {control['depth']}, lr {control['lr']}: "
                f"final {control['final_accuracy']:.1%}",
            )
        ax.axhline(data["chance"], color="grey", linestyle=":", label="chance")
        ax.set_ylim(0.0, 1.05)
        ax.set_title(f"{run['activation']}, lr {run['lr']}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy during epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(runs) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Spirals ({len(data['labels'])} points, {round(1 / data['chance'])} classes): "
        f"{data['depth']} hidden layers x {data['width']}, minibatch SGD"
    )
    return _save(fig, path)


def plot_decision_boundary(data: dict, path) -> Path:
    """One subplot per deep run: the predicted class over the plane, with the data on top."""
    from matplotlib.colors import ListedColormap

    runs = data["runs"]
    fig, axes = _figure(1, len(runs), (4.2 * len(runs), 4.4))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    n_classes = int(data["labels"].max()) + 1
    cmap = ListedColormap(colors[:n_classes])
    for ax, run in zip(axes.flat, runs, strict=True):
        ticks = run["grid"]["ticks"]
        ax.pcolormesh(
            ticks,
            ticks,
            run["grid"]["pred"],
            cmap=cmap,
            vmin=-0.5,
            vmax=n_classes - 0.5,
            alpha=0.3,
            shading="auto",
        )
        ax.scatter(
            data["x"][:, 0],
            data["x"][:, 1],
            c=data["labels"],
            cmap=cmap,
            s=6,
            vmin=-0.5,
            vmax=n_classes - 0.5,
            edgecolors="none",
        )
        ax.set_title(f"{run['activation']}, lr {run['lr']}: train acc {run['final_accuracy']:.0%}")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_aspect("equal")
    fig.suptitle(f"Decision regions after {data['epochs']} epochs, {data['depth']} hidden layers")
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _find(results: Sequence[dict], activation: str, init: str) -> dict | None:
    for res in results:
        if res["activation"] == activation and res["init"] == init:
            return res
    return None


def _median_first_vs_last(run: dict) -> float:
    """Median over epochs of (layer 1's relative update) / (last hidden layer's)."""
    first = np.asarray(run["update_ratios"][0])
    last = np.asarray(run["update_ratios"][-2])
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.median(first / last))


def _label(run: dict) -> str:
    return f"{run['activation']} (lr {run['lr']})"


def summarize(
    flow: Sequence[dict] | None = None, speed: dict | None = None, training: dict | None = None
) -> list[str]:
    """Sentences that state what the measurements show, built from the numbers themselves."""
    sentences = []
    if flow:
        sig, relu = _find(flow, "sigmoid", "glorot"), _find(flow, "relu", "he")
        if sig and relu:
            sentences.append(
                f"sigmoid+glorot: ||dW_1||/||dW_L|| = {sig['ratio']:.1e}, so the first hidden "
                f"layer gets {sig['ratio']:.1e} of the last hidden layer's gradient, while "
                f"relu+he keeps r = {relu['ratio']:.2g} (r_delta = {relu['ratio_delta']:.2g})."
            )
        small = _find(flow, "tanh", "small")
        if small:
            sentence = (
                f"tanh+small: r = {small['ratio']:.2g} but r_delta = {small['ratio_delta']:.1e}"
            )
            if 0.1 <= small["ratio"] <= 10:
                sentence += (
                    ": the weight gradients look balanced only because the activations shrink "
                    "forward as fast as dL/dz shrinks backward (dW_l = a_{l-1}^T dz_l), and all "
                    f"of them are tiny (||dW_1|| = {small['dW_norms'][0]:.1e})"
                )
            sentences.append(sentence + ".")
    if speed:
        parts = [f"{_median_first_vs_last(run):.1e} ({run['activation']})" for run in speed["runs"]]
        sentences.append(
            "During training, layer 1's weights move, relative to their size, "
            + " and ".join(parts)
            + " times as far per epoch as the last hidden layer's (median over epochs)."
        )
    if training:
        parts = [f"{_label(run)} {run['final_accuracy']:.0%}" for run in training["runs"]]
        sentence = (
            f"On the spirals after {training['epochs']} epochs with {training['depth']} hidden "
            f"layers, training accuracy is "
            + ", ".join(parts)
            + f" (chance {training['chance']:.0%})"
        )
        if training["controls"]:
            depth = training["controls"][0]["depth"]
            controls = [f"{_label(c)} {c['final_accuracy']:.0%}" for c in training["controls"]]
            sentence += f"; with {depth} hidden layers: " + ", ".join(controls)
        sentences.append(sentence + ".")
        # A net that once did well and then fell back was not starved of gradient from the
        # start; look at where the gradient went by the end.
        for run in training["runs"]:
            if run["best_accuracy"] - run["final_accuracy"] <= 0.2:
                continue
            g_first, g_out = run["final_grad_norms"][0], run["final_grad_norms"][-1]
            sentence = (
                f"{_label(run)} reached {run['best_accuracy']:.0%} at epoch {run['best_epoch']} "
                f"and fell back to {run['final_accuracy']:.0%}"
            )
            if _ratio(g_first, g_out) < 1e-3:
                sentence += (
                    f"; at the end ||dW_1|| = {g_first:.0e} against {g_out:.0e} at the output: "
                    "the large steps drove the units into saturation, where the gradient "
                    "vanishes too"
                )
            else:
                sentence += ": the step size is too large for this net"
            sentences.append(sentence + ".")
    return sentences


QUICK = {
    "flow": dict(depth=6, width=16, batch=16),
    "speed": dict(depth=4, width=16, epochs=3, n_per_class=40),
    "training": dict(depth=4, width=16, epochs=4, n_per_class=40, grid_resolution=40),
}


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the experiments, print the numbers, write the PNGs. Returns {name: PNG path}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiment_outputs", help="directory for the PNGs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--only", choices=("flow", "speed", "training"), help="run just one")
    args = parser.parse_args(argv)
    out = Path(args.out)
    sizes = QUICK if args.quick else {"flow": {}, "speed": {}, "training": {}}
    wanted = [args.only] if args.only else ["flow", "speed", "training"]
    written, flow, speed, training = {}, None, None, None

    if "flow" in wanted:
        t0 = time.perf_counter()
        flow = gradient_flow_grid(**sizes["flow"])
        print("Gradient flow at initialisation (L = last hidden layer):")
        print(gradient_flow_table(flow))
        written["gradient_flow"] = plot_gradient_flow(flow, out / "gradient_flow.png")
        written["delta_flow"] = plot_delta_flow(flow, out / "delta_flow.png")
        print(f"[flow: {time.perf_counter() - t0:.1f} s]\n")

    if "speed" in wanted:
        t0 = time.perf_counter()
        speed = layer_speed(**sizes["speed"])
        print("Relative weight update per epoch, median over epochs:")
        for run in speed["runs"]:
            medians = [float(np.median(r)) for r in run["update_ratios"]]
            print(
                f"  {run['activation']:<8} layer 1..output: "
                + " ".join(f"{m:.1e}" for m in medians)
            )
        written["layer_speed"] = plot_layer_speed(speed, out / "layer_speed.png")
        print(f"[speed: {time.perf_counter() - t0:.1f} s]\n")

    if "training" in wanted:
        t0 = time.perf_counter()
        training = training_comparison(**sizes["training"])
        print("Final training accuracy on the spirals:")
        for run in training["runs"] + training["controls"]:
            print(
                f"  {run['activation']:<8} depth {run['depth']:>2}  lr {run['lr']:<4} "
                f"final {run['final_accuracy']:6.1%}  best {run['best_accuracy']:6.1%} "
                f"(epoch {run['best_epoch']})  end ||dW_1||/||dW_out|| "
                f"{_ratio(run['final_grad_norms'][0], run['final_grad_norms'][-1]):.1e}"
            )
        written["training"] = plot_training(training, out / "training.png")
        written["decision_boundary"] = plot_decision_boundary(
            training, out / "decision_boundary.png"
        )
        print(f"[training: {time.perf_counter() - t0:.1f} s]\n")

    print("What the measurements show:")
    for sentence in summarize(flow, speed, training):
        print(f"  - {sentence}")
    print("\nWrote:")
    for path in written.values():
        print(f"  {path}")
    return written


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError as unfinished:
        # Students run this on their own code: say what to finish, not a traceback.
        message = (f"The experiments need your code: {unfinished}. Finish it (check with "
                   "`python -m pytest grader/selfcheck.py`) and run this again.")
        raise SystemExit(message) from None
