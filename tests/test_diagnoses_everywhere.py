"""Diagnoses reach students: the self-check (recorded answers, no reference) names every
misconception the grader names, in the same words; the new diagnoses fire on generated inputs
exactly for their slip; each hint fits what the code did."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checking.checks.layers import _softmax_hint
from grader.checking.compare import CheckFailed
from grader.checking.diagnoses import LOG_OF_PROBABILITIES, VARIANTS, diagnose, variant_outputs
from grader.checking.trial import LiveExpected, RecordedExpected, _assert_unchanged
from grader.public.engine import self_check
from grader.student.loader import reference_functions
from tests.corpus.build import build_submission, load_entries, parse_entry
from tests.helpers import grade_in_process, scaled

BUGS = load_entries("bug")
REFERENCE = reference_functions()
R = SimpleNamespace(**REFERENCE)
_SETTINGS = settings(max_examples=scaled(40), derandomize=True, deadline=None, database=None)

# What the grader must say of these corpus bugs (the new diagnoses, and old ones the self-check
# could not say before): the exact words, from both sides.
NAMED = {
    "sigmoid_grad_s_times_one_minus_z": (
        "sigmoid_grad", "computes sigmoid(z) * (1 - z): the derivative's second factor is "
        "applied to z; it is 1 - sigmoid(z), so sigma'(z) = s * (1 - s) with s = sigmoid(z)"),
    "sigmoid_grad_z_times_one_minus_z": (
        "sigmoid_grad", "applies s * (1 - s) to z instead of to s = sigmoid(z)"),
    "softmax_log_of_probabilities": ("softmax_cross_entropy", LOG_OF_PROBABILITIES),
    "softmax_no_max_shift": (
        "softmax_cross_entropy", "computes exp(logits) without subtracting each row's max: exp "
        "overflows to inf for large logits and inf / inf = NaN"),
    "numgrad_no_restore": (
        "numerical_gradient", "forgets to restore x[idx] after evaluating f at x[idx] + eps and "
        "x[idx] - eps: x is left moved by a step"),
    "leaky_relu_grad_alpha_wrong_side": (
        "leaky_relu_grad", "applies alpha on the wrong side: the slope is 1 where z > 0 and "
        "alpha where z < 0"),
    "leaky_relu_alpha_wrong_side": (
        "leaky_relu", "applies alpha on the wrong side: z where z > 0, alpha * z where z < 0"),
    "relu_grad_sign": (
        "relu_grad", "returns the sign of z (-1 for negative z); the slope of max(z, 0) is 0 "
        "there"),
    "tanh_grad_squared_only": (
        "tanh_grad", "computes tanh(z)**2: the derivative is 1 - tanh(z)**2"),
    "dense_backward_db_scalar": (
        "dense_backward", "sums db over every axis, a single number; it sums over the batch axis "
        "only (axis 0), shape (M,)"),
    "dense_backward_db_mean": (
        "dense_backward", "averages db over the batch; it must be a sum (the loss already "
        "averages)"),
    "tanh_grad_one_minus_z_squared": ("tanh_grad", "computes 1 - z**2: square tanh(z), not z"),
    "mse_missing_one_over_n": ("mse_loss", "forgets to divide by N (the batch size)"),
    "relu_in_place": (
        "relu", "writes into its input array in place: the caller's array (a cache the backward "
        "pass reads, say) changes under it"),
    "sigmoid_naive_overflow_warning": (
        "sigmoid_stability", "computes exp(-z) for every z: the values are right, but exp(-z) "
        "overflows for large negative z (numpy warns); choose the formula by the sign of z"),
    "numgrad_only_1d": (
        "numerical_gradient", "perturbs a whole row at a time: for an n-d x, x[i] is a row; step "
        "every entry, for idx in np.ndindex(x.shape)"),
    # These four raise on the checks' non-square inputs: named from the square probe.
    "dense_backward_dx_no_transpose": (
        "dense_backward", "misses a transpose in dx: dx = dout @ W.T"),
    "dense_forward_transposed_weight": (
        "dense_forward", "uses x @ W.T: W is stored (fan_in, fan_out) here, (D, M), so out = "
        "x @ W + b"),
    "mlp_backward_off_by_one_cache": (
        "mlp_backward", "applies each layer's activation backward after that layer's "
        "dense_backward (one layer late): walking back, a hidden layer's activation backward "
        "comes before its dense_backward"),
    "init_nonzero_bias": (
        "init_params", "gives the biases random start values; biases start at zero, "
        "np.zeros(fan_out): the random weights already make the units differ"),
    # Not a misconception (He et al. 2015: fan-in or fan-out both work); the spec asks fan-in.
    "init_he_fan_out": (
        "init_params", "scales He init by fan_out: the assignment asks for fan-in, "
        "N(0, 2 / fan_in) (He et al. show fan-out also works, but the checks use fan-in)"),
}
# The one blamed check left without a diagnosis, and why: sigmoid_stability's NaN branch
# (grader/checking/checks/activations.py) raises before any comparison, so nothing is matched
# there; the same bug is named, in the same words on both sides, by its own check, sigmoid.
UNNAMED = {("sigmoid_exp_ratio_nan", "sigmoid_stability")}


@pytest.mark.parametrize("entry", BUGS, ids=[e.slug for e in BUGS])
def test_each_corpus_bug_gets_the_same_diagnosis_from_the_self_check(entry, tmp_path):
    folder = build_submission(entry, tmp_path / entry.slug)
    graded = {r.name: r for r in grade_in_process(folder)}
    checked = {r.name: r for r in self_check(folder)}
    for name in entry.blames:
        assert not graded[name].passed, name
        # Where the self-check judges the check at all, it names what the grader names.
        if not checked[name].passed:
            assert checked[name].diagnosis == graded[name].diagnosis, name
        # Every corpus bug is named, on every check it costs.
        if (entry.slug, name) not in UNNAMED:
            assert graded[name].diagnosis is not None, name
        else:
            assert graded[name].diagnosis is None, "named now: drop it from UNNAMED"
    # The checks a bug costs in the grader are judged, not waived, by the self-check too.
    assert {n for n in entry.blames if not checked[n].passed} == set(entry.blames)
    if entry.slug in NAMED:
        function, words = NAMED[entry.slug]
        assert graded[function].diagnosis == words
        assert checked[function].diagnosis == words


def test_every_named_entry_is_in_the_corpus():
    assert set(NAMED) <= {e.slug for e in BUGS}
    assert {slug for slug, _ in UNNAMED} <= {e.slug for e in BUGS}


# --- more slips of the same functions, one submission each, both sides --------------------------

# (module, blamed check, the student's function, the diagnosis both sides must give). The ones
# that raise on the checks' own inputs are named from the probe with every dimension equal.
SLIPS = {
    "dense_forward_w_times_x": ("layers", "dense_forward", """
