"""The experiments' figures: each ``plot_*`` function takes the dict (or list of dicts) that
``flow`` or ``train`` returned and writes one PNG, returning its path. Nothing here computes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Below this a gradient (or a relative update) has vanished for every practical purpose: an
# SGD step this size cannot change a weight of size ~1 in float64, whose resolution there is
# 2.2e-16. Values under it are drawn in a hatched band with hollow markers, so a curve that
# sits flat at 1e-22 cannot pass for a healthy one.
VANISHED = 1e-16
# One colour per activation, the same in every figure.
ACTIVATION_COLORS = {"sigmoid": "tab:blue", "centred_sigmoid": "tab:cyan", "tanh": "tab:green",
                     "relu": "tab:red", "leaky_relu": "tab:orange"}
INIT_MARKERS = {"glorot": "o", "he": "s", "small": "v"}
INIT_COLORS = {"glorot": "tab:blue", "he": "tab:orange", "small": "tab:purple"}
INIT_NAMES = {"glorot": "Glorot", "he": "He", "small": "small, N(0, 0.01²)"}


def _figure(nrows: int, ncols: int, figsize: tuple[float, float],
            layout: str | None = "constrained", **shared):
    """A figure drawn by the Agg backend, without touching pyplot's global backend.

    (matplotlib.use("Agg") would also switch the backend of a notebook that imports us.)
    ``layout``: None for a figure that places its panels itself; ``shared``: sharex / sharey
    and other keywords of ``Figure.subplots``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **shared)
    return fig, axes


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _log_bottom(series, band: bool = True) -> float:
    """The bottom of a shared log axis for these series: a decade under the smallest positive
    value; with ``band``, never above VANISHED / 100 (so the vanished band always shows)."""
    positive = [v for values in series for v in np.asarray(values, dtype=np.float64).ravel()
                if v > 0 and np.isfinite(v)]
    smallest = min(positive, default=VANISHED)
    return min(smallest / 10.0, VANISHED / 100.0) if band else smallest / 10.0


def _vanished_band(ax, bottom: float, label: bool = True) -> None:
    """Hatch the part of a log axis below VANISHED, and name it."""
    ax.axhspan(bottom, VANISHED, facecolor="0.92", edgecolor="0.6", hatch="///", linewidth=0,
               zorder=0, label=f"below {VANISHED:.0e}: vanished" if label else None)
    ax.axhline(VANISHED, color="0.4", linewidth=0.8, zorder=1)


def _draw_series(ax, x, values, bottom: float, **style):
    """One curve on a log axis: filled markers where the value is alive, hollow ones where it
    has vanished (below VANISHED), crosses at ``bottom`` where it is exactly 0 (a log axis
    cannot show 0).
    Returns (the line, whether any value was exactly 0)."""
    values = np.asarray(values, dtype=np.float64)
    x = np.asarray(x)
    zero = ~(values > 0)
    shown = np.where(zero, bottom, values)
    (line,) = ax.plot(x, shown, marker="none", **style)
    color = line.get_color()
    alive, gone = (shown >= VANISHED) & ~zero, (shown < VANISHED) & ~zero
    size = style.get("markersize", 4)
    ax.plot(x[alive], shown[alive], "o", color=color, markersize=size)
    ax.plot(x[gone], shown[gone], "o", color=color, markerfacecolor="white", markersize=size)
    if zero.any():
        ax.plot(x[zero], shown[zero], "x", color=color, markersize=8, clip_on=False)
    return line, bool(zero.any())


