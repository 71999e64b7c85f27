"""Tests for the lesson's experiments (``lesson/``): the measurements, the data set, the plots and
the command line, and that everything about the network comes from the implementation given."""

import ast
import os
import subprocess
import sys
import types
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lesson import cli, config, flow, plots, summary, train
from lesson.implementation import MODULE_OF_FUNCTION, Implementation
from solutions import layers, network

REPO = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCE = Implementation.load("solutions")
SMALL_FLOW = config.Flow(depth=4, width=8, batch=8)
TINY_SPIRALS = config.Spirals(n_per_class=20)


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000, f"{path} is suspiciously small"
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"


@pytest.fixture(scope="module")
def flow_depth10():
    """The full activation x init grid at depth 10 (fast: one pass per net, plus one per row)."""
    return flow.gradient_flow_grid(REFERENCE, replace(config.FULL.flow, depth=10))


def find(results, activation, init):
    return next(r for r in results if r["activation"] == activation and r["init"] == init)


# --- experiment 1: gradient flow --------------------------------------------------------------


def test_sigmoid_glorot_gradient_vanishes(flow_depth10):
    assert find(flow_depth10, "sigmoid", "glorot")["ratio"] <= 1e-3


def test_relu_he_gradient_survives(flow_depth10):
    res = find(flow_depth10, "relu", "he")
    assert res["ratio"] >= 1e-2
    assert res["ratio_delta"] >= 0.1


def test_tanh_small_deltas_vanish_while_weight_gradients_look_balanced(flow_depth10):
    res = find(flow_depth10, "tanh", "small")
    assert res["ratio_delta"] < 1e-4
    assert 0.1 <= res["ratio"] <= 10


# Measured with the experiments as they were before the lesson package (solutions/experiments.py
# with its own init and its own layer-by-layer backward loop), depth 10, width 64, batch 64,
# seed 0: the same maths through the implementation's functions gives the same numbers.
BEFORE = {
    ("sigmoid", "glorot"): (9.273915279119595e-07, 2.0410957591663304e-06, 6.833445680621775),
    ("relu", "he"): (0.4565937557576626, 1.429252466834644, 8.711210215468718),
    ("tanh", "small"): (1.0327120055978822, 1.1137183830758548e-10, 4.937115588694654),
    ("leaky_relu", "glorot"): (1.308542342477972, 0.05319344456187067, 4.951183785139717),
}


@pytest.mark.parametrize("key", list(BEFORE))
def test_same_numbers_as_before_the_refactor(flow_depth10, key):
    res = find(flow_depth10, *key)
    assert (res["ratio"], res["ratio_delta"], res["loss"]) == pytest.approx(BEFORE[key],
                                                                            rel=1e-9)


def test_gradient_flow_result_shapes_and_types(flow_depth10):
    assert len(flow_depth10) == len(config.ACTIVATION_NAMES) * len(config.INIT_SCHEMES)
    for res in flow_depth10:
        assert len(res["dW_norms"]) == 10
        assert len(res["delta_norms"]) == 10
        for value in res["dW_norms"] + res["delta_norms"] + [res["dW_out_norm"], res["loss"]]:
            assert isinstance(value, float)
            assert np.isfinite(value) and value >= 0
        assert res["ratio"] == pytest.approx(res["dW_norms"][0] / res["dW_norms"][-1])
        assert res["ratio_delta"] == pytest.approx(res["delta_norms"][0] / res["delta_norms"][-1])


def test_gradient_flow_is_deterministic():
    settings_3 = config.Flow(depth=4, width=8, batch=8, seed=3)
    a = flow.gradient_flow(REFERENCE, "tanh", "glorot", settings_3)
    b = flow.gradient_flow(REFERENCE, "tanh", "glorot", settings_3)
    c = flow.gradient_flow(REFERENCE, "tanh", "glorot", replace(settings_3, seed=4))
    assert a == b
    assert a["dW_norms"] != c["dW_norms"]


def test_delta_norms_agree_with_weight_gradients():
    # For the first layer dW_1 = x^T dz_1, so ||dW_1|| <= ||x||_F ||dz_1||_F; with a single
    # example (batch 1) it is an outer product and the bound is an equality.
    res = flow.gradient_flow(REFERENCE, "sigmoid", "glorot",
                             config.Flow(depth=5, width=8, batch=1, seed=1))
    x = np.random.default_rng(1).standard_normal((1, 8))
    assert res["dW_norms"][0] == pytest.approx(np.linalg.norm(x) * res["delta_norms"][0])


