"""The studies behind every number the lesson quotes: each experiment over several seeds, plus
the comparisons the student run has no time for (a learning-rate sweep, frozen layers), written
to one flat JSON data file that the narrative, ``LESSON.md`` and the README are filled from.

    python -m lesson.studies --on solutions --out course/measured.json [--quick] [--jobs N]

(``make study``). Each key maps to {"median", "low", "high", "n", "unit", "what"}: the median,
smallest and largest value over ``n`` seeds, the unit that says how to print it (see
``course/measured.py``) and one line saying what was measured with which settings. ``--quick``
runs the same studies at the tiny ``QUICK`` sizes on seeds 0 and 1 (seconds; the numbers mean
little, the key set is the same). Seeds vary the weights and the minibatch order; the data sets
(the N(0, 1) batch of the flow study aside) are the same for every seed.

Like the rest of ``lesson``, every forward and backward pass is the implementation's own. To
read a hidden layer's activations a_l, the net is cut after layer l and given an identity output
layer: its (linear) output is then a_l itself.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .config import FULL, QUICK, Config
from .flow import Params, gradient_flow, init_by_scheme, pre_activation_norms, ratio
from .implementation import Implementation, StudentCodeError, checked
from .train import heldout_split, layer_speed, make_spirals, predict, train_classifier

SEEDS = (0, 1, 2, 3, 4)
QUICK_SEEDS = (0, 1)
# The sweep trains 4 activations x 7 rates per seed, the frozen-layer study 2 x 4 nets: on three
# seeds (their "n" says 3) the whole study stays within about ten minutes on a busy 2-core
# machine. Flow, speed and the training runs use all five.
SWEEP_SEEDS = (0, 1, 2)
FROZEN_SEEDS = (0, 1, 2)
SWEEP_LRS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SWEEP_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
FROZEN_K = (1, 3)
# The rates of the training study, at which the frozen-layer study runs too.
FROZEN_LR = {"sigmoid": 0.5, "relu": 0.1}
# A tanh unit counts as saturated beyond this |a| (slope 1 - a^2 below 0.02).
SATURATED = 0.99
COLLAPSE_ACTIVATIONS = ("sigmoid", "relu")  # each with init_params's choice: Glorot, He


@dataclass(frozen=True)
class Run:
    """One training run of the spirals net (hashable: a run two studies need is trained once).
    ``depth`` None: the training config's; ``init`` None: init_params's choice."""

    activation: str
    lr: float
    seed: int
    depth: int | None = None
    init: str | None = None
    frozen: tuple[int, ...] = ()


# The training study's runs: key name -> (activation, lr, init, shallow).
TRAINING_RUNS: dict[str, tuple[str, float, str | None, bool]] = {
    "sigmoid_lr0.5": ("sigmoid", 0.5, None, False),
    "tanh_lr0.5": ("tanh", 0.5, None, False),
    "tanh_lr0.1": ("tanh", 0.1, None, False),
    "relu_lr0.1": ("relu", 0.1, None, False),
    "relu_glorot_lr0.1": ("relu", 0.1, "glorot", False),
    "leaky_relu_lr0.1": ("leaky_relu", 0.1, None, False),
    "shallow_sigmoid_lr0.5": ("sigmoid", 0.5, None, True),
}


# The scheme the exercise's init_params gives each activation (its docstring's contract).
DEFAULT_INIT = {"sigmoid": "Glorot", "tanh": "Glorot", "relu": "He", "leaky_relu": "He"}


def _init_label(activation: str, init: str | None = None) -> str:
    return f"{activation} + {DEFAULT_INIT[activation] if init is None else init.capitalize()}"


def lr_name(lr: float) -> str:
    """A learning rate as it appears in a key: 0.1 -> "0.1", 1.0 -> "1"."""
    return f"{lr:g}"


# --------------------------------------------------------------------------------------------
# What one worker computes (plain dicts of floats, so results cross processes cheaply)
# --------------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _setup(package: str, quick: bool) -> None:
    """Load the implementation once per process (the pool's initializer)."""
    _STATE["impl"] = checked(Implementation.load(package))
    _STATE["config"] = QUICK if quick else FULL


def _impl() -> Implementation:
    return _STATE["impl"]


def _config() -> Config:
    return _STATE["config"]


def hidden_activations(impl: Implementation, x: np.ndarray, params: Params,
                       activation: str) -> list[np.ndarray]:
    """a_l for every hidden layer l = 1..L of ``params`` (its last pair is the output layer):
    a list of L arrays (N, H_l) float64, each the output of the net cut after layer l with an
    identity output layer (``mlp_forward``'s output layer is linear, so it returns a_l)."""
    layers = []
    for cut in range(1, len(params)):
        width = params[cut - 1][0].shape[1]
        readout = (np.eye(width), np.zeros(width))
        layers.append(np.asarray(impl.mlp_forward(x, params[:cut] + [readout], activation)[0]))
    return layers


def saturated_fraction(layers: Iterable[np.ndarray]) -> float:
    """The fraction of all hidden-unit values (every layer, unit and input) with |a| > 0.99."""
    values = [np.abs(a).ravel() for a in layers]
    pooled = np.concatenate(values)
    return float(np.mean(pooled > SATURATED))


def train_task(run: Run) -> dict:
    """Train one net on the training rows of the spirals; measure it on the held-out rows."""
    impl, cfg = _impl(), _config().training
    x, labels = make_spirals(cfg.data)
    train_rows, heldout_rows = heldout_split(labels, seed=cfg.data.seed)
    depth = cfg.net.depth if run.depth is None else run.depth
    net = replace(cfg.net, lr=run.lr, seed=run.seed, depth=depth)
    chance = 1.0 / (int(labels.max()) + 1)
    try:
        # The sweep's largest rates overflow before the divergence check stops them.
        with np.errstate(over="ignore", invalid="ignore"):
            # Held-out accuracy only once, at the end: no study here needs its curve.
            res = train_classifier(impl, x[train_rows], labels[train_rows], run.activation,
                                   net, init=run.init, frozen=run.frozen)
            heldout = float(np.mean(predict(impl, x[heldout_rows], res["params"],
                                            run.activation) == labels[heldout_rows]))
    except StudentCodeError as error:
        if "diverged" not in str(error):
            raise
        # Only the sweep's largest rates diverge; such a net predicts nothing: chance.
        return {"diverged": True, "train": chance, "heldout": chance, "accuracy": [],
                "epochs": net.epochs}
    out = {"diverged": False, "train": res["final_train_accuracy"],
           "heldout": heldout, "accuracy": res["accuracy"],
           "epochs": net.epochs}
    if run.activation == "tanh":
        rows = x[train_rows]
        out["saturation_init"] = saturated_fraction(
            hidden_activations(impl, rows, res["initial_params"], "tanh"))
        out["saturation_trained"] = saturated_fraction(
            hidden_activations(impl, rows, res["params"], "tanh"))
    return out


def _flow_net(impl: Implementation, config: Any, scheme: str, std: float | None = None
              ) -> tuple[np.ndarray, np.ndarray, Params]:
    """The data and net of ``flow.gradient_flow`` (same draws from ``config.seed``); with
    ``std`` the weights are the He draw rescaled to N(0, std^2), as "small" is to 0.01."""
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((config.batch, config.width))
    targets = rng.standard_normal((config.batch, config.n_out))
    sizes = [config.width] * (config.depth + 1) + [config.n_out]
    params = init_by_scheme(impl, sizes, scheme, rng)
    if std is not None:
        params = [(W * (std / np.sqrt(2.0 / W.shape[0])), b) for W, b in params]
    return x, targets, params


def flow_task(seed: int) -> dict:
    """Every flow number of one seed: the activation x init grid at the flow config's depth,
    the depth-10 nets, sigmoid's mean slope at Glorot init."""
    impl, cfg = _impl(), replace(_config().flow, seed=seed)
    out: dict[str, float] = {}
    for activation in cfg.activations:
        for init in cfg.inits:
            res = gradient_flow(impl, activation, init, cfg)
            name = f"flow.{activation}.{init}"
            out[f"{name}.r"] = res["ratio"]
            out[f"{name}.r_delta"] = res["ratio_delta"]
            out[f"{name}.dW_1"] = res["dW_norms"][0]
            # delta_1 / delta_L is the product of the L - 1 per-layer factors.
            out[f"{name}.gain"] = res["ratio_delta"] ** (1.0 / (cfg.depth - 1))
    x, _, params = _flow_net(impl, cfg, "glorot")
    layers = hidden_activations(impl, x, params, "sigmoid")
    # sigma'(z) = a (1 - a), a = sigma(z): the slope from the implementation's own activations.
    out["flow.sigmoid.glorot.mean_slope"] = float(np.mean([np.mean(a * (1 - a)) for a in layers]))
    deep10 = replace(cfg, depth=10)
    for activation, init in (("tanh", "glorot"), ("relu", "glorot"), ("relu", "he")):
        res = gradient_flow(impl, activation, init, deep10)
        out[f"flow.{activation}.{init}.depth10.r_delta"] = res["ratio_delta"]
    x, targets, params = _flow_net(impl, deep10, "he", std=1.0)
    output, _ = impl.mlp_forward(x, params, "sigmoid")
    _, dout = impl.mse_loss(output, targets)
    deltas = pre_activation_norms(impl, x, params, "sigmoid", dout)[:-1]
    out["flow.sigmoid.normal1.depth10.r_delta"] = ratio(deltas[0], deltas[-1])
    return out


def collapse_task(seed: int) -> dict:
    """The spread of each hidden layer's activations across the spiral inputs, untrained nets
    of depth 10 and width 32: mean over units of the std over inputs of a_l."""
    impl = _impl()
    x, labels = make_spirals(_config().training.data)
    sizes = [x.shape[1]] + [32] * 10 + [int(labels.max()) + 1]
    out = {}
    for activation in COLLAPSE_ACTIVATIONS:
        params = impl.init_params(sizes, activation, np.random.default_rng(seed))
        for layer, a in enumerate(hidden_activations(impl, x, params, activation), start=1):
            out[f"collapse.{activation}.layer{layer}"] = float(np.mean(np.std(a, axis=0)))
    return out


def speed_task(seed: int) -> dict:
    """Median relative weight update per epoch of the first and last hidden layer."""
    cfg = _config().speed
    speed = layer_speed(_impl(), replace(cfg, net=replace(cfg.net, seed=seed)))
    out = {}
    for run in speed["runs"]:
        first, last = np.asarray(run["update_ratios"][0]), np.asarray(run["update_ratios"][-2])
        name = f"speed.{run['activation']}"
        out[f"{name}.first"] = float(np.median(first))
        out[f"{name}.last"] = float(np.median(last))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{name}.ratio"] = float(np.median(first / last))
    return out


# --------------------------------------------------------------------------------------------
# The plan, and putting the results together
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Which seeds each study runs."""

    seeds: tuple[int, ...]
    sweep_seeds: tuple[int, ...]
    frozen_seeds: tuple[int, ...]

    def training_run(self, name: str, seed: int, depth: int) -> Run:
        activation, lr, init, shallow = TRAINING_RUNS[name]
        return Run(activation, lr, seed, depth=None if not shallow else depth, init=init)

    def frozen_runs(self, activation: str, seed: int, depth: int) -> dict[str, Run]:
        lr = FROZEN_LR[activation]
        runs = {"none": Run(activation, lr, seed)}
        for k in FROZEN_K:
            runs[f"first{k}"] = Run(activation, lr, seed, frozen=tuple(range(k)))
            runs[f"last{k}"] = Run(activation, lr, seed, frozen=tuple(range(depth - k, depth)))
        return runs

    def runs(self, config: Config) -> list[Run]:
        """Every distinct training run, the most expensive first (the pool stays busy)."""
        depth, shallow = config.training.net.depth, config.training.control_depth
        wanted = [self.training_run(name, seed, shallow)
                  for name in TRAINING_RUNS for seed in self.seeds]
        wanted += [Run(act, lr, seed) for act in SWEEP_ACTIVATIONS for lr in SWEEP_LRS
                   for seed in self.sweep_seeds]
        wanted += [run for act in FROZEN_LR for seed in self.frozen_seeds
                   for run in self.frozen_runs(act, seed, depth).values()]
        unique = list(dict.fromkeys(wanted))
        return sorted(unique, key=lambda run: run.depth is not None)


def entry(values: Sequence[float], unit: str, what: str) -> dict:
    """A data-file entry: median, low (min), high (max) and n of ``values``."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: no finite values to summarise ({values})")
    return {"median": float(np.median(array)), "low": float(array.min()),
            "high": float(array.max()), "n": int(array.size), "unit": unit, "what": what}


