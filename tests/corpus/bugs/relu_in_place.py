# module: activations
# blames: relu
# why: z[z < 0] = 0 overwrites the caller's array (the cache the backward pass needs)
import numpy as np


def relu(z):
    z = np.asarray(z)
    z[z < 0] = 0
    return z
