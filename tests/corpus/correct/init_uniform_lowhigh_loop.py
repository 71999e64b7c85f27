# module: network
# why: keyword low/high and loc/scale draws in an index loop; forward pass peels off the last layer
import math

import numpy as np


def init_params(layer_sizes, activation, rng):
    params = []
    for i in range(len(layer_sizes) - 1):
        fan_in, fan_out = layer_sizes[i], layer_sizes[i + 1]
        if activation == "sigmoid" or activation == "tanh":
            limit = math.sqrt(6 / (fan_in + fan_out))
            W = rng.uniform(low=-limit, high=limit, size=(fan_in, fan_out))
        elif activation == "relu" or activation == "leaky_relu":
            W = rng.normal(loc=0.0, scale=math.sqrt(2 / fan_in), size=(fan_in, fan_out))
        else:
            raise ValueError(f"unknown activation {activation!r}")
        params.append((W, np.zeros((fan_out,), dtype=np.float64)))
    return params


def mlp_forward(x, params, activation):
    caches = []
    a = x
    for W, b in params[:-1]:
        z, dense_cache = dense_forward(a, W, b)
        a, act_cache = activation_forward(z, activation)
        caches.append((dense_cache, act_cache))
    W_last, b_last = params[-1]
    out, dense_cache = dense_forward(a, W_last, b_last)
    caches.append((dense_cache, None))
    return out, caches
