# module: layers
# blames: activation_backward
# why: evaluates the derivative at the activation a = f(z) instead of at the pre-activation z


def activation_backward(da, cache):
    z, activation = cache
    forward, derivative = ACTIVATIONS[activation]
    a = forward(z)
    return da * derivative(a)
