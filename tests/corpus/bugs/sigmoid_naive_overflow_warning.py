# module: activations
# blames: sigmoid_stability
# why: the textbook 1 / (1 + exp(-z)) is right in value but exp(-z) overflows (warns) for z << 0
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z)))
