# module: layers
# blames: dense_backward
# why: dx = dout @ W without the transpose (shapes only match when W is square)


def dense_backward(dout, cache):
    x, W = cache
    dx = dout @ W
    dW = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db