def _layer_by_layer_deltas(x, params, activation, dout):
    """||dL/dz_l|| by an explicit backward loop over the reference layers (the test's own
    account of what pre_activation_norms must measure, independent of mlp_backward)."""
    caches, a = [], x
    for W, b in params[:-1]:
        z, dense_cache = layers.dense_forward(a, W, b)
        a, act_cache = layers.activation_forward(z, activation)
        caches.append((dense_cache, act_cache))
    _, out_cache = layers.dense_forward(a, *params[-1])
    norms = [float(np.linalg.norm(dout))]
    da, _, _ = layers.dense_backward(dout, out_cache)
    for dense_cache, act_cache in reversed(caches):
        dz = layers.activation_backward(da, act_cache)
        norms.append(float(np.linalg.norm(dz)))
        da, _, _ = layers.dense_backward(dz, dense_cache)
    return norms[::-1]


@settings(max_examples=25, derandomize=True, deadline=None)
@given(depth=st.integers(1, 5), width=st.integers(1, 9), batch=st.integers(1, 7),
       activation=st.sampled_from(config.ACTIVATION_NAMES), seed=st.integers(0, 2**16))
def test_pre_activation_norms_are_the_backpropagated_gradient(depth, width, batch, activation,
                                                              seed):
    rng = np.random.default_rng(seed)
    sizes = [width] + [width + 1] * depth + [3]
    params = network.init_params(sizes, activation, rng)
    x = rng.standard_normal((batch, width))
    dout = rng.standard_normal((batch, 3))
    got = flow.pre_activation_norms(REFERENCE, x, params, activation, dout)
    np.testing.assert_allclose(got, _layer_by_layer_deltas(x, params, activation, dout),
                               rtol=1e-12, atol=1e-300)


class Recording:
    """An implementation that records every call and forwards it to the reference."""

    def __init__(self):
        self.calls = []
        for name in MODULE_OF_FUNCTION:
            setattr(self, name, self._recorder(name))

    def _recorder(self, name):
        def call(*args):
            self.calls.append(name)
            return getattr(REFERENCE, name)(*args)

        return call


def test_gradient_flow_runs_on_the_functions_it_is_given():
    recording = Recording()
    res = flow.gradient_flow(Implementation.of(recording), "relu", "he", SMALL_FLOW)
    assert res == flow.gradient_flow(REFERENCE, "relu", "he", SMALL_FLOW)
    # One pass for the weight gradients, then one pass per row for the pre-activations.
    batch = SMALL_FLOW.batch
    assert recording.calls.count("init_params") == 1
    assert recording.calls.count("mlp_forward") == 1 + batch
    assert recording.calls.count("mlp_backward") == 1 + batch
    assert recording.calls.count("mse_loss") == 1


@pytest.mark.parametrize("scheme", config.INIT_SCHEMES)
def test_a_broken_implementation_changes_every_measurement(scheme):
    # A backward pass that halves every gradient: the experiment must report the student's
    # numbers (there is no second, correct backward inside the lesson).
    def halved(dout, caches):
        return [(dW / 2, db / 2) for dW, db in network.mlp_backward(dout, caches)]

    broken = Implementation.of({"mlp_backward": halved}, REFERENCE)
    good = flow.gradient_flow(REFERENCE, "tanh", scheme, SMALL_FLOW)
    bad = flow.gradient_flow(broken, "tanh", scheme, SMALL_FLOW)
    np.testing.assert_allclose(bad["dW_norms"], np.array(good["dW_norms"]) / 2, rtol=1e-12)
    np.testing.assert_allclose(bad["delta_norms"], np.array(good["delta_norms"]) / 2, rtol=1e-12)


