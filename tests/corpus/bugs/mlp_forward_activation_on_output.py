# module: network
# blames: mlp_forward
# why: applies the activation after every layer, including the last one that must stay linear


def mlp_forward(x, params, activation):
    caches = []
    a = x
    for W, b in params:
        z, dense_cache = dense_forward(a, W, b)
        a, act_cache = activation_forward(z, activation)
        caches.append((dense_cache, act_cache))
    return a, caches
