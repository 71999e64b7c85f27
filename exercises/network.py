# Your workspace: replace each `raise NotImplementedError(...)` with your code.
# Self-check: python -m pytest grader/selfcheck.py   (add -k NAME for one function)
# Keep each function's name and parameters: the grader and the experiments call them.
"""A multilayer perceptron built from the layers: initialisation, forward and backward pass.

``params`` is a list of ``(W, b)`` pairs, one per layer, first layer first. Every layer but the
last is followed by the activation; the last layer is linear (no activation).

Self-check: ``python -m pytest grader/selfcheck.py``
"""

import numpy as np

from .layers import activation_backward, activation_forward, dense_backward, dense_forward


def init_params(layer_sizes: list[int], activation: str, rng: np.random.Generator):
    """Initialise the weights of an MLP.

    layer_sizes: [D_in, H_1, ..., D_out]; activation: "sigmoid", "tanh", "relu" or "leaky_relu";
    rng: a numpy Generator, the source of every random draw (never np.random.* directly).
    Returns a list of (W, b): W (fan_in, fan_out) float64, b (fan_out,) float64 zeros.

    - sigmoid, tanh: Glorot uniform, W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
    - relu, leaky_relu: He normal, W ~ N(0, 2 / fan_in), i.e. standard deviation sqrt(2 / fan_in).
    """
    # YOUR CODE HERE
    raise NotImplementedError("init_params: not implemented yet")


def mlp_forward(x: np.ndarray, params, activation: str):
    """Forward pass of the MLP.

    x: (N, D_in) float64; params from init_params; activation as in init_params.
    Returns (out, caches): out (N, D_out) float64, the last layer's output without activation;
    caches: whatever mlp_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("mlp_forward: not implemented yet")


def mlp_backward(dout: np.ndarray, caches):
    """Backward pass of the MLP.

    dout: (N, D_out) float64, the gradient of the loss with respect to the output;
    caches from mlp_forward. Returns a list of (dW, db), in the same order as params
    (first layer first), each the same shape as its (W, b).
    """
    # YOUR CODE HERE
    raise NotImplementedError("mlp_backward: not implemented yet")
