"""Whose functions the experiments run on: the student's package, a notebook's namespace or the
reference, all behind one small ``Implementation``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

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


# --------------------------------------------------------------------------------------------
# Running the given code: one clear message for a bug, and progress for the long steps
# --------------------------------------------------------------------------------------------


class StudentCodeError(Exception):
    """A function of the implementation raised, or returned something the experiments cannot
    use (wrong type or shape, NaN or inf from finite inputs). The message names the function and
    how to check it; ``function`` is its name.

    Raised instead of letting the bug surface later as a traceback through lesson code, which
    would blame the wrong place. In a notebook, IPython shows ``_render_traceback_``'s lines in
    place of the traceback: the message alone.
    """

    def __init__(self, function: str, message: str) -> None:
        super().__init__(message)
        self.function = function

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class StudentCodeUnfinished(StudentCodeError, NotImplementedError):
    """A function of the implementation is still the stub (it raised NotImplementedError)."""


def _fix_hint(*functions: str) -> str:
    """How a student checks ``functions`` (all of them when none is named)."""
    # A kernel means the notebook path, whose students check with the test cells; the module
    # path has the self-check.
    if "ipykernel" in sys.modules:
        return (f"run the test cells of {' and '.join(functions)} above" if functions
                else "run the test cells")
    if not functions:
        return "python -m pytest grader/selfcheck.py"
    selection = functions[0] if len(functions) == 1 else f'"{" or ".join(functions)}"'
    return f"python -m pytest grader/selfcheck.py -k {selection}"


def _raised_in(name: str, function: Callable[..., Any], error: BaseException) -> str:
    """The name of the innermost function of the given code on ``error``'s traceback: one of
    the functions that ``function``'s module (or notebook) defines or imports, such as the
    ``dense_backward`` that ``mlp_backward`` called. ``name`` (the function's name in the
    implementation) when none is."""
    namespace = getattr(function, "__globals__", {})
    codes = {getattr(value, "__code__", None): name for name, value in namespace.items()
             if callable(value)}
    codes.pop(getattr(function, "__code__", None), None)
    found = name
    trace = error.__traceback__
    while trace is not None:
        found = codes.get(trace.tb_frame.f_code, found)
        trace = trace.tb_next
    return found


def _finite(*values: Any) -> bool:
    """True when every array in ``values`` (nested in lists/tuples) is free of NaN and inf."""
    for value in values:
        if isinstance(value, list | tuple):
            if not _finite(*value):
                return False
        elif isinstance(value, np.ndarray) and value.dtype.kind in "fc":
            if not np.all(np.isfinite(value)):
                return False
        elif isinstance(value, float | np.floating) and not np.isfinite(value):
            return False
    return True


# Larger than any weight of a net that trains: init draws are O(1), SGD at the lesson's rates
# keeps them within a few hundred.
DIVERGED = 1e6


def _largest_weight(params: Any) -> float:
    try:
        return max(float(np.max(np.abs(W))) for W, _ in params)
    except (TypeError, ValueError):
        return 0.0


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"shape {tuple(shape)}" if shape is not None else f"a {type(value).__name__}"


def _params_problem(params: Any, sizes: Sequence[int] | None = None) -> str | None:
    """What is wrong with a list of (W, b), or None; ``sizes``: the layer sizes it must have."""
    if not isinstance(params, list | tuple) or not params:
        return f"a {type(params).__name__}, expected a non-empty list of (W, b) pairs"
    if sizes is not None and len(params) != len(sizes) - 1:
        return f"{len(params)} (W, b) pairs, expected {len(sizes) - 1} for sizes {list(sizes)}"
    for layer, pair in enumerate(params, start=1):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            return f"layer {layer} as a {type(pair).__name__}, expected a (W, b) pair"
        W, b = pair
        if not isinstance(W, np.ndarray) or W.ndim != 2:
            return f"W of layer {layer} with {_shape(W)}, expected a 2-D array"
        if not isinstance(b, np.ndarray) or b.shape != (W.shape[1],):
            return f"b of layer {layer} with {_shape(b)}, expected shape ({W.shape[1]},)"
        if sizes is not None and W.shape != (sizes[layer - 1], sizes[layer]):
            return (f"W of layer {layer} with shape {W.shape}, expected "
                    f"({sizes[layer - 1]}, {sizes[layer]})")
    return None


def _loss_problem(args: tuple, result: Any) -> str | None:
    if not isinstance(result, tuple | list) or len(result) != 2:
        return f"{_shape(result)}, expected a pair (loss, gradient)"
    loss, grad = result
    if np.ndim(loss) != 0:
        return f"a loss with {_shape(loss)}, expected a number"
    expected = np.shape(args[0])
    if not isinstance(grad, np.ndarray) or grad.shape != expected:
        return f"a gradient with {_shape(grad)}, expected shape {expected} (that of its input)"
    return None


class _Checked:
    """One function of an implementation, called through a check of what it returns."""

    def __init__(self, name: str, function: Callable[..., Any], shared: dict) -> None:
        self.name = name
        self.function = function
        # What mlp_backward's result is checked against: the params of the last mlp_forward.
        self.shared = shared

    def __call__(self, *args: Any) -> Any:
        try:
            result = self.function(*args)
        except NotImplementedError as unfinished:
            raise StudentCodeUnfinished(self.name, str(unfinished) or
                                        f"{self.name} is not written yet") from unfinished
        except Exception as error:  # noqa: BLE001 - any bug in the given code gets the sentence
            detail = str(error).splitlines()[0] if str(error) else "no message"
            where = _raised_in(self.name, self.function, error)
            message = f"{self.name} raised {type(error).__name__} ({detail})"
            if where == self.name:
                hint = _fix_hint(self.name)
            else:
                # Where it raised is not always where the bug is (mlp_backward handing
                # activation_backward the wrong cache raises inside the correct one): both
                # checks, whose verdicts tell which is wrong.
                message += f", inside {where}"
                hint = _fix_hint(self.name, where)
            raise StudentCodeError(self.name, f"{message}: fix it ({hint})") from error
        problem = self.problem(args, result)
        # NaN or inf is blamed on the function that made it from finite inputs. Only a few
        # arrays are tested per call (a NaN reaches them from anywhere upstream), and the inputs
        # only once a result is bad: the experiments call these functions ~10^5 times.
        if problem is None and not _finite(*self.watched(result)) and _finite(*args):
            largest = _largest_weight(args[1]) if self.name == "mlp_forward" else 0.0
            if largest > DIVERGED:
                # Finite but huge weights: training diverged, and the overflow is only where it
                # showed. Correct code does not diverge at the lesson's learning rates, so some
                # gradient is wrong; which one, the self-check tells (each function alone).
                raise StudentCodeError(self.name, (
                    f"training diverged: the weights grew to {largest:.0e} and mlp_forward "
                    "overflowed. A gradient is wrong (mlp_backward, or the loss's gradient): "
                    f"fix the first function that fails ({_fix_hint()})"))
            problem = "NaN or inf from finite inputs"
        if problem is not None:
            raise StudentCodeError(self.name, f"{self.name} returned {problem}: fix it "
                                              f"({_fix_hint(self.name)})")
        return result

    def watched(self, result: Any) -> list:
        """The part of a (well-formed) result tested for NaN and inf."""
        if self.name == "mlp_forward":
            return [result[0]]
        if self.name == "mlp_backward":
            # The first layer's gradients come last in the backward pass, the output layer's
            # first: a NaN made anywhere in between reaches the first.
            return [result[0][0], result[-1][0]] if result else []
        return [result]

    def problem(self, args: tuple, result: Any) -> str | None:
        """What is wrong with ``result`` for these ``args``, or None."""
        if self.name == "init_params":
            return _params_problem(result, list(args[0]))
        if self.name == "mlp_forward":
            if not isinstance(result, tuple | list) or len(result) != 2:
                return f"{_shape(result)}, expected a pair (out, caches)"
            params = args[1]
            self.shared["params"] = params
            expected = (np.shape(args[0])[0], params[-1][0].shape[1])
            if not isinstance(result[0], np.ndarray) or result[0].shape != expected:
                return f"out with {_shape(result[0])}, expected {expected}"
            return None
        if self.name == "mlp_backward":
            params = self.shared.get("params")
            if not isinstance(result, list | tuple):
                return f"a {type(result).__name__}, expected a list of (dW, db) pairs"
            if params is not None and len(result) != len(params):
                return f"{len(result)} (dW, db) pairs, expected one per layer ({len(params)})"
            for layer, pair in enumerate(result, start=1):
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    return f"layer {layer} as a {type(pair).__name__}, expected a (dW, db) pair"
                if params is not None:
                    W, b = params[layer - 1]
                    for what, grad, like in (("dW", pair[0], W), ("db", pair[1], b)):
                        if np.shape(grad) != like.shape:
                            return (f"{what} of layer {layer} with {_shape(grad)}, expected "
                                    f"{like.shape} (that of its parameter)")
            return None
        return _loss_problem(args, result)


def checked(impl: Implementation) -> Implementation:
    """``impl`` with each function called through a check: an exception inside it, or a result
    of the wrong shape or with NaN from finite inputs, raises StudentCodeError naming the
    function and how to check it. Idempotent (a checked implementation is returned as is)."""
    if all(isinstance(getattr(impl, item.name), _Checked) for item in fields(impl)):
        return impl
    shared: dict = {}
    return Implementation(**{item.name: _Checked(item.name, getattr(impl, item.name), shared)
                             for item in fields(impl)})


@contextmanager
def progress(label: str, total: int, show: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr for a step of ``total`` units: yields ``advance()``, to call
    once per unit. With ``show`` false, or without ``rich``, the bar is silent: ``advance`` does
    nothing. The bar disappears when the step ends (the step prints its own timing)."""
    if not show:
        yield lambda: None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    except ImportError:
        yield lambda: None
        return
    with Progress(f"  {label}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
