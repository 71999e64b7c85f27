"""Tests for solutions/experiments.py: the measurements, the data set, the plots and the CLI."""

import numpy as np
import pytest

from solutions import experiments as ex
from solutions.network import mlp_backward, mlp_forward

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000, f"{path} is suspiciously small"
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"


@pytest.fixture(scope="module")
def flow_depth10():
    """The full activation x init grid at depth 10 (fast: one pass per net)."""
    return ex.gradient_flow_grid(depth=10)


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


def test_gradient_flow_result_shapes_and_types(flow_depth10):
    assert len(flow_depth10) == len(ex.ACTIVATIONS) * len(ex.INITS)
    for res in flow_depth10:
        assert len(res["dW_norms"]) == 10
        assert len(res["delta_norms"]) == 10
        for value in res["dW_norms"] + res["delta_norms"] + [res["dW_out_norm"], res["loss"]]:
            assert isinstance(value, float)
            assert np.isfinite(value) and value >= 0
        assert res["ratio"] == pytest.approx(res["dW_norms"][0] / res["dW_norms"][-1])
        assert res["ratio_delta"] == pytest.approx(res["delta_norms"][0] / res["delta_norms"][-1])


def test_gradient_flow_is_deterministic():
    a = ex.gradient_flow("tanh", "glorot", depth=4, width=8, batch=8, seed=3)
    b = ex.gradient_flow("tanh", "glorot", depth=4, width=8, batch=8, seed=3)
    c = ex.gradient_flow("tanh", "glorot", depth=4, width=8, batch=8, seed=4)
    assert a == b
    assert a["dW_norms"] != c["dW_norms"]


def test_delta_norms_agree_with_weight_gradients():
    # For the first layer dW_1 = x^T dz_1, so ||dW_1|| <= ||x||_F ||dz_1||_F; with a single
    # example (batch 1) it is an outer product and the bound is an equality.
    res = ex.gradient_flow("sigmoid", "glorot", depth=5, width=8, batch=1, seed=1)
    x = np.random.default_rng(1).standard_normal((1, 8))
    assert res["dW_norms"][0] == pytest.approx(np.linalg.norm(x) * res["delta_norms"][0])


def test_gradient_flow_uses_the_functions_it_is_given():
    calls = {"forward": 0, "backward": 0}

    def forward(x, params, activation):
        calls["forward"] += 1
        return mlp_forward(x, params, activation)

    def backward(dout, caches):
        calls["backward"] += 1
        return mlp_backward(dout, caches)

    reference = ex.gradient_flow("relu", "he", depth=3, width=8, batch=4)
    res = ex.gradient_flow(
        "relu", "he", depth=3, width=8, batch=4, forward=forward, backward=backward
    )
    assert calls == {"forward": 1, "backward": 1}
    assert res == reference


def test_init_weights_scales():
    rng = np.random.default_rng(0)
    sizes = [200, 300, 100]
    glorot = ex.init_weights(sizes, "glorot", rng)
    he = ex.init_weights(sizes, "he", rng)
    small = ex.init_weights(sizes, "small", rng)
    for params in (glorot, he, small):
        assert [W.shape for W, _ in params] == [(200, 300), (300, 100)]
        assert all(b.shape == (W.shape[1],) and not b.any() for W, b in params)
        assert all(W.dtype == np.float64 for W, _ in params)
    limit = np.sqrt(6 / 500)
    assert np.abs(glorot[0][0]).max() <= limit
    assert np.abs(glorot[0][0]).max() > 0.95 * limit
    assert he[0][0].std() == pytest.approx(np.sqrt(2 / 200), rel=0.05)
    assert small[0][0].std() == pytest.approx(0.01, rel=0.05)
    with pytest.raises(ValueError):
        ex.init_weights(sizes, "xavier", rng)


