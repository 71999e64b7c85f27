# module: activations
# blames: tanh_grad
# why: writes 1 - z**2, forgetting that the formula 1 - t**2 needs t = tanh(z)


def tanh_grad(z):
    return 1.0 - z**2
