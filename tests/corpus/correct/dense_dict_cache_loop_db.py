# module: layers
# why: caches kept in dicts, and the bias gradient accumulated with an explicit loop over the batch
import numpy as np


def dense_forward(x, W, b):
    out = x.dot(W) + b
    cache = {"x": x, "W": W}
    return out, cache


def dense_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    dx = dout.dot(W.T)
    dW = x.T.dot(dout)
    db = np.zeros(dout.shape[1])
    for row in dout:
        db += row
    return dx, dW, db


def activation_forward(z, activation):
    functions = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu}
    a = functions[activation](z)
    return a, {"z": z, "activation": activation}


def activation_backward(da, cache):
    derivatives = {
        "sigmoid": sigmoid_grad,
        "tanh": tanh_grad,
        "relu": relu_grad,
        "leaky_relu": leaky_relu_grad,
    }
    return da * derivatives[cache["activation"]](cache["z"])