def dense_forward(x, W, b):
    return W @ x + b, (x, W)
""", "computes W @ x, in the wrong order: the examples are the rows of x, so out = x @ W + b"),
    "dense_forward_elementwise": ("layers", "dense_forward", """
def dense_forward(x, W, b):
    return x * W + b, (x, W)
""", "computes x * W, an elementwise product: the layer is the matrix product x @ W + b"),
    "dense_forward_bias_column": ("layers", "dense_forward", """
def dense_forward(x, W, b):
    return x @ W + b.reshape(-1, 1), (x, W)
""", "applies b along the wrong axis: b (M,) is added to every row, out = x @ W + b"),
    "dense_forward_minus_bias": ("layers", "dense_forward", """
def dense_forward(x, W, b):
    return x @ W - b, (x, W)
""", "gives the bias the wrong sign: out = x @ W + b"),
    "dense_backward_dw_no_transpose": ("layers", "dense_backward", """
def dense_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x @ dout, dout.sum(axis=0)
""", "misses a transpose in dW: dW = x.T @ dout"),
    "dense_backward_w_times_dout": ("layers", "dense_backward", """
def dense_backward(dout, cache):
    x, W = cache
    return W @ dout, x.T @ dout, dout.sum(axis=0)
""", "computes dx as W @ dout, in the wrong order: dx = dout @ W.T, shape (N, D)"),
    "dense_backward_dw_mean": ("layers", "dense_backward", """
def dense_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout / x.shape[0], dout.sum(axis=0)
""", "divides dW by the batch size; it must be a plain sum over the batch (the loss already "
        "averages)"),
    "dense_backward_swapped_order": ("layers", "dense_backward", """
def dense_backward(dout, cache):
    x, W = cache
    return x.T @ dout, dout @ W.T, dout.sum(axis=0)
""", "returns (dW, dx, db): the order is dx, dW, db"),
    "mlp_backward_no_activation": ("network", "mlp_backward", """
def mlp_backward(dout, caches):
    grads, g = [], dout
    for dense_part, _ in caches[::-1]:
        g, dW, db = dense_backward(g, dense_part)
        grads.insert(0, (dW, db))
    return grads
""", "skips the activations' backward: walking back, a hidden layer's da becomes dz = "
        "activation_backward(da, cache) before its dense_backward"),
    "mlp_backward_dout_everywhere": ("network", "mlp_backward", """
