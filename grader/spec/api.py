"""The student API: which functions exist, where they live, and what shape their results have.

This is the contract the checks, the loader and the worker agree on. ``RESULT_KINDS`` tells how a
function's return value is turned into plain data: ``array`` and ``scalar`` cross as numbers,
``params`` as a list of (array, array) pairs, and ``opaque`` (caches) never crosses: it stays with
the student's code behind a handle.
"""

MODULES: dict[str, tuple[str, ...]] = {
    "activations": (
        "sigmoid",
        "sigmoid_grad",
        "tanh",
        "tanh_grad",
        "relu",
        "relu_grad",
        "leaky_relu",
        "leaky_relu_grad",
    ),
    "layers": (
        "dense_forward",
        "dense_backward",
        "activation_forward",
        "activation_backward",
        "mse_loss",
        "softmax_cross_entropy",
    ),
    "network": ("init_params", "mlp_forward", "mlp_backward"),
    "gradient_check": ("numerical_gradient", "relative_error"),
}

FUNCTIONS: tuple[str, ...] = tuple(name for names in MODULES.values() for name in names)
MODULE_OF: dict[str, str] = {name: module for module, names in MODULES.items() for name in names}

RESULT_KINDS: dict[str, object] = {
    **{name: "array" for name in MODULES["activations"]},
    "dense_forward": ("array", "opaque"),
    "dense_backward": ("array", "array", "array"),
    "activation_forward": ("array", "opaque"),
    "activation_backward": "array",
    "mse_loss": ("scalar", "array"),
    "softmax_cross_entropy": ("scalar", "array"),
    "init_params": "params",
    "mlp_forward": ("array", "opaque"),
    "mlp_backward": "params",
    "numerical_gradient": "array",
    "relative_error": "scalar",
}

# Forward/backward pairs share a cache format, so a reference stand-in replaces both or neither.
PARTNER: dict[str, str] = {
    "dense_forward": "dense_backward",
    "dense_backward": "dense_forward",
    "activation_forward": "activation_backward",
    "activation_backward": "activation_forward",
    "mlp_forward": "mlp_backward",
    "mlp_backward": "mlp_forward",
}

ACTIVATION_NAMES: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu")
