# module: activations
# blames: sigmoid_grad
# why: applies the derivative formula to sigmoid(z) instead of z, i.e. sigmoid applied twice


def sigmoid_grad(z):
    a = sigmoid(z)
    s = sigmoid(a)
    return s * (1.0 - s)
