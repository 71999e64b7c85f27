# module: network
# why: a complete network module written as a flat script that does from layers import ...
# whole: true
"""MLP initialisation, forward and backward pass (flat, script-style imports)."""

import numpy as np
from layers import activation_backward, activation_forward, dense_backward, dense_forward


def init_params(layer_sizes, activation, rng):
    if activation not in ("sigmoid", "tanh", "relu", "leaky_relu"):
        raise ValueError(f"unknown activation {activation!r}")
    params = []
    for k in range(1, len(layer_sizes)):
        n_in, n_out = layer_sizes[k - 1], layer_sizes[k]
        if activation in ("relu", "leaky_relu"):
            W = np.sqrt(2.0 / n_in) * rng.standard_normal(size=(n_in, n_out))
        else:
            limit = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-limit, limit, size=(n_in, n_out))
        params.append((W, np.zeros(n_out)))
    return params


def mlp_forward(x, params, activation):
    layers = []
    out = x
    for k, (W, b) in enumerate(params):
        out, dense_cache = dense_forward(out, W, b)
        if k != len(params) - 1:
            out, act_cache = activation_forward(out, activation)
            layers.append(("hidden", dense_cache, act_cache))
        else:
            layers.append(("output", dense_cache, None))
    return out, layers


def mlp_backward(dout, caches):
    collected = []
    grad = dout
    for kind, dense_cache, act_cache in caches[::-1]:
        if kind == "hidden":
            grad = activation_backward(grad, act_cache)
        grad, dW, db = dense_backward(grad, dense_cache)
        collected.append((dW, db))
    return list(reversed(collected))
