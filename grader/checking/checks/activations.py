"""Checks of ``activations.py``: sigmoid, tanh, relu and leaky_relu, and their derivatives.

Values are compared on every rank and dtype; a derivative is also held to finite differences of
the student's own forward, when that forward passed its own check.
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks.helpers import GRADIENT_TOL, H, away_from_zero
from grader.checking.compare import (
    CheckFailed,
    assert_close,
    describe_inputs,
    relative_difference,
    show,
)
from grader.checking.trial import Trial, check


def _elementwise_cases(t: Trial, kink: bool) -> list[tuple[str, np.ndarray]]:
    """Inputs of every rank and dtype; for kinked functions none lies within 0.01 of zero."""
    rng = t.rng

    def draw(shape, scale=3.0):
        if kink:
            return away_from_zero(rng, shape, scale, 0.01)
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


# Slopes that are exactly 0 or 1 (relu_grad) are right in any dtype: (z > 0).astype(int) is the
# right derivative, and numpy promotes it when it is multiplied into float gradients. Such an
# answer earns its points with a note; other functions must return floats.
INTEGER_SLOPES_ACCEPTED = ("relu_grad", "leaky_relu_grad")


def _integer_slopes(t: Trial, name: str, got: np.ndarray) -> bool:
    """Whether ``got`` is an integer or boolean answer that ``name`` may give (noted once)."""
    if name not in INTEGER_SLOPES_ACCEPTED or got.dtype.kind not in "biu":
        return False
    note = (f"{name} returns dtype {got.dtype}: its values are right and earn the points, but "
            "a derivative is a float array like its input; return floats, e.g. "
            "np.where(z > 0, 1.0, 0.0) or (z > 0).astype(z.dtype)")
    if note not in t.notes:
        t.notes.append(note)
    return True


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

def _check_values(t: Trial, name: str, hint: str, kink: bool, alphas: tuple = ()) -> None:
    """Values against the expected ones on every rank and dtype, and for non-default alphas."""
    for label, z in _elementwise_cases(t, kink=kink):
        got = t.call(name, z, inputs={"z": z})
        expected = t.expect(name, (z,), lambda R, z=z: getattr(R, name)(z))[0]
        if not _integer_slopes(t, name, np.asarray(got)):
            _assert_float_dtype(name, got, z)
        with t.diagnosing(name, (z,), got):
            assert_close(f"{name}(z)", got, expected, {"z": z, "case": label}, hint=hint,
                         elementwise_input=z, **_tolerances(z))
    for alpha in alphas:
        z = away_from_zero(t.rng, (4, 5), 2.0, 0.01)
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
                "the sign of z.",
                diagnosis="computes exp(-z) for every z: the values are right, but exp(-z) "
                          "overflows for large negative z (numpy warns); choose the formula by "
                          "the sign of z")


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
        z = away_from_zero(t.rng, (6, 4), 2.0, 0.05) if kink else t.rng.normal(0, 2.0, (6, 4))
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