def test_gradient_flow_table_lists_every_run(flow_depth10):
    table = ex.gradient_flow_table(flow_depth10)
    lines = table.splitlines()
    assert len(lines) == 2 + len(flow_depth10)
    assert "r_delta" in lines[0]
    assert lines[2].split()[:2] == ["sigmoid", "glorot"]
    assert len({len(line) for line in lines}) == 1  # fixed width


# --- data -------------------------------------------------------------------------------------


def test_spirals_shapes_and_labels():
    x, labels = ex.make_spirals(300, 0.2, np.random.default_rng(0))
    assert x.shape == (900, 2) and x.dtype == np.float64
    assert labels.shape == (900,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [300, 300, 300]
    assert np.all(np.linalg.norm(x, axis=1) <= 1.0 + 1e-12)


def test_spirals_deterministic_per_seed():
    x1, y1 = ex.make_spirals(50, 0.2, np.random.default_rng(7))
    x2, y2 = ex.make_spirals(50, 0.2, np.random.default_rng(7))
    x3, _ = ex.make_spirals(50, 0.2, np.random.default_rng(8))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


# --- experiments 2 and 3 ----------------------------------------------------------------------


def test_train_classifier_shallow_relu_learns():
    x, labels = ex.make_spirals(60, 0.1, np.random.default_rng(0))
    res = ex.train_classifier(
        x, labels, "relu", depth=2, width=32, lr=0.1, epochs=40, batch=16, track_updates=True
    )
    assert len(res["accuracy"]) == 40 and len(res["loss"]) == 40
    assert res["final_accuracy"] > 0.5
    assert res["loss"][-1] < res["loss"][0]
    assert len(res["update_ratios"]) == 3  # two hidden layers and the output layer
    assert all(len(r) == 40 for r in res["update_ratios"])
    assert len(res["final_grad_norms"]) == 3


def test_layer_speed_and_training_comparison_structure():
    speed = ex.layer_speed(depth=3, width=8, epochs=2, n_per_class=20)
    assert [run["activation"] for run in speed["runs"]] == ["sigmoid", "relu"]
    assert all(len(run["update_ratios"]) == 4 for run in speed["runs"])
    training = ex.training_comparison(
        depth=3, width=8, epochs=2, n_per_class=20, grid_resolution=10
    )
    assert [(r["activation"], r["lr"]) for r in training["runs"]] == list(ex.DEFAULT_RUNS)
    assert training["runs"][0]["grid"]["pred"].shape == (10, 10)
    assert training["controls"][0]["depth"] == 2
    assert training["chance"] == pytest.approx(1 / 3)


# --- plots and command line -------------------------------------------------------------------


def test_log_plots_survive_exact_zeros(tmp_path):
    # A gradient or an update that underflowed to exactly 0 must not break a log-scale plot.
    results = ex.gradient_flow_grid(depth=4, width=8, batch=8)
    results[0]["dW_norms"][0] = 0.0
    ex.plot_gradient_flow(results, tmp_path / "flow.png")
    assert_png(tmp_path / "flow.png")
    speed = ex.layer_speed(depth=2, width=8, epochs=2, n_per_class=20)
    speed["runs"][0]["update_ratios"][0][0] = 0.0
    ex.plot_layer_speed(speed, tmp_path / "speed.png")
    assert_png(tmp_path / "speed.png")


def test_main_quick_writes_all_pngs(tmp_path, capsys):
    written = ex.main(["--quick", "--out", str(tmp_path)])
    names = {"gradient_flow", "delta_flow", "layer_speed", "training", "decision_boundary"}
    assert set(written) == names
    for path in written.values():
        assert path.parent == tmp_path
        assert_png(path)
    out = capsys.readouterr().out
    assert "r_delta" in out
    assert "What the measurements show" in out
    assert str(written["training"]) in out


def test_main_only_runs_one_experiment(tmp_path):
    written = ex.main(["--quick", "--only", "speed", "--out", str(tmp_path)])
    assert set(written) == {"layer_speed"}
