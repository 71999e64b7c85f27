# module: layers
# blames: dense_backward
# why: dW = dout.T @ x gives the transpose of the weight gradient, shaped (M, D) not (D, M)


def dense_backward(dout, cache):
    x, W = cache
    dx = dout @ W.T
    dW = dout.T @ x
    db = dout.sum(axis=0)
    return dx, dW, db