def test_init_schemes_come_from_init_params():
    sizes = [200, 300, 100]
    glorot = flow.init_by_scheme(REFERENCE, sizes, "glorot", np.random.default_rng(0))
    he = flow.init_by_scheme(REFERENCE, sizes, "he", np.random.default_rng(0))
    small = flow.init_by_scheme(REFERENCE, sizes, "small", np.random.default_rng(0))
    for params, activation in ((glorot, "tanh"), (he, "relu")):
        expected = network.init_params(sizes, activation, np.random.default_rng(0))
        assert all(np.array_equal(W, W0) and np.array_equal(b, b0)
                   for (W, b), (W0, b0) in zip(params, expected, strict=True))
    for params in (glorot, he, small):
        assert [W.shape for W, _ in params] == [(200, 300), (300, 100)]
        assert all(b.shape == (W.shape[1],) and not b.any() for W, b in params)
        assert all(W.dtype == np.float64 for W, _ in params)
    limit = np.sqrt(6 / 500)
    assert np.abs(glorot[0][0]).max() <= limit
    assert np.abs(glorot[0][0]).max() > 0.95 * limit
    assert he[0][0].std() == pytest.approx(np.sqrt(2 / 200), rel=0.05)
    assert small[0][0].std() == pytest.approx(0.01, rel=0.05)
    # "small" is the He draw rescaled, the same random numbers at another scale.
    np.testing.assert_allclose(small[1][0], he[1][0] * 0.01 / np.sqrt(2 / 300), rtol=1e-15)
    with pytest.raises(ValueError, match="xavier"):
        flow.init_by_scheme(REFERENCE, sizes, "xavier", np.random.default_rng(0))


def test_gradient_flow_table_lists_every_run(flow_depth10):
    table = flow.gradient_flow_table(flow_depth10)
    lines = table.splitlines()
    assert len(lines) == 2 + len(flow_depth10)
    assert "r_delta" in lines[0]
    assert lines[2].split()[:2] == ["sigmoid", "glorot"]
    assert len({len(line) for line in lines}) == 1  # fixed width


# --- the implementation -----------------------------------------------------------------------


def test_implementation_from_a_namespace_a_module_or_a_package():
    namespace = {name: getattr(REFERENCE, name) for name in MODULE_OF_FUNCTION}
    assert Implementation.of(namespace) == REFERENCE
    assert Implementation.of(network, layers) == REFERENCE
    assert Implementation.of(types.SimpleNamespace(**namespace)) == REFERENCE
    # The first namespace that defines a name wins; a non-callable does not count.
    first = Implementation.of({"mse_loss": len, "init_params": 3}, REFERENCE)
    assert first.mse_loss is len and first.init_params is REFERENCE.init_params


@settings(max_examples=30, derandomize=True, deadline=None)
@given(st.sets(st.sampled_from(sorted(MODULE_OF_FUNCTION)), min_size=1))
def test_implementation_names_the_first_missing_function(missing):
    namespace = {name: getattr(REFERENCE, name) for name in MODULE_OF_FUNCTION
                 if name not in missing}
    first = next(f.name for f in fields(Implementation) if f.name in missing)
    with pytest.raises(NameError, match=rf"the experiments need {first}, and it is not defined"):
        Implementation.of(namespace)


