# module: gradient_check
# why: np.nditer with multi_index visits every entry; relative error from sqrt(sum(squares))
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        idx = it.multi_index
        saved = x[idx].copy()
        x[idx] = saved + eps
        up = f(x)
        x[idx] = saved - eps
        down = f(x)
        x[idx] = saved
        grad[idx] = (up - down) / (2 * eps)
        it.iternext()
    return grad


def relative_error(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.sqrt(np.sum((a - b) ** 2))
    den = np.sqrt(np.sum(a**2)) + np.sqrt(np.sum(b**2))
    return float(num / max(den, 1e-12))
