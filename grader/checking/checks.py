"""The check definitions: one per graded function, plus the two vanishing-gradient experiments.

Each check generates its inputs from ``t.rng`` (seeded: the public seed in the self-check, the
instructor's hidden seed when grading) plus fixed edge cases, calls the student's code through
``t.call`` and compares with ``t.expect`` or with finite differences the judge computes itself.
The same definitions run in the self-check (direct calls) and in grading (through a worker).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

import numpy as np

from grader.checking.compare import (
    CheckFailed,
    assert_close,
    assert_norm_close,
    check_shape,
    describe_inputs,
    relative_difference,
    show,
)
from grader.checking.trial import Trial, check
from grader.spec.api import ACTIVATION_NAMES
from grader.spec.functions import central_differences, curved, differences, probe_points
from grader.spec.protocol import RngSeed, ScalarFunction

H = 1e-5  # finite-difference step: float64 central differences are accurate to ~1e-10 with it
GRADIENT_TOL = 1e-6  # ||g - g_num|| / (||g|| + ||g_num||): correct code 1e-9..1e-11, bugs >= 0.2
BACKPROP_TOL = 1e-7  # per-layer ||g - g_ref|| / ||g_ref||: float64 implementations agree to 1e-14


# --- inputs --------------------------------------------------------------------------------------

def _away_from_zero(rng: np.random.Generator, shape, scale: float, gap: float) -> np.ndarray:
    """Random values with |z| >= gap, so derivatives of ReLU-type functions are well defined."""
    z = rng.normal(0.0, scale, size=shape)
    return np.where(np.abs(z) < gap, np.copysign(gap, z) + z, z)


def _elementwise_cases(t: Trial, kink: bool) -> list[tuple[str, np.ndarray]]:
    """Inputs of every rank and dtype; for kinked functions none lies within 0.01 of zero."""
    rng = t.rng

    def draw(shape, scale=3.0):
        if kink:
            return _away_from_zero(rng, shape, scale, 0.01)
        return rng.normal(0.0, scale, size=shape)

    return [
        ("non-square 2-d", draw((5, 3))),
        ("0-d", np.array(draw(()))),
        ("1-d", draw((7,))),
        ("3-d", draw((2, 3, 4))),
        ("float32", draw((4, 3)).astype(np.float32)),
        ("large magnitudes", np.array([-1e4, -1000.0, -60.0, -1.5, 0.5, 60.0, 1000.0, 1e4])),
    ]


def _tolerances(z: np.ndarray) -> dict[str, float]:
    if z.dtype == np.float32:
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-7, "atol": 1e-10}


def _assert_float_dtype(name: str, got: np.ndarray, z: np.ndarray) -> None:
    if got.dtype.kind != "f":
        raise CheckFailed(
            f"{name} returned an array of dtype {got.dtype} for input {show(z)}; "
            "expected floating-point values"
        )
    if z.dtype == np.float64 and got.dtype != np.float64:
        raise CheckFailed(
            f"{name} returned {got.dtype} for a float64 input {show(z)}: precision is lost; "
            "keep float64"
        )


# --- activations ---------------------------------------------------------------------------------

def _check_values(t: Trial, name: str, hint: str, kink: bool, alphas: tuple = ()) -> None:
    """Values against the expected ones on every rank and dtype, and for non-default alphas."""
    for label, z in _elementwise_cases(t, kink=kink):
        got = t.call(name, z, inputs={"z": z})
        expected = t.expect(name, (z,), lambda R, z=z: getattr(R, name)(z))[0]
        _assert_float_dtype(name, got, z)
        with t.diagnosing(name, (z,), got):
            assert_close(f"{name}(z)", got, expected, {"z": z, "case": label}, hint=hint,
                         elementwise_input=z, **_tolerances(z))
    for alpha in alphas:
        z = _away_from_zero(t.rng, (4, 5), 2.0, 0.01)
        got = t.call(name, z, alpha, inputs={"z": z, "alpha": alpha})
        expected = t.expect(name, (z, alpha), lambda R, z=z, a=alpha: getattr(R, name)(z, a))[0]
        with t.diagnosing(name, (z, alpha), got):
            assert_close(f"{name}(z, alpha={alpha})", got, expected, {"z": z, "alpha": alpha},
                         hint="use the alpha argument, not a fixed 0.01", elementwise_input=z)


@check("sigmoid", 2)
def check_sigmoid(t: Trial) -> None:
    """sigmoid(z) = 1 / (1 + exp(-z)), elementwise, on every shape and dtype"""
    _check_values(t, "sigmoid", "sigma(z) = 1 / (1 + exp(-z)); for z < 0 use "
                  "exp(z) / (1 + exp(z)), which gives the same value without overflow", kink=False)


@check("sigmoid_stability", 1, tags=("sigmoid",))
def check_sigmoid_stability(t: Trial) -> None:
    """sigmoid gives no overflow warning and no NaN for |z| up to 1e4

    Its values there must be right too: only a real sigmoid earns the point.
    """
    for z in (np.array([-1e4, -1000.0, -745.0, -710.0, -100.0, 0.0, 100.0, 710.0, 1000.0, 1e4]),
              np.array([-1e4, -1000.0, -89.0, -88.0, 0.0, 88.0, 89.0, 1e4], dtype=np.float32)):
        before = len(t.warnings)
        got = t.call("sigmoid", z, inputs={"z": z})
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"sigmoid returned inf or NaN for {show(z, 10)}: got {show(got, 10)}"
                              "\n  hint: exp(z) / (1 + exp(z)) is inf / inf = NaN for large z")
        # Stability is worth a point only in a sigmoid that is right: a function that returns
        # finite numbers silently (zeros, z itself) is stable but computes nothing.
        expected = t.expect("sigmoid", (z,), lambda R, z=z: R.sigmoid(z))[0]
        _assert_float_dtype("sigmoid", got, z)
        with t.diagnosing("sigmoid", (z,), got):
            assert_close("sigmoid(z)", got, expected, {"z": z, "case": "large magnitudes"},
                         hint="only a sigmoid with the right values earns the stability point: "
                              "sigma(z) = 1 / (1 + exp(-z))", elementwise_input=z,
                         **_tolerances(z))
        noisy = [w for w in t.warnings[before:] if "overflow" in w or "invalid" in w]
        if noisy:
            raise CheckFailed(
                f"sigmoid is not numerically stable: for z = {show(z, 10)} numpy warned "
                f"'{noisy[0]}'\n  hint: exp(-z) overflows for z < -709 (float64) or z < -88 "
                "(float32). Compute exp(-|z|), which never overflows, and choose the formula by "
                "the sign of z."
            )


def _check_derivative(t: Trial, name: str, forward: str, hint: str, kink_values=None,
                      alphas: tuple = ()) -> None:
    kink = kink_values is not None
    _check_values(t, name, hint, kink=kink, alphas=alphas)
    if kink:
        z = np.array([0.0, -0.0, 0.0])
        got = t.call(name, z, inputs={"z": z})
        if not np.all(np.isin(got, kink_values)):
            raise CheckFailed(f"{name}(0) = {show(got)}: at exactly 0 either "
                              f"{' or '.join(map(str, kink_values))} is accepted")
    # The derivative must also agree with finite differences of the student's own forward, when
    # that forward is right (otherwise the forward's own check reports it).
    if not t.failed(forward):
        z = _away_from_zero(t.rng, (6, 4), 2.0, 0.05) if kink else t.rng.normal(0, 2.0, (6, 4))
        got = t.call(name, z, inputs={"z": z})
        plus = t.call(forward, z + H, inputs={"z": z + H})
        minus = t.call(forward, z - H, inputs={"z": z - H})
        numerical = (plus - minus) / (2 * H)
        error = relative_difference(got, numerical)
        if error > GRADIENT_TOL:
            raise CheckFailed(
                f"{name} disagrees with finite differences of your {forward}: "
                f"||g - g_num|| / (||g|| + ||g_num||) = {error:.3g} (allowed {GRADIENT_TOL:g})\n"
                f"  input: {describe_inputs({'z': z})}\n"
                f"  numerical {show(numerical)}\n  yours     {show(got)}\n  hint: {hint}"
            )


@check("sigmoid_grad", 2, depends=("sigmoid",))
def check_sigmoid_grad(t: Trial) -> None:
    """sigmoid_grad(z) = sigma(z) * (1 - sigma(z)), the derivative at the pre-activation z"""
    _check_derivative(t, "sigmoid_grad", "sigmoid",
                      "sigma'(z) = s * (1 - s) with s = sigmoid(z), evaluated at z itself")


@check("tanh", 1)
def check_tanh(t: Trial) -> None:
    """tanh(z), elementwise, on every shape and dtype"""
    _check_values(t, "tanh", "np.tanh is stable; (e^z - e^-z) / (e^z + e^-z) overflows "
                  "for large |z|", kink=False)


@check("tanh_grad", 2, depends=("tanh",))
def check_tanh_grad(t: Trial) -> None:
    """tanh_grad(z) = 1 - tanh(z)**2, the derivative at the pre-activation z"""
    _check_derivative(t, "tanh_grad", "tanh", "tanh'(z) = 1 - tanh(z)**2; square tanh(z), "
                      "not z, and evaluate at z itself")


@check("relu", 1)
def check_relu(t: Trial) -> None:
    """relu(z) = max(z, 0), elementwise, without modifying z"""
    _check_values(t, "relu", "relu(z) = max(z, 0) elementwise: np.maximum(z, 0)", kink=False)


@check("relu_grad", 2, depends=("relu",))
def check_relu_grad(t: Trial) -> None:
    """relu_grad(z) is 1 where z > 0 and 0 where z < 0"""
    _check_derivative(t, "relu_grad", "relu", "the slope of max(z, 0) is 1 for z > 0 and 0 for "
                      "z < 0, whatever the size of z", kink_values=(0.0, 1.0))


@check("leaky_relu", 1)
def check_leaky_relu(t: Trial) -> None:
    """leaky_relu(z, alpha): z where z > 0, alpha * z elsewhere"""
    _check_values(t, "leaky_relu", "z for z > 0, alpha * z otherwise", kink=False,
                  alphas=(0.2, 0.0))


@check("leaky_relu_grad", 2, depends=("leaky_relu",))
def check_leaky_relu_grad(t: Trial) -> None:
    """leaky_relu_grad(z, alpha) is 1 where z > 0 and alpha where z < 0"""
    _check_derivative(t, "leaky_relu_grad", "leaky_relu", "the slope is 1 for z > 0 and alpha "
                      "(not 0) for z < 0", kink_values=(0.01, 1.0), alphas=(0.2,))


def _cache_from_forward(t: Trial, forward: str, *args, inputs: dict):
    """The student's cache for a backward check, or None to skip this input.

    When the student's forward is broken (its own check failed) and crashes on an input, that
    input cannot test the backward; it is skipped rather than blamed on the backward.
    """
    try:
        return t.call(forward, *args, inputs=inputs)[1]
    except CheckFailed:
        if t.failed(forward):
            return None
        raise


def _require_tested(t: Trial, name: str, forward: str, tested: int) -> None:
    if tested == 0:
        raise CheckFailed(f"{name} could not be tested: your {forward} fails on every input "
                          f"{name} is checked with (see {forward}'s own check)")


def _trivial_derivative(forward: str, numericals: dict[str, np.ndarray],
                        upstream: np.ndarray, elementwise: bool = False,
                        rows_apart: bool = True) -> str | None:
    """Why finite differences of the student's own ``forward`` cannot vindicate a backward, or
    None when they can.

    numericals: the finite-difference gradient of sum(upstream * forward(...)) for each input
    (name -> array shaped like that input); upstream: that random upstream gradient. A forward
    that does not change when one of its inputs changes (a constant, zeros, an input handed back
    while another is ignored) has a numerical gradient of exactly 0 there, and a backward that
    returns zeros "agrees" with it. elementwise: the forward is an activation of its only input,
    whose slope numerical / upstream must vary over the inputs (a forward with one slope
    everywhere, such as z itself, is linear: there is no activation to differentiate). The
    inputs span both signs, so every activation of the course has two slopes or more on them.
    rows_apart: whether the forward kept a batch's examples apart (``_rows_apart``); one that
    mixes them is no layer or network.
    """
    scale = float(np.linalg.norm(upstream))
    for name, numerical in numericals.items():
        # A correct forward's gradient is O(||upstream||) for every input; differences of a
        # function that ignores the input are exactly 0 (or roundoff, <= 1e-10 of that).
        if not np.all(np.isfinite(numerical)) or float(np.linalg.norm(numerical)) <= 1e-8 * scale:
            return (f"your {forward} does not change when {name} changes (its finite-difference "
                    f"gradient with respect to {name} is 0), so it cannot vouch for a backward")
    if not rows_apart:
        return (f"your {forward} mixes the examples of a batch (moving one row of x changes "
                "other rows of out), so it is no layer and cannot vouch for a backward")
    if elementwise:
        (numerical,) = numericals.values()
        with np.errstate(all="ignore"):
            slopes = numerical / upstream
        if np.ptp(slopes) <= 1e-6 * (1.0 + float(np.max(np.abs(slopes)))):
            return (f"your {forward} has the same slope {float(np.mean(slopes)):.3g} at every "
                    "input: it is linear, with no activation to differentiate, so it cannot "
                    "vouch for a backward")
    return None


# --- layers --------------------------------------------------------------------------------------

def _dense_cases(t: Trial) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = t.rng
    cases = []
    # N, D, M all different, so a missing transpose fails on shape; then a square case, where
    # it would pass the shapes and must fail on values; then a single example.
    for n, d, m in ((5, 4, 3), (4, 4, 4), (1, 3, 2)):
        cases.append((rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)))
    return cases


@check("dense_forward", 2)
def check_dense_forward(t: Trial) -> None:
    """dense_forward(x, W, b) returns out = x @ W + b, shape (N, M)"""
    for x, W, b in _dense_cases(t):
        out, _ = t.call("dense_forward", x, W, b, inputs={"x": x, "W": W, "b": b})
        expected = t.expect("dense_forward", (x, W, b), lambda R, x=x, W=W, b=b:
                            R.dense_forward(x, W, b)[0])[0]
        with t.diagnosing("dense_forward", (x, W, b), out):
            assert_close("out", out, expected, {"x": x, "W": W, "b": b},
                         hint="out = x @ W + b: x is (N, D), W is (D, M), b is (M,)")


def _own_numerical_dense(t: Trial, x, W, b, dout):
    """Finite differences of sum(dout * dense_forward(x, W, b)) via the student's forward, with
    every probe in one batch; also whether that forward treats each example on its own (see
    ``_rows_apart``)."""
    values = (x, W, b)
    calls, sizes = [], []
    for position, value in enumerate(values):
        points = probe_points(value, H)
        sizes.append(len(points))
        for point in points:
            args = list(values)
            args[position] = point
            calls.append(tuple(args))
    outputs = [out for out, _ in t.probe("dense_forward", calls)]
    losses = iter([float(np.sum(dout * out)) for out in outputs])
    numerical = [differences([next(losses) for _ in range(size)], value, H)
                 for value, size in zip(values, sizes, strict=True)]
    return numerical, _rows_apart(outputs[:sizes[0]], x.shape)


def _rows_apart(outputs: list[np.ndarray], shape: tuple[int, ...]) -> bool:
    """Whether a forward's outputs at ``probe_points(x)`` (x: (N, D)) change only in the row
    of the example that was moved, as a layer's do: every example goes through it on its own.

    A forward that mixes the batch (every output a sum over all of x, say) is no layer, and a
    backward consistent with it proves nothing."""
    if not outputs or any(o.ndim != 2 or o.shape[0] != shape[0] for o in outputs):
        return False
    for (row, _), plus, minus in zip(np.ndindex(shape), outputs[0::2], outputs[1::2],
                                     strict=True):
        others = np.delete(np.abs(plus - minus), row, axis=0)
        scale = 1e-9 * (1.0 + float(np.max(np.abs(plus))))
        if others.size and not float(np.max(others)) <= scale:
            return False
    return True


@check("dense_backward", 4, depends=("dense_forward",))
def check_dense_backward(t: Trial) -> None:
    """dense_backward returns dx (N, D), dW (D, M) and db (M,) of out = x @ W + b"""
    hints = {
        "dx": "dx = dout @ W.T has the shape of x (N, D)",
        "dW": "dW = x.T @ dout has the shape of W (D, M)",
        "db": "db sums dout over the batch axis (axis 0): shape (M,), a sum, not a mean",
    }
    tested, vindicated = 0, False
    for x, W, b in _dense_cases(t):
        dout = t.rng.normal(size=(x.shape[0], W.shape[1]))
        inputs = {"x": x, "W": W, "b": b, "dout": dout}
        cache = _cache_from_forward(t, "dense_forward", x, W, b, inputs=inputs)
        if cache is None:
            continue
        tested += 1
        got = t.call("dense_backward", dout, cache, inputs=inputs)
        expected = t.expect("dense_backward", (x, W, b, dout), lambda R, x=x, W=W, b=b, d=dout:
                            R.dense_backward(d, R.dense_forward(x, W, b)[1]))
        try:
            with t.diagnosing("dense_backward", (x, W, b, dout), got):
                for label, g, e in zip(("dx", "dW", "db"), got, expected, strict=True):
                    assert_close(label, g, e, inputs, hint=hints[label])
        except CheckFailed:
            if not t.failed("dense_forward"):
                raise
            # Your forward is wrong; a backward that is right *for your forward* earns its
            # points, on every case, if that forward is a layer at all.
            numerical, rows_apart = _own_numerical_dense(t, x, W, b, dout)
            trivial = _trivial_derivative("dense_forward", dict(zip("xWb", numerical,
                                                                    strict=True)), dout,
                                          rows_apart=rows_apart)
            if trivial:
                t.notes.append(trivial)
                raise
            for label, g, e in zip(("dx", "dW", "db"), got, numerical, strict=True):
                check_shape(label, g, e.shape, inputs)
                if relative_difference(g, e) > GRADIENT_TOL:
                    raise
            vindicated = True
    _require_tested(t, "dense_backward", "dense_forward", tested)
    if vindicated:  # every case agreed with the student's own (broken) forward
        t.notes.append("dense_backward matches the gradient of your own dense_forward; the "
                       "bug is in dense_forward")
    # Small and non-square: every entry costs two forward calls.
    x, W, b = t.rng.normal(size=(3, 2)), t.rng.normal(size=(2, 4)), t.rng.normal(size=4)
    dout = t.rng.normal(size=(x.shape[0], W.shape[1]))
    if not t.failed("dense_forward"):
        _, cache = t.call("dense_forward", x, W, b)
        got = t.call("dense_backward", dout, cache)
        for label, g, e in zip(("dx", "dW", "db"), got,
                               _own_numerical_dense(t, x, W, b, dout)[0], strict=True):
            error = relative_difference(g, e)
            if error > GRADIENT_TOL:
                raise CheckFailed(f"{label} disagrees with finite differences of your "
                                  f"dense_forward: relative difference {error:.3g}\n"
                                  f"  hint: {hints[label]}")


@check("activation_forward", 2, depends=("sigmoid", "tanh", "relu", "leaky_relu"))
def check_activation_forward(t: Trial) -> None:
    """activation_forward(z, name) applies the named activation"""
    for name in ACTIVATION_NAMES:
        z = _away_from_zero(t.rng, (5, 3), 2.0, 0.01)
        a, _ = t.call("activation_forward", z, name, inputs={"z": z, "activation": name})
        expected = t.expect("activation_forward", (z, name),
                            lambda R, z=z, n=name: R.activation_forward(z, n)[0])[0]
        assert_close(f"activation_forward(z, {name!r})", a, expected,
                     {"z": z, "activation": name}, elementwise_input=z,
                     hint=f"for {name!r} return {name}(z) and keep what backward needs in cache")


def _forward_right(t: Trial, z: np.ndarray, name: str) -> bool:
    """Whether the student's activation_forward(z, name) gives the right activation values."""
    try:
        a, _ = t.call("activation_forward", z, name)
    except CheckFailed:
        return False
    try:
        expected = t.expect("activation_forward", (z, name),
                            lambda R, z=z, n=name: R.activation_forward(z, n)[0])[0]
    except LookupError:
        # The public self-check records only what the reference's own run asks for, and this
        # is asked only for a broken forward: there it cannot tell, and gives the benefit.
        return True
    return a.shape == expected.shape and bool(np.allclose(a, expected, rtol=1e-7, atol=1e-10))


