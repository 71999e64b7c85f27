"""The experiments' figures: each ``plot_*`` function takes the dict (or list of dicts) that
``flow`` or ``train`` returned and writes one PNG, returning its path. Nothing here computes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# A log axis cannot show 0. Gradients that underflowed to exactly 0 are drawn at this floor
# (and the plot says so) instead of crashing or silently vanishing from the figure.
LOG_FLOOR = 1e-300


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
    """Training accuracy (during each epoch) vs epoch: one panel per deep run, with the chance
    line at 1/n_classes; the legend gives the last epoch's training and held-out accuracy.

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
            label=f"depth {run['depth']}, last epoch: train {run['final_accuracy']:.1%}, "
            f"held-out {run['final_heldout_accuracy']:.1%}\n"
            f"best during an epoch: train {run['best_accuracy']:.1%} (epoch {run['best_epoch']})",
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
                label=f"control, depth {control['depth']}, lr {control['lr']}, last epoch: "
                f"train {control['final_accuracy']:.1%}, "
                f"held-out {control['final_heldout_accuracy']:.1%}",
            )
        ax.axhline(data["chance"], color="grey", linestyle=":", label="chance")
        ax.set_ylim(0.0, 1.05)
        ax.set_title(f"{run['activation']}, lr {run['lr']}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy during each epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(runs) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Spirals ({len(data['train_rows'])} training points, {len(data['heldout_rows'])} held "
        f"out, {round(1 / data['chance'])} classes): {data['depth']} hidden layers x "
        f"{data['width']}, minibatch SGD; curves: training accuracy during each epoch"
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

