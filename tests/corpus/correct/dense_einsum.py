# module: layers
# why: the affine layer and its gradients written with np.einsum index notation
import numpy as np


def dense_forward(x, W, b):
    out = np.einsum("nd,dm->nm", x, W) + b[np.newaxis, :]
    return out, (x, W)


def dense_backward(dout, cache):
    x, W = cache
    dx = np.einsum("nm,dm->nd", dout, W)
    dW = np.einsum("nd,nm->dm", x, dout)
    db = np.einsum("nm->m", dout)
    return dx, dW, db