def norms_by_activation_figure(results: Sequence[dict], key: str, ylabel: str, title: str):
    """The Figure of plot_gradient_flow / plot_delta_flow: one panel per activation, one line
    per init, on one shared log y axis (the panels are compared with each other)."""
    from matplotlib.ticker import MaxNLocator, NullLocator

    activations = list(dict.fromkeys(res["activation"] for res in results))
    ncols = 2 if len(activations) > 1 else 1
    nrows = -(-len(activations) // ncols)
    fig, axes = _figure(nrows, ncols, (5.2 * ncols + 1.8, 3.8 * nrows), sharex=True, sharey=True)
    bottom = _log_bottom(res[key] for res in results)
    any_zero = False
    for ax, act in zip(axes.flat, activations, strict=False):
        _vanished_band(ax, bottom)
        for res in results:
            if res["activation"] != act:
                continue
            layers = np.arange(1, len(res[key]) + 1)
            _, zero = _draw_series(ax, layers, res[key], bottom, markersize=3,
                                   color=INIT_COLORS.get(res["init"]),
                                   label=INIT_NAMES.get(res["init"], res["init"]))
            any_zero |= zero
        ax.set_yscale("log")
        ax.set_ylim(bottom=bottom)
        # These axes span many decades: minor ticks would only add clutter (and drawing time).
        ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(act)
        ax.set_xlabel("hidden layer l (1 = next to the input)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(activations) :]:
        ax.set_visible(False)
    # The same inits in every panel: one legend, outside, so no curve is hidden under it.
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=9,
               title="init")
    first = results[0]
    suptitle = (f"{title}  (depth {first['depth']}, width {first['width']}, "
                f"batch {first['batch']})\nsame y axis in every panel; hollow markers in the "
                f"hatched band: below {VANISHED:.0e}, vanished (no float64 step can use them)")
    if any_zero:
        suptitle += "\nx = exactly 0 (underflow), drawn at the bottom"
    fig.suptitle(suptitle)
    return fig


def plot_gradient_flow(results: Sequence[dict], path) -> Path:
    """One subplot per activation: ||dL/dW_l||_F vs hidden layer, one line per init (log y)."""
    return _save(norms_by_activation_figure(
        results,
        "dW_norms",
        r"$\|\partial L / \partial W_l\|_F$",
        "Weight-gradient norm per layer at initialisation",
    ), path)


def plot_delta_flow(results: Sequence[dict], path) -> Path:
    """One subplot per activation: ||dL/dz_l||_F vs hidden layer, one line per init (log y)."""
    return _save(norms_by_activation_figure(
        results,
        "delta_norms",
        r"$\|\partial L / \partial z_l\|_F$",
        "Gradient norm w.r.t. each pre-activation at initialisation",
    ), path)


def headline_figure(flow: Sequence[dict]):
    """The Figure of plot_headline: ||dL/dz_l|| of sigmoid + Glorot and of ReLU + He on one
    log axis, each with its first-to-last ratio r_delta written beside it."""
    from matplotlib.ticker import MaxNLocator, NullLocator

    pairs = [("sigmoid", "glorot", "sigmoid + Glorot"), ("relu", "he", "ReLU + He")]
    chosen = [(next(r for r in flow if r["activation"] == act and r["init"] == init), label)
              for act, init, label in pairs]
    fig, axes = _figure(1, 1, (7.6, 4.8))
    ax = axes[0, 0]
    bottom = _log_bottom(res["delta_norms"] for res, _ in chosen)
    if bottom < VANISHED:
        _vanished_band(ax, bottom)
    # Each ratio is written at layer 1, where the curves differ most: the sigmoid's text sits
    # on its line, ReLU's (near the top of the axis) under its line.
    offsets = [(12, 0), (12, -26)]
    for (res, label), offset in zip(chosen, offsets, strict=True):
        norms = np.asarray(res["delta_norms"], dtype=np.float64)
        layers = np.arange(1, len(norms) + 1)
        r_delta = res["ratio_delta"]
        line, _ = _draw_series(ax, layers, norms, bottom, linewidth=2.2, markersize=4,
                               color=ACTIVATION_COLORS[res["activation"]],
                               label=f"{label}: r_delta = {r_delta:.1e}")
        # The ratio as a per-layer factor too: r_delta = gain ** (L - 1), the dial's gain.
        steps = len(norms) - 1
        per_layer = f" = {r_delta ** (1 / steps):.2f}^{steps}" if r_delta > 0 and steps else ""
        ax.annotate(f"{label}\n" + r"$r_\delta = \|\delta_1\| / \|\delta_L\|$"
                    + f" = {r_delta:.1e}{per_layer}",
                    xy=(layers[0], max(norms[0], bottom)), xytext=offset,
                    textcoords="offset points", va="center", fontsize=10,
                    color=line.get_color(), fontweight="bold")
    ax.set_yscale("log")
    ax.set_ylim(bottom=bottom)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("hidden layer l (1 = next to the input, L = last)")
    ax.set_ylabel(r"$\|\delta_l\| = \|\partial L / \partial z_l\|_F$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    first = chosen[0][0]
    fig.suptitle(f"The headline: one backward pass at initialisation, {first['depth']} hidden "
                 f"layers x {first['width']}\nthe gradient reaching layer 1 vs the last hidden "
                 "layer, on one log axis")
    return fig


def plot_headline(flow: Sequence[dict], path) -> Path:
    """sigmoid + Glorot vs ReLU + He from ``flow`` (gradient_flow_grid's results) on one shared
    log axis, with each first-to-last ratio r_delta written on the plot."""
    return _save(headline_figure(flow), path)


def dial_figure(data: dict):
    """The Figure of plot_dial: backward gain (left) and forward gain (right) against the
    weight scale, sharing both axes; the gain-1 line and each init marked on each curve."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    fig, axes = _figure(1, 2, (12.8, 5.6), sharex=True, sharey=True)
    scales = np.asarray(data["scales"], dtype=np.float64)
    panels = [
        ("backward_gain", "backward: " + r"$\|\delta_l\| / \|\delta_{l+1}\|$"
         + ", the gradient shrinks (< 1) or grows (> 1)"),
        ("forward_gain", "forward: spread of " + r"$a_{l+1}$ / spread of $a_l$"
         + " across inputs"),
    ]
    gains = np.concatenate([np.asarray(c[key], dtype=np.float64).ravel()
                            for c in data["curves"] for key, _ in panels])
    gains = gains[np.isfinite(gains) & (gains > 0)]
    low = min(float(gains.min()) / 1.5, 0.5) if gains.size else 0.01
    high = max(float(gains.max()) * 1.5, 2.0) if gains.size else 10.0
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        # The two ends of the dial, shaded: below gain 1 the signal shrinks every layer.
        ax.axhspan(low, 1.0, color="tab:blue", alpha=0.06, zorder=0)
        ax.axhspan(1.0, high, color="tab:red", alpha=0.06, zorder=0)
        ax.text(0.98, 0.03, "vanishing: gain < 1", transform=ax.transAxes, color="tab:blue",
                fontsize=10, fontweight="bold", ha="right")
        ax.text(0.02, 0.96, "exploding: gain > 1", transform=ax.transAxes, color="tab:red",
                fontsize=10, fontweight="bold", va="top")
        ax.axhline(1.0, color="black", linewidth=1.4, linestyle="--", zorder=2)
        for scale in data["marks"].values():
            ax.axvline(scale, color="0.5", linewidth=0.8, linestyle=":", zorder=1)
        for curve in data["curves"]:
            act = curve["activation"]
            color = ACTIVATION_COLORS.get(act)
            values = np.asarray(curve[key], dtype=np.float64)
            (line,) = ax.plot(scales, values, color=color, linewidth=2, zorder=3,
                              linestyle="--" if act == "centred_sigmoid" else "-",
                              label=_dial_label(curve))
            for mark, scale in data["marks"].items():
                index = int(np.argmin(np.abs(scales - scale)))
                ax.plot(scales[index], values[index], INIT_MARKERS.get(mark, "D"),
                        color=line.get_color(), markersize=8, markeredgecolor="black",
                        zorder=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(scales.min(), scales.max())
        ax.set_ylim(low, high)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(r"weight scale $\sigma_w \sqrt{n}$  ($W \sim N(0, \sigma_w^2)$, "
                      r"$n$ = fan-in)")
        ax.set_ylabel("per-layer gain (geometric mean over layers)")
        ax.grid(True, which="major", alpha=0.3)
        # The inits' scales, named on a top axis (above the curves, never on them).
        top = ax.secondary_xaxis("top")
        marks = sorted(data["marks"].items(), key=lambda item: item[1])
        top.set_xticks([scale for _, scale in marks],
                       labels=[INIT_NAMES.get(m, m).split(",")[0] for m, _ in marks],
                       fontsize=8)
        top.xaxis.set_minor_locator(NullLocator())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    inits = [Line2D([], [], linestyle="none", marker=INIT_MARKERS.get(m, "D"), color="0.75",
                    markeredgecolor="black", markersize=8,
                    label=f"{INIT_NAMES.get(m, m)} (scale {scale:.2g})")
             for m, scale in data["marks"].items()]
    fig.legend(handles + inits, labels + [h.get_label() for h in inits],
               loc="outside right center", fontsize=9, title="activation / init")
    fig.suptitle(
        "The dial: each layer multiplies the signal by about (weight scale) x (slope of the "
        f"activation)\n{data['depth']} hidden layers x {data['width']}, one backward pass "
        "per point: the activation decides where the dial must sit for gain 1")
    return fig


def _dial_label(curve: dict) -> str:
    """An activation's legend entry in the dial: its name and where its gain reaches 1."""
    name = curve["activation"].replace("_", " ")
    crossing = curve.get("unit_gain_scale", float("nan"))
    if np.isfinite(crossing):
        return f"{name}: gain 1 at scale {crossing:.2g}"
    return f"{name}: gain < 1 at every scale shown"


def plot_dial(data: dict, path) -> Path:
    """The dial (``dial.backward_gain_sweep``'s result): per-layer backward and forward gain
    against the weight scale, one curve per activation, inits marked, gain 1 drawn."""
    return _save(dial_figure(data), path)


def layer_speed_figure(data: dict):
    """The Figure of plot_layer_speed: one panel per activation, sharing the log y axis."""
    from matplotlib import colormaps

    runs = data["runs"]
    fig, axes = _figure(1, len(runs), (5.0 * len(runs) + 1.2, 4.2), sharex=True, sharey=True)
    cmap = colormaps["viridis"]
    bottom = _log_bottom((r for run in runs for r in run["update_ratios"]), band=False)
    any_zero = False
    for ax, run in zip(axes.flat, runs, strict=True):
        n_layers = len(run["update_ratios"])
        if bottom < VANISHED:
            _vanished_band(ax, bottom, label=False)
        for layer, ratios in enumerate(run["update_ratios"]):
            values = np.asarray(ratios, dtype=np.float64)
            zero = ~(values > 0)
            any_zero |= bool(zero.any())
            epochs = np.arange(1, len(values) + 1)
            name = "output" if layer == n_layers - 1 else f"layer {layer + 1}"
            ax.plot(epochs, np.where(zero, bottom, values),
                    color=cmap(layer / max(n_layers - 1, 1)), label=name)
            if zero.any():
                ax.plot(epochs[zero], np.full(int(zero.sum()), bottom), "x",
                        color=cmap(layer / max(n_layers - 1, 1)), clip_on=False)
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
        f"{data['depth']} hidden layers x {data['width']} (same y axis in both panels)"
    )
    if bottom < VANISHED:
        title += f"\nhatched: below {VANISHED:.0e}, the weights did not change at all"
    if any_zero:
        title += "\n(x = a change of exactly 0, drawn at the bottom)"
    fig.suptitle(title)
    return fig


def plot_layer_speed(data: dict, path) -> Path:
    """One subplot per activation: ||dW_l|| / ||W_l|| per epoch, one line per layer (log y)."""
    return _save(layer_speed_figure(data), path)


def plot_training(data: dict, path) -> Path:
    """Training accuracy (during each epoch) vs epoch: one panel per deep run, with the chance
    line at 1/n_classes; the legend gives the last epoch's training and held-out accuracy.

    A shallow control with the same activation is drawn dashed in that activation's panels.
    (One panel each, because several runs sit exactly on the chance line and would hide there.)
    """
    runs = data["runs"]
    ncols = 2 if len(runs) > 1 else 1
    nrows = -(-len(runs) // ncols)
    fig, axes = _figure(nrows, ncols, (5.4 * ncols, 3.4 * nrows + 0.6), sharex=True,
                        sharey=True)
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
        # Two lines: on one the title is wider than the figure and cut off at both edges.
        f"{data['width']}, minibatch SGD\ncurves: training accuracy during each epoch"
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



def saturation_figure(data: dict):
    """The Figure of plot_saturation: one row per run; per-layer histograms of the activations
    at initialisation and after training (colour: the fraction of a layer's values in each
    bin, log scale), and the saturated fraction per layer, on one shared 0..1 axis."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import MaxNLocator

    runs = data["runs"]
    # Placed by hand: the constrained layout would cost half the drawing time of these nine
    # panels (the experiments' run has a time budget).
    height = 2.9 * len(runs) + 1.0
    fig, axes = _figure(len(runs), 3, (13.0, height), layout=None,
                        gridspec_kw={"width_ratios": [1.0, 1.0, 0.8]})
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.55 / height, top=1.0 - 0.95 / height,
                        wspace=0.32, hspace=0.6)
    norm = LogNorm(vmin=1e-4, vmax=1.0)
    image = None
    for row, run in zip(axes, runs, strict=True):
        edges = np.asarray(run["edges"], dtype=np.float64)
        depth = run["init"]["counts"].shape[0]
        layer_edges = np.arange(0.5, depth + 1.0)
        for ax, stage in zip(row[:2], ("init", "trained"), strict=True):
            counts = np.asarray(run[stage]["counts"], dtype=np.float64)
            share = counts / counts.sum(axis=1, keepdims=True).clip(min=1.0)
            image = ax.pcolormesh(edges, layer_edges, np.where(share > 0, share, np.nan),
                                  norm=norm, cmap="magma_r", shading="flat")
            # Where the activation turns flat: a line at each threshold (the saturated ranges
            # are narrower than a bin), and each layer's saturated share written beside it.
            lo, hi = edges[0], edges[-1]
            for threshold in run["flat_outside"]:
                ax.axvline(threshold, color="tab:blue", linewidth=1.0)
            when = ("at initialisation" if stage == "init"
                    else f"after {data['epochs']} epochs (train acc {run['final_accuracy']:.0%})")
            ax.set_title(f"{run['activation']}, lr {run['lr']}: {when}", fontsize=9)
            ax.set_xlim(lo, hi)
            ax.set_xticks(np.linspace(lo, hi, 5))
            ax.set_ylim(depth + 0.5, 0.5)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            ax.set_ylabel("hidden layer (1 = input side)")
            ax.set_xlabel(f"activation value $a$ ({run['activation']})")
        bar = row[2]
        layers = np.arange(1, depth + 1)
        bar.barh(layers - 0.2, run["init"]["saturated"], height=0.4, color="0.6", label="init")
        bar.barh(layers + 0.2, run["trained"]["saturated"], height=0.4, color="crimson",
                 label="trained")
        # Each layer's trained share written at its bar (outside the layout: the text may
        # reach past the axis, and measuring 10 texts per panel for the layout is slow).
        for layer, share in zip(layers, run["trained"]["saturated"], strict=True):
            label = bar.text(share + 0.01, layer + 0.2, f"{share:.0%}", va="center", fontsize=7,
                             color="crimson")
            label.set_in_layout(False)
        bar.set_xlim(0.0, 1.0)
        bar.set_ylim(depth + 0.5, 0.5)
        bar.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        bar.set_xlabel("share of the layer's values that are saturated")
        flat_below, flat_above = run["flat_outside"]
        rule = (f"|a| > {flat_above:g}" if flat_below == -flat_above
                else f"a < {flat_below:g} or a > {flat_above:g}")
        bar.set_title(f"fraction saturated ({rule})", fontsize=9)
        if bar is not axes[0, 2]:
            bar.sharex(axes[0, 2])
        if not (np.any(run["init"]["saturated"]) or np.any(run["trained"]["saturated"])):
            bar.text(0.5, 0.5, "no saturated unit in any layer,\nat init or after training",
                     transform=bar.transAxes, ha="center", va="center", fontsize=9)
        bar.grid(True, axis="x", alpha=0.3)
        bar.legend(fontsize=8, loc="lower right")
    if image is not None:
        bar = fig.colorbar(image, ax=axes[:, :2].ravel().tolist(), shrink=0.6, aspect=30,
                           pad=0.04, label="share of the layer's values in the bin")
        bar.minorticks_off()
    fig.suptitle(f"Saturation: every layer's activations over the {data['n_points']} spiral "
                 f"points, {data['depth']} hidden layers x {data['width']} "
                 "\nblue lines: the saturation thresholds (slope < 0.02 beyond them); "
                 "right: each layer's saturated share")
    return fig


def plot_saturation(data: dict, path) -> Path:
    """Per-layer activation histograms with the saturated fraction, at initialisation and after
    training (``saturation.saturation_histograms``'s result)."""
    return _save(saturation_figure(data), path)
