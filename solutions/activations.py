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
    ### BEGIN SOLUTION
    z = np.asarray(z)
    # exp(-|z|) never overflows; pick the form whose exponent is non-positive.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def sigmoid_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid at the pre-activation z: sigma'(z) = sigma(z) * (1 - sigma(z)).

    z: any shape -> same shape, values in [0, 1/4].

    Hint: the derivative is taken at z, not at the activation sigma(z).
    """
    ### BEGIN SOLUTION
    s = sigmoid(z)
    return s * (1.0 - s)
    ### END SOLUTION


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z)).

    z: any shape -> same shape, values in [-1, 1].

    Hint: np.tanh is allowed and stable.
    """
    ### BEGIN SOLUTION
    return np.tanh(z)
    ### END SOLUTION


def tanh_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of tanh at the pre-activation z: tanh'(z) = 1 - tanh(z)**2.

    z: any shape -> same shape, values in [0, 1].
    """
    ### BEGIN SOLUTION
    t = np.tanh(z)
    return 1.0 - t * t
    ### END SOLUTION


def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit, relu(z) = max(z, 0).

    z: any shape -> same shape.

    Hint: np.maximum returns a new array; writing z[z < 0] = 0 would modify the caller's array.
    """
    ### BEGIN SOLUTION
    return np.maximum(z, 0)
    ### END SOLUTION


def relu_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU at z: 1 where z > 0, 0 where z < 0 (either 0 or 1 at exactly 0).

    z: any shape -> same shape, float.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    return (z > 0).astype(np.result_type(z.dtype, np.float32))
    ### END SOLUTION


def leaky_relu(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: z where z > 0, alpha * z elsewhere.

    z: any shape -> same shape; alpha: slope for negative inputs (0 <= alpha < 1).
    """
    ### BEGIN SOLUTION
    return np.where(z > 0, z, alpha * z)
    ### END SOLUTION


def leaky_relu_grad(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU at z: 1 where z > 0, alpha where z < 0 (either at exactly 0).

    z: any shape -> same shape, float.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    dtype = np.result_type(z.dtype, np.float32)
    return np.where(z > 0, 1.0, alpha).astype(dtype)
    ### END SOLUTION
