# module: activations
# blames: leaky_relu
# why: scales the positive side by alpha and leaves the negative side as it is
import numpy as np


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, alpha * z, z)
