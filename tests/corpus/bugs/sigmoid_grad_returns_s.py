# module: activations
# blames: sigmoid_grad
# why: returns the sigmoid s itself instead of its derivative s * (1 - s)


def sigmoid_grad(z):
    return sigmoid(z)
