"""The studies' figures, drawn from the data file alone (``course/measured.json``, written by
``python -m lesson.studies``): nothing here trains or measures, so a figure cannot disagree with
the numbers the text quotes.

    python -m lesson.study_plots [--data course/measured.json] [--out docs/figures]

* ``heldout_vs_train.png``: training and held-out accuracy of every training-study net;
* ``lr_sweep.png``: held-out accuracy against the learning rate, one panel per activation on a
  shared axis, each activation's best rate starred (the fair comparison);
* ``frozen_layers.png``: held-out accuracy with the first or last k hidden layers kept at init.

Every bar or point is the median over the seeds, with a line from the lowest to the highest
seed; the chance level is drawn on every accuracy axis.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "course" / "measured.json"
OUT = Path(__file__).resolve().parent.parent / "docs" / "figures"
# One colour per activation, the same in every figure.
COLOURS = {"sigmoid": "C0", "tanh": "C1", "relu": "C2", "leaky_relu": "C3"}
LABELS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "leaky ReLU"}
# The init the exercise's init_params gives each activation.
INITS = {"sigmoid": "Glorot", "tanh": "Glorot", "relu": "He", "leaky_relu": "He"}


def _figure(ncols: int, figsize: tuple[float, float], sharey: bool = True):
    """A figure drawn by Agg, without switching pyplot's backend (a notebook may import us)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, ncols, squeeze=False, sharey=sharey)[0]


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the PNG's metadata: the same data draws the same bytes.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    return path


def _stat(data: Mapping[str, Any], key: str) -> tuple[float, float, float]:
    entry = data[key]
    return entry["median"], entry["low"], entry["high"]


def _seeds(data: Mapping[str, Any], key: str) -> str:
    return f"{data[key]['n']} seeds"


def _accuracy_axis(ax: Any, chance: float, label: str = "held-out accuracy") -> None:
    ax.axhline(chance, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0.0, 1.08)  # room for the value printed above a bar at 100%
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_yticklabels([f"{t:.0%}" for t in np.linspace(0, 1, 6)])
    ax.set_ylabel(label)
    ax.grid(True, axis="y", alpha=0.3)


def plot_heldout_vs_train(data: Mapping[str, Any], path: Path) -> Path:
    """Training and held-out accuracy at the last epoch, every run of the training study."""
    net = data["_meta"]["training"]
    shallow = f"sigmoid + Glorot\n{net['control_depth']} layers, lr 0.5"
    runs = [("sigmoid_lr0.5", "sigmoid + Glorot\nlr 0.5"),
            ("shallow_sigmoid_lr0.5", shallow),
            ("tanh_lr0.5", "tanh + Glorot\nlr 0.5"), ("tanh_lr0.1", "tanh + Glorot\nlr 0.1"),
            ("relu_lr0.1", "ReLU + He\nlr 0.1"), ("relu_glorot_lr0.1", "ReLU + Glorot\nlr 0.1"),
            ("leaky_relu_lr0.1", "leaky ReLU + He\nlr 0.1")]
    fig, (ax,) = _figure(1, (9.5, 4.4))
    x = np.arange(len(runs))
    width = 0.38
    for offset, part, colour, name in ((-width / 2, "train", "0.55", "training rows"),
                                       (width / 2, "heldout", "C2", "held-out rows")):
        stats = np.array([_stat(data, f"training.{run}.{part}") for run, _ in runs])
        ax.bar(x + offset, stats[:, 0], width, color=colour, label=f"{name} (median)")
        ax.errorbar(x + offset, stats[:, 0], yerr=[stats[:, 0] - stats[:, 1],
                                                   stats[:, 2] - stats[:, 0]],
                    fmt="none", ecolor="black", capsize=3, linewidth=1)
        for xi, value in zip(x + offset, stats[:, 0], strict=True):
            # inside the bar, clear of the range lines above it
            ax.text(xi, 0.03, f"{value:.1%}", ha="center", va="bottom", fontsize=8,
                    rotation=90, color="white")
    # tanh at the large rate learned, then saturated: its peak, lest the bar read "never learned"
    names = [run for run, _ in runs]
    peak = _stat(data, "training.tanh_lr0.5.peak_train")[0]
    where = x[names.index("tanh_lr0.5")] - width / 2
    ax.plot([where], [peak], "v", color="C1", markersize=8,
            label="best training accuracy during an epoch")
    ax.annotate(f"peak {peak:.1%},\nthen saturated", (where, peak), textcoords="offset points",
                xytext=(0, -12), fontsize=8, color="C1", ha="center", va="top")
    _accuracy_axis(ax, net["chance"], "accuracy after the last epoch")
    ax.set_xticks(x)
    ax.set_xticklabels([label for _, label in runs], fontsize=8)
    ax.plot([], [], color="grey", linestyle=":", label=f"chance ({net['chance']:.0%})")
    ax.errorbar([], [], yerr=[], fmt="none", ecolor="black", capsize=3,
                label="lowest to highest seed")
    fig.legend(loc="outside lower center", ncols=5, fontsize=8)
    key = "training.relu_lr0.1.heldout"
    ax.set_title(f"Spirals, {net['depth']} hidden layers (one control with "
                 f"{net['control_depth']}), {net['epochs']} epochs: accuracy on the "
                 f"{net['n_train']} training points and the {net['n_heldout']} held out\n"
                 f"median and range over {_seeds(data, key)}", fontsize=10)
    return _save(fig, path)