@check("activation_backward", 3, depends=("activation_forward", "sigmoid_grad", "tanh_grad",
                                          "relu_grad", "leaky_relu_grad"))
def check_activation_backward(t: Trial) -> None:
    """activation_backward(da, cache) returns dz = da * f'(z) at the pre-activation z"""
    tested = 0
    cases = []
    for name in ACTIVATION_NAMES:
        z = _away_from_zero(t.rng, (5, 3), 2.0, 0.05)
        da = t.rng.normal(size=z.shape)
        cases.append((name, z, da))
    # Whether the student's own forward gets any activation right (asked only when needed): a
    # forward right for none of them (z * z for every name, say) is no activation layer, and
    # cannot vouch for a backward.
    some_forward_right = functools.cache(
        lambda: any(_forward_right(t, z, name) for name, z, _ in cases))
    for name, z, da in cases:
        inputs = {"z": z, "da": da, "activation": name}
        cache = _cache_from_forward(t, "activation_forward", z, name, inputs=inputs)
        if cache is None:
            continue
        tested += 1
        got = t.call("activation_backward", da, cache, inputs=inputs)
        expected = t.expect("activation_backward", (z, da, name), lambda R, z=z, da=da, n=name:
                            R.activation_backward(da, R.activation_forward(z, n)[1]))[0]
        try:
            with t.diagnosing("activation_backward", (z, da, name), got):
                assert_close(f"dz for {name!r}", got, expected, inputs,
                             hint="dz = da * f'(z): multiply by the upstream da, and evaluate "
                                  "f' at the pre-activation z, not at a = f(z)")
        except CheckFailed:
            if not t.failed("activation_forward"):
                raise
            outputs = t.probe("activation_forward", [(v, name) for v in probe_points(z, H)])
            numerical = differences([float(np.sum(da * a)) for a, _ in outputs], z, H)
            trivial = _trivial_derivative("activation_forward", {"z": numerical}, da,
                                          elementwise=True)
            if trivial is None and not some_forward_right():
                trivial = ("your activation_forward is right for none of the activations, so "
                           "it cannot vouch for a backward")
            if trivial:
                t.notes.append(f"{trivial} ({name!r})")
                raise
            if relative_difference(got, numerical) > GRADIENT_TOL:
                raise
            t.notes.append(f"activation_backward matches your own activation_forward for {name}")
    _require_tested(t, "activation_backward", "activation_forward", tested)


