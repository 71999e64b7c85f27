# module: activations
# blames: tanh_grad
# why: forgets to square: 1 - tanh(z) instead of 1 - tanh(z)**2
import numpy as np


def tanh_grad(z):
    return 1.0 - np.tanh(z)
