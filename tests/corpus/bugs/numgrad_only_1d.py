# module: gradient_check
# blames: numerical_gradient
# why: loops over range(x.shape[0]) as if x were a vector; for a matrix x[i] is a whole row
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=np.float64)
    for i in range(x.shape[0]):
        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad
