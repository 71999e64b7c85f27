"""Numerical gradients: how to check a backward pass you wrote by hand.

Self-check: ``python -m pytest grader/selfcheck.py``
"""

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6):
    """Central-difference gradient of a scalar function.

    f: maps an array shaped like x to a float; x: any shape, float64; eps: the step.
    Returns grad, shaped like x, float64: grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).

    x must be left exactly as it was found (restore every entry you perturb).
    Hint: np.nditer or np.ndindex visits every index of an n-d array; the forward difference
    (f(x + eps) - f(x)) / eps is much less accurate.
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        f_plus = float(f(x))
        x[index] = original - eps
        f_minus = float(f(x))
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2.0 * eps)
    return grad
    ### END SOLUTION


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error of two arrays: ||a - b|| / max(||a|| + ||b||, 1e-12), Frobenius norms.

    a, b: the same shape. Returns a float in [0, 1].
    """
    ### BEGIN SOLUTION
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))
    ### END SOLUTION
