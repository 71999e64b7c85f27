# module: activations
# why: piecewise sigmoid that fills a fresh output array through masks, leaving z untouched
import numpy as np


def sigmoid(z):
    z = np.asarray(z)
    out = np.empty_like(z, dtype=np.result_type(z.dtype, np.float64))
    positive = z >= 0
    negative = ~positive
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[negative])
    out[negative] = exp_z / (1.0 + exp_z)
    return out
