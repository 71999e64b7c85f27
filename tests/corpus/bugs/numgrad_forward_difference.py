# module: gradient_check
# blames: numerical_gradient
# why: uses the one-sided difference (f(x + eps) - f(x)) / eps instead of the central difference
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape, dtype=np.float64)
    fx = float(f(x))
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        grad[index] = (float(f(x)) - fx) / eps
        x[index] = original
    return grad
