# module: layers
# blames: dense_forward
# why: uses x @ W.T (weights stored as (out, in) in other courses); only runs when W is square


def dense_forward(x, W, b):
    out = x @ W.T + b
    return out, (x, W)
