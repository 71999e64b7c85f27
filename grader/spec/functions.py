"""Scalar test functions handed to the student's ``numerical_gradient``.

They are trusted code: the judge names one (with its arrays) and the side that runs the student's
code builds the callable, so no function object ever crosses between processes. The judge evaluates
the same function itself to compute the central differences it expects.
"""

from collections.abc import Callable

import numpy as np


def curved(C: np.ndarray, D: np.ndarray) -> Callable[[np.ndarray], float]:
    """f(x) = sum(C * x**2) / 2 + sum(D * sin(x)), x shaped like C and D.

    Its second derivative is far from zero, so a forward difference (error ~ eps * f'' / 2) is
    visibly worse than a central one (error ~ eps**2 * f''' / 6).
    """
    C = np.array(C, dtype=np.float64)
    D = np.array(D, dtype=np.float64)

    def f(x: np.ndarray) -> float:
        x = np.asarray(x)
        if x.shape != C.shape:
            raise ValueError(
                f"the function was called with an array of shape {x.shape}, "
                f"but the x given to numerical_gradient has shape {C.shape}"
            )
        return float(np.sum(C * x * x) / 2.0 + np.sum(D * np.sin(x)))

    return f


SCALAR_FUNCTIONS: dict[str, Callable[..., Callable[[np.ndarray], float]]] = {"curved": curved}


def probe_points(x: np.ndarray, eps: float) -> list[np.ndarray]:
    """The inputs of central differences: x + eps * e_i and x - eps * e_i for every index i in
    row-major order, as float64 copies (2 * x.size arrays of x's shape)."""
    x = np.array(x, dtype=np.float64)
    points = []
    for index in np.ndindex(x.shape):
        for step in (eps, -eps):
            point = x.copy()
            point[index] = x[index] + step
            points.append(point)
    return points


def differences(values: list[float], x: np.ndarray, eps: float) -> np.ndarray:
    """Central differences from f at ``probe_points(x, eps)``: float64 of x's shape."""
    pairs = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    return ((pairs[:, 0] - pairs[:, 1]) / (2.0 * eps)).reshape(np.shape(x))


def central_differences(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float) -> np.ndarray:
    """The judge's own central differences of a scalar f at x (any shape): float64 like x."""
    return differences([f(point) for point in probe_points(x, eps)], x, eps)
