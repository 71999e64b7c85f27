"""Gradient checking with a flat view of a private copy."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    point = np.array(x, dtype=float)
    flat = point.reshape(-1)
    grad = np.empty_like(flat)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f(point)
        flat[i] = keep - eps
        down = f(point)
        flat[i] = keep
        grad[i] = (up - down) / (2 * eps)
    return grad.reshape(point.shape)


def relative_error(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.sqrt(np.sum((a - b) ** 2)) / max(np.sqrt(np.sum(a * a)) + np.sqrt(np.sum(b * b)), 1e-12))
