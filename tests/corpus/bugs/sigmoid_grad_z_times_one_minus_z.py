# module: activations
# blames: sigmoid_grad
# why: writes z * (1 - z), plugging the pre-activation into a formula meant for s = sigmoid(z)


def sigmoid_grad(z):
    return z * (1.0 - z)
