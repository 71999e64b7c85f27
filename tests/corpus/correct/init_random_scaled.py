# module: network
# why: Glorot as rng.random() rescaled to [-a, a), He as rng.standard_normal() times the std
import numpy as np


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.random((fan_in, fan_out)) * 2.0 * a - a
        elif activation in ("relu", "leaky_relu"):
            std = np.sqrt(2.0 / fan_in)
            W = rng.standard_normal((fan_in, fan_out)) * std
        else:
            raise ValueError(f"unknown activation {activation!r}")
        params.append((W, np.zeros(fan_out)))
    return params
