# module: gradient_check
# why: a flat loop over range(x.size) with np.unravel_index, writing through grad.flat
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=np.float64)
    for flat_index in range(x.size):
        idx = np.unravel_index(flat_index, x.shape)
        old_value = float(x[idx])
        x[idx] = old_value + eps
        f_plus = f(x)
        x[idx] = old_value - eps
        f_minus = f(x)
        x[idx] = old_value  # put the entry back before moving on
        grad.flat[flat_index] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(a, b):
    a = np.ravel(np.asarray(a, dtype=np.float64))
    b = np.ravel(np.asarray(b, dtype=np.float64))
    scale = np.maximum(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / scale)
