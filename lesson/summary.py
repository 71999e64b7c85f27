"""Sentences that state what the measurements show, built from the numbers themselves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dial import gain_at
from .flow import ratio


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


def _spoken(activation: str) -> str:
    return activation.replace("_", " ")


def _dial_sentences(dial: dict) -> list[str]:
    """What the sweep measured: each activation's gain at the inits, and where it reaches 1."""
    names = [c["activation"] for c in dial["curves"]]
    glorot = ", ".join(f"{gain_at(dial, name, 'glorot'):.2f} ({_spoken(name)})" for name in names)
    he = ", ".join(f"{gain_at(dial, name, 'he'):.2f} ({_spoken(name)})" for name in names)
    top = float(np.max(dial["scales"]))
    crossings = [f"{c['unit_gain_scale']:.2g} for {_spoken(c['activation'])}"
                 if np.isfinite(c["unit_gain_scale"]) else
                 f"beyond {top:.3g} (the largest tried) for {_spoken(c['activation'])}"
                 for c in dial["curves"]]
    sentences = [
        f"Per layer, the backward pass multiplies the gradient by {glorot} at Glorot's weight "
        f"scale (1) and by {he} at He's (sqrt 2), geometric means over {dial['depth']} "
        "layers; the gain reaches 1 at weight scale " + ", ".join(crossings) + "."
    ]
    if "sigmoid" in names and "relu" in names:
        back = gain_at(dial, "sigmoid", "glorot")
        forth = gain_at(dial, "sigmoid", "glorot", "forward_gain")
        sentence = (f"Forward, the spread of the sigmoid's activations across inputs changes "
                    f"by a factor {forth:.2f} per layer at Glorot's scale, backward its gradient "
                    f"by {back:.2f}")
        # Said only when measured: both shrink, and at about the same rate.
        if forth < 0.5 and back < 0.5 and abs(np.log(forth / back)) < np.log(1.25):
            sentence += (": the same contraction both ways, so an untrained sigmoid stack makes "
                         "every input look alike, as it starves the early layers of gradient")
        sentences.append(sentence + ".")
    return sentences


def _saturation_sentences(saturation: dict) -> list[str]:
    """What the histograms measured: the saturated share at init and after training."""
    parts = []
    for run in saturation["runs"]:
        start, end = run["init"]["saturated"], run["trained"]["saturated"]
        parts.append(
            f"{_label(run)}: at most {float(np.max(start)):.0%} of any layer's values at init, "
            f"up to {float(np.max(end)):.0%} after training ({float(np.mean(end)):.0%} over "
            "all layers)")
    return [f"Saturated units (tanh |a| > 0.99, sigmoid a < 0.01 or > 0.99) after "
            f"{saturation['epochs']} epochs: " + "; ".join(parts) + "."]


def summarize(
    flow: Sequence[dict] | None = None, speed: dict | None = None, training: dict | None = None,
    dial: dict | None = None, saturation: dict | None = None,
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
            if ratio(g_first, g_out) < 1e-3:
                sentence += (
                    f"; at the end ||dW_1|| = {g_first:.0e} against {g_out:.0e} at the output: "
                    "the large steps drove the units into saturation, where the gradient "
                    "vanishes too"
                )
            else:
                sentence += ": the step size is too large for this net"
            sentences.append(sentence + ".")
    if dial:
        sentences.extend(_dial_sentences(dial))
    if saturation:
        sentences.extend(_saturation_sentences(saturation))
    return sentences

