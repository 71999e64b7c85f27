# module: activations
# blames: tanh_grad
# why: returns tanh(z)**2, forgetting to subtract it from 1
import numpy as np


def tanh_grad(z):
    return np.tanh(z) ** 2