@check("mse_loss", 2)
def check_mse_loss(t: Trial) -> None:
    """mse_loss returns sum((pred - target)**2) / (2N) and its gradient (pred - target) / N"""
    for n, m in ((6, 3), (1, 2), (4, 4)):
        pred, target = t.rng.normal(size=(n, m)), t.rng.normal(size=(n, m))
        inputs = {"pred": pred, "target": target}
        loss, dpred = t.call("mse_loss", pred, target, inputs=inputs)
        e_loss, e_dpred = t.expect("mse_loss", (pred, target),
                                   lambda R, p=pred, y=target: R.mse_loss(p, y))
        with t.diagnosing("mse_loss", (pred, target), (loss, dpred)):
            assert_close("loss", np.asarray(loss), e_loss, inputs, rtol=1e-9,
                         hint="loss = sum((pred - target)**2) / (2 * N), N = pred.shape[0]")
            assert_close("dpred", dpred, e_dpred, inputs,
                         hint="d/dpred of sum((pred - target)**2) / (2N) is (pred - target) / N")


@check("softmax_cross_entropy", 3)
def check_softmax_cross_entropy(t: Trial) -> None:
    """softmax_cross_entropy returns the mean loss and dlogits, stable for any logit size"""
    rng = t.rng
    cases = [rng.normal(size=(6, 4)), rng.normal(size=(1, 3)), rng.normal(size=(5, 2)),
             rng.normal(scale=1e3, size=(4, 3)),
             np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, 1e4], [500.0, 500.0, -800.0]])]
    for logits in cases:
        labels = rng.integers(0, logits.shape[1], size=logits.shape[0])
        inputs = {"logits": logits, "labels": labels}
        loss, dlogits = t.call("softmax_cross_entropy", logits, labels, inputs=inputs)
        e_loss, e_dlogits = t.expect("softmax_cross_entropy", (logits, labels),
                                     lambda R, z=logits, y=labels: R.softmax_cross_entropy(z, y))
        hint = ("subtract each row's max before exp; loss = mean over the batch of "
                "-log softmax(logits)[label]; dlogits = (softmax - onehot) / N")
        with t.diagnosing("softmax_cross_entropy", (logits, labels), (loss, dlogits)):
            assert_close("loss", np.asarray(loss), e_loss, inputs, rtol=1e-9, hint=hint)
            assert_close("dlogits", dlogits, e_dlogits, inputs, hint=hint)


