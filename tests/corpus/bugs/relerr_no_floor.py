# module: gradient_check
# blames: relative_error
# why: divides by ||a|| + ||b|| without the 1e-12 floor, so two zero arrays give 0 / 0 = nan
import numpy as np


def relative_error(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))
