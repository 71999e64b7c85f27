# Your workspace: replace each `raise NotImplementedError(...)` with your code.
# Self-check: python -m pytest grader/selfcheck.py   (add -k NAME for one function)
# Keep each function's name and parameters: the grader and the experiments call them.
"""Layers as forward/backward pairs, and the two losses.

A forward function returns ``(out, cache)``; its backward takes the upstream gradient and that
cache and returns the gradients of the loss with respect to the forward's inputs. Caches are yours:
store whatever your backward needs, in any structure. Arrays are batch-first (N rows).

Self-check: ``python -m pytest grader/selfcheck.py``
"""

import numpy as np

from .activations import (
    leaky_relu,
    leaky_relu_grad,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    tanh,
    tanh_grad,
)

ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
}


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray):
    """Affine layer: out = x @ W + b.

    x: (N, D) float64, W: (D, M) float64, b: (M,) float64
    Returns (out, cache) with out: (N, M) float64.
    """
    # YOUR CODE HERE
    raise NotImplementedError("dense_forward: not implemented yet")


def dense_backward(dout: np.ndarray, cache):
    """Backward pass of the affine layer.

    dout: (N, M) float64, the gradient of the loss with respect to out; cache from dense_forward.
    Returns (dx, dW, db) with dx: (N, D), dW: (D, M), db: (M,), each float64.

    Hint: check every shape against the forward's; db sums over the batch axis.
    """
    # YOUR CODE HERE
    raise NotImplementedError("dense_backward: not implemented yet")


def activation_forward(z: np.ndarray, activation: str):
    """Apply an activation elementwise.

    z: (N, M) float64 (any shape works); activation: "sigmoid", "tanh", "relu" or "leaky_relu"
    (leaky_relu with its default alpha). Returns (a, cache) with a the same shape as z.
    """
    # YOUR CODE HERE
    raise NotImplementedError("activation_forward: not implemented yet")


def activation_backward(da: np.ndarray, cache) -> np.ndarray:
    """Backward pass of an activation: dz = da * f'(z).

    da: the gradient of the loss with respect to the activation's output, same shape as z.
    Returns dz, same shape. Hint: f' is evaluated at the pre-activation z, not at a = f(z).
    """
    # YOUR CODE HERE
    raise NotImplementedError("activation_backward: not implemented yet")


def mse_loss(pred: np.ndarray, target: np.ndarray):
    """Mean squared error: loss = sum((pred - target)**2) / (2 N).

    pred, target: (N, M) float64. Returns (loss, dpred): loss a Python or numpy float,
    dpred: (N, M) float64, the gradient of the loss with respect to pred.
    """
    # YOUR CODE HERE
    raise NotImplementedError("mse_loss: not implemented yet")


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Softmax followed by the cross-entropy loss, averaged over the batch.

    logits: (N, C) float64; labels: (N,) integers in [0, C).
    Returns (loss, dlogits): loss a float, dlogits: (N, C) float64.

    Must be stable for logits of any magnitude. Hint: subtracting each row's maximum from its
    logits changes neither the softmax nor the loss.
    """
    # YOUR CODE HERE
    raise NotImplementedError("softmax_cross_entropy: not implemented yet")
