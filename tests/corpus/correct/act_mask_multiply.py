# module: activations
# why: ReLU and leaky ReLU with boolean masks and multiplication instead of np.maximum/np.where
import numpy as np


def relu(z):
    z = np.asarray(z)
    # (z > 0) is a boolean array; multiplying by it zeroes the negative entries.
    return z * (z > 0)


def relu_grad(z):
    z = np.asarray(z)
    return (z > 0) * 1.0


def leaky_relu(z, alpha=0.01):
    z = np.asarray(z)
    out = np.array(z, dtype=np.result_type(z.dtype, np.float64), copy=True)
    negative = out <= 0
    out[negative] *= alpha  # scales the copy, never the caller's array
    return out


def leaky_relu_grad(z, alpha=0.01):
    z = np.asarray(z)
    # at exactly 0 this returns 1 (the other valid convention)
    return np.where(z >= 0, 1.0, alpha)
