# module: network
# blames: init_params
# why: draws Glorot weights from a normal distribution with std a instead of uniform on (-a, a)
import numpy as np


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.normal(0.0, a, size=(fan_in, fan_out))
        else:
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        params.append((W, np.zeros(fan_out)))
    return params
