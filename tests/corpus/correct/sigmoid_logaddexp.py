# module: activations
# why: sigmoid in log space, sigma(z) = exp(-log(1 + exp(-z))), using np.logaddexp
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid_grad(z):
    z = np.asarray(z, dtype=np.float64)
    # log sigma(z) + log sigma(-z) = log(sigma(z) * (1 - sigma(z)))
    return np.exp(-np.logaddexp(0.0, -z) - np.logaddexp(0.0, z))