def mlp_backward(dout, caches):
    grads = []
    for dense_part, act_part in caches[::-1]:
        g = dout if act_part is None else activation_backward(dout, act_part)
        _, dW, db = dense_backward(g, dense_part)
        grads.insert(0, (dW, db))
    return grads
""", "gives every layer dout itself: each layer's backward starts from the gradient the layer "
        "above it passed back"),
    "init_constant_bias": ("network", "init_params", """
def init_params(layer_sizes, activation, rng):
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_in, n_out))
        else:
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
        params.append((W, np.full(n_out, 0.1)))
    return params
""", "gives every bias the start value 0.1; biases start at zero, np.zeros(fan_out)"),
    "init_he_variance_as_scale": ("network", "init_params", """
def init_params(layer_sizes, activation, rng):
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_in, n_out))
        else:
            W = rng.normal(0.0, 2.0 / n_in, size=(n_in, n_out))
        params.append((W, np.zeros(n_out)))
    return params
""", "uses the variance 2 / fan_in as the scale of rng.normal, which takes the standard "
        "deviation: scale = sqrt(2 / fan_in)"),
    "init_lecun_for_relu": ("network", "init_params", """
def init_params(layer_sizes, activation, rng):
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_in, n_out))
        else:
            W = rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_in, n_out))
        params.append((W, np.zeros(n_out)))
    return params
""", "uses the variance 1 / fan_in (LeCun's); He init for ReLU layers doubles it, 2 / fan_in, "
        "because a ReLU passes on half of its input"),
    "init_glorot_one_sided": ("network", "init_params", """
def init_params(layer_sizes, activation, rng):
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if activation in ("sigmoid", "tanh"):
            a = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(0.0, a, size=(n_in, n_out))
        else:
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
        params.append((W, np.zeros(n_out)))
    return params
""", "draws from U(0, a): Glorot uniform is symmetric about 0, U(-a, a) with "
        "a = sqrt(6 / (fan_in + fan_out))"),
    "init_glorot_bound_not_rooted": ("network", "init_params", """
def init_params(layer_sizes, activation, rng):
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if activation in ("sigmoid", "tanh"):
            a = 6.0 / (n_in + n_out)
            W = rng.uniform(-a, a, size=(n_in, n_out))
        else:
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
        params.append((W, np.zeros(n_out)))
    return params
