# module: layers
# blames: dense_backward
# why: averages the bias gradient over the batch, but the bias is added to every row so it sums


def dense_backward(dout, cache):
    x, W = cache
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.mean(axis=0)
    return dx, dW, db
