# module: network
# why: a complete network module that imports the layers absolutely, from exercises.layers
# whole: true
"""MLP initialisation, forward and backward pass (absolute package imports)."""

import numpy as np
from exercises.layers import (
    activation_backward,
    activation_forward,
    dense_backward,
    dense_forward,
)

GLOROT = ("sigmoid", "tanh")
HE = ("relu", "leaky_relu")


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in GLOROT:
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-bound, bound, size=(fan_in, fan_out))
        elif activation in HE:
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        else:
            raise ValueError(f"unknown activation {activation!r}")
        params.append((W, np.zeros(fan_out)))
    return params


def mlp_forward(x, params, activation):
    caches = []
    h = x
    for depth, (W, b) in enumerate(params, start=1):
        h, dense_cache = dense_forward(h, W, b)
        act_cache = None
        if depth < len(params):
            h, act_cache = activation_forward(h, activation)
        caches.append((dense_cache, act_cache))
    return h, caches


def mlp_backward(dout, caches):
    grads = [None] * len(caches)
    grad = dout
    for i in reversed(range(len(caches))):
        dense_cache, act_cache = caches[i]
        if act_cache is not None:
            grad = activation_backward(grad, act_cache)
        grad, dW, db = dense_backward(grad, dense_cache)
        grads[i] = (dW, db)
    return grads
