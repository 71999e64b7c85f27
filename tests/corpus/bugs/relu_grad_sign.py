# module: activations
# blames: relu_grad
# why: returns np.sign(z), which is -1 (not 0) for negative z
import numpy as np


def relu_grad(z):
    return np.sign(z)
