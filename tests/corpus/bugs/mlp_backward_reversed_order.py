# module: network
# blames: mlp_backward
# why: returns the gradients in the order they were computed (last layer first)


def mlp_backward(dout, caches):
    grads = []
    upstream = dout
    for dense_cache, act_cache in reversed(caches):
        if act_cache is not None:
            upstream = activation_backward(upstream, act_cache)
        upstream, dW, db = dense_backward(upstream, dense_cache)
        grads.append((dW, db))
    return grads
