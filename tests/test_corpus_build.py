"""The submission corpus: the builder works, correct entries are correct, and every bug is a bug.

Each corpus entry is built into a temporary folder, imported as a package (with the
``exercises``/flat-module aliases a student's imports may need) and probed against the reference
solutions. One probe per grader check name: a probe raises ``Mismatch`` when the submission
disagrees with the reference (different output, exception, warning or a modified input).

- correct entries: every probe agrees;
- bug entries: every blamed probe disagrees, and every other probe that does not depend on a
  blamed function still agrees (so ``blames`` is neither too short nor too long).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import itertools
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grader.spec.api import ACTIVATION_NAMES
from grader.spec.api import MODULES as MODULES_API
from solutions import activations as ref_act
from solutions import gradient_check as ref_gc
from solutions import layers as ref_layers
from solutions import network as ref_net
from tests.corpus.build import (
    CHECKS,
    MODULES,
    SOLUTIONS_DIR,
    CorpusError,
    apply_entry,
    build_submission,
    load_entries,
    parse_entry,
)

# The API as the grader defines it; the probes below are an independent second oracle.
API = MODULES_API
FUNCTION_MODULE = {fn: module for module, fns in API.items() for fn in fns}

# The API function each check grades.
CHECK_FUNCTION = {name: name for name in FUNCTION_MODULE}
CHECK_FUNCTION.update(
    sigmoid_stability="sigmoid", vanishing_sigmoid="init_params", vanishing_relu="init_params"
)

# Functions a check's probe calls besides its own (a broken one makes the probe meaningless).
_DIRECT_DEPENDS = {
    "sigmoid_grad": {"sigmoid"},
    "tanh_grad": {"tanh"},
    "relu_grad": {"relu"},
    "leaky_relu_grad": {"leaky_relu"},
    "activation_forward": {"sigmoid", "tanh", "relu", "leaky_relu"},
    "activation_backward": {
        "activation_forward",
        "sigmoid_grad",
        "tanh_grad",
        "relu_grad",
        "leaky_relu_grad",
    },
    "dense_backward": {"dense_forward"},
    "mlp_forward": {"dense_forward", "activation_forward"},
    "mlp_backward": {"mlp_forward", "dense_backward", "activation_backward"},
    # The grader re-runs these with the reference in place of a failed init_params.
    "vanishing_sigmoid": {"init_params", "mlp_forward", "mlp_backward"},
    "vanishing_relu": {"init_params", "mlp_forward", "mlp_backward"},
}


def _depends(check: str) -> set[str]:
    """Transitive dependencies (function names) of a check, excluding its own function."""
    seen: set[str] = set()
    todo = list(_DIRECT_DEPENDS.get(check, ()))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_DIRECT_DEPENDS.get(name, ()))
    return seen


ALL_ENTRIES = load_entries()
CORRECT = [entry for entry in ALL_ENTRIES if entry.kind == "correct"]
BUGS = [entry for entry in ALL_ENTRIES if entry.kind == "bug"]


# ----------------------------------------------------------------------------- importing


_ALIASES = ("exercises", *(f"exercises.{m}" for m in MODULES), *MODULES)
_counter = itertools.count()


@contextlib.contextmanager
def imported(folder: Path) -> Iterator[SimpleNamespace]:
    """Import a built submission folder as a fresh package; undo every sys.modules change after."""
    package = f"_corpus_submission_{next(_counter)}"
    missing = object()
    saved = {name: sys.modules.get(name, missing) for name in _ALIASES}
    importlib.invalidate_caches()
    try:
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[package] = pkg
        spec.loader.exec_module(pkg)
        # A student module may say `from exercises.layers import ...` or `from layers import ...`.
        sys.modules["exercises"] = pkg
        modules = {}
        for name in MODULES:  # dependency order: activations, layers, network, gradient_check
            module = importlib.import_module(f"{package}.{name}")
            sys.modules[f"exercises.{name}"] = module
            sys.modules[name] = module
            modules[name] = module
        yield SimpleNamespace(**modules)
    finally:
        for name, module in saved.items():
            if module is missing:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]


# ----------------------------------------------------------------------------- probing helpers


class Mismatch(AssertionError):
    """The submission disagrees with the reference."""


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list | tuple):
        return type(value)(_snapshot(v) for v in value) if not hasattr(value, "_fields") else value
    return None


def _unchanged(before, after) -> bool:
    if before is None:
        return True
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and np.array_equal(before, after, equal_nan=True)
        )
    if isinstance(before, list | tuple):
        if not hasattr(before, "_fields"):
            return len(before) == len(after) and all(
                _unchanged(b, a) for b, a in zip(before, after, strict=True)
            )
    return True


def _run(fn: Callable, *args, allow_warnings: bool = False, **kwargs):
    """Call the submission; exceptions, warnings and modified inputs are mismatches."""
    before = [_snapshot(arg) for arg in args]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore" if allow_warnings else "always")
        with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:  # any exception is a finding
                raise Mismatch(f"{fn.__name__} raised {exc!r}") from exc
    if caught and not allow_warnings:
        raise Mismatch(f"{fn.__name__} warned: {caught[0].message}")
    for index, (old, arg) in enumerate(zip(before, args, strict=True)):
        if not _unchanged(old, arg):
            raise Mismatch(f"{fn.__name__} modified its argument #{index}")
    return result


def _close(actual, expected, what: str, rtol: float = 1e-7, atol: float = 1e-10,
           integers: bool = False) -> None:
    try:
        actual = np.asarray(actual)
    except Exception as exc:
        raise Mismatch(f"{what}: not an array ({exc!r})") from exc
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise Mismatch(f"{what}: shape {actual.shape}, expected {expected.shape}")
    if actual.dtype.kind != "f" and not (integers and actual.dtype.kind in "biu"):
        raise Mismatch(f"{what}: dtype {actual.dtype}, expected a float dtype")
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        if not np.isfinite(actual).all():
            raise Mismatch(f"{what}: non-finite values {actual[~np.isfinite(actual)][:3]}")
        worst = np.max(np.abs(actual - expected))
        raise Mismatch(f"{what}: values differ (max abs diff {worst:.3g})")


def _elementwise_inputs(seed: int, away_from_zero: bool = True) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(0.0, 3.0, size=shape) for shape in [(), (7,), (3, 4), (2, 3, 4)]]
    if away_from_zero:
        for z in arrays:
            z[np.abs(z) < 1e-3] = 0.5
    return arrays


def _elementwise(sub_fn, ref_fn, seed: int, away_from_zero: bool = True, **kwargs) -> None:
    # Right slopes of a ReLU in an integer or boolean dtype are right (issue #10, item 3).
    integers = sub_fn.__name__ in ("relu_grad", "leaky_relu_grad")
    for z in _elementwise_inputs(seed, away_from_zero):
        expected = ref_fn(z.copy(), **kwargs)
        _close(_run(sub_fn, z, **kwargs), expected, f"{sub_fn.__name__}{z.shape}",
               integers=integers)
    z32 = _elementwise_inputs(seed + 1, away_from_zero)[2].astype(np.float32)
    expected = ref_fn(z32.astype(np.float64), **kwargs)
    _close(_run(sub_fn, z32, **kwargs), expected, f"{sub_fn.__name__}(float32)", 1e-5, 1e-6,
           integers=integers)


def _grad_at_zero(sub_fn, allowed: tuple[float, ...], **kwargs) -> None:
    value = np.asarray(_run(sub_fn, np.zeros(3), **kwargs))
    if value.shape != (3,) or not all(np.any(np.isclose(v, allowed)) for v in value):
        raise Mismatch(f"{sub_fn.__name__}(0) = {value}, expected one of {allowed}")


# ----------------------------------------------------------------------------- the probes


def probe_sigmoid(sub):
    for z in _elementwise_inputs(10, away_from_zero=False):
        _close(_run(sub.activations.sigmoid, z, allow_warnings=True), ref_act.sigmoid(z), "sigmoid")
    big = np.array([-1e4, -1e3, -60.0, 0.0, 60.0, 1e3, 1e4])
    expected = ref_act.sigmoid(big)
    _close(_run(sub.activations.sigmoid, big, allow_warnings=True), expected, "sigmoid(large)")
    z32 = np.linspace(-8, 8, 9, dtype=np.float32)
    expected = ref_act.sigmoid(z32.astype(np.float64))
    _close(_run(sub.activations.sigmoid, z32), expected, "sigmoid(float32)", 1e-5, 1e-6)


def probe_sigmoid_stability(sub):
    z = np.array([-1e4, -1e3, -710.0, -100.0, 0.0, 100.0, 710.0, 1e3, 1e4])
    out = np.asarray(_run(sub.activations.sigmoid, z))
    if np.isnan(out).any():
        raise Mismatch("sigmoid returned NaN for large |z|")
    _close(out, ref_act.sigmoid(z), "sigmoid(extreme)", 0.0, 1e-12)


def probe_sigmoid_grad(sub):
    _elementwise(sub.activations.sigmoid_grad, ref_act.sigmoid_grad, 11, away_from_zero=False)


def probe_tanh(sub):
    _elementwise(sub.activations.tanh, ref_act.tanh, 12, away_from_zero=False)


def probe_tanh_grad(sub):
    _elementwise(sub.activations.tanh_grad, ref_act.tanh_grad, 13, away_from_zero=False)


def probe_relu(sub):
    _elementwise(sub.activations.relu, ref_act.relu, 14, away_from_zero=False)


def probe_relu_grad(sub):
    _elementwise(sub.activations.relu_grad, ref_act.relu_grad, 15)
    _grad_at_zero(sub.activations.relu_grad, (0.0, 1.0))


def probe_leaky_relu(sub):
    _elementwise(sub.activations.leaky_relu, ref_act.leaky_relu, 16, away_from_zero=False)
    _elementwise(sub.activations.leaky_relu, ref_act.leaky_relu, 17, alpha=0.2)


def probe_leaky_relu_grad(sub):
    _elementwise(sub.activations.leaky_relu_grad, ref_act.leaky_relu_grad, 18)
    _elementwise(sub.activations.leaky_relu_grad, ref_act.leaky_relu_grad, 19, alpha=0.2)
    _grad_at_zero(sub.activations.leaky_relu_grad, (0.01, 1.0))
    _grad_at_zero(sub.activations.leaky_relu_grad, (0.2, 1.0), alpha=0.2)


def _dense_data(seed: int):
    rng = np.random.default_rng(seed)
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    return x, W, b, rng.normal(size=(4, 5))


def probe_dense_forward(sub):
    x, W, b, _ = _dense_data(20)
    expected, _ = ref_layers.dense_forward(x, W, b)
    result = _run(sub.layers.dense_forward, x, W, b)
    _close(result[0], expected, "dense_forward out")


def probe_dense_backward(sub):
    x, W, b, dout = _dense_data(21)
    _, ref_cache = ref_layers.dense_forward(x.copy(), W.copy(), b.copy())
    expected = ref_layers.dense_backward(dout.copy(), ref_cache)
    _, cache = _run(sub.layers.dense_forward, x, W, b)
    result = _run(sub.layers.dense_backward, dout, cache)
    if len(result) != 3:
        raise Mismatch("dense_backward must return (dx, dW, db)")
    for name, got, want in zip(("dx", "dW", "db"), result, expected, strict=True):
        _close(got, want, f"dense_backward {name}")


def _activation_data(seed: int):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, size=(4, 5))
    z[np.abs(z) < 1e-3] = 0.5
    return z, rng.normal(size=(4, 5))


def probe_activation_forward(sub):
    z, _ = _activation_data(22)
    for name in ACTIVATION_NAMES:
        expected, _ = ref_layers.activation_forward(z.copy(), name)
        result = _run(sub.layers.activation_forward, z, name)
        _close(result[0], expected, f"activation_forward({name})")


def probe_activation_backward(sub):
    z, da = _activation_data(23)
    for name in ACTIVATION_NAMES:
        _, ref_cache = ref_layers.activation_forward(z.copy(), name)
        expected = ref_layers.activation_backward(da.copy(), ref_cache)
        _, cache = _run(sub.layers.activation_forward, z, name)
        result = _run(sub.layers.activation_backward, da, cache)
        _close(result, expected, f"activation_backward({name})")


def probe_mse_loss(sub):
    rng = np.random.default_rng(24)
    pred, target = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected_loss, expected_grad = ref_layers.mse_loss(pred.copy(), target.copy())
    loss, dpred = _run(sub.layers.mse_loss, pred, target)
    _close(loss, expected_loss, "mse_loss loss")
    _close(dpred, expected_grad, "mse_loss dpred")


def probe_softmax_cross_entropy(sub):
    rng = np.random.default_rng(25)
    logits = rng.normal(0.0, 3.0, size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    for scaled in (logits, logits * 1000.0, logits + 1e4):
        expected_loss, expected_grad = ref_layers.softmax_cross_entropy(scaled.copy(), labels)
        loss, dlogits = _run(sub.layers.softmax_cross_entropy, scaled, labels)
        _close(loss, expected_loss, "softmax_cross_entropy loss", 1e-7, 1e-9)
        _close(dlogits, expected_grad, "softmax_cross_entropy dlogits")


def probe_init_params(sub):
    sizes = [300, 200, 100]
    global_state = np.random.get_state()
    try:
        for activation in ACTIVATION_NAMES:
            np.random.seed(1)
            rng = np.random.default_rng(42)
            before = rng.bit_generator.state
            params = _run(sub.network.init_params, list(sizes), activation, rng)
            if rng.bit_generator.state == before:
                raise Mismatch(f"init_params({activation}) drew nothing from rng")
            np.random.seed(2)
            again = _run(
                sub.network.init_params, list(sizes), activation, np.random.default_rng(42)
            )
            if len(params) != len(sizes) - 1 or len(again) != len(params):
                raise Mismatch(f"init_params({activation}) returned {len(params)} layers")
            for (fan_in, fan_out), (W, b), (W2, b2) in zip(
                zip(sizes[:-1], sizes[1:], strict=True), params, again, strict=True
            ):
                _check_layer(activation, fan_in, fan_out, W, b)
                if not (np.array_equal(W, W2) and np.array_equal(b, b2)):
                    raise Mismatch(f"init_params({activation}) is not reproducible from rng")
    finally:
        np.random.set_state(global_state)


def _check_layer(activation: str, fan_in: int, fan_out: int, W, b) -> None:
    what = f"init_params({activation}) layer {fan_in}x{fan_out}"
    W, b = np.asarray(W), np.asarray(b)
    if W.shape != (fan_in, fan_out) or b.shape != (fan_out,):
        raise Mismatch(f"{what}: shapes {W.shape}, {b.shape}")
    if W.dtype != np.float64 or b.dtype != np.float64:
        raise Mismatch(f"{what}: dtypes {W.dtype}, {b.dtype}")
    if np.any(b != 0):
        raise Mismatch(f"{what}: biases are not zero")
    if activation in ("sigmoid", "tanh"):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        std = limit / np.sqrt(3.0)
        if np.abs(W).max() > limit:
            raise Mismatch(f"{what}: weights outside (-{limit:.4f}, {limit:.4f})")
    else:
        std = np.sqrt(2.0 / fan_in)
        centred = (W - W.mean()) / W.std()
        excess_kurtosis = float(np.mean(centred**4) - 3.0)
        if abs(excess_kurtosis) > 0.3:
            raise Mismatch(f"{what}: not normally distributed (kurtosis {excess_kurtosis:.2f})")
    if abs(W.std() / std - 1.0) > 0.05:
        raise Mismatch(f"{what}: std {W.std():.5f}, expected {std:.5f}")
    if abs(W.mean()) > 0.05 * std:
        raise Mismatch(f"{what}: mean {W.mean():.5f}, expected 0")


def _mlp_cases():
    rng = np.random.default_rng(26)
    for sizes in ([4, 6, 5, 3], [4, 3]):
        for activation in ACTIVATION_NAMES:
            params = ref_net.init_params(sizes, activation, rng)
            x = rng.normal(size=(7, sizes[0]))
            dout = rng.normal(size=(7, sizes[-1]))
            yield activation, params, x, dout


def probe_mlp_forward(sub):
    for activation, params, x, _ in _mlp_cases():
        expected, _ = ref_net.mlp_forward(x.copy(), params, activation)
        result = _run(sub.network.mlp_forward, x, params, activation)
        _close(result[0], expected, f"mlp_forward({activation}, {len(params)} layers)")


def probe_mlp_backward(sub):
    for activation, params, x, dout in _mlp_cases():
        _, ref_caches = ref_net.mlp_forward(x.copy(), params, activation)
        expected = ref_net.mlp_backward(dout.copy(), ref_caches)
        _, caches = _run(sub.network.mlp_forward, x, params, activation)
        grads = _run(sub.network.mlp_backward, dout, caches)
        if len(grads) != len(expected):
            raise Mismatch(f"mlp_backward returned {len(grads)} layers, expected {len(expected)}")
        for i, ((dW, db), (ref_dW, ref_db)) in enumerate(zip(grads, expected, strict=True)):
            _close(dW, ref_dW, f"mlp_backward({activation}) dW[{i}]")
            _close(db, ref_db, f"mlp_backward({activation}) db[{i}]")


def _curvy(v: np.ndarray) -> float:
    return float(np.sum(np.sin(3.0 * v)) + 0.5 * np.sum(v**3))


def probe_numerical_gradient(sub):
    rng = np.random.default_rng(27)
    inputs = [rng.normal(size=shape) for shape in [(5,), (3, 4), (2, 3, 2), ()]]
    inputs.append(rng.normal(size=(4, 3)).T)  # not C-contiguous
    for x in inputs:
        for eps in (1e-3, 1e-6):
            expected = ref_gc.numerical_gradient(_curvy, x.copy(), eps=eps)
            result = _run(sub.gradient_check.numerical_gradient, _curvy, x, eps=eps)
            _close(result, expected, f"numerical_gradient{x.shape} eps={eps}", 1e-6, 1e-7)
    x = rng.normal(size=(2, 3))
    expected = ref_gc.numerical_gradient(_curvy, x.copy())
    _close(_run(sub.gradient_check.numerical_gradient, _curvy, x), expected, "default eps")


def probe_relative_error(sub):
    rng = np.random.default_rng(28)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    cases = [(a, b), (a, a.copy()), (np.zeros(5), np.zeros(5)), (np.zeros(4), b[0]), (b[1], a[1])]
    for x, y in cases:
        result = _run(sub.gradient_check.relative_error, x, y)
        if np.ndim(result) != 0 or not isinstance(result, float | np.floating):
            raise Mismatch(f"relative_error returned {type(result).__name__}, expected a float")
        _close(result, ref_gc.relative_error(x, y), "relative_error", 1e-10, 1e-12)


def _gradient_decay(sub, activation: str) -> float:
    """Norm of dL/dz at the first hidden layer over that of dL/dout, in a 10-layer MLP."""
    sizes = [32] * 11
    global_state = np.random.get_state()  # a buggy init may draw from np.random
    try:
        params = _run(sub.network.init_params, sizes, activation, np.random.default_rng(3))
    finally:
        np.random.set_state(global_state)
    forward, derivative = ref_layers.ACTIVATIONS[activation]
    data = np.random.default_rng(4)
    a = data.standard_normal((64, sizes[0]))
    zs = []
    for W, b in params:
        z = a @ W + b
        zs.append(z)
        a = forward(z)
    grad = data.standard_normal(zs[-1].shape)
    top = np.linalg.norm(grad)
    for layer in range(len(params) - 1, 0, -1):
        grad = (grad @ params[layer][0].T) * derivative(zs[layer - 1])
    return float(np.linalg.norm(grad) / top)


def probe_vanishing_sigmoid(sub):
    ratio = _gradient_decay(sub, "sigmoid")
    if not ratio < 1e-2:
        raise Mismatch(f"sigmoid gradient ratio {ratio:.3g} does not vanish")


def probe_vanishing_relu(sub):
    ratio = _gradient_decay(sub, "relu")
    if not 0.05 < ratio < 20.0:
        raise Mismatch(f"relu gradient ratio {ratio:.3g}: the gradient does not keep its scale")


PROBES: dict[str, Callable] = {name: globals()[f"probe_{name}"] for name in CHECKS}


def _findings(sub) -> dict[str, str | None]:
    """check name -> None if the probe agrees with the reference, else what differed."""
    results: dict[str, str | None] = {}
    for name, probe in PROBES.items():
        try:
            probe(sub)
        except Mismatch as exc:
            results[name] = str(exc)
        else:
            results[name] = None
    return results


# ----------------------------------------------------------------------------- corpus tests


def test_corpus_size_and_order():
    assert len(CORRECT) >= 12
    assert len(BUGS) >= 32
    slugs = [entry.slug for entry in ALL_ENTRIES]
    assert slugs == sorted(slugs) and len(set(slugs)) == len(slugs)
    assert [e.slug for e in load_entries("correct")] == [e.slug for e in CORRECT]
    assert [e.slug for e in load_entries("bug")] == [e.slug for e in BUGS]
    assert load_entries() == ALL_ENTRIES
    with pytest.raises(ValueError):
        load_entries("bugs")
    for entry in ALL_ENTRIES:
        assert entry.module in MODULES
        assert entry.why and "\n" not in entry.why
        assert entry.path.parent.name == ("correct" if entry.kind == "correct" else "bugs")
        assert set(entry.blames) <= set(CHECKS)
        assert bool(entry.blames) == (entry.kind == "bug")


def test_probes_accept_the_reference(tmp_path):
    """The probes themselves: the untouched reference passes every one of them."""
    sub = SimpleNamespace(
        activations=ref_act, layers=ref_layers, network=ref_net, gradient_check=ref_gc
    )
    assert _findings(sub) == dict.fromkeys(CHECKS)


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e.slug)
def test_correct_entry_agrees_with_reference(entry, tmp_path):
    dest = build_submission(entry, tmp_path / "submission")
    with imported(dest) as sub:
        for module, names in API.items():
            for name in names:
                assert callable(getattr(getattr(sub, module), name, None)), name
        findings = _findings(sub)
    failures = {name: why for name, why in findings.items() if why is not None}
    assert not failures, f"{entry.slug} should be correct but: {failures}"


@pytest.mark.parametrize("entry", BUGS, ids=lambda e: e.slug)
def test_bug_entry_fails_exactly_its_blames(entry, tmp_path):
    dest = build_submission(entry, tmp_path / "submission")
    with imported(dest) as sub:
        findings = _findings(sub)
    missed = [name for name in entry.blames if findings[name] is None]
    assert not missed, f"{entry.slug}: blamed checks {missed} cannot tell it from the reference"
    broken = {CHECK_FUNCTION[name] for name in entry.blames}
    unexpected = {
        name: why
        for name, why in findings.items()
        if why is not None and name not in entry.blames and not (_depends(name) & broken)
    }
    assert not unexpected, f"{entry.slug}: checks fail that are not blamed: {unexpected}"


# ----------------------------------------------------------------------------- builder tests


def test_build_layout_and_untouched_modules(tmp_path):
    entry = next(e for e in ALL_ENTRIES if e.slug == "sigmoid_grad_returns_s")
    dest = build_submission(entry, tmp_path / "out")
    assert dest == tmp_path / "out"
    names = sorted(p.name for p in dest.iterdir())
    assert names == [
        "__init__.py",
        "activations.py",
        "gradient_check.py",
        "layers.py",
        "network.py",
    ]
    assert (dest / "__init__.py").read_text() == ""
    for module in ("layers", "network", "gradient_check"):
        assert (dest / f"{module}.py").read_bytes() == (SOLUTIONS_DIR / f"{module}.py").read_bytes()
    patched = (dest / "activations.py").read_text()
    assert "### BEGIN SOLUTION" in patched  # the other functions keep their markers
    assert patched.count("def sigmoid_grad(") == 1
    assert "return sigmoid(z)\n" in patched
    # the replacement sits where the original was: before tanh
    assert patched.index("def sigmoid_grad(") < patched.index("def tanh(")


def test_splice_replaces_in_place_and_appends_the_rest(tmp_path):
    path = tmp_path / "correct" / "example.py"
    path.parent.mkdir()
    path.write_text(
        "# module: layers\n"
        "# why: example\n"
        "import numpy as np\n"
        "\n"
        "SCALE = 1.0\n"
        "\n"
        "\n"
        "def _helper(x):\n"
        "    return x * SCALE\n"
        "\n"
        "\n"
        "# comment that travels with mse_loss\n"
        "def mse_loss(pred, target):\n"
        "    diff = _helper(pred - target)\n"
        "    return float(np.sum(diff**2) / (2 * len(pred))), diff / len(pred)\n"
        "\n"
        "\n"
        "def dense_forward(x, W, b):\n"
        "    return x @ W + b, (x, W)\n"
    )
    entry = parse_entry(path, "correct")
    assert (entry.slug, entry.module, entry.whole, entry.blames) == ("example", "layers", False, ())
    reference = (SOLUTIONS_DIR / "layers.py").read_text()
    patched = apply_entry(entry, reference)
    assert patched.count("def mse_loss(") == 1 and patched.count("def dense_forward(") == 1
    assert "# comment that travels with mse_loss\ndef mse_loss(" in patched
    # replaced functions stay in their place, the helper and constant go to the end
    assert patched.index("def dense_forward(") < patched.index("def dense_backward(")
    assert patched.index("def mse_loss(") < patched.index("def softmax_cross_entropy(")
    assert patched.index("def softmax_cross_entropy(") < patched.index("def _helper(")
    assert patched.index("def softmax_cross_entropy(") < patched.index("SCALE = 1.0")
    assert "# module: layers" not in patched  # the header is not copied
    dest = build_submission(entry, tmp_path / "sub")
    with imported(dest) as sub:
        assert _findings(sub)["mse_loss"] is None
        assert sub.layers._helper(2.0) == 2.0


def test_whole_entries_replace_the_module_and_cover_all_import_styles(tmp_path):
    whole = [entry for entry in ALL_ENTRIES if entry.whole]
    styles = {
        "from exercises.layers import": False,
        "from .layers import": False,
        "from layers import": False,
    }
    for entry in whole:
        dest = build_submission(entry, tmp_path / entry.slug)
        text = (dest / f"{entry.module}.py").read_text()
        assert text == entry.path.read_text()
        for style in styles:
            styles[style] |= style in text
    assert all(styles.values()), styles


def test_header_validation(tmp_path):
    folder = tmp_path / "bugs"
    folder.mkdir()
    bad = folder / "bad.py"
    bad.write_text("# module: layers\n# blames: no_such_check\n# why: x\ndef f():\n    pass\n")
    with pytest.raises(CorpusError):
        parse_entry(bad, "bug")
    bad.write_text("# module: layers\n# why: x\ndef f():\n    pass\n")
    with pytest.raises(CorpusError):  # a bug must blame something
        parse_entry(bad, "bug")
    bad.write_text("# module: nowhere\n# blames: relu\n# why: x\n")
    with pytest.raises(CorpusError):
        parse_entry(bad, "bug")
