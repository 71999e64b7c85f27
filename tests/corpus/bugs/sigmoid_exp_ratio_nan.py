# module: activations
# blames: sigmoid sigmoid_stability
# why: exp(z) / (1 + exp(z)) becomes inf / inf = NaN once exp(z) overflows for large positive z
import numpy as np


def sigmoid(z):
    e = np.exp(np.asarray(z))
    return e / (1.0 + e)
