# module: layers
# blames: mse_loss
# why: differentiates (target - pred) and gets the sign of the gradient wrong
import numpy as np


def mse_loss(pred, target):
    n = pred.shape[0]
    diff = pred - target
    return float(np.sum(diff**2) / (2 * n)), (target - pred) / n
