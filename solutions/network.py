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
    ### BEGIN SOLUTION
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        if activation in ("sigmoid", "tanh"):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        elif activation in ("relu", "leaky_relu"):
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        else:
            raise ValueError(f"unknown activation {activation!r}")
        params.append((W, np.zeros(fan_out)))
    return params
    ### END SOLUTION


def mlp_forward(x: np.ndarray, params, activation: str):
    """Forward pass of the MLP.

    x: (N, D_in) float64; params from init_params; activation as in init_params.
    Returns (out, caches): out (N, D_out) float64, the last layer's output without activation;
    caches: whatever mlp_backward needs.
    """
    ### BEGIN SOLUTION
    caches = []
    a = x
    last = len(params) - 1
    for i, (W, b) in enumerate(params):
        z, dense_cache = dense_forward(a, W, b)
        if i == last:
            caches.append((dense_cache, None))
            return z, caches
        a, act_cache = activation_forward(z, activation)
        caches.append((dense_cache, act_cache))
    raise ValueError("params must hold at least one layer")
    ### END SOLUTION


def mlp_backward(dout: np.ndarray, caches):
    """Backward pass of the MLP.

    dout: (N, D_out) float64, the gradient of the loss with respect to the output;
    caches from mlp_forward. Returns a list of (dW, db), in the same order as params
    (first layer first), each the same shape as its (W, b).
    """
    ### BEGIN SOLUTION
    grads = []
    upstream = dout
    for dense_cache, act_cache in reversed(caches):
        if act_cache is not None:
            upstream = activation_backward(upstream, act_cache)
        upstream, dW, db = dense_backward(upstream, dense_cache)
        grads.append((dW, db))
    return grads[::-1]
    ### END SOLUTION