def _first_at(accuracy: Sequence[float], level: float, epochs: int) -> float:
    """1-based epoch of the first during-epoch accuracy >= level, epochs + 1 if never."""
    for epoch, value in enumerate(accuracy, start=1):
        if value >= level:
            return float(epoch)
    return float(epochs + 1)


def assemble(config: Config, plan: Plan, flows: dict[int, dict], collapses: dict[int, dict],
             speeds: dict[int, dict], trained: dict[Run, dict]) -> dict[str, dict]:
    """The data file's entries from the per-seed results."""
    data: dict[str, dict] = {}
    fl, tr, sp = config.flow, config.training, config.speed
    flow_net = f"depth {fl.depth}, width {fl.width}, batch {fl.batch}, one backward pass " \
               "at init, MSE on N(0, 1) data"
    described = {
        "r": "||dW_1|| / ||dW_L|| (first over last hidden layer's weight gradient)",
        "r_delta": "||delta_1|| / ||delta_L|| (first over last hidden layer's dL/dz)",
        "dW_1": "||dW_1||, the first hidden layer's weight-gradient norm",
        "gain": "per-layer backward factor ||delta_l|| / ||delta_{l+1}||, geometric mean "
                "over the layers",
    }
    for key in flows[plan.seeds[0]]:
        values = [flows[seed][key] for seed in plan.seeds]
        parts = key.split(".")
        if key.endswith(".mean_slope"):
            what = f"mean sigma'(z) over hidden units and inputs, sigmoid + Glorot, {flow_net}"
            unit = "value"
        elif ".depth10." in key:
            init = "N(0, 1) weights" if parts[2] == "normal1" else parts[2]
            what = (f"{described['r_delta']}, {parts[1]} + {init}, depth 10, width {fl.width}, "
                    f"batch {fl.batch}, one backward pass at init, MSE on N(0, 1) data")
            unit = "ratio"
        else:
            init = "N(0, 0.01^2)" if parts[2] == "small" else parts[2]
            what = f"{described[parts[3]]}, {parts[1]} + {init}, {flow_net}"
            unit = "ratio"
        data[key] = entry(values, unit, what)

    for key in collapses[plan.seeds[0]]:
        _, activation, layer = key.split(".")
        init = {"sigmoid": "Glorot", "relu": "He"}[activation]
        count = tr.data.n_classes * tr.data.n_per_class
        data[key] = entry([collapses[seed][key] for seed in plan.seeds], "value",
                          f"spread of a_{layer[5:]} across the {count} spiral inputs (mean "
                          f"over units of the std over inputs), untrained {activation} + {init} "
                          "net, depth 10, width 32")

    for activation in COLLAPSE_ACTIVATIONS:
        layers = sorted(int(key.rsplit("layer", 1)[1]) for key in collapses[plan.seeds[0]]
                        if key.startswith(f"collapse.{activation}.layer"))
        first, last = layers[0], layers[-1]
        factors = [(collapses[seed][f"collapse.{activation}.layer{last}"]
                    / collapses[seed][f"collapse.{activation}.layer{first}"])
                   ** (1.0 / (last - first)) for seed in plan.seeds]
        init = DEFAULT_INIT[activation]
        data[f"collapse.{activation}.factor"] = entry(
            factors, "value", f"per-layer factor of the spread of a_l across the spiral inputs "
            f"(geometric mean from layer {first} to {last}), untrained {activation} + {init} "
            "net, depth 10, width 32")

    speed_net = (f"depth {sp.net.depth}, width {sp.net.width}, lr {sp.net.lr}, "
                 f"{sp.net.epochs} epochs on the spirals")
    for key in speeds[plan.seeds[0]]:
        _, activation, part = key.split(".")
        what = {"first": "median over epochs of the first hidden layer's relative weight "
                         "update ||dW|| / ||W|| per epoch",
                "last": "median over epochs of the last hidden layer's relative weight update "
                        "||dW|| / ||W|| per epoch",
                "ratio": "median over epochs of (first hidden layer's relative update) / "
                         "(last hidden layer's)"}[part]
        data[key] = entry([speeds[seed][key] for seed in plan.seeds], "ratio",
                          f"{what}, {_init_label(activation)}, {speed_net}")

    settings = _training_settings(config)
    n_train, n_held = settings["n_train"], settings["n_heldout"]
    depth, shallow = tr.net.depth, tr.control_depth
    setting = (f"width {tr.net.width}, {tr.net.epochs} epochs of minibatch SGD (batch "
               f"{tr.net.batch}), trained on {n_train} spiral points, {n_held} held out")

    def of(runs: Iterable[Run], field: str) -> list[float]:
        return [trained[run][field] for run in runs]

    for name, (activation, lr, init, is_shallow) in TRAINING_RUNS.items():
        runs = [plan.training_run(name, seed, shallow) for seed in plan.seeds]
        net = (f"{_init_label(activation, init)}, depth {shallow if is_shallow else depth}, "
               f"lr {lr}, {setting}")
        data[f"training.{name}.train"] = entry(
            of(runs, "train"), "accuracy",
            f"training accuracy after the last epoch (separate pass), {net}")
        data[f"training.{name}.heldout"] = entry(
            of(runs, "heldout"), "accuracy", f"held-out accuracy after the last epoch, {net}")
        if name in ("relu_lr0.1", "relu_glorot_lr0.1"):
            data[f"training.{name}.epochs_to_95"] = entry(
                [_first_at(trained[run]["accuracy"], 0.95, trained[run]["epochs"])
                 for run in runs], "epochs",
                f"first epoch whose during-epoch training accuracy is >= 95% (epochs + 1 if "
                f"none), {net}")
        if name == "tanh_lr0.5":
            data[f"training.{name}.peak_train"] = entry(
                [max(trained[run]["accuracy"]) for run in runs], "accuracy",
                f"best during-epoch training accuracy over the epochs, {net}")
            data[f"training.{name}.peak_epoch"] = entry(
                [float(np.argmax(trained[run]["accuracy"]) + 1) for run in runs], "epochs",
                f"the epoch of the best during-epoch training accuracy, {net}")
        if activation == "tanh":
            data[f"saturation.{name}.trained"] = entry(
                of(runs, "saturation_trained"), "fraction",
                f"fraction of hidden tanh values with |a| > {SATURATED} (all layers, units and "
                f"training inputs) after training, {net}")
            if name == "tanh_lr0.5":
                data[f"saturation.{name}.init"] = entry(
                    of(runs, "saturation_init"), "fraction",
                    f"fraction of hidden tanh values with |a| > {SATURATED} (all layers, units "
                    f"and training inputs) at init, {net}")

    sweep = f"depth {depth}, {setting}; held-out accuracy after the last epoch; a run that " \
            "diverged counts at chance"
    chance = 1.0 / tr.data.n_classes
    for activation in SWEEP_ACTIVATIONS:
        medians, means = {}, {}
        for lr in SWEEP_LRS:
            runs = [Run(activation, lr, seed) for seed in plan.sweep_seeds]
            values = of(runs, "heldout")
            medians[lr], means[lr] = float(np.median(values)), float(np.mean(values))
            base = f"sweep.{activation}.lr{lr_name(lr)}"
            data[f"{base}.heldout"] = entry(values, "accuracy",
                                            f"{_init_label(activation)}, lr {lr}, {sweep}")
            data[f"{base}.diverged"] = entry(
                [float(trained[run]["diverged"]) for run in runs], "fraction",
                f"share of seeds whose training diverged, {_init_label(activation)}, lr {lr}, "
                f"{sweep}")
        # The rate with the best median; a tie goes to the better mean, then the smaller rate
        # (a sigmoid at chance everywhere: the smallest).
        best = max(SWEEP_LRS, key=lambda lr: (medians[lr], means[lr], -lr))
        per_seed_best = []
        for seed in plan.sweep_seeds:
            scores = {lr: trained[Run(activation, lr, seed)]["heldout"] for lr in SWEEP_LRS}
            per_seed_best.append(max(SWEEP_LRS, key=lambda lr, s=scores: (s[lr], -lr)))
        grid = ", ".join(lr_name(lr) for lr in SWEEP_LRS)
        best_entry = entry(per_seed_best, "value",
                           f"{_init_label(activation)}: the rate of {grid} with the best "
                           "median (then mean) held-out accuracy (low/high: the best rate of "
                           f"each seed), {sweep}")
        best_entry["median"] = best  # the rate chosen on the median, which the heldout key uses
        best_entry["low"], best_entry["high"] = (min(best, best_entry["low"]),
                                                 max(best, best_entry["high"]))
        data[f"sweep.{activation}.best_lr"] = best_entry
        data[f"sweep.{activation}.heldout"] = entry(
            of([Run(activation, best, seed) for seed in plan.sweep_seeds], "heldout"),
            "accuracy", f"{_init_label(activation)} at its best rate {lr_name(best)} (chosen on "
            f"held-out accuracy, so slightly optimistic), {sweep}")
    data["sweep.sigmoid.max_heldout"] = entry(
        [max(trained[Run("sigmoid", lr, seed)]["heldout"] for lr in SWEEP_LRS)
         for seed in plan.sweep_seeds], "accuracy",
        f"sigmoid + Glorot: the best held-out accuracy at any rate of the sweep, per seed (chance "
        f"{chance:.1%}), {sweep}")

    for activation, lr in FROZEN_LR.items():
        per_seed = [plan.frozen_runs(activation, seed, depth) for seed in plan.frozen_seeds]
        for which in per_seed[0]:
            runs = [runs_of_seed[which] for runs_of_seed in per_seed]
            kept = ("no layer" if which == "none" else
                    f"the {which[:-1]} {which[-1]} hidden layer(s)")
            net = (f"{_init_label(activation)}, depth {depth}, lr {lr}, {kept} kept at init, "
                   f"{setting}")
            data[f"frozen.{activation}.{which}.heldout"] = entry(
                of(runs, "heldout"), "accuracy", f"held-out accuracy after the last epoch, {net}")
            data[f"frozen.{activation}.{which}.train"] = entry(
                of(runs, "train"), "accuracy",
                f"training accuracy after the last epoch (separate pass), {net}")
    return dict(sorted(data.items()))


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------


