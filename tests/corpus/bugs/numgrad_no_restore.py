# module: gradient_check
# blames: numerical_gradient
# why: perturbs x[i] up and down but never puts the original value back
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        f_plus = float(f(x))
        x[index] = original - eps
        f_minus = float(f(x))
        grad[index] = (f_plus - f_minus) / (2.0 * eps)
    return grad
