# module: activations
# blames: leaky_relu_grad
# why: puts the leaky slope alpha on the positive side and 1 on the negative side
import numpy as np


def leaky_relu_grad(z, alpha=0.01):
    return np.where(z > 0, alpha, 1.0)
