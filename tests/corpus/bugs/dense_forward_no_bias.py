# module: layers
# blames: dense_forward
# why: forgets to add the bias b


def dense_forward(x, W, b):
    out = x @ W
    return out, (x, W)
