# module: activations
# blames: relu_grad
# why: returns relu(z) itself instead of the 0/1 slope
import numpy as np


def relu_grad(z):
    return np.maximum(z, 0.0)
