# module: activations
# why: derivatives that take the value 1 at z == 0, which is just as valid as 0 there
import numpy as np


def relu(z):
    z = np.asarray(z)
    return np.where(z > 0, z, 0.0)


def relu_grad(z):
    z = np.asarray(z)
    return np.where(z >= 0, 1.0, 0.0)


def leaky_relu_grad(z, alpha=0.01):
    z = np.asarray(z)
    positive = (z >= 0).astype(np.float64)
    return positive + alpha * (1.0 - positive)
