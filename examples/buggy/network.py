"""Sample submission with typical bugs (see examples/README.md)."""

import numpy as np

from layers import activation_backward, activation_forward, dense_backward, dense_forward


def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes, layer_sizes[1:]):
        if activation.endswith("relu"):
            W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        else:
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            W = (2.0 * rng.random((fan_in, fan_out)) - 1.0) * bound
        params.append((W, np.zeros(fan_out)))
    return params


def mlp_forward(x, params, activation):
    caches = []
    h = x
    for index, (W, b) in enumerate(params):
        h, dense = dense_forward(h, W, b)
        layer = {"dense": dense}
        h, layer["act"] = activation_forward(h, activation)  # bug: the output layer too
        caches.append(layer)
    return h, caches


def mlp_backward(dout, caches):
    grads = []
    g = dout
    for layer in caches[::-1]:
        if "act" in layer:
            g = activation_backward(g, layer["act"])
        g, dW, db = dense_backward(g, layer["dense"])
        grads.insert(0, (dW, db))
    return grads
