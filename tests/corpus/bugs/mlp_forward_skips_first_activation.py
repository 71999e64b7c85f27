# module: network
# blames: mlp_forward
# why: starts the activation at the second layer, so layers 1 and 2 collapse into one linear map


def mlp_forward(x, params, activation):
    caches = []
    a = x
    last = len(params) - 1
    for i, (W, b) in enumerate(params):
        z, dense_cache = dense_forward(a, W, b)
        if i == 0 or i == last:
            a = z
            caches.append((dense_cache, None))
        else:
            a, act_cache = activation_forward(z, activation)
            caches.append((dense_cache, act_cache))
    return a, caches