# --- network -------------------------------------------------------------------------------------

def _moments(w: np.ndarray) -> tuple[float, float, float]:
    mean = float(w.mean())
    var = float(w.var())
    kurtosis = float(np.mean((w - mean) ** 4) / var**2) if var > 0 else 0.0
    return mean, var, kurtosis


@check("init_params", 3)
def check_init_params(t: Trial) -> None:
    """init_params: Glorot uniform for sigmoid/tanh, He normal for ReLUs, zero biases, rng only"""
    # Big enough that a 10% variance error is > 10 standard errors; small enough to be quick.
    sizes = [120, 200, 80]
    seed = int(t.rng.integers(1 << 30))
    for activation in ACTIVATION_NAMES:
        inputs = {"layer_sizes": sizes, "activation": activation, "rng": f"default_rng({seed})"}
        params = t.call("init_params", sizes, activation, RngSeed(seed), inputs=inputs)
        if len(params) != len(sizes) - 1:
            raise CheckFailed(f"init_params({sizes}, {activation!r}) returned {len(params)} "
                              f"layers, expected {len(sizes) - 1} (one (W, b) per pair of sizes)")
        for layer, ((W, b), fan_in, fan_out) in enumerate(
            zip(params, sizes[:-1], sizes[1:], strict=True), start=1
        ):
            where = f"layer {layer} of init_params({sizes}, {activation!r})"
            check_shape(f"W of {where}", W, (fan_in, fan_out), inputs)
            check_shape(f"b of {where}", b, (fan_out,), inputs)
            if W.dtype != np.float64 or b.dtype != np.float64:
                raise CheckFailed(f"{where}: W and b must be float64, got {W.dtype}, {b.dtype}")
            if np.any(b != 0):
                raise CheckFailed(f"{where}: biases must start at zero, got {show(b)}")
            mean, var, kurtosis = _moments(W)
            if activation in ("sigmoid", "tanh"):
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                target, rule = limit**2 / 3, f"Glorot uniform U(-a, a), a = {limit:.4g}"
                inside = float(np.mean(np.abs(W) < limit / 2))
                if np.max(np.abs(W)) > limit * (1 + 1e-9) or not 0.45 < inside < 0.55:
                    raise CheckFailed(
                        f"{where}: W is not uniform on (-a, a) with a = sqrt(6 / (fan_in + "
                        f"fan_out)) = {limit:.4g}: max |W| = {np.max(np.abs(W)):.4g}, "
                        f"{inside:.0%} of |W| < a/2 (uniform: 50%)\n"
                        "  hint: rng.uniform(-a, a, size=(fan_in, fan_out))",
                        diagnosis=_init_diagnosis(var, kurtosis, fan_in, fan_out, activation),
                    )
            else:
                target, rule = 2.0 / fan_in, "He normal N(0, 2 / fan_in)"
                if not 2.7 < kurtosis < 3.3:
                    raise CheckFailed(f"{where}: W does not look normal (kurtosis {kurtosis:.2f}, "
                                      "a normal distribution has 3)\n"
                                      "  hint: rng.normal(0, np.sqrt(2 / fan_in), size=...)",
                                      diagnosis=_init_diagnosis(var, kurtosis, fan_in, fan_out,
                                                                activation))
            if abs(var / target - 1) > 0.1 or abs(mean) > 5 * np.sqrt(target / W.size):
                raise CheckFailed(
                    f"{where}: W has mean {mean:.3g} and variance {var:.4g}; {rule} has mean 0 "
                    f"and variance {target:.4g} (fan_in = {fan_in}, fan_out = {fan_out})",
                    diagnosis=_init_diagnosis(var, kurtosis, fan_in, fan_out, activation),
                )
        if activation not in ("sigmoid", "relu"):  # one of each rule is enough for seeding
            continue
        again = t.call("init_params", sizes, activation, RngSeed(seed), inputs=inputs)
        other = t.call("init_params", sizes, activation, RngSeed(seed + 1), inputs=inputs)
        if not all(np.array_equal(p[0], q[0]) for p, q in zip(params, again, strict=False)):
            raise CheckFailed(f"init_params({sizes}, {activation!r}) gave different weights for "
                              "two generators with the same seed\n  hint: draw every random "
                              "number from rng (rng.uniform, rng.normal), never np.random.*",
                              diagnosis="draws from numpy's global generator (np.random.*) "
                                        "instead of the rng argument")
        if any(np.array_equal(p[0], q[0]) for p, q in zip(params, other, strict=False)):
            raise CheckFailed(f"init_params({sizes}, {activation!r}) gave the same weights for "
                              "generators with different seeds: draw them from rng")


