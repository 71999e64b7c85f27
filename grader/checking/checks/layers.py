"""Checks of ``layers.py``: the dense layer, the activation layer and the two losses.

A backward whose forward failed its own check is held to the student's own forward instead of
the reference (``helpers.agrees_with_own_forward``): a bug costs only the check of the function
that has it.
"""

from __future__ import annotations

import functools

import numpy as np

from grader.checking.checks.helpers import (
    GRADIENT_TOL,
    agrees_with_own_forward,
    away_from_zero,
    backward_on_own_cache,
    own_numerical,
    require_tested,
)
from grader.checking.compare import CheckFailed, assert_close, relative_difference
from grader.checking.diagnoses import probe_rng, probing_when_unnamed
from grader.checking.trial import Trial, check
from grader.spec.api import ACTIVATION_NAMES


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
    rng = probe_rng(t, "dense_forward")
    probe = (rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.normal(size=3))
    with probing_when_unnamed(t, "dense_forward", probe,
                              lambda: t.call("dense_forward", *probe)[0]):
        _check_dense_forward(t)


def _check_dense_forward(t: Trial) -> None:
    for x, W, b in _dense_cases(t):
        out, _ = t.call("dense_forward", x, W, b, inputs={"x": x, "W": W, "b": b})
        expected = t.expect("dense_forward", (x, W, b), lambda R, x=x, W=W, b=b:
                            R.dense_forward(x, W, b)[0])[0]
        with t.diagnosing("dense_forward", (x, W, b), out):
            assert_close("out", out, expected, {"x": x, "W": W, "b": b},
                         hint="out = x @ W + b: x is (N, D), W is (D, M), b is (M,)")


def _own_numerical_dense(t: Trial, x, W, b, dout) -> tuple[list[np.ndarray], bool]:
    """Finite differences of sum(dout * dense_forward(x, W, b)) through the student's forward
    (dx, dW, db shaped like x, W, b), and whether that forward keeps the examples apart."""
    return own_numerical(t, "dense_forward", (x, W, b), tuple, dout, batch=x)


# dW is what the lesson measures (the size of each layer's weight gradient), so it weighs most;
# dx, dW and db are computed from different products, so each can be right while another is not.
@check("dense_backward", 4, depends=("dense_forward",), parts={"dx": 1, "dW": 2, "db": 1})
def check_dense_backward(t: Trial) -> None:
    """dense_backward returns dx (N, D), dW (D, M) and db (M,) of out = x @ W + b"""
    rng = probe_rng(t, "dense_backward")
    probe = (rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.normal(size=3),
             rng.normal(size=(3, 3)))

    def run() -> tuple:
        x, W, b, dout = probe
        return tuple(t.call("dense_backward", dout, t.call("dense_forward", x, W, b)[1]))

    with probing_when_unnamed(t, "dense_backward", probe, run):
        _check_dense_backward(t)


def _check_dense_backward(t: Trial) -> None:
    hints = {
        "dx": "dx = dout @ W.T has the shape of x (N, D)",
        "dW": "dW = x.T @ dout has the shape of W (D, M)",
        "db": "db sums dout over the batch axis (axis 0): shape (M,), a sum, not a mean",
    }
    tested, vindicated = 0, False
    for x, W, b in _dense_cases(t):
        dout = t.rng.normal(size=(x.shape[0], W.shape[1]))
        inputs = {"x": x, "W": W, "b": b, "dout": dout}
        got = backward_on_own_cache(t, "dense_forward", "dense_backward", (x, W, b), dout, inputs)
        if got is None:
            continue
        tested += 1
        expected = t.expect("dense_backward", (x, W, b, dout), lambda R, x=x, W=W, b=b, d=dout:
                            R.dense_backward(d, R.dense_forward(x, W, b)[1]))
        if not t.failed("dense_forward"):
            # Each gradient on its own: a wrong db (summed with keepdims=True, say) costs only
            # db's share. The diagnosis still reads the whole answer.
            for label, g, e in zip(("dx", "dW", "db"), got, expected, strict=True):
                with t.part(label), t.diagnosing("dense_backward", (x, W, b, dout), got):
                    assert_close(label, g, e, inputs, hint=hints[label])
            continue
        # A broken forward: the backward is judged whole against that forward (below), so the
        # parts are not split here.
        try:
            with t.diagnosing("dense_backward", (x, W, b, dout), got):
                for label, g, e in zip(("dx", "dW", "db"), got, expected, strict=True):
                    assert_close(label, g, e, inputs, hint=hints[label])
        except CheckFailed:
            if not t.failed("dense_forward"):
                raise
            # Your forward is wrong; a backward that is right *for your forward* earns its
            # points, on every case, if that forward is a layer at all.
            numerical, apart = _own_numerical_dense(t, x, W, b, dout)
            if not agrees_with_own_forward(t, "dense_forward", got,
                                           dict(zip("xWb", numerical, strict=True)), dout,
                                           rows_apart=apart, shapes=inputs):
                raise
            vindicated = True
    require_tested(t, "dense_backward", "dense_forward", tested)
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
            with t.part(label):
                if error > GRADIENT_TOL:
                    raise CheckFailed(f"{label} disagrees with finite differences of your "
                                      f"dense_forward: relative difference {error:.3g}\n"
                                      f"  hint: {hints[label]}")