def _bar(total: int, show: bool) -> tuple[Callable[[str], None], Callable[[], None]]:
    """(advance(description), stop()): a rich progress bar on stderr, or plain lines every
    tenth of the way when stderr is not a terminal (a log still shows the study is alive)."""
    if show:
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
        except ImportError:
            pass
        else:
            from rich.console import Console

            bar = Progress("  study: {task.description}", BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TimeRemainingColumn(),
                           console=Console(stderr=True))
            task = bar.add_task("starting", total=total)
            bar.start()
            return (lambda what: bar.update(task, advance=1, description=what)), bar.stop
    done = [0]

    def advance(what: str) -> None:
        done[0] += 1
        if done[0] * 10 // total != (done[0] - 1) * 10 // total or done[0] == total:
            print(f"  study: {done[0]}/{total} ({what})", file=sys.stderr, flush=True)

    return advance, lambda: None


def _training_settings(config: Config) -> dict[str, Any]:
    """The spirals nets' settings, for the figures' titles."""
    tr = config.training
    x, labels = make_spirals(tr.data)
    train_rows, heldout_rows = heldout_split(labels, seed=tr.data.seed)
    return {"depth": tr.net.depth, "width": tr.net.width, "epochs": tr.net.epochs,
            "batch": tr.net.batch, "control_depth": tr.control_depth,
            "n_train": int(train_rows.size), "n_heldout": int(heldout_rows.size),
            "chance": 1.0 / (int(labels.max()) + 1)}