def _init_diagnosis(var: float, kurtosis: float, fan_in: int, fan_out: int,
                    activation: str) -> str | None:
    """Name the usual initialisation mistakes from the weights' statistics."""
    def near(a: float, b: float) -> bool:
        return abs(a / b - 1) < 0.1

    if near(var, 1e-4):
        return "uses small random weights (0.01 * standard normal): gradients shrink in every layer"
    if near(var, 1.0):
        return "uses unscaled standard-normal weights: activations and gradients explode"
    if activation in ("relu", "leaky_relu"):
        if near(var, 2.0 / fan_out):
            return "scales He init by fan_out; it is N(0, 2 / fan_in)"
        if near(var, 2.0 / fan_in) and kurtosis < 2.2:
            return "draws He weights from a uniform distribution; He init here is normal"
        if near(var, 2.0 / (fan_in + fan_out)):
            return "uses Glorot's variance for a ReLU layer; ReLU needs He init, 2 / fan_in"
    else:
        limit_sq = 6.0 / (fan_in + fan_out)
        if near(var, limit_sq / 3) and kurtosis > 2.5:
            return "draws Glorot weights from a normal distribution; here it is uniform on (-a, a)"
        if near(var, limit_sq):
            return "draws from N(0, a^2): a is the bound of U(-a, a), not a standard deviation"
        if near(var, 2.0 / fan_in):
            return "uses He init for a sigmoid/tanh layer; these use Glorot uniform"
    return None


def _random_params(rng: np.random.Generator, sizes: list[int]) -> list[tuple]:
    return [(rng.normal(0.0, 1.0 / np.sqrt(i), size=(i, o)), rng.normal(0.0, 0.5, size=o))
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)]


def _mlp_cases(t: Trial):
    rng = t.rng
    cases = [([4, 6, 3], name) for name in ACTIVATION_NAMES]
    cases += [([3, 5, 4, 2], "relu"), ([5, 3], "tanh"), ([6] + [8] * 8 + [3], "sigmoid")]
    for sizes, activation in cases:
        x = rng.normal(size=(7, sizes[0]))
        yield x, _random_params(rng, sizes), activation


def _flat(params) -> tuple:
    return tuple(array for pair in params for array in pair)


def _same(a, b) -> bool:
    """Exactly equal plain results (arrays, numbers, and tuples or lists of them)."""
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return (isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b, strict=True)))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _close(a, b) -> bool:
    """Equal up to roundoff: what two calls of a deterministic function give."""
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return (isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b)
                and all(_close(x, y) for x, y in zip(a, b, strict=True)))
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


def _computes_nothing(t: Trial, name: str) -> str | None:
    """Why the student's ``name`` (mlp_forward or mlp_backward) computes nothing, or None.

    Called only once its check has failed, and only for results of the right structure and
    shapes (the issue is maths, not shapes). A net that is really there is a deterministic
    function of everything it is given: the same call twice gives the same result, and another
    x, other weights or another upstream gradient give another. Zeros, constants, a fixed
    "random" array, an input handed back or fresh noise each break one of these. Every backward
    call gets caches from a forward call of its own (a backward may consume its caches).
    """
    x, other_x = t.rng.normal(size=(7, 4)), t.rng.normal(size=(7, 4))
    params, other_params = _random_params(t.rng, [4, 6, 3]), _random_params(t.rng, [4, 6, 3])
    dout, other_dout = t.rng.normal(size=(7, 3)), t.rng.normal(size=(7, 3))

    def run(x, params, dout):
        out, caches = t.call("mlp_forward", x, params, "tanh")
        return out if name == "mlp_forward" else t.call("mlp_backward", dout, caches)

    random = "gives different results for the same input: it is not a function of its inputs"
    try:
        first = run(x, params, dout)
        # Only a result of the right structure can be "no maths": one of the wrong shape (an
        # empty list, a layer too few) is an ordinary wrong answer, blamed as such.
        shapes = ([(W.shape, b.shape) for W, b in params] if name == "mlp_backward"
                  else [(7, 3)])
        got = ([(np.shape(dW), np.shape(db)) for dW, db in first] if name == "mlp_backward"
               else [np.shape(first)])
        if got != shapes:
            return None
        if name == "mlp_forward":
            if not _close(run(x, params, dout), first):
                return random
            if _same(run(other_x, params, dout), first):
                return "gives the same output for a different x: it ignores its input"
            if _same(run(x, other_params, dout), first):
                return "gives the same output for different weights: it ignores params"
            return None
        # A backward is only as reproducible as the forward that made its caches: a random
        # forward must not make a correct backward look random.
        steady = _close(t.call("mlp_forward", x, params, "tanh")[0],
                        t.call("mlp_forward", x, params, "tanh")[0])
        if steady and not _close(run(x, params, dout), first):
            return random
        if _same(run(x, params, other_dout), first):
            return "gives the same gradients for a different dout: it ignores dout"
        if steady and not t.failed("mlp_forward") and _same(run(x, other_params, dout), first):
            return "gives the same gradients for a net with other weights: it ignores caches"
    except CheckFailed:
        return None  # it raises on these inputs: its check already says so
    return None


