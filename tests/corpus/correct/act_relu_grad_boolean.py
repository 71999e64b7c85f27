# module: activations
# why: relu_grad as a boolean mask: True/False are the slopes 1/0, promoted when multiplied
import numpy as np


def relu_grad(z):
    return np.asarray(z) > 0
