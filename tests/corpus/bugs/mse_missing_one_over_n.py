# module: layers
# blames: mse_loss
# why: forgets to divide by the batch size N, in the loss and in the gradient
import numpy as np


def mse_loss(pred, target):
    diff = pred - target
    return float(np.sum(diff**2) / 2), diff
