"""Measurements (not checks) of a student's network, for their feedback plot.

Runs the student's own init_params, mlp_forward and mlp_backward through any ``Student`` on a
deep net and returns per-layer weight-gradient norms as plain floats; the judge computes the loss
gradient itself. Nothing here affects a score.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.spec.protocol import RngSeed, Student

FLOW_DEPTH, FLOW_WIDTH, FLOW_BATCH, FLOW_OUTPUTS, FLOW_SEED = 20, 64, 64, 10, 3


def _norms(call: Callable, activation: str) -> list[float] | None:
    data = np.random.default_rng(FLOW_SEED)
    x = data.normal(size=(FLOW_BATCH, FLOW_WIDTH))
    target = data.normal(size=(FLOW_BATCH, FLOW_OUTPUTS))
    sizes = [FLOW_WIDTH] * (FLOW_DEPTH + 1) + [FLOW_OUTPUTS]
    params = call("init_params", sizes, activation, RngSeed(FLOW_SEED))
    if params is None:
        return None
    forward = call("mlp_forward", x, params, activation)
    if forward is None:
        return None
    out, caches = forward
    if out.shape != target.shape:
        return None
    grads = call("mlp_backward", (out - target) / FLOW_BATCH, caches)
    if grads is None or len(grads) != len(params):
        return None
    norms = [float(np.linalg.norm(dW)) for dW, _ in grads]
    return norms if all(np.isfinite(norms)) else None


def gradient_flow(student: Student) -> dict[str, list[float]]:
    """Per-layer ||dW_l|| of the student's 20-hidden-layer sigmoid and ReLU nets (may be {})."""
    def call(name, *args):
        reply = student.call(name, *args)
        if reply.error or reply.bad_output or reply.missing:
            return None
        return reply.value

    flows = {}
    for activation in ("sigmoid", "relu"):
        try:
            norms = _norms(call, activation)
        except (TypeError, ValueError, IndexError, AttributeError):
            norms = None
        if norms is not None:
            flows[activation] = norms
    return flows


def reference_flow(reference: dict[str, Callable]) -> dict[str, list[float]]:
    """The same measurement with the reference implementation, run directly."""
    def call(name, *args):
        args = tuple(np.random.default_rng(a.seed) if isinstance(a, RngSeed) else a
                     for a in args)
        return reference[name](*args)

    return {activation: _norms(call, activation) for activation in ("sigmoid", "relu")}
