# module: network
# blames: mlp_backward
# why: applies layer i's activation backward after layer i's dense backward (off by one layer)


def mlp_backward(dout, caches):
    n_layers = len(caches)
    grads = [None] * n_layers
    upstream = dout
    for i in range(n_layers - 1, -1, -1):
        dense_cache, act_cache = caches[i]
        upstream, dW, db = dense_backward(upstream, dense_cache)
        grads[i] = (dW, db)
        if act_cache is not None:
            upstream = activation_backward(upstream, act_cache)
    return grads