def _probing_for_nothing(t: Trial, name: str, body: Callable[[], None]) -> None:
    """Run ``body`` (a check of ``name``); when it fails, find out whether ``name`` computes
    anything at all, and if not, record it as missing and say why in the feedback."""
    try:
        body()
    except CheckFailed as failure:
        if name not in t.missing:
            reason = _computes_nothing(t, name)
            if reason:
                t.mark_missing(name, f"computes nothing: it {reason}")
                failure.message += f"\n  {name} computes nothing: it {reason}"
        raise


@check("mlp_forward", 3, depends=("dense_forward", "activation_forward"))
def check_mlp_forward(t: Trial) -> None:
    """mlp_forward: activation after every layer but the last, which stays linear"""
    _probing_for_nothing(t, "mlp_forward", lambda: _check_mlp_forward(t))


def _check_mlp_forward(t: Trial) -> None:
    for x, params, activation in _mlp_cases(t):
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        inputs = {"x": x, "layer_sizes": sizes, "activation": activation}
        out, _ = t.call("mlp_forward", x, params, activation, inputs=inputs)
        expected = t.expect("mlp_forward", (x, *_flat(params), activation),
                            lambda R, x=x, p=params, a=activation: R.mlp_forward(x, p, a)[0])[0]
        with t.diagnosing("mlp_forward", (x, params, activation), out):
            assert_close("out", out, expected, inputs, rtol=1e-9,
                         hint="apply the activation after every layer except the last one, "
                              "whose output is returned as it is (linear)")


def _agrees_along_directions(t: Trial, x, params, activation, dout, grads,
                             directions: int = 3) -> bool:
    """Whether the student's gradients ``grads`` of sum(dout * mlp_forward(x, params)) agree
    with central differences of their own forward along random directions of all parameters
    (a wrong entry anywhere shows, but for a direction orthogonal to the error: probability 0).
    The directions come from a generator of their own, so the check's inputs stay as recorded."""
    flat = list(_flat(params))
    got = list(_flat(grads))
    if len(got) != len(flat) or any(g.shape != p.shape for g, p in zip(got, flat, strict=True)):
        return False
    rng = np.random.default_rng([t.seed, zlib.crc32(repr([p.shape for p in flat]).encode())])
    calls, predicted = [], []
    for _ in range(directions):
        direction = [rng.normal(size=p.shape) for p in flat]
        for sign in (1.0, -1.0):
            moved = [p + sign * H * v for p, v in zip(flat, direction, strict=True)]
            calls.append((x, [(moved[i], moved[i + 1]) for i in range(0, len(moved), 2)],
                          activation))
        predicted.append(sum(float(np.sum(g * v)) for g, v in zip(got, direction, strict=True)))
    losses = [float(np.sum(dout * out)) for out, _ in t.probe("mlp_forward", calls)]
    for k, slope in enumerate(predicted):
        numerical = (losses[2 * k] - losses[2 * k + 1]) / (2 * H)
        if not abs(numerical - slope) <= GRADIENT_TOL * (abs(numerical) + abs(slope)) + 1e-12:
            return False
    return True


def _own_numerical_mlp(t: Trial, x, params, activation, dout,
                       rows: bool = False) -> tuple[list[np.ndarray], bool]:
    """Finite differences of sum(dout * mlp_forward(...)) w.r.t. every parameter, judge-side,
    with every probe in one batch; with ``rows``, also whether that forward treats each example
    on its own (``_rows_apart``; True when not asked)."""
    flat = list(_flat(params))
    calls, sizes = [], []
    for position, value in enumerate(flat):
        points = probe_points(value, H)
        sizes.append(len(points))
        for point in points:
            values = list(flat)
            values[position] = point
            calls.append((x, [(values[i], values[i + 1]) for i in range(0, len(values), 2)],
                          activation))
    moved = [(point, params, activation) for point in probe_points(x, H)] if rows else []
    outputs = [out for out, _ in t.probe("mlp_forward", calls + moved)]
    losses = iter([float(np.sum(dout * out)) for out in outputs[:len(calls)]])
    numerical = [differences([next(losses) for _ in range(size)], value, H)
                 for value, size in zip(flat, sizes, strict=True)]
    return numerical, not rows or _rows_apart(outputs[len(calls):], x.shape)


@check("mlp_backward", 4, depends=("mlp_forward", "dense_backward", "activation_backward"))
def check_mlp_backward(t: Trial) -> None:
    """mlp_backward: per-layer (dW, db) in the order of params, right in every layer"""
    _probing_for_nothing(t, "mlp_backward", lambda: _check_mlp_backward(t))


def _check_mlp_backward(t: Trial) -> None:
    tested = 0
    checked_rows = False
    for x, params, activation in _mlp_cases(t):
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        dout = t.rng.normal(size=(x.shape[0], sizes[-1]))
        inputs = {"x": x, "layer_sizes": sizes, "activation": activation, "dout": dout}
        caches = _cache_from_forward(t, "mlp_forward", x, params, activation, inputs=inputs)
        if caches is None:
            continue
        tested += 1
        grads = t.call("mlp_backward", dout, caches, inputs=inputs)
        expected = t.expect("mlp_backward", (x, *_flat(params), activation, dout),
                            lambda R, x=x, p=params, a=activation, d=dout:
                            _flat(R.mlp_backward(d, R.mlp_forward(x, p, a)[1])))
        try:
            _compare_layers(grads, expected, params, inputs)
        except CheckFailed:
            if not t.failed("mlp_forward"):
                raise
            if len(params) > 3:
                # Too deep for finite differences to be trusted: with a broken forward this
                # case says nothing either way (the shallow ones decide).
                tested -= 1
                continue
            if checked_rows:
                # The forward was found a network on the first case: on the others, random
                # directional derivatives (6 calls, not ~100) test the backward as surely.
                if not _agrees_along_directions(t, x, params, activation, dout, grads):
                    raise
                continue
            # Whether the forward keeps examples apart is asked once: it is no case's property.
            numerical, rows_apart = _own_numerical_mlp(t, x, params, activation, dout,
                                                       rows=True)
            checked_rows = True
            names = [f"{('W', 'b')[i % 2]} of layer {i // 2 + 1}" for i in range(len(numerical))]
            trivial = _trivial_derivative("mlp_forward", dict(zip(names, numerical,
                                                                  strict=True)), dout,
                                          rows_apart=rows_apart)
            if trivial:
                t.notes.append(trivial)
                raise
            if any(relative_difference(g, e) > GRADIENT_TOL
                   for g, e in zip(_flat(grads), numerical, strict=True)):
                raise
    _require_tested(t, "mlp_backward", "mlp_forward", tested)
    if checked_rows:  # every case the broken forward left testable agreed with it
        t.notes.append("mlp_backward matches the gradient of your own mlp_forward")
    # Finite differences through the student's own forward, on a net shallow enough (depth <= 3)
    # for them to be trusted.
    if t.failed("mlp_forward"):
        return
    # Three layers, as few entries as will do: every entry costs two forward calls.
    x = t.rng.normal(size=(3, 2))
    params = _random_params(t.rng, [2, 3, 4, 2])
    dout = t.rng.normal(size=(3, 2))
    _, caches = t.call("mlp_forward", x, params, "tanh")
    grads = t.call("mlp_backward", dout, caches)
    numerical, _ = _own_numerical_mlp(t, x, params, "tanh", dout)
    for index, (g, e) in enumerate(zip(_flat(grads), numerical, strict=True)):
        error = relative_difference(g, e)
        if error > GRADIENT_TOL:
            which = ("dW", "db")[index % 2]
            raise CheckFailed(f"{which} of layer {index // 2 + 1} disagrees with finite "
                              f"differences of your mlp_forward (3-layer tanh net): relative "
                              f"difference {error:.3g} (allowed {GRADIENT_TOL:g})")


