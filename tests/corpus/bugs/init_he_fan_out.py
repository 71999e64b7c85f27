# module: network
# blames: init_params
# why: He initialisation scaled by the layer's output size (fan_out) instead of its input size
import numpy as np


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-a, a, size=(fan_in, fan_out))
        else:
            W = rng.normal(0.0, np.sqrt(2.0 / fan_out), size=(fan_in, fan_out))
        params.append((W, np.zeros(fan_out)))
    return params
