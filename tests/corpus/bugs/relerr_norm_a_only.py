# module: gradient_check
# blames: relative_error
# why: normalises by ||a|| only, which is not symmetric and divides by zero when a is zero
import numpy as np


def relative_error(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))
