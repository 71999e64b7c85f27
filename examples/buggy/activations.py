"""Sample submission with typical bugs (see examples/README.md)."""

import numpy as np


def sigmoid(z):
    # sigma(z) = exp(-log(1 + exp(-z))); logaddexp never overflows.
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))


def sigmoid_grad(z):
    s = sigmoid(sigmoid(z))  # bug: the derivative is taken at the activation, not at z
    return s - s * s


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1.0 / np.cosh(np.clip(z, -350, 350)) ** 2


def relu(z):
    z = np.asarray(z, dtype=float)
    return z * (z > 0)


def relu_grad(z):
    return (np.asarray(z) >= 0).astype(float)


def leaky_relu(z, alpha=0.01):
    z = np.asarray(z, dtype=float)
    return np.maximum(z, 0) + alpha * np.minimum(z, 0)


def leaky_relu_grad(z, alpha=0.01):
    positive = np.asarray(z) > 0
    return positive + alpha * ~positive
