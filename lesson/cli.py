"""The command line: run the experiments on one implementation, print the numbers, write PNGs.

    python -m lesson --on exercises [--quick] [--out DIR]
                     [--only flow|dial|speed|training|saturation]

(``python -m exercises.experiments`` is the same with ``--on exercises``.)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import plots
from .config import FULL, QUICK, Config
from .dial import backward_gain_sweep, dial_table
from .flow import gradient_flow_grid, gradient_flow_table, ratio
from .implementation import Implementation, StudentCodeError
from .saturation import saturation_histograms, saturation_table
from .summary import summarize
from .train import layer_speed, training_comparison

EXPERIMENTS = ("flow", "dial", "speed", "training", "saturation")


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The options of ``python -m lesson``; with ``prog`` (an entry that names whose functions
    run, such as ``python -m exercises.experiments``), the same without ``--on``."""
    options = argparse.ArgumentParser(
        prog=prog or "python -m lesson",
        description="Watch gradients vanish in a deep network, and watch the cure work.")
    if prog is None:
        options.add_argument("--on", default="exercises", metavar="PACKAGE",
                             help="the package whose functions run (default: exercises, yours)")
    options.add_argument("--out", default="experiment_outputs", help="directory for the PNGs")
    options.add_argument("--quick", action="store_true",
                         help="tiny sizes, a few seconds: a smoke test whose numbers mean little")
    options.add_argument("--only", choices=EXPERIMENTS, help="run just one")
    return options


@contextmanager
def _timed(step: str) -> Iterator[None]:
    """Print how long ``step`` took, as ``[step: 1.2 s]`` (bench/experiments.py reads it)."""
    started = time.perf_counter()
    yield
    print(f"[{step}: {time.perf_counter() - started:.1f} s]\n")


def run_experiments(impl: Implementation, config: Config, out: Path,
                    wanted: Sequence[str] = EXPERIMENTS,
                    show_progress: bool = False) -> dict[str, Path]:
    """Run the ``wanted`` experiments on ``impl``, print what they measure, write the PNGs
    into ``out``; ``show_progress``: progress bars on stderr for the long steps.
    Returns {figure name: PNG path}."""
    written: dict[str, Path] = {}
    flow = speed = training = dial = saturation = None

    if "flow" in wanted:
        with _timed("flow"):
            flow = gradient_flow_grid(impl, config.flow, show_progress)
            print("Gradient flow at initialisation (L = last hidden layer):")
            print(gradient_flow_table(flow))
            written["gradient_flow"] = plots.plot_gradient_flow(flow, out / "gradient_flow.png")
            written["delta_flow"] = plots.plot_delta_flow(flow, out / "delta_flow.png")
            written["headline"] = plots.plot_headline(flow, out / "headline.png")

    if "dial" in wanted:
        with _timed("dial"):
            dial = backward_gain_sweep(impl, config.dial, show_progress)
            print(f"The dial: per-layer gain backward / forward at each init's weight scale "
                  f"(geometric mean over {dial['depth']} layers; 1 = the signal keeps its size):")
            print(dial_table(dial))
            written["dial"] = plots.plot_dial(dial, out / "dial.png")

    if "speed" in wanted:
        with _timed("speed"):
            speed = layer_speed(impl, config.speed, show_progress)
            print("Relative weight update per epoch, median over epochs:")
            for run in speed["runs"]:
                medians = [float(np.median(r)) for r in run["update_ratios"]]
                print(f"  {run['activation']:<8} layer 1..output: "
                      + " ".join(f"{m:.1e}" for m in medians))
            written["layer_speed"] = plots.plot_layer_speed(speed, out / "layer_speed.png")

    if "training" in wanted:
        with _timed("training"):
            training = training_comparison(impl, config.training, show_progress)
            print(f"Accuracy on the spirals after the last epoch: train = the "
                  f"{len(training['train_rows'])} points each net learned from (a separate "
                  f"pass), held-out = the {len(training['heldout_rows'])} it never saw; best = "
                  "the highest training accuracy during an epoch:")
            for run in training["runs"] + training["controls"]:
                print(
                    f"  {run['activation']:<10} depth {run['depth']:>2}  lr {run['lr']:<4} "
                    f"train {run['final_train_accuracy']:6.1%}  "
                    f"held-out {run['final_heldout_accuracy']:6.1%}  "
                    f"best during-epoch train {run['best_accuracy']:6.1%} "
                    f"(epoch {run['best_epoch']})  end ||dW_1||/||dW_out|| "
                    f"{ratio(run['final_grad_norms'][0], run['final_grad_norms'][-1]):.1e}"
                )
            written["training"] = plots.plot_training(training, out / "training.png")
            written["decision_boundary"] = plots.plot_decision_boundary(
                training, out / "decision_boundary.png")

    if "saturation" in wanted:
        with _timed("saturation"):
            saturation = saturation_histograms(impl, config.saturation, show_progress)
            print(f"Saturated share of each hidden layer's values, at init and after "
                  f"{saturation['epochs']} epochs:")
            print(saturation_table(saturation))
            written["saturation"] = plots.plot_saturation(saturation, out / "saturation.png")

    print("What the measurements show:")
    for sentence in summarize(flow, speed, training, dial, saturation):
        print(f"  - {sentence}")
    print("\nWrote:")
    for path in written.values():
        print(f"  {path}")
    return written


def main(argv: Sequence[str] | None = None, implementation: Implementation | None = None,
         prog: str | None = None) -> dict[str, Path]:
    """Parse ``argv`` and run the experiments on ``implementation``, or when none is given on
    the package named by ``--on``. ``prog``: the command, when ``implementation`` is given.
    Returns {figure name: PNG path}."""
    args = parser(prog if implementation is not None else None).parse_args(argv)
    impl = implementation or _package(args.on)
    wanted = [args.only] if args.only else list(EXPERIMENTS)
    # Bars only where someone watches them: on a terminal, and not for the few seconds of
    # --quick (a log, a pipe or a test gets the plain printed lines).
    show = sys.stderr.isatty() and not args.quick
    return run_experiments(impl, QUICK if args.quick else FULL, Path(args.out), wanted, show)


def _package(name: str) -> Implementation:
    try:
        return Implementation.load(name)
    except ModuleNotFoundError as absent:
        raise SystemExit(f"--on {name}: no such package here ({absent}); run this from the "
                         f"folder that holds the package's folder ({name}/, e.g. exercises/)"
                         ) from None


def run(argv: Sequence[str] | None = None, implementation: Implementation | None = None,
        prog: str | None = None) -> int:
    """``main`` for a terminal: unfinished student code gets a sentence, not a traceback."""
    try:
        main(argv, implementation, prog)
    except NotImplementedError as unfinished:
        raise SystemExit(f"The experiments need your code: {unfinished}. Finish it (check "
                         "with `python -m pytest grader/selfcheck.py`) and run this again."
                         ) from None
    except StudentCodeError as bug:
        # One sentence naming the function to fix; the traceback would run through lesson code.
        raise SystemExit(f"The experiments stopped: {bug}") from None
    return 0
