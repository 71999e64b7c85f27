# module: layers
# blames: activation_backward
# why: returns the local derivative f'(z) and forgets to multiply by the upstream gradient da


def activation_backward(da, cache):
    z, activation = cache
    _, derivative = ACTIVATIONS[activation]
    return derivative(z)
