# module: layers
# blames: mse_loss
# why: divides the gradient by N twice (once for the mean and once more "to be safe")
import numpy as np


def mse_loss(pred, target):
    n = pred.shape[0]
    diff = pred - target
    loss = np.sum(diff**2) / (2 * n)
    dpred = diff / n
    dpred = dpred / n
    return float(loss), dpred