def plot_lr_sweep(data: Mapping[str, Any], path: Path,
                  activations: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu")) -> Path:
    """Held-out accuracy against the learning rate, one panel per activation (shared y-axis),
    each activation's best rate starred and written in the panel's lower left."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lrs = data["_meta"]["sweep_lrs"]
    net = data["_meta"]["training"]
    fig, axes = _figure(len(activations), (3.1 * len(activations), 3.9))
    for ax, activation in zip(axes, activations, strict=True):
        colour = COLOURS[activation]
        keys = [f"sweep.{activation}.lr{lr:g}" for lr in lrs]
        stats = np.array([_stat(data, f"{key}.heldout") for key in keys])
        diverged = np.array([data[f"{key}.diverged"]["median"] for key in keys]) >= 0.5
        ax.fill_between(lrs, stats[:, 1], stats[:, 2], color=colour, alpha=0.2, linewidth=0)
        ax.plot(lrs, stats[:, 0], "o-", color=colour, markersize=4)
        ax.plot(np.asarray(lrs)[diverged], stats[diverged, 0], "x", color="black",
                markersize=8)
        best = data[f"sweep.{activation}.best_lr"]["median"]
        median, low, high = _stat(data, f"sweep.{activation}.heldout")
        if np.max(stats[:, 2]) <= net["chance"] + 0.01:
            # No rate learns: a "best" rate would be an artefact of the tie-break.
            note = f"at chance at every rate\n(no seed above {np.max(stats[:, 2]):.1%})"
        else:
            ax.plot([best], [median], "*", color="black", markersize=13, zorder=5)
            note = f"best rate {best:g}: {median:.1%}\n(seeds {low:.1%} to {high:.1%})"
        ax.text(0.04, 0.06, note, transform=ax.transAxes, fontsize=8, va="bottom",
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.8"})
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_title(f"{LABELS[activation]} + {INITS[activation]}")
        _accuracy_axis(ax, net["chance"])
    handles = [Line2D([], [], color="0.3", marker="o", markersize=4, label="median over seeds"),
               Patch(color="0.3", alpha=0.2, label="lowest to highest seed"),
               Line2D([], [], color="black", marker="*", markersize=11, linestyle="none",
                      label="best rate (median)"),
               Line2D([], [], color="black", marker="x", markersize=7, linestyle="none",
                      label="diverged (counted at chance)"),
               Line2D([], [], color="grey", linestyle=":", label="chance")]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    key = f"sweep.{activations[0]}.lr{lrs[0]:g}.heldout"
    fig.suptitle(f"Learning-rate sweep, {net['depth']} hidden layers: held-out accuracy after "
                 f"{net['epochs']} epochs ({_seeds(data, key)})", fontsize=10)
    return _save(fig, path)


def plot_frozen_layers(data: Mapping[str, Any], path: Path,
                       activations: Sequence[str] = ("sigmoid", "relu")) -> Path:
    """Held-out accuracy with no layer, the first k or the last k hidden layers frozen at init."""
    net = data["_meta"]["training"]
    which = [("none", "none"), ("first1", "first 1"), ("first3", "first 3"),
             ("last1", "last 1"), ("last3", "last 3")]
    fig, axes = _figure(len(activations), (4.6 * len(activations), 3.9))
    for ax, activation in zip(axes, activations, strict=True):
        stats = np.array([_stat(data, f"frozen.{activation}.{name}.heldout")
                          for name, _ in which])
        colours = ["0.45"] + ["C4"] * 2 + ["C1"] * 2  # unfrozen, early frozen, late frozen
        x = np.arange(len(which))
        ax.bar(x, stats[:, 0], 0.6, color=colours)
        ax.errorbar(x, stats[:, 0], yerr=[stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]],
                    fmt="none", ecolor="black", capsize=3, linewidth=1)
        for xi, value in zip(x, stats[:, 0], strict=True):
            ax.text(xi, value + 0.02, f"{value:.1%}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([label for _, label in which])
        ax.set_xlabel("hidden layers kept at init")
        lr = {"sigmoid": 0.5, "relu": 0.1}.get(activation)
        name = f"{LABELS[activation]} + {INITS[activation]}"
        ax.set_title(f"{name}, lr {lr}" if lr else name)
        _accuracy_axis(ax, net["chance"])
    key = f"frozen.{activations[-1]}.none.heldout"
    fig.suptitle(f"Freezing layers of a {net['depth']}-layer net at their random init: "
                 f"held-out accuracy after {net['epochs']} epochs\n(median and range over "
                 f"{_seeds(data, key)}; dotted: chance)", fontsize=10)
    return _save(fig, path)


def draw_all(data: Mapping[str, Any], out: Path = OUT) -> list[Path]:
    """Every study figure into ``out``; returns the paths."""
    return [plot_heldout_vs_train(data, out / "heldout_vs_train.png"),
            plot_lr_sweep(data, out / "lr_sweep.png"),
            plot_frozen_layers(data, out / "frozen_layers.png")]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lesson.study_plots``: draw the study figures from the data file."""
    options = argparse.ArgumentParser(prog="python -m lesson.study_plots", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--data", type=Path, default=DATA, help="the data file")
    options.add_argument("--out", type=Path, default=OUT, help="the folder for the PNGs")
    args = options.parse_args(argv)
    data = json.loads(args.data.read_text(encoding="utf-8"))
    print(*draw_all(data, args.out), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
