# module: layers
# blames: mse_loss
# why: drops the 1/2 from the loss but keeps the gradient diff / N, which is now off by a factor 2
import numpy as np


def mse_loss(pred, target):
    n = pred.shape[0]
    diff = pred - target
    return float(np.sum(diff**2) / n), diff / n
