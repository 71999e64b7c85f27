"""Known misconceptions, recognised by what they compute.

For a failed comparison the judge evaluates each known wrong variant of the function on the same
input and, when the student's output matches one, names the misconception. Most variants are
written in terms of the reference ``R``; a few (the layer gradients with one transpose or axis
wrong) spell out the wrong formula itself, next to the feedback that names the right one.

The public self-check has no reference, so it cannot evaluate a variant; instead the instructor's
``python -m grader record`` evaluates every variant on every public input a check diagnoses and
stores the outputs next to the expected values (``variant_outputs``; keyed by the diagnosis text,
so a reworded diagnosis needs a new recording). The self-check matches the student's output
against those recorded outputs, and so names each misconception in the grader's words without
shipping a line of reference code.

A slip that raises on the checks' own inputs (a transpose missing where the shapes differ) leaves
no output to match; ``probing_when_unnamed`` then calls the function once more on a probe with
every dimension equal, where the slip runs, and names it from that output (both sides alike).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from grader.checking.compare import CheckFailed, relative_difference
from grader.spec.functions import probe_points

if TYPE_CHECKING:  # the Trial's module imports this one
    from grader.checking.trial import Trial

Variant = Callable[..., object]

# Named here once: the softmax check's hint depends on it (a softmax that already shifts is told
# about log-sum-exp, not told to shift).
LOG_OF_PROBABILITIES = (
    "computes log(softmax probabilities): a probability that underflows to 0 gives "
    "log(0) = -inf even after subtracting each row's max; use log-sum-exp, log softmax = "
    "shifted - log(sum(exp(shifted))) with shifted = logits - max")

# function -> [(diagnosis, variant(R, *args) -> output with the function's result structure)]
VARIANTS: dict[str, list[tuple[str, Variant]]] = {
    "sigmoid_grad": [
        ("returns sigma(z) itself instead of sigma(z) * (1 - sigma(z))",
         lambda R, z: R.sigmoid(z)),
        ("applies s * (1 - s) to z instead of to s = sigmoid(z)", lambda R, z: z * (1 - z)),
        ("computes sigmoid(z) * (1 - z): the derivative's second factor is applied to z; it is "
         "1 - sigmoid(z), so sigma'(z) = s * (1 - s) with s = sigmoid(z)",
         lambda R, z: R.sigmoid(z) * (1 - z)),
        ("computes z * (1 - sigmoid(z)): the derivative's first factor is applied to z; it is "
         "sigmoid(z), so sigma'(z) = s * (1 - s) with s = sigmoid(z)",
         lambda R, z: z * (1 - R.sigmoid(z))),
        ("evaluates the derivative at the activation sigma(z) instead of at z",
         lambda R, z: R.sigmoid_grad(R.sigmoid(z))),
    ],
    "tanh_grad": [
        ("computes 1 - z**2: square tanh(z), not z", lambda R, z: 1 - z**2),
        ("computes 1 - tanh(z): the tanh must be squared", lambda R, z: 1 - np.tanh(z)),
        ("computes tanh(z)**2: the derivative is 1 - tanh(z)**2", lambda R, z: np.tanh(z) ** 2),
        ("computes 1 + tanh(z)**2: the square is subtracted, 1 - tanh(z)**2",
         lambda R, z: 1 + np.tanh(z) ** 2),
        ("evaluates the derivative at the activation tanh(z) instead of at z",
         lambda R, z: R.tanh_grad(np.tanh(z))),
    ],
    "relu_grad": [
        ("returns relu(z) instead of its slope (0 or 1)", lambda R, z: R.relu(z)),
        ("inverts the mask: the slope is 1 where z > 0", lambda R, z: (z < 0) * 1.0),
        ("returns the sign of z (-1 for negative z); the slope of max(z, 0) is 0 there",
         lambda R, z: np.sign(z)),
    ],
    "leaky_relu": [
        ("ignores the alpha argument (always 0.01)", lambda R, z, alpha=0.01: R.leaky_relu(z)),
        ("applies alpha on the wrong side: z where z > 0, alpha * z where z < 0",
         lambda R, z, alpha=0.01: np.where(z > 0, alpha * z, z)),
    ],
    "leaky_relu_grad": [
        ("returns 0 for negative inputs: the leaky slope there is alpha",
         lambda R, z, alpha=0.01: (z > 0) * 1.0),
        ("applies alpha on the wrong side: the slope is 1 where z > 0 and alpha where z < 0",
         lambda R, z, alpha=0.01: np.where(z > 0, alpha, 1.0)),
        ("returns leaky_relu(z) instead of its slope (1 or alpha)",
         lambda R, z, alpha=0.01: R.leaky_relu(z, alpha)),
        ("ignores the alpha argument (always 0.01)",
         lambda R, z, alpha=0.01: R.leaky_relu_grad(z)),
    ],
    "sigmoid": [
        ("computes exp(z) / (1 + exp(z)) for every z, which is inf / inf = NaN for large z",
         lambda R, z: np.exp(z) / (1 + np.exp(z))),
    ],
    # The slips with a transpose or an axis wrong raise on the checks' non-square cases; they
    # run, and are named, on a probe with every dimension equal (``probing_when_unnamed``).
    "dense_forward": [
        ("forgets the bias b", lambda R, x, W, b: x @ W),
        ("uses x @ W.T: W is stored (fan_in, fan_out) here, (D, M), so out = x @ W + b",
         lambda R, x, W, b: x @ W.T + b),
        ("computes W @ x, in the wrong order: the examples are the rows of x, so out = "
         "x @ W + b",
         lambda R, x, W, b: W @ x + b),
        ("computes x * W, an elementwise product: the layer is the matrix product x @ W + b",
         lambda R, x, W, b: x * W + b),
        ("applies b along the wrong axis: b (M,) is added to every row, out = x @ W + b",
         lambda R, x, W, b: x @ W + b[:, None]),
        ("gives the bias the wrong sign: out = x @ W + b", lambda R, x, W, b: x @ W - b),
    ],
    "dense_backward": [
        ("misses a transpose in dx: dx = dout @ W.T",
         lambda R, x, W, b, d: (d @ W, x.T @ d, d.sum(axis=0))),
        ("misses a transpose in dW: dW = x.T @ dout",
         lambda R, x, W, b, d: (d @ W.T, x @ d, d.sum(axis=0))),
        ("computes dx as W @ dout, in the wrong order: dx = dout @ W.T, shape (N, D)",
         lambda R, x, W, b, d: (W @ d, x.T @ d, d.sum(axis=0))),
        ("divides dW by the batch size; it must be a plain sum over the batch (the loss "
         "already averages)",
         lambda R, x, W, b, d: (d @ W.T, x.T @ d / x.shape[0], d.sum(axis=0))),
        ("returns (dW, dx, db): the order is dx, dW, db",
         lambda R, x, W, b, d: (x.T @ d, d @ W.T, d.sum(axis=0))),
        ("transposes dW: dW = x.T @ dout has the shape of W",
         lambda R, x, W, b, d: (d @ W.T, d.T @ x, d.sum(axis=0))),
        ("sums db over axis 1, the units; db sums dout over the batch, axis 0",
         lambda R, x, W, b, d: (d @ W.T, x.T @ d, d.sum(axis=1))),
        ("averages db over the batch; it must be a sum (the loss already averages)",
         lambda R, x, W, b, d: (d @ W.T, x.T @ d, d.mean(axis=0))),
        ("sums db over every axis, a single number; it sums over the batch axis only (axis 0), "
         "shape (M,)",
         lambda R, x, W, b, d: (d @ W.T, x.T @ d, d.sum())),
    ],
    "activation_backward": [
        ("evaluates f' at the activation a = f(z) instead of at the pre-activation z",
         lambda R, z, da, name: da * _derivative(R, name)(R.activation_forward(z, name)[0])),
        ("drops the upstream gradient: dz = da * f'(z), not f'(z)",
         lambda R, z, da, name: _derivative(R, name)(z)),
    ],
    "mse_loss": [
        ("forgets to divide by N (the batch size)",
         lambda R, p, y: tuple(v * p.shape[0] for v in R.mse_loss(p, y))),
        ("forgets the 1/2: the loss is sum(...) / (2N), so dpred = (pred - target) / N",
         lambda R, p, y: tuple(v * 2 for v in R.mse_loss(p, y))),
        ("drops the 1/2 from the loss: it is sum((pred - target)**2) / (2N)",
         lambda R, p, y: (2 * R.mse_loss(p, y)[0], R.mse_loss(p, y)[1])),
        ("gives dpred the wrong sign: it is (pred - target) / N",
         lambda R, p, y: (R.mse_loss(p, y)[0], -R.mse_loss(p, y)[1])),
        ("divides the gradient by N twice",
         lambda R, p, y: (R.mse_loss(p, y)[0], R.mse_loss(p, y)[1] / p.shape[0])),
    ],
    "softmax_cross_entropy": [
        (LOG_OF_PROBABILITIES, lambda R, z, y: (_log_of_probabilities(z, y),
                                                R.softmax_cross_entropy(z, y)[1])),
        ("computes exp(logits) without subtracting each row's max: exp overflows to inf for "
         "large logits and inf / inf = NaN",
         lambda R, z, y: _unshifted(z, y)),
        ("sums the loss over the batch instead of averaging it",
         lambda R, z, y: tuple(v * z.shape[0] for v in R.softmax_cross_entropy(z, y))),
        ("misses the -1 at each example's label in dlogits",
         lambda R, z, y: (R.softmax_cross_entropy(z, y)[0],
                          R.softmax_cross_entropy(z, y)[1] + _onehot(y, z.shape[1]) / z.shape[0])),
    ],
    "mlp_forward": [
        ("applies the activation to the output layer too; the last layer is linear",
         lambda R, x, params, name: R.activation_forward(R.mlp_forward(x, params, name)[0],
                                                         name)[0]),
        ("skips the activation after the first layer",
         lambda R, x, params, name: R.mlp_forward(x @ params[0][0] + params[0][1],
                                                  params[1:], name)[0] if len(params) > 1
         else None),
    ],
    # Written on the reference's caches (its own layout), for the slips of the walk back.
    "mlp_backward": [
        ("skips the activations' backward: walking back, a hidden layer's da becomes dz = "
         "activation_backward(da, cache) before its dense_backward",
         lambda R, x, params, name, d: _walk_back(R, x, params, name, d, "never")),
        ("applies each layer's activation backward after that layer's dense_backward (one "
         "layer late): walking back, a hidden layer's activation backward comes before its "
         "dense_backward",
         lambda R, x, params, name, d: _walk_back(R, x, params, name, d, "late")),
        ("gives every layer dout itself: each layer's backward starts from the gradient the "
         "layer above it passed back",
         lambda R, x, params, name, d: _walk_back(R, x, params, name, d, "dout")),
    ],
}


def _log_of_probabilities(logits: np.ndarray, labels: np.ndarray) -> float:
    """The loss of a softmax that shifts by the row max, then takes log(probabilities)."""
    # Written unlike any reference line on purpose: this file ships to students.
    exps = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    chosen = exps[np.arange(logits.shape[0]), labels] / np.sum(exps, axis=1)
    return float(-np.mean(np.log(chosen)))


def _unshifted(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and dlogits of a softmax of the raw logits (no max subtracted)."""
    exps = np.exp(logits)
    probs = exps / np.sum(exps, axis=1, keepdims=True)
    loss = float(-np.mean(np.log(probs[np.arange(logits.shape[0]), labels])))
    return loss, (probs - _onehot(labels, logits.shape[1])) / logits.shape[0]


