# module: network
# blames: init_params
# why: initialises the biases with small random numbers instead of zeros
import numpy as np


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-a, a, size=(fan_in, fan_out))
        else:
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        b = 0.01 * rng.standard_normal(fan_out)
        params.append((W, b))
    return params
