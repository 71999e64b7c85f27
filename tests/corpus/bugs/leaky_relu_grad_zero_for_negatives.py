# module: activations
# blames: leaky_relu_grad
# why: copies the ReLU derivative: slope 0 for negative z instead of alpha
import numpy as np


def leaky_relu_grad(z, alpha=0.01):
    return np.where(np.asarray(z) > 0, 1.0, 0.0)
