"""Checks of ``network.py``: init_params, mlp_forward and mlp_backward.

``init_params`` is judged by the statistics of the weights it draws; its diagnoses
(``_init_diagnosis``) stay here because they read those statistics (variance, kurtosis), not an
output a known wrong formula would give. ``_computes_nothing`` stays too: it calls the student's
net again on other inputs to tell "no maths" from a wrong answer.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from grader.checking.checks.helpers import (
    GRADIENT_TOL,
    H,
    agrees_with_own_forward,
    backward_on_own_cache,
    own_numerical,
    require_tested,
)
from grader.checking.compare import (
    CheckFailed,
    assert_close,
    assert_norm_close,
    check_shape,
    describe_inputs,
    relative_difference,
    show,
)
from grader.checking.diagnoses import probe_rng, probing_when_unnamed, reversed_layers
from grader.checking.trial import Trial, check
from grader.spec.api import ACTIVATION_NAMES
from grader.spec.protocol import RngSeed

BACKPROP_TOL = 1e-7  # per-layer ||g - g_ref|| / ||g_ref||: float64 implementations agree to 1e-14


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
                raise CheckFailed(f"{where}: biases must start at zero, got {show(b)}\n"
                                  "  hint: b = np.zeros(fan_out)",
                                  diagnosis=_bias_diagnosis(b))
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
            # Not a misconception: He et al. (2015) show either fan works; the spec says fan-in.
            return ("scales He init by fan_out: the assignment asks for fan-in, N(0, 2 / fan_in) "
                    "(He et al. show fan-out also works, but the checks use fan-in)")
        if near(var, (2.0 / fan_in) ** 2):
            return ("uses the variance 2 / fan_in as the scale of rng.normal, which takes the "
                    "standard deviation: scale = sqrt(2 / fan_in)")
        if near(var, 1.0 / fan_in):
            return ("uses the variance 1 / fan_in (LeCun's); He init for ReLU layers doubles "
                    "it, 2 / fan_in, because a ReLU passes on half of its input")
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
        if near(var, limit_sq / 12) and kurtosis < 2.2:
            return ("draws from U(0, a): Glorot uniform is symmetric about 0, U(-a, a) with "
                    "a = sqrt(6 / (fan_in + fan_out))")
        if near(var, limit_sq**2 / 3) and kurtosis < 2.2:
            return ("uses 6 / (fan_in + fan_out) as the bound a; the bound is its square root, "
                    "a = sqrt(6 / (fan_in + fan_out))")
        if near(var, 2.0 / fan_in):
            return "uses He init for a sigmoid/tanh layer; these use Glorot uniform"
    return None


def _bias_diagnosis(b: np.ndarray) -> str:
    """Name the nonzero start of a bias vector b (M,), read from its values."""
    if np.all(b == b.reshape(-1)[0]):
        return (f"gives every bias the start value {float(b.reshape(-1)[0]):g}; biases start at "
                "zero, np.zeros(fan_out)")
    return ("gives the biases random start values; biases start at zero, np.zeros(fan_out): "
            "the random weights already make the units differ")


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
    """Finite differences of sum(dout * mlp_forward(x, params, activation)) through the
    student's forward, one array per entry of ``_flat(params)``; with ``rows``, also whether that
    forward keeps the examples of x apart (True when not asked)."""
    def assemble(values: list[np.ndarray]) -> tuple:
        return x, [(values[i], values[i + 1]) for i in range(0, len(values), 2)], activation

    return own_numerical(t, "mlp_forward", _flat(params), assemble, dout,
                         batch=x if rows else None)


@check("mlp_backward", 4, depends=("mlp_forward", "dense_backward", "activation_backward"))
def check_mlp_backward(t: Trial) -> None:
    """mlp_backward: per-layer (dW, db) in the order of params, right in every layer"""
    # Every width equal, so a walk back with a layer's steps out of order runs and is named.
    rng = probe_rng(t, "mlp_backward")
    x, params, dout = rng.normal(size=(4, 3)), _random_params(rng, [3, 3, 3, 3]), \
        rng.normal(size=(4, 3))

    def run() -> tuple:
        return _flat(t.call("mlp_backward", dout, t.call("mlp_forward", x, params, "tanh")[1]))

    with probing_when_unnamed(t, "mlp_backward", (x, params, "tanh", dout), run):
        _probing_for_nothing(t, "mlp_backward", lambda: _check_mlp_backward(t))


def _check_mlp_backward(t: Trial) -> None:
    tested = 0
    checked_rows = False
    for x, params, activation in _mlp_cases(t):
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        dout = t.rng.normal(size=(x.shape[0], sizes[-1]))
        inputs = {"x": x, "layer_sizes": sizes, "activation": activation, "dout": dout}
        grads = backward_on_own_cache(t, "mlp_forward", "mlp_backward", (x, params, activation),
                                      dout, inputs)
        if grads is None:
            continue
        tested += 1
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
            numerical, apart = _own_numerical_mlp(t, x, params, activation, dout, rows=True)
            checked_rows = True
            names = [f"{('W', 'b')[i % 2]} of layer {i // 2 + 1}" for i in range(len(numerical))]
            if not agrees_with_own_forward(t, "mlp_forward", _flat(grads),
                                           dict(zip(names, numerical, strict=True)), dout,
                                           rows_apart=apart):
                raise
    require_tested(t, "mlp_backward", "mlp_forward", tested)
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
    for index, (g, e) in enumerate(zip(_flat(grads), expected, strict=True)):
        layer, which = index // 2 + 1, ("dW", "db")[index % 2]
        try:
            assert_norm_close(f"{which} of layer {layer}", g, e, inputs, tol=BACKPROP_TOL,
                              hint="walk the caches from the last layer back to the first: "
                                   "dense_backward after the activation's backward, and return "
                                   "the list in the order of params")
        except CheckFailed as failure:
            diagnosis = reversed_layers(grads, expected)
            if diagnosis:
                raise CheckFailed(failure.message, diagnosis=diagnosis) from None
            raise
