# module: activations
# blames: relu_grad
# why: inverted comparison: the slope is 1 for negative z and 0 for positive z
import numpy as np


def relu_grad(z):
    return (np.asarray(z) < 0).astype(np.float64)
