# module: activations
# blames: sigmoid_grad
# why: writes sigmoid(z) * (1 - z), applying the second factor of s * (1 - s) to z instead of s


def sigmoid_grad(z):
    return sigmoid(z) * (1.0 - z)
