# module: network
# blames: init_params
# why: "small random weights" randn * 0.01 for ReLU layers; signal and gradient shrink every layer
import numpy as np


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-a, a, size=(fan_in, fan_out))
        else:
            W = rng.standard_normal((fan_in, fan_out)) * 0.01
        params.append((W, np.zeros(fan_out)))
    return params
