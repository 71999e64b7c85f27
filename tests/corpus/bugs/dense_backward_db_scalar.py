# module: layers
# blames: dense_backward
# why: dout.sum() without an axis collapses the bias gradient to one scalar


def dense_backward(dout, cache):
    x, W = cache
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.sum()
    return dx, dW, db