def _compare_layers(grads, expected, params, inputs) -> None:
    if len(grads) != len(params):
        raise CheckFailed(f"mlp_backward returned {len(grads)} (dW, db) pairs for a net of "
                          f"{len(params)} layers\n  input: {describe_inputs(inputs)}")
    flat = _flat(grads)
    reversed_order = _flat(grads[::-1])
    for index, (g, e) in enumerate(zip(flat, expected, strict=True)):
        layer, which = index // 2 + 1, ("dW", "db")[index % 2]
        try:
            assert_norm_close(f"{which} of layer {layer}", g, e, inputs, tol=BACKPROP_TOL,
                              hint="walk the caches from the last layer back to the first: "
                                   "dense_backward after the activation's backward, and return "
                                   "the list in the order of params")
        except CheckFailed as failure:
            if len(grads) > 1 and all(
                r.shape == x.shape and relative_difference(r, x) < 1e-9
                for r, x in zip(reversed_order, expected, strict=True)
            ):
                raise CheckFailed(failure.message, diagnosis="returns the right gradients in "
                                  "reversed order: return them first layer first") from None
            raise


# --- gradient checking ---------------------------------------------------------------------------

@check("numerical_gradient", 3)
def check_numerical_gradient(t: Trial) -> None:
    """numerical_gradient: central differences for x of any shape, x left unchanged"""
    for shape, eps in (((5,), None), ((3, 4), None), ((2, 2, 3), 1e-3), ((), 1e-3), ((6,), 1e-3)):
        C = t.rng.uniform(0.5, 2.0, size=shape)
        D = t.rng.uniform(-1.0, 1.0, size=shape)
        x = np.array(t.rng.normal(size=shape))
        spec = ScalarFunction("curved", (("C", C), ("D", D)))
        f = curved(C, D)
        inputs = {"f": "sum(C * x**2) / 2 + sum(D * sin(x))", "x": x}
        if eps is None:
            got = t.call("numerical_gradient", spec, x, inputs=inputs)
            expected, tol = central_differences(f, x, 1e-6), 1e-7
        else:
            inputs["eps"] = eps
            got = t.call("numerical_gradient", spec, x, eps, inputs=inputs)
            expected, tol = central_differences(f, x, eps), 1e-9
        if got.dtype.kind != "f":
            raise CheckFailed(f"numerical_gradient returned dtype {got.dtype}; expected float64")
        step = 1e-6 if eps is None else eps
        variants = {
            "uses forward differences (f(x + eps) - f(x)) / eps; central differences "
            "(f(x + eps) - f(x - eps)) / (2 eps) are far more accurate":
                _forward_differences(f, x, step),
            "misses the factor 2: central differences divide by 2 * eps": 2 * expected,
        }
        try:
            assert_norm_close("the numerical gradient", got, expected, inputs, tol=tol,
                              hint="use central differences (f(x + eps) - f(x - eps)) / "
                                   "(2 * eps), one entry at a time, for every index of an n-d x "
                                   "(np.ndindex)")
        except CheckFailed as failure:
            failure.diagnosis = next((label for label, v in variants.items()
                                      if got.shape == v.shape
                                      and relative_difference(got, v) < 1e-7), None)
            raise