LESSON_FILES = sorted((REPO / "lesson").glob("*.py"))


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.name)
def test_the_lesson_has_no_network_code_of_its_own(path):
    # Given code must not hold an exercise's solution: no layer arithmetic (matrix products,
    # activations), no import of an implementation (it is passed in), and no grader.
    tree = ast.parse(path.read_text())
    assert not any(isinstance(node, ast.MatMult) for node in ast.walk(tree)), path.name
    numpy_layers = {"dot", "matmul", "exp", "tanh", "maximum", "outer", "einsum"}
    called = {node.func.attr for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not called & numpy_layers, (path.name, called & numpy_layers)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert not imported & {"solutions", "exercises", "grader", "course"}, path.name


# --- data -------------------------------------------------------------------------------------


def test_spirals_shapes_and_labels():
    x, labels = train.make_spirals(config.Spirals(300, 0.2))
    assert x.shape == (900, 2) and x.dtype == np.float64
    assert labels.shape == (900,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [300, 300, 300]
    assert np.all(np.linalg.norm(x, axis=1) <= 1.0 + 1e-12)


def test_spirals_deterministic_per_seed():
    x1, y1 = train.make_spirals(config.Spirals(50, seed=7))
    x2, y2 = train.make_spirals(config.Spirals(50, seed=7))
    x3, _ = train.make_spirals(config.Spirals(50, seed=8))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


# --- experiments 2 and 3 ----------------------------------------------------------------------


def test_train_classifier_shallow_relu_learns():
    x, labels = train.make_spirals(config.Spirals(60, 0.1))
    res = train.train_classifier(REFERENCE, x, labels, "relu",
                                 config.SGD(depth=2, width=32, lr=0.1, epochs=40, batch=16),
                                 track_updates=True)
    assert len(res["accuracy"]) == 40 and len(res["loss"]) == 40
    assert res["final_accuracy"] > 0.5
    assert res["loss"][-1] < res["loss"][0]
    assert len(res["update_ratios"]) == 3  # two hidden layers and the output layer
    assert all(len(r) == 40 for r in res["update_ratios"])
    assert len(res["final_grad_norms"]) == 3


def test_training_runs_on_the_functions_it_is_given():
    recording = Recording()
    x, labels = train.make_spirals(TINY_SPIRALS)
    net = config.SGD(depth=2, width=8, epochs=2, batch=16)
    res = train.train_classifier(Implementation.of(recording), x, labels, "tanh", net)
    assert res["final_accuracy"] == train.train_classifier(REFERENCE, x, labels, "tanh",
                                                           net)["final_accuracy"]
    steps = 2 * -(-len(labels) // 16)  # epochs x minibatches
    assert recording.calls.count("mlp_backward") == steps + 1  # and the final full pass
    assert recording.calls.count("softmax_cross_entropy") == steps + 1
    assert recording.calls.count("init_params") == 1 and "mse_loss" not in recording.calls


FROZEN_NET = config.SGD(depth=4, width=6, lr=0.5, epochs=2, batch=16)


@settings(max_examples=20, derandomize=True, database=None, deadline=None)
@given(frozen=st.sets(st.integers(0, FROZEN_NET.depth - 1)))
def test_frozen_layers_keep_their_init_and_the_others_learn(frozen):
    x, labels = train.make_spirals(TINY_SPIRALS)
    res = train.train_classifier(REFERENCE, x, labels, "tanh", FROZEN_NET, frozen=list(frozen))
    assert res["frozen"] == tuple(sorted(frozen))
    for layer, ((W0, b0), (W, b)) in enumerate(zip(res["initial_params"], res["params"],
                                                   strict=True)):
        if layer in frozen:
            np.testing.assert_array_equal(W, W0)
            np.testing.assert_array_equal(b, b0)
        else:  # every unfrozen layer (the output layer always) takes its steps
            assert not np.array_equal(W, W0), layer


@pytest.mark.parametrize("frozen", [(-1,), (4,), (0, 9)])
def test_only_hidden_layers_can_be_frozen(frozen):
    x, labels = train.make_spirals(TINY_SPIRALS)
    with pytest.raises(ValueError, match=r"hidden layers are 0\.\.3"):
        train.train_classifier(REFERENCE, x, labels, "relu", FROZEN_NET, frozen=frozen)


@pytest.mark.parametrize(("activation", "init"), [("relu", "glorot"), ("sigmoid", "he"),
                                                  ("tanh", "small"), ("relu", None)])
def test_an_init_scheme_overrides_the_activations_choice(activation, init):
    x, labels = train.make_spirals(TINY_SPIRALS)
    net = replace(FROZEN_NET, epochs=0)
    res = train.train_classifier(REFERENCE, x, labels, activation, net, init=init)
    sizes = [2] + [net.width] * net.depth + [3]
    rng = np.random.default_rng(net.seed)
    expected = (REFERENCE.init_params(sizes, activation, rng) if init is None
                else flow.init_by_scheme(REFERENCE, sizes, init, rng))
    for (W, b), (W_e, b_e) in zip(res["initial_params"], expected, strict=True):
        np.testing.assert_array_equal(W, W_e)
        np.testing.assert_array_equal(b, b_e)
    assert res["init"] == init


def test_heldout_accuracy_is_measured_every_epoch_on_rows_never_trained_on():
    x, labels = train.make_spirals(TINY_SPIRALS)
    fit, held = train.heldout_split(labels)
    net = replace(FROZEN_NET, epochs=3)
    res = train.train_classifier(REFERENCE, x[fit], labels[fit], "relu", net,
                                 heldout=(x[held], labels[held]))
    assert len(res["heldout_accuracy"]) == 3
    assert res["final_heldout_accuracy"] == res["heldout_accuracy"][-1]
    expected = np.mean(train.predict(REFERENCE, x[held], res["params"], "relu") == labels[held])
    assert res["final_heldout_accuracy"] == pytest.approx(expected)
    assert res["final_train_accuracy"] == res["final_accuracy"]
    without = train.train_classifier(REFERENCE, x[fit], labels[fit], "relu", net)
    assert "heldout_accuracy" not in without and "final_heldout_accuracy" not in without
    assert without["final_accuracy"] == res["final_accuracy"]  # held-out rows change nothing


def test_layer_speed_and_training_comparison_structure():
    speed = train.layer_speed(REFERENCE, config.Speed(net=config.SGD(depth=3, width=8, epochs=2),
                                                      data=TINY_SPIRALS))
    assert [run["activation"] for run in speed["runs"]] == ["sigmoid", "relu"]
    assert all(len(run["update_ratios"]) == 4 for run in speed["runs"])
    training = train.training_comparison(
        REFERENCE, config.Training(net=config.SGD(depth=3, width=8, epochs=2), data=TINY_SPIRALS,
                                   grid_resolution=10))
    assert [(r["activation"], r["lr"]) for r in training["runs"]] == list(config.DEFAULT_RUNS)
    assert [r["depth"] for r in training["runs"]] == [3] * len(config.DEFAULT_RUNS)
    assert training["runs"][0]["grid"]["pred"].shape == (10, 10)
    assert training["controls"][0]["depth"] == 2
    assert training["chance"] == pytest.approx(1 / 3)
    # trained on two thirds of each arm, measured on the rest
    rows = np.concatenate([training["train_rows"], training["heldout_rows"]])
    assert sorted(rows.tolist()) == list(range(len(training["labels"])))
    assert len(training["heldout_rows"]) == 3 * round(TINY_SPIRALS.n_per_class / 3)
    for run in training["runs"] + training["controls"]:
        assert len(run["heldout_accuracy"]) == 2
        assert 0.0 <= run["final_heldout_accuracy"] <= 1.0
        assert run["final_train_accuracy"] == run["final_accuracy"]


def test_the_settings_the_lesson_quotes():
    # The README and the notebook quote figures measured with these settings.
    full = config.FULL
    assert (full.flow.depth, full.flow.width, full.flow.batch) == (20, 64, 64)
    assert (full.speed.net.depth, full.speed.net.width, full.speed.net.lr,
            full.speed.net.epochs) == (8, 32, 0.1, 30)
    assert (full.training.net.depth, full.training.net.width, full.training.net.epochs) == (
        10, 32, 300)
    assert full.training.data.n_per_class * full.training.data.n_classes == 900
    with pytest.raises(AttributeError):
        full.flow.depth = 3  # frozen: one experiment cannot change another's settings


# --- plots, summary and command line ----------------------------------------------------------


def test_log_plots_survive_exact_zeros(tmp_path):
    # A gradient or an update that underflowed to exactly 0 must not break a log-scale plot.
    results = flow.gradient_flow_grid(REFERENCE, SMALL_FLOW)
    results[0]["dW_norms"][0] = 0.0
    plots.plot_gradient_flow(results, tmp_path / "flow.png")
    assert_png(tmp_path / "flow.png")
    speed = train.layer_speed(REFERENCE, config.Speed(net=config.SGD(depth=2, width=8, epochs=2),
                                                      data=TINY_SPIRALS))
    speed["runs"][0]["update_ratios"][0][0] = 0.0
    plots.plot_layer_speed(speed, tmp_path / "speed.png")
    assert_png(tmp_path / "speed.png")


def test_summary_states_the_measured_ratio(flow_depth10):
    sentences = summary.summarize(flow=flow_depth10)
    ratio = find(flow_depth10, "sigmoid", "glorot")["ratio"]
    assert sentences[0].startswith(f"sigmoid+glorot: ||dW_1||/||dW_L|| = {ratio:.1e}")


def test_main_quick_writes_all_pngs(tmp_path, capsys):
    written = cli.main(["--quick", "--out", str(tmp_path)], REFERENCE)
    names = {"gradient_flow", "delta_flow", "headline", "dial", "layer_speed", "training",
             "decision_boundary", "saturation"}
    assert set(written) == names
    for path in written.values():
        assert path.parent == tmp_path
        assert_png(path)
    out = capsys.readouterr().out
    assert "r_delta" in out
    # train, held-out and best-during-an-epoch accuracies are labelled apart on every line
    held = 3 * round(config.QUICK.training.data.n_per_class / 3)
    train_count = 3 * config.QUICK.training.data.n_per_class - held
    assert (f"train = the {train_count} points each net learned from (a separate pass), "
            f"held-out = the {held} it never saw") in out
    training_lines = [line for line in out.splitlines() if "best during-epoch train" in line]
    assert len(training_lines) == len(config.DEFAULT_RUNS) + len(config.DEFAULT_CONTROLS)
    assert all(" train " in line and " held-out " in line for line in training_lines)
    assert " final " not in out
    assert "What the measurements show" in out
    assert str(written["training"]) in out


def test_main_only_runs_one_experiment_on_the_package_named(tmp_path):
    written = cli.main(["--quick", "--only", "speed", "--on", "solutions", "--out", str(tmp_path)])
    assert set(written) == {"layer_speed"}


def test_the_package_entry_runs_on_its_own_package(tmp_path):
    from solutions import experiments

    written = experiments.main(["--quick", "--only", "flow", "--out", str(tmp_path)])
    assert set(written) == {"gradient_flow", "delta_flow", "headline"}


def test_unfinished_student_code_gets_a_sentence_not_a_traceback(tmp_path):
    # The stubs of exercises/ as a student first runs them.
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "exercises.experiments", "--quick", "--out",
                           str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "The experiments need your code: init_params: not implemented yet. Finish it (check "
        "with `python -m pytest grader/selfcheck.py`) and run this again.")
    assert not list(tmp_path.iterdir())


def test_the_notebooks_copy_of_the_lesson_runs_on_a_namespace(tmp_path):
    # The notebook's read-only experiment cell is the lesson's code, extracted with ast; it must
    # run on its own, with only the notebook's functions around it.
    from course.notebook import experiment_library

    source, renames = experiment_library()
    assert renames == {}
    namespace = {name: getattr(REFERENCE, name) for name in MODULE_OF_FUNCTION}
    exec(compile(source, "experiments_library", "exec"), namespace)
    impl = namespace["Implementation"].of(namespace)
    small = namespace["replace"](namespace["QUICK"].flow, depth=3)
    results = namespace["gradient_flow_grid"](impl, small)
    assert results == flow.gradient_flow_grid(REFERENCE, replace(config.QUICK.flow, depth=3))
    assert namespace["summarize"](flow=results)


def test_students_run_the_experiments_in_the_release(tmp_path):
    # As a student does: unpack the bundle, finish the exercises, run the experiments there,
    # with nothing of this checkout importable.
    import shutil

    from course.release import build_bundle

    folder = tmp_path / "bundle"
    folder.mkdir()
    build_bundle(folder)
    for module in (REPO / "examples" / "correct").glob("*.py"):
        shutil.copyfile(module, folder / "exercises" / module.name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([sys.executable, "-m", "exercises.experiments", "--quick", "--only",
                           "flow", "--out", "figures"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "What the measurements show" in done.stdout
    for name in ("gradient_flow.png", "delta_flow.png"):
        assert_png(folder / "figures" / name)


def test_the_reference_as_the_grader_loads_it_is_an_implementation(tmp_path):
    # What `make demo` runs (grader.batch.demo): the lesson on the grader's reference functions.
    from grader.student.loader import reference_functions

    impl = Implementation.of(reference_functions())
    assert impl == REFERENCE
    written = cli.main(["--quick", "--only", "flow", "--out", str(tmp_path)], impl)
    assert set(written) == {"gradient_flow", "delta_flow", "headline"}


def test_each_entry_names_its_own_command_and_a_missing_package_gets_a_sentence(tmp_path):
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                              text=True, timeout=120)

    for package in ("exercises", "solutions"):
        shown = run(f"{package}.experiments", "--help")
        assert shown.returncode == 0
        assert shown.stdout.startswith(f"usage: python -m {package}.experiments ")
        assert "--on " not in shown.stdout  # the entry already says whose functions run
    assert "--on PACKAGE" in run("lesson", "--help").stdout
    absent = run("lesson", "--on", "nowhere", "--quick", "--out", str(tmp_path))
    assert absent.returncode == 1 and "Traceback" not in absent.stderr
    assert absent.stderr.startswith("--on nowhere: no such package here")


# --- a bug that reaches the experiments: one sentence naming the function ---------------------

from lesson.implementation import StudentCodeError, checked  # noqa: E402

SELFCHECK = "python -m pytest grader/selfcheck.py"
QUICK_FLOW = config.QUICK.flow
QUICK_TRAINING = config.QUICK.training


def _run_quick(impl: Implementation) -> None:
    flow.gradient_flow_grid(impl, QUICK_FLOW)
    train.training_comparison(impl, QUICK_TRAINING)


def _faulty(name: str, fault: str):
    """REFERENCE's ``name`` with one enumerated fault: it raises, or returns a result of the
    wrong shape, or NaN from finite inputs."""
    good = getattr(REFERENCE, name)

    def bad(*args):
        result = good(*args)
        if fault == "raises":
            raise KeyError("boom")
        if name == "init_params":
            W, b = result[0]
            return [(W.T if fault == "shape" else np.full_like(W, np.nan), b)] + result[1:]
        if name in ("mlp_forward", "mse_loss", "softmax_cross_entropy"):
            first, second = result
            if name == "mlp_forward":
                out = first[:, :-1] if fault == "shape" else np.full_like(first, np.nan)
                return out, second
            grad = second[:-1] if fault == "shape" else np.full_like(second, np.nan)
            return first, grad
        # mlp_backward
        dW, db = result[0]
        return [(dW.T if fault == "shape" else np.full_like(dW, np.nan), db)] + result[1:]

    return bad


FAULTS = {
    "raises": "{name} raised KeyError ('boom'): fix it ({selfcheck} -k {name})",
    "shape": "{name} returned ",
    "nan": "{name} returned NaN or inf from finite inputs: fix it ({selfcheck} -k {name})",
}
NAMES = [item.name for item in fields(Implementation)]


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", NAMES)
def test_each_fault_of_each_function_is_named_in_one_sentence(name, fault):
    impl = Implementation.of({name: _faulty(name, fault)}, REFERENCE)
    with pytest.raises(StudentCodeError) as caught:
        _run_quick(impl)
    message = str(caught.value)
    assert caught.value.function == name
    assert message.startswith(FAULTS[fault].format(name=name, selfcheck=SELFCHECK)), message
    assert message.endswith(f"fix it ({SELFCHECK} -k {name})")
    assert "\n" not in message
    # In a notebook IPython shows this in place of the traceback: the sentence alone.
    assert caught.value._render_traceback_() == [f"StudentCodeError: {message}"]


def test_the_checks_pass_correct_code_through_unchanged(flow_depth10):
    once = checked(REFERENCE)
    assert checked(once) is once
    again = flow.gradient_flow_grid(checked(REFERENCE), replace(config.FULL.flow, depth=10))
    assert [r["ratio"] for r in again] == [r["ratio"] for r in flow_depth10]


def test_the_stub_still_reads_as_unfinished(tmp_path, capsys):
    def stub(*args):
        raise NotImplementedError("mlp_backward: not implemented yet")

    impl = Implementation.of({"mlp_backward": stub}, REFERENCE)
    with pytest.raises(SystemExit) as stopped:
        cli.run(["--quick", "--out", str(tmp_path)], impl, "python -m exercises.experiments")
    assert str(stopped.value) == (
        "The experiments need your code: mlp_backward: not implemented yet. Finish it (check "
        "with `python -m pytest grader/selfcheck.py`) and run this again.")


# What each corpus bug that breaks the experiments makes them say (the others only change the
# numbers, and the experiments run through).
CORPUS_STOPS = {
    "dense_backward_db_axis1": "mlp_backward returned db of layer 7 with shape (16,), expected "
                               "(10,) (that of its parameter)",
    "dense_backward_db_scalar": "mlp_backward returned db of layer 1 with shape (), expected "
                                "(16,) (that of its parameter)",
    "dense_backward_dw_transposed": "mlp_backward returned dW of layer 7 with shape (10, 16), "
                                    "expected (16, 10) (that of its parameter)",
    "dense_backward_dx_no_transpose": "mlp_backward raised ValueError (matmul:",
    "dense_forward_transposed_weight": "mlp_forward raised ValueError (matmul:",
    "mlp_backward_off_by_one_cache": "mlp_backward raised ValueError (operands could not be "
                                     "broadcast together",
    "mlp_backward_reversed_order": "mlp_backward returned dW of layer 1 with shape (16, 10), "
                                   "expected (16, 16) (that of its parameter)",
}
# Bugs that stop the experiments only once training runs long enough to blow the weights up: the
# quick run (4 epochs on the 81 training points the held-out split leaves, 3 minibatches an
# epoch) only changes numbers; 10 epochs stop, as the full run does.
CORPUS_STOPS_LATER = {
    "softmax_missing_minus_one": "training diverged: the weights grew to",
}
# Where the exception was raised, when it is not the function the experiments called.
CORPUS_INSIDE = {
    "dense_backward_dx_no_transpose": ("mlp_backward", "dense_backward"),
    "dense_forward_transposed_weight": ("mlp_forward", "dense_forward"),
    "mlp_backward_off_by_one_cache": ("mlp_backward", "activation_backward"),
}


def _corpus_bugs():
    from tests.corpus.build import load_entries

    return {entry.path.stem: entry for entry in load_entries("bug")}


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(_corpus_bugs()))
def test_corpus_bugs_through_the_experiments(stem, tmp_path, monkeypatch, capsys):
    from tests.corpus.build import build_submission

    package = f"corpus_{stem}"
    build_submission(_corpus_bugs()[stem], tmp_path / package)
    monkeypatch.syspath_prepend(str(tmp_path))
    impl = Implementation.load(package)
    if stem in CORPUS_STOPS_LATER:
        _run_quick(impl)
        longer = replace(QUICK_TRAINING, net=replace(QUICK_TRAINING.net, epochs=10))
        with pytest.raises(StudentCodeError) as stopped:
            train.training_comparison(impl, longer)
        assert str(stopped.value).startswith(CORPUS_STOPS_LATER[stem]), str(stopped.value)
        return
    if stem not in CORPUS_STOPS:
        _run_quick(impl)  # the bug changes numbers only: no exception at all
        return
    with pytest.raises(SystemExit) as stopped:
        cli.run(["--quick", "--out", str(tmp_path / "out")], impl, "python -m x.experiments")
    message = str(stopped.value)
    assert message.startswith("The experiments stopped: " + CORPUS_STOPS[stem]), message
    assert "\n" not in message and "Traceback" not in capsys.readouterr().err
    if stem in CORPUS_INSIDE:
        called, inside = CORPUS_INSIDE[stem]
        assert message.endswith(f", inside {inside}: fix it ({SELFCHECK} -k "
                                f'"{called} or {inside}")'), message


@pytest.mark.parametrize("name", NAMES)
def test_the_notebooks_copy_names_the_function_and_its_test_cells(name, monkeypatch):
    # The notebook path: the extracted library, run on a namespace whose function raises, in a
    # kernel (ipykernel imported): the hint is the notebook's test cells, not the self-check.
    from course.notebook import experiment_library

    source, _ = experiment_library()
    namespace = {n: getattr(REFERENCE, n) for n in MODULE_OF_FUNCTION}
    namespace[name] = _faulty(name, "raises")
    exec(compile(source, "experiments_library", "exec"), namespace)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    impl = namespace["Implementation"].of(namespace)
    with pytest.raises(Exception) as caught:
        namespace["gradient_flow_grid"](impl, namespace["QUICK"].flow)
        namespace["training_comparison"](impl, namespace["QUICK"].training)
    message = f"{name} raised KeyError ('boom'): fix it (run the test cells of {name} above)"
    assert caught.value._render_traceback_() == [f"StudentCodeError: {message}"]


def test_progress_is_silent_off_a_terminal(tmp_path, capsys):
    cli.main(["--quick", "--only", "flow", "--out", str(tmp_path)], REFERENCE)
    assert capsys.readouterr().err == ""


def test_progress_bar_counts_every_epoch(capsys):
    from lesson.implementation import progress

    calls = []
    net = replace(config.QUICK.training.net, epochs=5)
    x, labels = train.make_spirals(TINY_SPIRALS)
    train.train_classifier(REFERENCE, x, labels, "relu", net, on_epoch=lambda: calls.append(1))
    assert len(calls) == 5
    with progress("steps", 3, True) as advance:
        for _ in range(3):
            advance()
    with progress("steps", 3, False) as advance:
        assert advance() is None


HELPERS = {"mlp_forward": ("dense_forward", "activation_forward"),
           "mlp_backward": ("dense_backward", "activation_backward")}


@pytest.mark.parametrize(("called", "helper"),
                         [(called, helper) for called, helpers in HELPERS.items()
                          for helper in helpers])
def test_an_exception_inside_a_helper_names_both(called, helper):
    # network's own function, run on a copy of its module namespace in which the helper it
    # calls raises: the sentence names the function called and the helper it raised in.
    def broken(*args):
        raise IndexError("deep down")

    namespace = dict(vars(network), **{helper: broken})
    function = types.FunctionType(getattr(network, called).__code__, namespace, called)
    impl = Implementation.of({called: function}, REFERENCE)
    with pytest.raises(StudentCodeError) as caught:
        _run_quick(impl)
    assert str(caught.value) == (f"{called} raised IndexError (deep down), inside {helper}: "
                                 f'fix it ({SELFCHECK} -k "{called} or {helper}")')
    assert caught.value.function == called