""", "uses 6 / (fan_in + fan_out) as the bound a; the bound is its square root, "
        "a = sqrt(6 / (fan_in + fan_out))"),
}


@pytest.mark.parametrize("slug", sorted(SLIPS))
def test_each_further_slip_costs_its_own_check_and_is_named_alike_on_both_sides(slug, tmp_path):
    module, blamed, code, words = SLIPS[slug]
    source = tmp_path / f"{slug}.py"
    imports = "import numpy as np\n" if module == "network" else ""
    source.write_text(f"# module: {module}\n# blames: {blamed}\n# why: {slug}\n{imports}{code}")
    folder = build_submission(parse_entry(source, "bug"), tmp_path / "submission")
    graded = {r.name: r for r in grade_in_process(folder)}
    checked = {r.name: r for r in self_check(folder)}
    assert {n for n, r in graded.items() if not r.passed} == {blamed}
    # The self-check fails only the slip's own check (what builds on it waits, unjudged).
    assert {n for n, r in checked.items() if not r.passed and not r.waiting} == {blamed}
    assert graded[blamed].diagnosis == checked[blamed].diagnosis == words


# --- recorded variants: the same answer without the reference ---------------------------------

def _recorded(cases: list[tuple[str, tuple]]) -> RecordedExpected:
    """What ``python -m grader record`` would store for these diagnosed cases, read back."""
    live = LiveExpected(REFERENCE, record=True)
    for function, args in cases:
        live.note_variants(function, args)
    with tempfile.TemporaryDirectory() as folder:
        live.save(Path(folder) / "expected.npz")
        return RecordedExpected(Path(folder) / "expected.npz")


shapes = st.sampled_from([(), (1,), (6,), (3, 4), (2, 3, 2)])


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=shapes)
def test_recorded_variants_name_every_elementwise_slip_as_the_reference_does(seed, shape):
    rng = np.random.default_rng(seed)
    z = np.asarray(rng.normal(0.0, 3.0, size=shape))
    z = np.where(np.abs(z) < 0.05, 0.5, z)  # away from the kinks
    functions = ["sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad", "leaky_relu"]
    recorded = _recorded([(f, (z,)) for f in functions])
    for function in functions:
        for _label, output in variant_outputs(function, (z,), R):
            live = diagnose(function, (z,), output, R)
            public = diagnose(function, (z,), output, None, recorded.variants(function, (z,)))
            assert public == live
            assert live is not None  # a variant's own output is always named (this or earlier)
        right = getattr(R, function)(z)
        named = diagnose(function, (z,), right, None, recorded.variants(function, (z,)))
        # The right answer is named only where a slip changes nothing on this input (sign(z)
        # for a z with no negative entry, say).
        assert named is None or np.allclose(dict(variant_outputs(function, (z,), R))[named],
                                            right)


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5),
       activation=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu"]))
def test_recorded_variants_keyed_by_whole_params(seed, sizes, activation):
    # params is a list of (W, b): recorded under every array, not an abbreviated repr.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, sizes[0]))
    params = [(rng.normal(size=(i, o)), rng.normal(size=o))
              for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    recorded = _recorded([("mlp_forward", (x, params, activation))])
    for label, output in variant_outputs("mlp_forward", (x, params, activation), R):
        found = dict(recorded.variants("mlp_forward", (x, params, activation)))
        np.testing.assert_array_equal(found[label], output)
    other = [(W + 1e-9, b) for W, b in params]  # one digit away: another case, nothing recorded
    assert recorded.variants("mlp_forward", (x, other, activation)) == []


# --- the new diagnoses on generated inputs ----------------------------------------------------

@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(5,), (3, 4), (2, 3, 2)]))
def test_sigmoid_of_z_times_one_minus_z_is_named(seed, shape):
    z = np.random.default_rng(seed).normal(0.0, 3.0, size=shape)
    words = VARIANTS["sigmoid_grad"][2][0]
    assert diagnose("sigmoid_grad", (z,), R.sigmoid(z) * (1 - z), R) == words
    assert diagnose("sigmoid_grad", (z,), R.sigmoid_grad(z), R) is None


def _log_of_probabilities_student(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    rows = np.arange(logits.shape[0])
    with np.errstate(divide="ignore"):
        loss = float(-np.mean(np.log(probs[rows, labels])))
    onehot = np.zeros_like(probs)
    onehot[rows, labels] = 1.0
    return loss, (probs - onehot) / logits.shape[0]


# n >= 2: for one example a sum over the batch is its mean, and that slip cannot show.
@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6), classes=st.integers(2, 5),
       scale=st.sampled_from([1e3, 1e4, 1e5]))
def test_log_of_softmax_probabilities_is_named_with_the_log_sum_exp_hint(seed, n, classes, scale):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, scale, size=(n, classes))
    labels = rng.integers(0, classes, size=n)
    labels[0] = 0
    logits[0, 0] = logits[0, 1:].max() - scale  # far below its row's max: exp underflows
    loss, dlogits = _log_of_probabilities_student(logits, labels)
    assert np.isinf(loss)
    assert diagnose("softmax_cross_entropy", (logits, labels), (loss, dlogits), R) == \
        LOG_OF_PROBABILITIES
    hint = _softmax_hint(loss, dlogits)
    assert hint.startswith("take the log with log-sum-exp")
    assert "shifted - log(sum(exp(shifted)))" in hint
    assert "subtract each row's max" not in hint  # it already does
    right = R.softmax_cross_entropy(logits, labels)
    assert diagnose("softmax_cross_entropy", (logits, labels), right, R) is None


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), classes=st.integers(2, 5))
def test_an_unshifted_softmax_is_told_to_shift(seed, n, classes):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1e4, size=(n, classes))
    logits[0, 0] = 1e4  # exp overflows in row 0
    labels = rng.integers(0, classes, size=n)
    with np.errstate(all="ignore"):
        exps = np.exp(logits)
        probs = exps / exps.sum(axis=1, keepdims=True)
        loss = float(-np.mean(np.log(probs[np.arange(n), labels])))
    hint = _softmax_hint(loss, probs)
    assert hint.startswith("subtract each row's max before exp, then take the log with "
                           "log-sum-exp")
    assert _softmax_hint(*R.softmax_cross_entropy(logits, labels)).startswith(
        "subtract each row's max before exp; loss =")


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(5,), (3, 4), (2, 2, 3)]),
       eps=st.sampled_from([1e-6, 1e-4, 1e-3]), data=st.data())
def test_a_perturbation_left_in_x_is_shown_and_named(seed, shape, eps, data):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    index = data.draw(st.tuples(*(st.integers(0, s - 1) for s in shape)))
    after = x.copy()
    after[index] -= eps
    with pytest.raises(CheckFailed) as failed:
        _assert_unchanged("numerical_gradient", x, after)
    message = failed.value.message
    assert message.startswith("numerical_gradient left x changed when it returned")
    where = f"[{', '.join(map(str, index))}]"
    assert f"largest change at index {where}: {float(x[index])!r} became " \
           f"{float(after[index])!r}" in message
    assert "1 of" in message
    assert "restore x[idx] = old after both evaluations" in message
    assert "z[z < 0] = 0" not in message  # not the in-place hint of an activation
    assert failed.value.diagnosis == NAMED["numgrad_no_restore"][1]
    # The same change in a function that must not touch its input: the in-place hint and
    # diagnosis, not the restore ones.
    with pytest.raises(CheckFailed) as failed:
        _assert_unchanged("relu", x, after)
    assert failed.value.message.startswith("relu modified its input array in place")
    assert "z[z < 0] = 0" in failed.value.message and "restore" not in failed.value.message
    assert failed.value.diagnosis == NAMED["relu_in_place"][1]
    assert f"largest change at index {where}" in failed.value.message
    # A numerical gradient that overwrites x wholesale is no forgotten step.
    with pytest.raises(CheckFailed) as failed:
        _assert_unchanged("numerical_gradient", x, np.zeros_like(x) + 10.0)
    assert failed.value.diagnosis is None


# --- integer slopes ---------------------------------------------------------------------------

@pytest.mark.parametrize("slug", ["act_relu_grad_integer", "act_relu_grad_boolean"])
def test_right_slopes_in_an_integer_dtype_earn_the_points_with_a_note(slug, tmp_path):
    entry = next(e for e in load_entries("correct") if e.slug == slug)
    folder = build_submission(entry, tmp_path / slug)
    for results in (grade_in_process(folder), self_check(folder)):
        relu_grad = next(r for r in results if r.name == "relu_grad")
        assert (relu_grad.passed, relu_grad.score) == (True, 2)
        dtype = "int64" if slug.endswith("integer") else "bool"
        assert relu_grad.notes == [
            f"relu_grad returns dtype {dtype}: its values are right and earn the points, but a "
            "derivative is a float array like its input; return floats, e.g. "
            "np.where(z > 0, 1.0, 0.0) or (z > 0).astype(z.dtype)"]
        assert sum(r.score for r in results) == sum(r.max_score for r in results)


# --- the square probes: every layer slip named alike, live and recorded -------------------------

def _values(output) -> np.ndarray:
    """Every number of an output (an array, or a tuple of arrays), in one flat array."""
    items = output if isinstance(output, tuple) else (output,)
    return np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in items])


@settings(max_examples=scaled(15), derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 5), depth=st.integers(2, 4),
       activation=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu"]))
def test_layer_slips_on_a_square_probe_are_named_alike_without_the_reference(
        seed, n, depth, activation):
    # Every dimension equal: the slips with a transpose or an axis wrong run there.
    rng = np.random.default_rng(seed)
    x, W, b, dout = (rng.normal(size=(n, n)), rng.normal(size=(n, n)), rng.normal(size=n),
                     rng.normal(size=(n, n)))
    params = [(rng.normal(size=(n, n)), rng.normal(size=n)) for _ in range(depth)]
    cases = [("dense_forward", (x, W, b)), ("dense_backward", (x, W, b, dout)),
             ("mlp_backward", (x, params, activation, dout))]
    recorded = _recorded(cases)
    rights = {"dense_forward": R.dense_forward(x, W, b)[0],
              "dense_backward": R.dense_backward(dout, R.dense_forward(x, W, b)[1]),
              "mlp_backward": tuple(a for pair in R.mlp_backward(
                  dout, R.mlp_forward(x, params, activation)[1]) for a in pair)}
    for function, args in cases:
        outputs = variant_outputs(function, args, R)
        assert [label for label, _ in outputs] == [label for label, _ in VARIANTS[function]]
        for label, output in outputs:
            live = diagnose(function, args, output, R)
            assert live == diagnose(function, args, output, None,
                                    recorded.variants(function, args))
            # Named as itself, unless an earlier slip gives the same numbers on this input.
            # (In a net of two layers, an activation's backward one layer late is the first
            # layer's, whose result nothing uses: the same gradients as skipping them all.)
            assert live == label or np.allclose(_values(dict(outputs)[live]), _values(output))
        # The right answer is named only where the slip changes nothing on this input (a ReLU
        # net whose units are all off, say; the checks' probe uses tanh).
        named = diagnose(function, args, rights[function], R)
        assert named is None or np.allclose(_values(dict(outputs)[named]),
                                            _values(rights[function])), function
