"""Whose functions the experiments run on: the student's package, a notebook's namespace or the
reference, all behind one small ``Implementation``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

# The module of the exercise package that defines each function the experiments call.
MODULE_OF_FUNCTION = {
    "init_params": "network",
    "mlp_forward": "network",
    "mlp_backward": "network",
    "mse_loss": "layers",
    "softmax_cross_entropy": "layers",
}


@dataclass(frozen=True)
class Implementation:
    """The exercise functions the experiments use, with the signatures the exercises ask for.

    init_params(layer_sizes, activation, rng) -> [(W, b), ...] float64;
    mlp_forward(x (N, D) float64, params, activation) -> (out (N, D_out) float64, caches);
    mlp_backward(dout (N, D_out) float64, caches) -> [(dW, db), ...], first layer first;
    mse_loss(pred, target) and softmax_cross_entropy(logits, labels (N,) int) -> (loss, grad).
    """

    init_params: Callable[..., Any]
    mlp_forward: Callable[..., Any]
    mlp_backward: Callable[..., Any]
    mse_loss: Callable[..., Any]
    softmax_cross_entropy: Callable[..., Any]

    @classmethod
    def of(cls, *namespaces: Mapping[str, Any] | object) -> Implementation:
        """The functions found in ``namespaces``, the first that has a name winning.

        A namespace is a mapping (a notebook's ``globals()``) or an object with attributes (a
        module). Raises NameError naming a function none of them defines.
        """
        found: dict[str, Callable[..., Any]] = {}
        for item in fields(cls):
            for namespace in namespaces:
                value = (namespace.get(item.name) if isinstance(namespace, Mapping)
                         else getattr(namespace, item.name, None))
                if callable(value):
                    found[item.name] = value
                    break
            else:
                raise NameError(f"the experiments need {item.name}, and it is not defined "
                                "(yet): write it, or run its cell, first")
        return cls(**found)

    @classmethod
    def load(cls, package: str) -> Implementation:
        """The functions of an exercise package, e.g. ``"exercises"``, imported by name."""
        modules = sorted(set(MODULE_OF_FUNCTION.values()))
        return cls.of(*(importlib.import_module(f"{package}.{module}") for module in modules))
