# module: activations
# why: sigmoid through the identity sigma(z) = (1 + tanh(z/2)) / 2, which never overflows
import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def sigmoid_grad(z):
    # sigma * (1 - sigma) = (1 + t)(1 - t) / 4 with t = tanh(z/2)
    t = np.tanh(0.5 * np.asarray(z))
    return 0.25 * (1.0 - t) * (1.0 + t)


def tanh_grad(z):
    t = np.tanh(z)
    return (1.0 - t) * (1.0 + t)
