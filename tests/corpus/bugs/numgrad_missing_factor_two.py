# module: gradient_check
# blames: numerical_gradient
# why: central difference divided by eps instead of 2 * eps (the two points are 2 * eps apart)
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        f_plus = float(f(x))
        x[index] = original - eps
        f_minus = float(f(x))
        x[index] = original
        grad[index] = (f_plus - f_minus) / eps
    return grad
