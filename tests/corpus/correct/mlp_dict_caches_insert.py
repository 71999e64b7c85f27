# module: network
# why: mlp caches kept in a dict keyed by layer index, gradients collected with insert(0, ...)


def mlp_forward(x, params, activation):
    caches = {}
    a = x
    n_layers = len(params)
    for index in range(n_layers):
        W, b = params[index]
        z, dense_cache = dense_forward(a, W, b)
        if index < n_layers - 1:
            a, act_cache = activation_forward(z, activation)
        else:
            a, act_cache = z, None
        caches[index] = {"dense": dense_cache, "activation": act_cache}
    return a, caches


def mlp_backward(dout, caches):
    grads = []
    upstream = dout
    for index in range(len(caches) - 1, -1, -1):
        layer = caches[index]
        if layer["activation"] is not None:
            upstream = activation_backward(upstream, layer["activation"])
        upstream, dW, db = dense_backward(upstream, layer["dense"])
        grads.insert(0, (dW, db))
    return grads
