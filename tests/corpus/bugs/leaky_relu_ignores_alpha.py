# module: activations
# blames: leaky_relu
# why: hard-codes the slope 0.01 and ignores the alpha argument
import numpy as np


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, 0.01 * z)
