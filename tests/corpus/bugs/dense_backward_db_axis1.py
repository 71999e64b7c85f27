# module: layers
# blames: dense_backward
# why: sums the bias gradient over the feature axis (axis=1) instead of the batch axis


def dense_backward(dout, cache):
    x, W = cache
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.sum(axis=1)
    return dx, dW, db
