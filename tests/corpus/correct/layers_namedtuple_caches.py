# module: layers
# why: caches as a namedtuple and a frozen dataclass, with the derivative picked by if/elif
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

DenseCache = namedtuple("DenseCache", ["x", "W"])


@dataclass(frozen=True)
class ActivationCache:
    z: np.ndarray
    name: str


def dense_forward(x, W, b):
    return np.matmul(x, W) + b, DenseCache(x=x, W=W)


def dense_backward(dout, cache):
    dx = np.matmul(dout, cache.W.T)
    dW = np.matmul(cache.x.T, dout)
    db = np.sum(dout, axis=0)
    return dx, dW, db


def activation_forward(z, activation):
    if activation == "sigmoid":
        a = sigmoid(z)
    elif activation == "tanh":
        a = tanh(z)
    elif activation == "relu":
        a = relu(z)
    elif activation == "leaky_relu":
        a = leaky_relu(z)
    else:
        raise ValueError(f"unknown activation {activation!r}")
    return a, ActivationCache(z=z, name=activation)


def activation_backward(da, cache):
    if cache.name == "sigmoid":
        local = sigmoid_grad(cache.z)
    elif cache.name == "tanh":
        local = tanh_grad(cache.z)
    elif cache.name == "relu":
        local = relu_grad(cache.z)
    elif cache.name == "leaky_relu":
        local = leaky_relu_grad(cache.z)
    else:
        raise ValueError(f"unknown activation {cache.name!r}")
    return da * local
