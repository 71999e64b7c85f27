# Your workspace: replace each `raise NotImplementedError(...)` with your code.
# Self-check: python -m pytest grader/selfcheck.py   (add -k NAME for one function)
# Keep each function's name and parameters: the grader and the experiments call them.
"""Activation functions and their derivatives.

Every function is elementwise: it accepts an array of any shape (0-d to n-d) and returns an array of
the same shape. ``*_grad(z)`` is the derivative of the activation with respect to its input ``z``
(the pre-activation), evaluated at ``z``. No function modifies its input.

Self-check: ``python -m pytest grader/selfcheck.py``
"""

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, sigma(z) = 1 / (1 + exp(-z)).

    z: any shape, float64 (float32 accepted) -> same shape, values in [0, 1].

    Must be numerically stable: no overflow warning and no NaN for |z| up to 1e4.
    Hint: exp(-z) overflows for large negative z; for z < 0 use the equivalent form
    exp(z) / (1 + exp(z)), or the identity sigma(z) = (1 + tanh(z / 2)) / 2.
    """
    # YOUR CODE HERE
    raise NotImplementedError("sigmoid: not implemented yet")


def sigmoid_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid at the pre-activation z: sigma'(z) = sigma(z) * (1 - sigma(z)).

    z: any shape -> same shape, values in [0, 1/4].

    Hint: the derivative is taken at z, not at the activation sigma(z).
    """
    # YOUR CODE HERE
    raise NotImplementedError("sigmoid_grad: not implemented yet")


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z)).

    z: any shape -> same shape, values in [-1, 1].

    Hint: np.tanh is allowed and stable.
    """
    # YOUR CODE HERE
    raise NotImplementedError("tanh: not implemented yet")


def tanh_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of tanh at the pre-activation z: tanh'(z) = 1 - tanh(z)**2.

    z: any shape -> same shape, values in [0, 1].
    """
    # YOUR CODE HERE
    raise NotImplementedError("tanh_grad: not implemented yet")


def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit, relu(z) = max(z, 0).

    z: any shape -> same shape.

    Hint: np.maximum returns a new array; writing z[z < 0] = 0 would modify the caller's array.
    """
    # YOUR CODE HERE
    raise NotImplementedError("relu: not implemented yet")


def relu_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU at z: 1 where z > 0, 0 where z < 0 (either 0 or 1 at exactly 0).

    z: any shape -> same shape, float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("relu_grad: not implemented yet")


def leaky_relu(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: z where z > 0, alpha * z elsewhere.

    z: any shape -> same shape; alpha: slope for negative inputs (0 <= alpha < 1).
    """
    # YOUR CODE HERE
    raise NotImplementedError("leaky_relu: not implemented yet")


def leaky_relu_grad(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU at z: 1 where z > 0, alpha where z < 0 (either at exactly 0).

    z: any shape -> same shape, float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("leaky_relu_grad: not implemented yet")
