# Your workspace: replace each `raise NotImplementedError(...)` with your code.
# Self-check: python -m pytest grader/selfcheck.py   (add -k NAME for one function)
# Keep each function's name and parameters: the grader and the experiments call them.
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
    # YOUR CODE HERE
    raise NotImplementedError("numerical_gradient: not implemented yet")


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error of two arrays: ||a - b|| / max(||a|| + ||b||, 1e-12), Frobenius norms.

    a, b: the same shape. Returns a float in [0, 1].
    """
    # YOUR CODE HERE
    raise NotImplementedError("relative_error: not implemented yet")