@check("activation_forward", 2, depends=("sigmoid", "tanh", "relu", "leaky_relu"))
def check_activation_forward(t: Trial) -> None:
    """activation_forward(z, name) applies the named activation"""
    for name in ACTIVATION_NAMES:
        z = away_from_zero(t.rng, (5, 3), 2.0, 0.01)
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
        z = away_from_zero(t.rng, (5, 3), 2.0, 0.05)
        da = t.rng.normal(size=z.shape)
        cases.append((name, z, da))
    # Whether the student's own forward gets any activation right (asked only when needed): a
    # forward right for none of them (z * z for every name, say) is no activation layer, and
    # cannot vouch for a backward.
    some_forward_right = functools.cache(
        lambda: any(_forward_right(t, z, name) for name, z, _ in cases))

    def none_right() -> str | None:
        if some_forward_right():
            return None
        return ("your activation_forward is right for none of the activations, so it cannot "
                "vouch for a backward")

    for name, z, da in cases:
        inputs = {"z": z, "da": da, "activation": name}
        got = backward_on_own_cache(t, "activation_forward", "activation_backward", (z, name), da,
                                    inputs)
        if got is None:
            continue
        tested += 1
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
            (numerical,), _ = own_numerical(t, "activation_forward", (z,),
                                            lambda v, n=name: (v[0], n), da)
            if not agrees_with_own_forward(t, "activation_forward", (got,), {"z": numerical}, da,
                                           elementwise=True, cannot_vouch=none_right,
                                           about=f" ({name!r})"):
                raise
            t.notes.append(f"activation_backward matches your own activation_forward for {name}")
    require_tested(t, "activation_backward", "activation_forward", tested)


# The loss value and its gradient are separate formulas: one can be right without the other.
@check("mse_loss", 2, parts={"value": 1, "gradient": 1})
def check_mse_loss(t: Trial) -> None:
    """mse_loss returns sum((pred - target)**2) / (2N) and its gradient (pred - target) / N"""
    for n, m in ((6, 3), (1, 2), (4, 4)):
        pred, target = t.rng.normal(size=(n, m)), t.rng.normal(size=(n, m))
        inputs = {"pred": pred, "target": target}
        loss, dpred = t.call("mse_loss", pred, target, inputs=inputs)
        e_loss, e_dpred = t.expect("mse_loss", (pred, target),
                                   lambda R, p=pred, y=target: R.mse_loss(p, y))
        with t.part("value"), t.diagnosing("mse_loss", (pred, target), (loss, dpred)):
            assert_close("loss", np.asarray(loss), e_loss, inputs, rtol=1e-9,
                         hint="loss = sum((pred - target)**2) / (2 * N), N = pred.shape[0]")
        with t.part("gradient"), t.diagnosing("mse_loss", (pred, target), (loss, dpred)):
            assert_close("dpred", dpred, e_dpred, inputs,
                         hint="d/dpred of sum((pred - target)**2) / (2N) is (pred - target) / N")


# dlogits (with its stability on large logits) is the harder half, so it weighs more.
@check("softmax_cross_entropy", 3, parts={"value": 1, "gradient": 2})
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
        hint = _softmax_hint(loss, dlogits)
        args = (logits, labels)
        with t.part("value"), t.diagnosing("softmax_cross_entropy", args, (loss, dlogits)):
            assert_close("loss", np.asarray(loss), e_loss, inputs, rtol=1e-9, hint=hint)
        with t.part("gradient"), t.diagnosing("softmax_cross_entropy", args, (loss, dlogits)):
            assert_close("dlogits", dlogits, e_dlogits, inputs, hint=hint)


def _softmax_hint(loss, dlogits) -> str:
    """The hint that fits what the code did, read from its answer (no reference needed).

    A softmax that subtracts the row max never overflows: an infinite loss with finite dlogits
    is log(0) from a probability that underflowed, and shifting again would not help; NaN comes
    from exp overflowing (inf / inf), which the shift cures.
    """
    with np.errstate(all="ignore"):
        loss_value = np.asarray(loss, dtype=np.float64)
        gradient = np.asarray(dlogits, dtype=np.float64)
    formulas = ("loss = mean over the batch of -log softmax(logits)[label]; dlogits = "
                "(softmax - onehot) / N")
    log_sum_exp = ("take the log with log-sum-exp, never log(probabilities): log softmax = "
                   "shifted - log(sum(exp(shifted))), shifted = logits - max of each row")
    if np.any(np.isinf(loss_value)) and np.all(np.isfinite(gradient)):
        return f"{log_sum_exp}; {formulas}"
    if np.any(np.isnan(loss_value)) or not np.all(np.isfinite(gradient)):
        return f"subtract each row's max before exp, then {log_sum_exp}; {formulas}"
    return f"subtract each row's max before exp; {formulas}"