def _walk_back(R, x: np.ndarray, params, name: str, dout: np.ndarray, slip: str) -> tuple:
    """The flat (dW_1, db_1, dW_2, ...) of a backward pass through the reference's layers with
    one slip: ``never`` calls the activations' backward, calls it one layer ``late`` (after the
    layer's dense_backward), or feeds ``dout`` to every layer."""
    # Written unlike any reference line on purpose: this file ships to students.
    layers = R.mlp_forward(x, params, name)[1]
    flat: list[np.ndarray] = []
    g = dout
    for dense, act in layers[::-1]:
        start = dout if slip == "dout" else g
        if act is not None and slip in ("never", "late"):
            dz = start
        else:
            dz = start if act is None else R.activation_backward(start, act)
        g, dW, db = R.dense_backward(dz, dense)
        if slip == "late" and act is not None:
            g = R.activation_backward(g, act)
        flat[:0] = [dW, db]
    return tuple(flat)


def _derivative(R, name: str):
    return {"sigmoid": R.sigmoid_grad, "tanh": R.tanh_grad, "relu": R.relu_grad,
            "leaky_relu": R.leaky_relu_grad}[name]


def _onehot(labels: np.ndarray, classes: int) -> np.ndarray:
    out = np.zeros((labels.shape[0], classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def _matches(got, variant, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    got_items = got if isinstance(got, tuple) else (got,)
    variant_items = variant if isinstance(variant, tuple) else (variant,)
    if len(got_items) != len(variant_items):
        return False
    for g, v in zip(got_items, variant_items, strict=True):
        g, v = np.asarray(g, dtype=np.float64), np.asarray(v, dtype=np.float64)
        if g.shape != v.shape:
            return False
        if not np.allclose(g, v, rtol=rtol, atol=atol, equal_nan=True):
            return False
    return True


def no_maths(args: tuple, got) -> str | None:
    """Name an output with no maths behind it, or None: one value in every entry, or one of
    the inputs handed back unchanged. Needs no reference, so the self-check says it too.

    args: the inputs of the failed case (arrays among them); got: the student's output, an
    array or a tuple of them (scalars in it are ignored: one number is never "constant").
    """
    items = got if isinstance(got, tuple) else (got,)
    arrays = [np.asarray(item) for item in items]
    arrays = [a for a in arrays if a.dtype.kind in "biuf" and a.size > 1]
    if not arrays:
        return None
    inputs = [np.asarray(a) for a in args if isinstance(a, np.ndarray) and a.size > 1]
    for array in arrays:
        for given in inputs:
            if array.shape == given.shape and np.array_equal(array, given, equal_nan=True):
                return "returns its input unchanged: there is no maths behind the output"
    values = {float(a.reshape(-1)[0]) for a in arrays}
    if len(values) == 1 and all(np.all(a == a.reshape(-1)[0]) for a in arrays):
        return (f"returns {values.pop():g} in every entry, whatever the input: there is no maths "
                "behind the output")
    return None


def variant_outputs(function: str, args: tuple, reference) -> list[tuple[str, object]]:
    """What each known wrong variant of ``function`` outputs on ``args``: [(diagnosis, output)]
    in the order of ``VARIANTS``, leaving out variants that cannot run on this input or do not
    apply to it (None). Needs the reference; the recording stores these for the self-check."""
    outputs: list[tuple[str, object]] = []
    for label, variant in VARIANTS.get(function, []):
        try:
            with np.errstate(all="ignore"):
                output = variant(reference, *args)
        except Exception:  # noqa: BLE001 - a variant that cannot run on this input skips
            continue
        if output is not None:
            outputs.append((label, output))
    return outputs


def diagnose(function: str, args: tuple, got, reference,
             recorded: list[tuple[str, object]] | None = None) -> str | None:
    """The first known misconception whose output equals the student's, else a name for an
    output with no maths behind it (``no_maths``), or None.

    reference: the reference functions (grading), or None; recorded: with no reference (the
    self-check), the variants' outputs recorded for these very ``args`` (``variant_outputs``),
    so both sides name the same misconception.
    """
    if reference is not None:
        recorded = variant_outputs(function, args, reference)
    for label, output in recorded or ():
        if _matches(got, output):
            return label
    return no_maths(args, got)


@contextmanager
def probing_when_unnamed(t: Trial, function: str, args: tuple,
                         run: Callable[[], object]) -> Iterator[None]:
    """Around a check's body: when it fails with no diagnosis, run the student's ``function`` once
    more on the probe ``args`` (``run()`` calls it and returns its output in the structure of the
    variants) and name the known wrong variant that output equals, if any.

    Why: a slip with a transpose or an axis wrong raises on the checks' non-square inputs, so
    there is no output to compare; on a probe where every dimension is equal it runs, and its
    output shows which slip it is. Only a variant of ``VARIANTS`` is named there (never
    ``no_maths``), and the probe changes no verdict: it runs after the failure, and whatever it
    adds to the trial (warnings, functions found missing) is dropped again. Entering notes the
    probe's variants when recording (the reference passes, so its probe never runs), so the
    self-check names the same slip from the recorded outputs.
    """
    with t.diagnosing(function, args, None):
        pass  # entering records the probe's variant outputs when recording; nothing fails here
    try:
        yield
    except CheckFailed as failure:
        if failure.diagnosis is None:
            failure.diagnosis = _probe(t, function, args, run)
        raise


def probe_rng(t: Trial, function: str) -> np.random.Generator:
    """A generator for ``function``'s probe inputs, apart from the check's own ``t.rng``: drawing
    them leaves every case the check draws (and so every recorded value) as it was."""
    return np.random.default_rng([t.seed, zlib.crc32(f"probe {function}".encode())])


def _probe(t: Trial, function: str, args: tuple, run: Callable[[], object]) -> str | None:
    if function in t.missing:  # not there (absent, a stub, computing nothing): nothing to name
        return None
    warnings, missing, absent = list(t.warnings), dict(t.missing), set(t.absent)
    named = None
    try:
        try:
            got = run()
        except CheckFailed:
            raise
        except Exception:  # noqa: BLE001 - an output of another structure names nothing
            return None
        # diagnosing names a failure raised inside it: raise one to hear the name.
        with t.diagnosing(function, args, got):
            raise CheckFailed("probe")
    except CheckFailed as failure:
        named = failure.diagnosis
    finally:
        t.warnings[:] = warnings
        t.missing.clear()
        t.missing.update(missing)
        t.absent.clear()
        t.absent.update(absent)
    known = {label for label, _ in VARIANTS.get(function, [])}
    return named if named in known else None


def reversed_layers(grads, expected) -> str | None:
    """Name per-layer gradients returned last layer first, or None.

    grads: the student's [(dW, db), ...] for a net of two layers or more; expected: the right
    arrays flattened in the order of params (dW_1, db_1, dW_2, ...). Needs no reference beyond
    those expected values, so the self-check says it too.
    """
    if len(grads) < 2:
        return None
    flipped = tuple(array for pair in grads[::-1] for array in pair)
    if len(flipped) != len(expected):
        return None
    if all(np.shape(r) == np.shape(x) and relative_difference(r, x) < 1e-9
           for r, x in zip(flipped, expected, strict=True)):
        return "returns the right gradients in reversed order: return them first layer first"
    return None


def numerical_gradient_mistake(got: np.ndarray, f: Callable[[np.ndarray], float], x: np.ndarray,
                               eps: float, right: np.ndarray) -> str | None:
    """Name the usual slips of a finite-difference gradient, or None.

    got: the student's numerical gradient of the scalar ``f`` at ``x`` (any shape) with step
    ``eps``; right: the central differences it should equal. Both variants are computed here
    from ``f`` (no reference needed).
    """
    variants = [
        ("uses forward differences (f(x + eps) - f(x)) / eps; central differences "
         "(f(x + eps) - f(x - eps)) / (2 eps) are far more accurate",
         _forward_differences(f, x, eps)),
        ("misses the factor 2: central differences divide by 2 * eps", 2 * right),
    ]
    if x.ndim > 1:
        rows = ("perturbs a whole row at a time: for an n-d x, x[i] is a row; step every "
                "entry, for idx in np.ndindex(x.shape)")
        variants += [(rows, _row_differences(f, x, eps, aliased=False)),
                     (rows, _row_differences(f, x, eps, aliased=True))]
    # A slip that changes nothing on this x (rows of one entry) names nothing.
    return next((label for label, v in variants
                 if got.shape == v.shape and relative_difference(got, v) < 1e-7
                 and not relative_difference(v, right) < 1e-7), None)


def _row_differences(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float,
                     aliased: bool) -> np.ndarray:
    """What a loop over range(x.shape[0]) gives for an n-d x: each x[i] (a whole row) moved by
    +-eps at once, and that one slope written into every entry of the row. Shaped like x.

    aliased: the loop kept ``old = x[i]``, a view of the row, so ``x[i] = old - eps`` puts the
    row back instead of moving it down: (f(row + eps) - f(x)) / (2 eps).
    """
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        if not aliased:
            minus[i] -= eps
        out[i] = (f(plus) - f(minus)) / (2 * eps)
    return out


def _forward_differences(f: Callable[[np.ndarray], float], x: np.ndarray,
                         eps: float) -> np.ndarray:
    """(f(x + eps e_i) - f(x)) / eps for every index i of x: float64, shaped like x."""
    x = np.array(x, dtype=np.float64)
    base = f(x)
    forward = probe_points(x, eps)[0::2]  # x + eps e_i, in row-major order
    return np.array([(f(point) - base) / eps for point in forward],
                    dtype=np.float64).reshape(x.shape)


def relative_error_mistake(got: float, a: np.ndarray, b: np.ndarray) -> str | None:
    """Name the usual slips of relative_error(a, b), or None: a missing 1e-12 floor (NaN for two
    zero arrays) or a denominator of ||a|| alone. got: the student's (scalar) answer."""
    with np.errstate(all="ignore"):
        by_a = np.linalg.norm(a - b) / np.linalg.norm(a)
    if not np.isfinite(got):
        return "divides by ||a|| + ||b|| without the 1e-12 floor: 0 / 0 = NaN when both are zero"
    if np.isclose(got, by_a, rtol=1e-9):
        return "divides by ||a|| only; the measure is symmetric in a and b"
    return None
