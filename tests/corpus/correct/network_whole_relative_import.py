# module: network
# why: a complete network module that imports its sibling with a relative import, from .layers
# whole: true
"""MLP initialisation, forward and backward pass (relative imports)."""

import numpy as np

from .layers import activation_backward, activation_forward, dense_backward, dense_forward


def _weight_matrix(fan_in, fan_out, activation, rng):
    if activation in ("sigmoid", "tanh"):
        a = (6.0 / (fan_in + fan_out)) ** 0.5
        return rng.uniform(-a, a, (fan_in, fan_out))
    if activation in ("relu", "leaky_relu"):
        return rng.normal(0.0, (2.0 / fan_in) ** 0.5, (fan_in, fan_out))
    raise ValueError(f"unknown activation {activation!r}")


def init_params(layer_sizes, activation, rng):
    pairs = zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    return [
        (_weight_matrix(fan_in, fan_out, activation, rng), np.zeros(fan_out))
        for fan_in, fan_out in pairs
    ]


def mlp_forward(x, params, activation):
    dense_caches, act_caches = [], []
    a = x
    for W, b in params:
        z, dense_cache = dense_forward(a, W, b)
        dense_caches.append(dense_cache)
        if len(dense_caches) == len(params):
            return z, (dense_caches, act_caches)
        a, act_cache = activation_forward(z, activation)
        act_caches.append(act_cache)
    raise ValueError("params must hold at least one layer")


def mlp_backward(dout, caches):
    dense_caches, act_caches = caches
    grads = []
    g, dW, db = dense_backward(dout, dense_caches[-1])
    grads.append((dW, db))
    for dense_cache, act_cache in zip(
        reversed(dense_caches[:-1]), reversed(act_caches), strict=True
    ):
        g = activation_backward(g, act_cache)
        g, dW, db = dense_backward(g, dense_cache)
        grads.append((dW, db))
    grads.reverse()
    return grads