def run_study(package: str = "solutions", quick: bool = False, jobs: int = 1,
              show_progress: bool = False, raw: Path | None = None) -> dict:
    """Run every study on the implementation in ``package``; returns the data file's object
    (entries and "_meta"). ``raw``: a file for the per-seed results; when it exists they are
    read from it instead of measured (for work on how they are summed up, never for `make
    study`)."""
    config = QUICK if quick else FULL
    seeds = QUICK_SEEDS if quick else SEEDS
    plan = Plan(seeds, *((QUICK_SEEDS, QUICK_SEEDS) if quick else (SWEEP_SEEDS, FROZEN_SEEDS)))
    started = time.perf_counter()
    if raw is not None and raw.is_file():
        with raw.open("rb") as stored:
            results, timing = pickle.load(stored)
    else:
        results = _measure(package, quick, jobs, show_progress, plan, config)
        timing = {"seconds": round(time.perf_counter() - started, 1),
                  "cpu_seconds": round(_cpu_seconds(), 1), "jobs": jobs}
        if raw is not None:
            with raw.open("wb") as stored:
                pickle.dump((results, timing), stored)
    data: dict[str, Any] = assemble(config, plan, results["flow"], results["collapse"],
                                    results["speed"], results["train"])
    data["_meta"] = {
        "seeds": list(seeds),
        "sweep_seeds": list(plan.sweep_seeds),
        "frozen_seeds": list(plan.frozen_seeds),
        "sweep_lrs": list(SWEEP_LRS),
        "quick": quick,
        "command": "python -m lesson.studies --on " + package + (" --quick" if quick else ""),
        "numpy": np.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        **timing,
        "runs": len(results["train"]),
        "range": "low and high are the smallest and largest value over the n seeds",
        "training": _training_settings(config),
    }
    return data


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    import resource

    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def _measure(package: str, quick: bool, jobs: int, show_progress: bool, plan: Plan,
             config: Config) -> dict[str, dict]:
    """Every per-seed result: {"train": {Run: ...}, "speed"|"flow"|"collapse": {seed: ...}}."""
    tasks: list[tuple[str, Any, Callable[[Any], dict]]] = [
        ("train", run, train_task) for run in plan.runs(config)]
    for seed in plan.seeds:
        tasks += [("speed", seed, speed_task), ("flow", seed, flow_task),
                  ("collapse", seed, collapse_task)]
    results: dict[str, dict] = {"train": {}, "speed": {}, "flow": {}, "collapse": {}}
    advance, stop = _bar(len(tasks), show_progress)

    def done(kind: str, arg: Any, value: dict) -> None:
        results[kind][arg] = value
        advance(f"{kind} {arg.activation} lr {lr_name(arg.lr)} seed {arg.seed}"
                if kind == "train" else f"{kind} seed {arg}")

    try:
        if jobs == 1:
            _setup(package, quick)
            for kind, arg, task in tasks:
                done(kind, arg, task(arg))
            return results
        # spawn: a fresh interpreter per worker (forking a process that holds BLAS threads or
        # a progress bar's thread is not safe).
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_setup, initargs=(package, quick)) as pool:
            futures = {pool.submit(task, arg): (kind, arg) for kind, arg, task in tasks}
            for future in as_completed(futures):
                done(*futures[future], future.result())
        return results
    finally:
        stop()


def write(data: dict, out: Path) -> Path:
    """The data file: sorted keys, one entry per line group, a final newline."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lesson.studies``: run the studies, write the data file."""
    options = argparse.ArgumentParser(prog="python -m lesson.studies", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--on", default="solutions", metavar="PACKAGE",
                         help="the package whose functions run (default: solutions)")
    options.add_argument("--out", type=Path, default=Path("course/measured.json"),
                         help="the data file (default: course/measured.json)")
    options.add_argument("--quick", action="store_true",
                         help="tiny sizes, seeds 0 and 1: seconds, the same keys")
    options.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                         help="worker processes (default: up to 2)")
    options.add_argument("--raw", type=Path, help=argparse.SUPPRESS)  # see run_study
    args = options.parse_args(argv)
    data = run_study(args.on, args.quick, max(1, args.jobs), sys.stderr.isatty(), args.raw)
    write(data, args.out)
    meta = data["_meta"]
    print(f"{args.out}: {len(data) - 1} keys from {meta['runs']} training runs and "
          f"{len(meta['seeds'])} seeds in {meta['seconds']} s ({meta['cpu_seconds']} s of CPU, "
          f"{meta['jobs']} worker(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