def _forward_differences(f, x: np.ndarray, eps: float) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    base = f(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        grad[index] = (f(x) - base) / eps
        x[index] = original
    return grad


@check("relative_error", 1)
def check_relative_error(t: Trial) -> None:
    """relative_error(a, b) = ||a - b|| / max(||a|| + ||b||, 1e-12)"""
    a = t.rng.normal(size=(4, 3))
    cases = [(a, a + 1e-3 * t.rng.normal(size=a.shape)), (a, -a), (a, np.zeros_like(a)),
             (np.zeros((2, 2)), np.zeros((2, 2))), (np.full(3, 1e-14), np.zeros(3)),
             (t.rng.normal(size=(2, 3, 2)), t.rng.normal(size=(2, 3, 2)))]
    for a, b in cases:
        got = t.call("relative_error", a, b, inputs={"a": a, "b": b})
        expected = np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
        try:
            assert_close("relative_error(a, b)", np.asarray(got), np.asarray(expected),
                         {"a": a, "b": b}, rtol=1e-9, atol=1e-15,
                         hint="Frobenius norms (np.linalg.norm); the denominator is "
                              "max(||a|| + ||b||, 1e-12), so two zero arrays give 0")
        except CheckFailed as failure:
            with np.errstate(all="ignore"):
                by_a = np.linalg.norm(a - b) / np.linalg.norm(a)
            if not np.isfinite(got):
                failure.diagnosis = ("divides by ||a|| + ||b|| without the 1e-12 floor: "
                                     "0 / 0 = NaN when both are zero")
            elif np.isclose(got, by_a, rtol=1e-9):
                failure.diagnosis = "divides by ||a|| only; the measure is symmetric in a and b"
            raise


# --- the lesson: vanishing and healthy gradients, with the student's own network ---------------

DEPTH, WIDTH, BATCH, OUTPUTS = 10, 64, 64, 10
# Thresholds and what the reference (its init_params, mlp_forward, mlp_backward) gives on the nets
# below, measured over seeds 0-99 and 0-2999 (r = ||dW_1|| / ||dW_10||, r_delta = ||dL/dz_1|| /
# ||dL/dz_10||). Every seed is drawn from the grading seed, so the margins hold for any of them.
VANISH_MAX = 1e-3  # sigmoid + Glorot: r <= 1.53e-6 (100 seeds), <= 3.1e-6 (3,000): 650x / 330x
RELU_RATIO_MIN = 1e-2  # ReLU + He: r >= 0.143 (100 seeds; seed 68), >= 0.135 (3,000): 14x / 13x
RELU_RATIO_MAX = 10.0  # ... and r <= 0.73 (100 seeds; seed 34), <= 1.30 (3,000): 14x / 7.7x
RELU_DELTA_MIN = 0.1  # ReLU + He: r_delta >= 0.687 (100 seeds), >= 0.659 (3,000): 6.9x / 6.6x
RELU_DELTA_MAX = 20.0  # ... and r_delta <= 2.57 (100 seeds), <= 3.65 (3,000): 7.8x / 5.5x
LESSON_RUNS = 2  # nets per lesson check, each with its own seed from t.rng


def _lesson_seeds(t: Trial) -> list[int]:
    """The seeds of a lesson check's nets (data and init), drawn from the grading seed."""
    return [int(seed) for seed in t.rng.integers(1 << 31, size=LESSON_RUNS)]


def _deep_gradients(t: Trial, activation: str, seed: int):
    """Student's init + forward + backward on a deep MSE problem; the judge computes dL/dout.

    Fails unless the first and the last hidden layer's weight gradients are finite and non-zero:
    a gradient of exactly 0 did not vanish, nothing was propagated (and 0 / 0 is no ratio).
    """
    data = np.random.default_rng(seed)
    x = data.normal(size=(BATCH, WIDTH))
    target = data.normal(size=(BATCH, OUTPUTS))
    sizes = [WIDTH] * (DEPTH + 1) + [OUTPUTS]
    params = t.call("init_params", sizes, activation, RngSeed(seed))
    if len(params) != len(sizes) - 1:
        raise CheckFailed(f"init_params({sizes}, {activation!r}) returned {len(params)} layers")
    out, caches = t.call("mlp_forward", x, params, activation)
    check_shape(f"mlp_forward's output for the {DEPTH}-layer {activation} net", out,
                target.shape, {"x": x})
    dout = (out - target) / BATCH
    grads = t.call("mlp_backward", dout, caches)
    if len(grads) != len(params) or any(dW.shape != W.shape
                                        for (dW, _), (W, _) in zip(grads, params, strict=True)):
        raise CheckFailed(f"mlp_backward's gradients for the {DEPTH}-layer {activation} net do "
                          "not have the shapes of the parameters")
    if not all(np.all(np.isfinite(dW)) for dW, _ in grads):
        raise CheckFailed(f"the {DEPTH}-layer {activation} net's gradients are not finite numbers")
    for layer in (1, DEPTH):
        if not np.any(grads[layer - 1][0]):
            raise CheckFailed(
                f"in the {DEPTH}-hidden-layer {activation} net (seed {seed}) dW_{layer} is exactly "
                "0: a gradient that is 0 has not vanished, nothing reached that layer (check "
                "that mlp_forward and mlp_backward compute the net's values and gradients)")
    return x, params, dout, grads


def _delta_norms(t: Trial, x: np.ndarray, params, dout: np.ndarray, grads) -> tuple[float, float]:
    """||dL/dz_1|| and ||dL/dz_L|| (L = last hidden layer) of the student's ReLU net, exactly.

    dz_1 comes from the student's own backward pass: dW_1 = x^T dz_1 and x is a square Gaussian
    matrix, so dz_1 = solve(x^T, dW_1). dz_L is one layer from the output: the output layer is
    linear, so dz_L = (dout W_out^T) * relu'(z_L), with relu'(z_L) = [a_L > 0] read from the
    student's own forward pass (their net cut after layer L, with an identity output layer).
    Both agree with per-example backward passes to 1e-15 at a 32nd of the cost.
    """
    dz_first = np.linalg.solve(x.T, grads[0][0])
    cut = [*params[:DEPTH], (np.eye(WIDTH), np.zeros(WIDTH))]
    a_last, _ = t.call("mlp_forward", x, cut, "relu")
    if a_last.shape != (BATCH, WIDTH):
        raise CheckFailed(f"mlp_forward on a net ending in a {WIDTH}-unit linear layer returned "
                          f"shape {a_last.shape}, expected {(BATCH, WIDTH)}")
    dz_last = (dout @ params[DEPTH][0].T) * (a_last > 0)
    return float(np.linalg.norm(dz_first)), float(np.linalg.norm(dz_last))


def _ratio(first: float, last: float) -> float:
    """first / last; inf when last is 0 (the checks make sure first is not)."""
    return first / last if last != 0.0 else float("inf")


@check("vanishing_sigmoid", 3, depends=("init_params", "mlp_forward", "mlp_backward"),
       tags=("init_params", "mlp_forward", "mlp_backward"), own=("mlp_forward", "mlp_backward"))
def check_vanishing_sigmoid(t: Trial) -> None:
    """In your 10-layer sigmoid net (Glorot init) the first layer's gradient vanishes"""
    for seed in _lesson_seeds(t):
        grads = _deep_gradients(t, "sigmoid", seed)[-1]
        norms = [float(np.linalg.norm(dW)) for dW, _ in grads]
        ratio = _ratio(norms[0], norms[DEPTH - 1])
        t.notes.append(f"sigmoid, seed {seed}: ||dW_1|| / ||dW_{DEPTH}|| = {ratio:.3g}")
        if ratio > VANISH_MAX:
            raise CheckFailed(
                f"in a {DEPTH}-hidden-layer sigmoid net of width {WIDTH} (your init_params, "
                f"mlp_forward, mlp_backward; seed {seed}) ||dW_1|| / ||dW_{DEPTH}|| = "
                f"{ratio:.3g}; it should vanish (<= {VANISH_MAX:g}): each sigmoid layer "
                "multiplies the gradient by sigma'(z) <= 1/4"
            )


@check("vanishing_relu", 3, depends=("init_params", "mlp_forward", "mlp_backward"),
       tags=("init_params", "mlp_forward", "mlp_backward"), own=("mlp_forward", "mlp_backward"))
def check_vanishing_relu(t: Trial) -> None:
    """In your 10-layer ReLU net (He init) the first layer still gets a healthy gradient"""
    for seed in _lesson_seeds(t):
        x, params, dout, grads = _deep_gradients(t, "relu", seed)
        norms = [float(np.linalg.norm(dW)) for dW, _ in grads]
        ratio = _ratio(norms[0], norms[DEPTH - 1])
        delta_ratio = _ratio(*_delta_norms(t, x, params, dout, grads))
        t.notes.append(f"relu, seed {seed}: ||dW_1|| / ||dW_{DEPTH}|| = {ratio:.3g}, "
                       f"||dL/dz_1|| / ||dL/dz_{DEPTH}|| = {delta_ratio:.3g}")
        # A band, not a floor: a gradient that grows layer to layer (an exploding net) is no
        # healthier than one that vanishes.
        if not (RELU_RATIO_MIN <= ratio <= RELU_RATIO_MAX
                and RELU_DELTA_MIN <= delta_ratio <= RELU_DELTA_MAX):
            raise CheckFailed(
                f"in a {DEPTH}-hidden-layer ReLU net of width {WIDTH} with He init (seed "
                f"{seed}) ||dW_1|| / ||dW_{DEPTH}|| = {ratio:.3g} (needs {RELU_RATIO_MIN:g} to "
                f"{RELU_RATIO_MAX:g}) and ||dL/dz_1|| / ||dL/dz_{DEPTH}|| = {delta_ratio:.3g} "
                f"(needs {RELU_DELTA_MIN:g} to {RELU_DELTA_MAX:g}); ReLU with He init keeps "
                "the gradient's size layer to layer, neither vanishing nor exploding"
            )
