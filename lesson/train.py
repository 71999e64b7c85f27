"""Experiments 2 and 3: train deep classifiers on the spirals with the implementation's
functions and plain minibatch SGD, and watch which layers learn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from .config import FULL, SGD, Speed, Spirals, Training
from .flow import Params, init_by_scheme, ratio
from .implementation import Implementation, checked, progress

# The share of the spirals kept out of training: the held-out points measure what a net learned
# about the arms, not how well it remembers the points it was shown.
HELDOUT_FRACTION = 1 / 3


def make_spirals(data: Spirals = FULL.training.data) -> tuple[np.ndarray, np.ndarray]:
    """The CS231n spiral: ``data.n_classes`` interleaved arms, not separable by a straight line.

    Point i of class k sits at radius r = i / (n_per_class - 1) in [0, 1] and angle
    4 k + 4 r + noise * N(0, 1) (radians), the noise drawn from ``data.seed``.
    Returns x: (n_classes * n_per_class, 2) float64 and labels: (n_classes * n_per_class,)
    int64, class-major (all of class 0 first).
    """
    rng = np.random.default_rng(data.seed)
    xs, labels = [], []
    radius = np.linspace(0.0, 1.0, data.n_per_class)
    for k in range(data.n_classes):
        angle = 4.0 * k + 4.0 * radius + data.noise * rng.standard_normal(data.n_per_class)
        xs.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(data.n_per_class, k, dtype=np.int64))
    return np.concatenate(xs).astype(np.float64), np.concatenate(labels)


def heldout_split(labels: np.ndarray, fraction: float = HELDOUT_FRACTION,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split a data set into training and held-out rows, the same share of every class.

    labels: (N,) int64. Of each class's rows, round(fraction * count) drawn at random (from
    ``seed``) are held out. Returns (train, heldout): two sorted int64 index arrays, disjoint,
    together every row once. Stratified, so neither part lacks an arm of the spiral.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), not {fraction}")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for k in np.unique(labels):
        rows = np.flatnonzero(labels == k)
        held.append(rng.permutation(rows)[: round(fraction * rows.size)])
    heldout = np.sort(np.concatenate(held)).astype(np.int64)
    train = np.setdiff1d(np.arange(labels.shape[0]), heldout).astype(np.int64)
    return train, heldout


def predict(impl: Implementation, x: np.ndarray, params: Params, activation: str,
            block: int = 128) -> np.ndarray:
    """Predicted class per row of x (N, D) float64: (N,) int64.

    Rows go through in blocks: on larger products OpenBLAS wakes its worker threads, which for
    matrices this small burns about twice the CPU time for no gain in speed.
    """
    impl = checked(impl)
    preds = [
        np.argmax(impl.mlp_forward(x[i : i + block], params, activation)[0], axis=1)
        for i in range(0, x.shape[0], block)
    ]
    return np.concatenate(preds).astype(np.int64)


def train_classifier(impl: Implementation, x: np.ndarray, labels: np.ndarray, activation: str,
                     net: SGD = FULL.training.net, track_updates: bool = False,
                     on_epoch: Callable[[], None] | None = None, *,
                     heldout: tuple[np.ndarray, np.ndarray] | None = None,
                     init: str | None = None, frozen: Sequence[int] = ()) -> dict:
    """Train an MLP classifier with plain minibatch SGD (no momentum, no weight decay).

    x: (N, D) float64; labels: (N,) int64 in [0, C): the training rows. The net is
    D -> net.depth x net.width -> C, initialised by ``impl.init_params`` (which picks the init
    that matches the activation), or with ``init`` ("glorot", "he" or "small", see
    ``flow.init_by_scheme``) by that scheme whatever the activation. Minibatches of ``net.batch``
    rows from a fresh shuffle every epoch; the last, smaller minibatch is kept. ``on_epoch``, if
    given, is called after every epoch (a progress bar).

    heldout: (x_heldout (M, D) float64, labels_heldout (M,) int64), rows never trained on (see
    ``heldout_split``); their accuracy is measured after every epoch (a forward pass only).
    frozen: indexes into the hidden layers (0 = the first hidden layer, net.depth - 1 the last)
    whose W and b stay at their initial values: their gradients are computed, never applied.

    Returns a dict with
      activation, depth, width, lr, epochs, batch, seed: the settings;
      init, frozen: the init scheme asked for (None: init_params's choice) and the frozen
        layers (a sorted tuple);
      accuracy: list of ``epochs`` floats, the training accuracy during each epoch: the fraction
        of examples the net classified correctly when it met them, before its step on them
        (free to compute, unlike a separate pass over the data after every epoch);
      loss: list of ``epochs`` floats, the mean minibatch loss during each epoch;
      final_accuracy: float, training accuracy of the trained net, from a separate pass over
        the training rows after the last epoch (``final_train_accuracy``: the same number);
      heldout_accuracy (only with heldout): list of ``epochs`` floats, the held-out accuracy
        after each epoch; final_heldout_accuracy: its last value;
      params: the trained list of (W, b), float64; initial_params: the list as initialised;
      final_grad_norms: list of floats, ||dL/dW_l||_F per layer (output last) on the whole
        data set with the trained params;
      update_ratios (only if track_updates): one list per layer (hidden layers first, output
        layer last) of ``epochs`` floats, ||W_l(epoch end) - W_l(epoch start)||_F divided by
        ||W_l(epoch start)||_F.
    """
    impl = checked(impl)
    frozen = tuple(sorted(set(frozen)))
    if any(not 0 <= layer < net.depth for layer in frozen):
        raise ValueError(f"frozen layers {frozen}: hidden layers are 0..{net.depth - 1} (the "
                         "output layer always learns)")
    rng = np.random.default_rng(net.seed)
    n_classes = int(max(labels.max(), heldout[1].max() if heldout is not None else 0)) + 1
    sizes = [x.shape[1]] + [net.width] * net.depth + [n_classes]
    params = (impl.init_params(sizes, activation, rng) if init is None
              else init_by_scheme(impl, sizes, init, rng))
    initial_params = params
    count = x.shape[0]
    history: dict[str, list[float]] = {"accuracy": [], "loss": [], "heldout_accuracy": []}
    update_ratios: list[list[float]] = [[] for _ in params]

    for _ in range(net.epochs):
        start = [W for W, _ in params]
        order = rng.permutation(count)
        epoch_losses, correct = [], 0
        for i in range(0, count, net.batch):
            rows = order[i : i + net.batch]
            out, caches = impl.mlp_forward(x[rows], params, activation)
            loss_value, dout = impl.softmax_cross_entropy(out, labels[rows])
            correct += int(np.sum(np.argmax(out, axis=1) == labels[rows]))
            grads = impl.mlp_backward(dout, caches)
            params = [(W, b) if layer in frozen else (W - net.lr * dW, b - net.lr * db)
                      for layer, ((W, b), (dW, db)) in enumerate(zip(params, grads,
                                                                     strict=True))]
            epoch_losses.append(float(loss_value))
        history["loss"].append(float(np.mean(epoch_losses)))
        history["accuracy"].append(correct / count)
        if heldout is not None:
            history["heldout_accuracy"].append(
                float(np.mean(predict(impl, heldout[0], params, activation) == heldout[1])))
        if track_updates:
            for layer, (W0, (W, _)) in enumerate(zip(start, params, strict=True)):
                step = float(np.linalg.norm(W - W0))
                update_ratios[layer].append(ratio(step, float(np.linalg.norm(W0))))
        if on_epoch is not None:
            on_epoch()

    # Which layers still receive a gradient where training ended: one full-batch backward pass.
    out, caches = impl.mlp_forward(x, params, activation)
    _, dout = impl.softmax_cross_entropy(out, labels)
    final_grad_norms = [float(np.linalg.norm(dW)) for dW, _ in impl.mlp_backward(dout, caches)]

    final_train = float(np.mean(predict(impl, x, params, activation) == labels))
    result = {
        "activation": activation,
        "depth": net.depth,
        "width": net.width,
        "lr": net.lr,
        "epochs": net.epochs,
        "batch": net.batch,
        "seed": net.seed,
        "init": init,
        "frozen": frozen,
        "accuracy": history["accuracy"],
        "loss": history["loss"],
        "final_accuracy": final_train,
        "final_train_accuracy": final_train,
        "final_grad_norms": final_grad_norms,
        "params": params,
        "initial_params": initial_params,
    }
    if heldout is not None:
        result["heldout_accuracy"] = history["heldout_accuracy"]
        result["final_heldout_accuracy"] = (
            history["heldout_accuracy"][-1] if history["heldout_accuracy"]
            else float(np.mean(predict(impl, heldout[0], params, activation) == heldout[1])))
    if track_updates:
        result["update_ratios"] = update_ratios
    return result


def layer_speed(impl: Implementation, config: Speed = FULL.speed,
                show_progress: bool = False) -> dict:
    """Relative weight update per layer per epoch while training on the spirals.

    Each activation gets the init that ``init_params`` pairs with it (Glorot for sigmoid, He
    for relu) and the same lr, so the layers of one net can be compared with each other.
    Returns {"depth", "width", "lr", "epochs", "runs": [one dict per activation]}; each run is
    {"activation", "update_ratios" (layers x epochs, see train_classifier), "accuracy",
    "final_accuracy"}. ``show_progress``: a bar on stderr, one step an epoch.
    """
    x, labels = make_spirals(config.data)
    runs = []
    with progress("training (layer speed)", len(config.activations) * config.net.epochs,
                  show_progress) as advance:
        for activation in config.activations:
            res = train_classifier(impl, x, labels, activation, config.net,
                                   track_updates=True, on_epoch=advance)
            runs.append({key: res[key]
                     for key in ("activation", "update_ratios", "accuracy", "final_accuracy")})
    net = config.net
    return {"depth": net.depth, "width": net.width, "lr": net.lr, "epochs": net.epochs,
            "runs": runs}


def decision_grid(impl: Implementation, params: Params, activation: str,
                  extent: tuple[float, float], resolution: int) -> dict:
    """Predicted class on a resolution x resolution grid covering extent = (lo, hi) in both
    coordinates: {"ticks": (R,) float64, "pred": (R, R) int64}."""
    impl = checked(impl)
    ticks = np.linspace(extent[0], extent[1], resolution)
    g0, g1 = np.meshgrid(ticks, ticks)
    pred = predict(impl, np.column_stack([g0.ravel(), g1.ravel()]), params, activation)
    return {"ticks": ticks, "pred": pred.reshape(g0.shape)}


def training_comparison(impl: Implementation, config: Training = FULL.training,
                        show_progress: bool = False) -> dict:
    """Train one deep net per (activation, lr) of ``config.runs`` on the spirals, plus shallow
    controls, each on the same training rows, and measure them on the held-out rows.

    The spirals are split by ``heldout_split`` (a third of each class held out, seeded by
    ``config.data.seed``). Every net gets the init that ``init_params`` pairs with its
    activation, the same data and the same seed. Returns a dict with
      x: (N, 2) float64, labels: (N,) int64: the whole data set;
      train_rows, heldout_rows: (N_train,) and (N_heldout,) int64, the split's row indexes;
      depth, width, epochs, chance: settings and the chance accuracy 1 / n_classes;
      runs: one dict per entry of ``runs`` with activation, depth, lr, accuracy (list of
        ``epochs`` floats, training accuracy during each epoch), loss, final_accuracy (training
        accuracy after the last epoch, a separate pass; also final_train_accuracy),
        heldout_accuracy (list of ``epochs`` floats) and final_heldout_accuracy, best_accuracy
        and best_epoch (1-based): the highest during-epoch training accuracy and when,
        final_grad_norms (see train_classifier), and grid (see decision_grid): the predicted
        class over the plane, for a decision-boundary plot;
      controls: the same (without grid) for nets of depth ``control_depth``, one per entry of
        ``controls``.
    ``show_progress``: a bar on stderr, one step an epoch.
    """
    x, labels = make_spirals(config.data)
    train_rows, heldout_rows = heldout_split(labels, seed=config.data.seed)
    heldout = (x[heldout_rows], labels[heldout_rows])
    extent = (float(x.min()) - 0.1, float(x.max()) + 0.1)
    keep = ("activation", "depth", "lr", "accuracy", "loss", "final_accuracy",
            "final_train_accuracy", "heldout_accuracy", "final_heldout_accuracy",
            "final_grad_norms")

    def run(activation: str, lr: float, depth: int, with_grid: bool) -> dict:
        res = train_classifier(impl, x[train_rows], labels[train_rows], activation,
                               replace(config.net, lr=lr, depth=depth), on_epoch=advance,
                               heldout=heldout)
        summary = {key: res[key] for key in keep}
        best = int(np.argmax(res["accuracy"]))
        summary["best_accuracy"] = res["accuracy"][best]
        summary["best_epoch"] = best + 1
        if with_grid:
            summary["grid"] = decision_grid(impl, res["params"], activation, extent,
                                            config.grid_resolution)
        return summary

    net = config.net
    with progress("training", (len(config.runs) + len(config.controls)) * net.epochs,
                  show_progress) as advance:
        runs = [run(act, lr, net.depth, True) for act, lr in config.runs]
        controls = [run(act, lr, config.control_depth, False) for act, lr in config.controls]
    return {
        "x": x,
        "labels": labels,
        "train_rows": train_rows,
        "heldout_rows": heldout_rows,
        "depth": net.depth,
        "width": net.width,
        "epochs": net.epochs,
        "chance": 1.0 / (int(labels.max()) + 1),
        "runs": runs,
        "controls": controls,
    }
