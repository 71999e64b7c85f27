"""Tests for the figures that explain: the dial (lesson/dial.py), the saturation histograms
(lesson/saturation.py), the headline comparison, and what every compared figure promises (shared
axes, vanished values drawn as vanished). Laws are checked on the reference at the sizes the
lesson runs; shapes at QUICK size."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lesson import cli, config, dial, flow, plots, saturation, summary
from lesson.implementation import MODULE_OF_FUNCTION, Implementation
from solutions import activations

REFERENCE = Implementation.load("solutions")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Every law below is a statement about a geometric mean over 16 layers of a 64-wide net with
# 4 backward rows: its sampling noise is ~2%, so 12% bands cannot fail by chance.
BAND = 0.12
# The slope at 0 that sets each activation's gain at small scale: ||delta_l|| is about
# (weight scale) x (root-mean-square slope) x ||delta_{l+1}||. ReLU passes half its units with
# slope 1, so its root-mean-square slope is 1 / sqrt(2) at every scale.
SLOPE_AT_ZERO = {"sigmoid": 0.25, "centred_sigmoid": 0.25, "tanh": 1.0, "relu": 2 ** -0.5}
LAWS = settings(derandomize=True, deadline=None, max_examples=8)


def one_scale(scale: float, activation: str) -> dial.Dial:
    """The lesson's dial net, measured at one scale (and the three inits') for one activation."""
    return replace(config.FULL.dial, scale_min=scale, scale_max=scale, points=1,
                   activations=(activation,))


def gain_at_scale(data: dict, scale: float, key: str = "backward_gain") -> float:
    index = int(np.argmin(np.abs(data["scales"] - scale)))
    return float(data["curves"][0][key][index])


@pytest.fixture(scope="module")
def full_dial():
    return dial.backward_gain_sweep(REFERENCE, config.FULL.dial)


@pytest.fixture(scope="module")
def quick_dial():
    return dial.backward_gain_sweep(REFERENCE, config.QUICK.dial)


@pytest.fixture(scope="module")
def quick_saturation():
    return saturation.saturation_histograms(REFERENCE, config.QUICK.saturation)


@pytest.fixture(scope="module")
def quick_flow():
    return flow.gradient_flow_grid(REFERENCE, config.QUICK.flow)


@pytest.fixture(scope="module")
def deep_flow():
    """Deep enough (12 layers) for the small init's gradients to vanish below 1e-16."""
    return flow.gradient_flow_grid(REFERENCE, replace(config.QUICK.flow, depth=12))


# --- the dial: shapes ---------------------------------------------------------------------


def test_dial_returns_the_documented_shapes(quick_dial):
    quick = config.QUICK.dial
    scales = quick_dial["scales"]
    assert scales.dtype == np.float64 and scales.ndim == 1
    assert np.all(np.diff(scales) > 0)
    # The sweep's points and the three inits' scales (0.01 * sqrt(16) = 0.04 is one of them).
    assert len(scales) == quick.points + 3
    assert quick_dial["marks"] == pytest.approx({"glorot": 1.0, "he": 2 ** 0.5, "small": 0.04})
    assert all(mark in scales for mark in quick_dial["marks"].values())
    assert [c["activation"] for c in quick_dial["curves"]] == list(config.DIAL_ACTIVATIONS)
    for curve in quick_dial["curves"]:
        assert curve["backward_gain"].shape == curve["forward_gain"].shape == scales.shape
        assert curve["layer_backward_gains"].shape == (len(scales), quick.depth)
        assert curve["forward_spread"].shape == (len(scales), quick.depth)
        assert curve["backward_gain"].dtype == np.float64
        assert np.all(np.isfinite(curve["backward_gain"]))
    assert (quick_dial["depth"], quick_dial["width"]) == (quick.depth, quick.width)


def test_dial_is_deterministic(quick_dial):
    again = dial.backward_gain_sweep(REFERENCE, config.QUICK.dial)
    for first, second in zip(quick_dial["curves"], again["curves"], strict=True):
        np.testing.assert_array_equal(first["backward_gain"], second["backward_gain"])
        np.testing.assert_array_equal(first["forward_spread"], second["forward_spread"])


# --- the dial: laws -----------------------------------------------------------------------


def test_relu_at_he_scale_keeps_the_gradient(full_dial):
    assert abs(dial.gain_at(full_dial, "relu", "he") - 1.0) < BAND
    assert abs(dial.gain_at(full_dial, "relu", "he", "forward_gain") - 1.0) < BAND


@pytest.mark.parametrize("activation", ["sigmoid", "centred_sigmoid"])
def test_sigmoid_at_glorot_scale_shrinks_it_about_fourfold_per_layer(full_dial, activation):
    # Glorot assumes a slope of 1 at 0; the sigmoid's is 1/4, so each layer keeps about 1/4.
    gain = dial.gain_at(full_dial, activation, "glorot")
    assert gain < 1.0
    assert abs(gain / 0.25 - 1.0) < BAND


def test_the_inits_scales_sit_where_the_schemes_put_them(full_dial):
    assert full_dial["marks"] == pytest.approx({"glorot": 1.0, "he": 2 ** 0.5, "small": 0.08})


@pytest.mark.parametrize("activation", list(SLOPE_AT_ZERO))
@LAWS
@given(scale=st.floats(0.05, 0.3))
def test_at_small_scale_the_gain_is_scale_times_slope(activation, scale):
    # Near 0 every activation is linear with its slope at 0: each layer multiplies the
    # gradient (and the forward spread) by the weight scale times that slope.
    data = dial.backward_gain_sweep(REFERENCE, one_scale(scale, activation))
    expected = scale * SLOPE_AT_ZERO[activation]
    assert abs(gain_at_scale(data, scale) / expected - 1.0) < BAND
    assert abs(gain_at_scale(data, scale, "forward_gain") / expected - 1.0) < BAND


@LAWS
@given(scale=st.floats(0.05, 12.0))
def test_relu_gain_is_scale_over_root_two_at_every_scale(scale):
    # ReLU is positively homogeneous: the law of small scales holds at all of them.
    data = dial.backward_gain_sweep(REFERENCE, one_scale(scale, "relu"))
    assert abs(gain_at_scale(data, scale) * 2 ** 0.5 / scale - 1.0) < BAND


def test_where_each_activation_reaches_gain_one(full_dial):
    crossing = {c["activation"]: c["unit_gain_scale"] for c in full_dial["curves"]}
    assert abs(crossing["relu"] / 2 ** 0.5 - 1.0) < BAND
    assert 1.0 < crossing["tanh"] < 2.0
    # The centred sigmoid needs about four times Glorot's weights (slope 1/4); the plain one
    # more still: its outputs' common offset of 1/2 pushes the units into saturation.
    assert 3.0 < crossing["centred_sigmoid"] < 10.0
    assert not crossing["sigmoid"] < crossing["centred_sigmoid"]


def test_the_backward_gain_grows_with_the_weight_scale(full_dial):
    for curve in full_dial["curves"]:
        gains = curve["backward_gain"]
        assert np.all(np.diff(gains) > -0.05 * gains[1:]), curve["activation"]


def test_centred_weights_make_a_sigmoid_net_a_centred_sigmoid_net():
    # The biases of scaled_weights(..., centred=True) give a sigmoid net exactly the
    # pre-activations of a net of sigmoid(z) - 1/2 units (computed here layer by layer).
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 8))
    base = REFERENCE.init_params([8, 8, 8, 8, 4], "relu", rng)
    params = dial.scaled_weights(base, 2.0, centred=True)
    plain = dial.scaled_weights(base, 2.0)
    a = x
    for layer, (W, b) in enumerate(plain, start=1):
        z = a @ W + b
        cut, _ = REFERENCE.mlp_forward(x, params[:layer], "sigmoid")
        np.testing.assert_allclose(cut, z, rtol=1e-12, atol=1e-12)
        a = activations.sigmoid(z) - 0.5


@LAWS
@given(scale=st.floats(0.01, 20.0), width=st.integers(2, 40))
def test_scaled_weights_have_the_asked_scale(scale, width):
    base = REFERENCE.init_params([width, width, 3], "tanh", np.random.default_rng(width))
    for W, _ in dial.scaled_weights(base, scale):
        assert np.sqrt(np.mean(W**2)) * np.sqrt(W.shape[0]) == pytest.approx(scale, rel=1e-12)


def test_layer_outputs_are_the_activations():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5))
    params = REFERENCE.init_params([5, 7, 7, 3], "tanh", rng)
    outputs = dial.layer_outputs(REFERENCE, x, params, "tanh")
    assert [a.shape for a in outputs] == [(6, 7), (6, 7)]
    np.testing.assert_allclose(outputs[0], np.tanh(x @ params[0][0] + params[0][1]))
    np.testing.assert_allclose(outputs[1], np.tanh(outputs[0] @ params[1][0] + params[1][1]))


def test_the_dial_runs_on_the_functions_it_is_given():
    # An implementation whose forward pass computes tanh when asked for relu: the relu
    # curve becomes the tanh curve. Nothing in the dial computes a layer of its own.
    def forward(x, params, activation):
        return REFERENCE.mlp_forward(x, params, "tanh" if activation == "relu" else activation)

    def backward(dout, caches):
        return REFERENCE.mlp_backward(dout, caches)

    twisted = Implementation.of({"mlp_forward": forward, "mlp_backward": backward}, REFERENCE)
    small = replace(config.QUICK.dial, activations=("relu", "tanh"))
    relu, tanh = dial.backward_gain_sweep(twisted, small)["curves"]
    np.testing.assert_array_equal(relu["backward_gain"], tanh["backward_gain"])
    honest = dial.backward_gain_sweep(REFERENCE, small)["curves"][0]
    assert not np.allclose(honest["backward_gain"], relu["backward_gain"])


@pytest.mark.parametrize(("gains", "expected"), [
    ([0.1, 0.5, 2.0], 2 ** 0.5),        # halfway from 1 to 2 on log axes (0.5 .. 2)
    ([1.0, 2.0, 4.0], 0.5),             # already 1 at the first scale
    ([0.1, 0.2, 0.4], float("nan")),    # never
    ([0.0, 0.5, 2.0], 2 ** 0.5),        # a 0 before the crossing is no obstacle
    ([float("nan"), 0.5, 1.0], 2.0),    # exactly 1 at a measured point
])
def test_unit_gain_scale_enumerated(gains, expected):
    scales = np.array([0.5, 1.0, 2.0])
    result = dial.unit_gain_scale(scales, np.array(gains))
    if np.isnan(expected):
        assert np.isnan(result)
    else:
        assert result == pytest.approx(expected)


@LAWS
@given(c=st.floats(0.05, 20.0), p=st.floats(0.3, 3.0))
def test_unit_gain_scale_is_exact_for_power_laws(c, p):
    # gain = c * scale^p is a straight line on log-log axes, which the interpolation follows.
    scales = np.geomspace(0.01, 100.0, 15)
    # The crossing lies inside the scales measured.
    assume(c * scales[0] ** p < 1.0 <= c * scales[-1] ** p)
    crossing = dial.unit_gain_scale(scales, c * scales**p)
    assert crossing == pytest.approx(c ** (-1 / p), rel=1e-9)


@pytest.mark.parametrize(("values", "expected"), [
    ([2.0, 8.0], 4.0),
    ([2.0, 0.0, 8.0, float("nan"), float("inf")], 4.0),
    ([0.0, float("nan")], float("nan")),
])
def test_geometric_mean_skips_what_is_not_a_gain(values, expected):
    result = dial.geometric_mean(np.array(values))
    assert (np.isnan(result) and np.isnan(expected)) or result == pytest.approx(expected)


def test_forward_spread_ignores_what_rounding_left():
    # A layer of sigmoid units all at 1/2 + 1e-17: no spread float64 can represent.
    rng = np.random.default_rng(0)
    lively = 0.5 + 0.1 * rng.standard_normal((8, 4))
    flat = np.full((8, 4), 0.5) + 1e-17 * rng.standard_normal((8, 4))
    spread, resolved = dial.forward_spread([lively, flat])
    assert spread[0] > 0.05 and resolved.tolist() == [True, False]


# --- saturation ---------------------------------------------------------------------------


def test_saturation_returns_the_documented_shapes(quick_saturation):
    quick = config.QUICK.saturation
    assert quick_saturation["epochs"] == quick.net.epochs
    assert [(r["activation"], r["lr"]) for r in quick_saturation["runs"]] == list(quick.runs)
    for run in quick_saturation["runs"]:
        assert run["edges"].shape == (quick.bins + 1,)
        assert (run["edges"][0], run["edges"][-1]) == saturation.ACTIVATION_RANGE[run["activation"]]
        for stage in ("init", "trained"):
            counts, share = run[stage]["counts"], run[stage]["saturated"]
            assert counts.shape == (quick.net.depth, quick.bins) and counts.dtype == np.int64
            # Every value of every unit lands in exactly one bin.
            assert np.all(counts.sum(axis=1) == quick_saturation["n_points"] * quick.net.width)
            assert share.shape == (quick.net.depth,)
            assert np.all((share >= 0) & (share <= 1))


@pytest.mark.parametrize(("activation", "value", "flat"), [
    ("tanh", 0.99, False), ("tanh", 0.995, True), ("tanh", -0.995, True), ("tanh", 0.0, False),
    ("tanh", -0.99, False), ("tanh", 1.0, True),
    ("sigmoid", 0.005, True), ("sigmoid", 0.01, False), ("sigmoid", 0.5, False),
    ("sigmoid", 0.99, False), ("sigmoid", 0.999, True), ("sigmoid", 1.0, True),
])
def test_saturated_values_enumerated(activation, value, flat):
    assert saturation.saturated_fraction(np.array([value]), activation) == float(flat)


@settings(derandomize=True, deadline=None, max_examples=40)
@given(values=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=50))
def test_saturated_fraction_counts_the_flat_values(values):
    a = np.array(values)
    share = saturation.saturated_fraction(a, "tanh")
    assert 0.0 <= share <= 1.0
    assert share == pytest.approx(np.count_nonzero(np.abs(a) > 0.99) / len(a))
    sigmoid_like = (a + 1.0) / 2.0
    share = saturation.saturated_fraction(sigmoid_like, "sigmoid")
    flat = (sigmoid_like < 0.01) | (sigmoid_like > 0.99)
    assert share == pytest.approx(np.count_nonzero(flat) / len(a))


def test_saturation_is_measured_for_bounded_activations_only():
    with pytest.raises(ValueError, match="tanh and sigmoid"):
        saturation.saturated_fraction(np.zeros(3), "relu")
    with pytest.raises(ValueError, match="tanh and sigmoid"):
        saturation.saturation_histograms(REFERENCE, replace(config.QUICK.saturation,
                                                            runs=(("relu", 0.1),)))


def test_tanh_at_lr_half_saturates_and_at_lr_tenth_much_less():
    # The lesson's sizes (900 points, 10 x 32, 30 epochs): saturation happens at lr 0.5.
    data = saturation.saturation_histograms(
        REFERENCE, replace(config.FULL.saturation, runs=(("tanh", 0.5), ("tanh", 0.1))))
    fast, slow = data["runs"]
    assert np.max(fast["init"]["saturated"]) < 0.01
    assert np.max(fast["trained"]["saturated"]) > 0.2
    assert np.mean(fast["trained"]["saturated"]) > np.mean(fast["init"]["saturated"])
    assert np.max(slow["trained"]["saturated"]) < np.max(fast["trained"]["saturated"]) / 2


def test_sigmoid_units_are_not_saturated_at_glorot_init():
    # Its gradient vanishes all the same: saturation is not the first mechanism.
    data = saturation.saturation_histograms(
        REFERENCE, replace(config.FULL.saturation, runs=(("sigmoid", 0.5),),
                           net=replace(config.FULL.saturation.net, epochs=0)))
    assert np.max(data["runs"][0]["init"]["saturated"]) < 0.01


# --- the figures ----------------------------------------------------------------------------


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE), path


def shared(axes, which: str) -> bool:
    group = axes[0].get_shared_y_axes() if which == "y" else axes[0].get_shared_x_axes()
    return all(group.joined(axes[0], ax) for ax in axes[1:])


def visible_axes(fig):
    # Colour bars and secondary axes are axes too; the panels are the ones with an x label.
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]


@pytest.mark.parametrize("key", ["dW_norms", "delta_norms"])
def test_flow_panels_share_their_y_axis(quick_flow, key):
    fig = plots.norms_by_activation_figure(quick_flow, key, "norm", "title")
    panels = visible_axes(fig)
    assert len(panels) == len(config.QUICK.flow.activations)
    assert shared(panels, "y") and shared(panels, "x")


@pytest.mark.parametrize("key", ["dW_norms", "delta_norms"])
def test_vanished_values_are_drawn_hollow_in_a_band(deep_flow, key):
    # The small init's gradients (1e-16 and below at depth 12) must not pass for healthy:
    # every value under VANISHED is drawn hollow, inside the hatched band, and no other.
    fig = plots.norms_by_activation_figure(deep_flow, key, "norm", "title")
    vanished = sum(int(np.count_nonzero(np.asarray(r[key]) < plots.VANISHED))
                   for r in deep_flow)
    assert vanished > 0
    hollow = [line for ax in visible_axes(fig) for line in ax.lines
              if line.get_markerfacecolor() == "white"]
    assert sum(len(line.get_ydata()) for line in hollow) == vanished
    assert all(np.all(np.asarray(line.get_ydata()) < plots.VANISHED) for line in hollow)
    for ax in visible_axes(fig):
        bands = [p for p in ax.patches if p.get_hatch()]
        assert len(bands) == 1
        assert ax.get_ylim()[0] < min(min(r[key]) for r in deep_flow)


def test_exact_zeros_are_crosses_at_the_bottom_and_keep_the_axis_readable(quick_flow):
    results = [dict(r) for r in quick_flow]
    results[0] = dict(results[0], dW_norms=[0.0, *results[0]["dW_norms"][1:]])
    fig = plots.norms_by_activation_figure(results, "dW_norms", "norm", "title")
    ax = visible_axes(fig)[0]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_ydata()[0] == pytest.approx(ax.get_ylim()[0])
    smallest = min(v for r in results for v in r["dW_norms"] if v > 0)
    # Not stretched down to 1e-300: a decade below the smallest value or the vanished band.
    assert ax.get_ylim()[0] == pytest.approx(min(smallest / 10, plots.VANISHED / 100))
    assert "exactly 0" in fig.get_suptitle()


def test_layer_speed_panels_share_their_y_axis():
    from lesson import train

    speed = train.layer_speed(REFERENCE, config.QUICK.speed)
    panels = visible_axes(plots.layer_speed_figure(speed))
    assert len(panels) == len(config.QUICK.speed.activations) and shared(panels, "y")


def test_training_panels_share_their_axes(tmp_path, monkeypatch):
    # plot_training builds its Figure inside: catch it as it is saved.
    from matplotlib.figure import Figure

    from lesson import train

    saved = []
    original = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda fig, *args, **kw: saved.append(fig) or original(fig, *args, **kw))
    training = train.training_comparison(REFERENCE, config.QUICK.training)
    assert_png(plots.plot_training(training, tmp_path / "training.png"))
    panels = visible_axes(saved[0])
    assert len(panels) == len(config.QUICK.training.runs)
    assert shared(panels, "y") and shared(panels, "x")


def test_headline_shows_both_nets_on_one_axis_with_their_ratios(quick_flow):
    fig = plots.headline_figure(quick_flow)
    (ax,) = visible_axes(fig)
    assert ax.get_yscale() == "log"
    texts = " ".join(t.get_text() for t in ax.texts)
    labels = " ".join(line.get_label() for line in ax.lines)
    for activation, init, name in (("sigmoid", "glorot", "sigmoid + Glorot"),
                                   ("relu", "he", "ReLU + He")):
        res = next(r for r in quick_flow if (r["activation"], r["init"]) == (activation, init))
        assert f"{res['ratio_delta']:.1e}" in texts and name in texts
        assert f"{name}: r_delta = {res['ratio_delta']:.1e}" in labels


def test_dial_panels_share_both_axes_and_mark_every_init(quick_dial):
    fig = plots.dial_figure(quick_dial)
    panels = visible_axes(fig)
    assert len(panels) == 2 and shared(panels, "x") and shared(panels, "y")
    for ax in panels:
        assert ax.get_xscale() == ax.get_yscale() == "log"
        # The gain-1 line, and one marker per (activation, init).
        assert any(np.all(np.asarray(line.get_ydata()) == 1.0) for line in ax.lines)
        markers = [line for line in ax.lines if line.get_marker() in plots.INIT_MARKERS.values()]
        assert len(markers) == len(quick_dial["curves"]) * len(quick_dial["marks"])
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "gain 1 at scale" in legend and "Glorot" in legend and "He" in legend


def test_dial_plot_survives_gains_that_are_not_numbers(quick_dial, tmp_path):
    data = dict(quick_dial, curves=[dict(c) for c in quick_dial["curves"]])
    data["curves"][0]["forward_gain"] = np.full_like(data["scales"], np.nan)
    assert_png(plots.plot_dial(data, tmp_path / "dial.png"))


def test_saturation_figure_compares_on_shared_axes(quick_saturation, tmp_path):
    fig = plots.saturation_figure(quick_saturation)
    panels = visible_axes(fig)
    runs = len(quick_saturation["runs"])
    assert len(panels) == 3 * runs
    fractions = panels[2::3]
    assert shared(fractions, "x") and fractions[0].get_xlim() == (0.0, 1.0)
    assert_png(plots.plot_saturation(quick_saturation, tmp_path / "saturation.png"))


# --- the run, the summary, the notebook's copy ----------------------------------------------


# (--only flow, which now also draws headline.png, is tested in test_experiments.py.)
@pytest.mark.parametrize(("only", "names"), [
    ("dial", {"dial"}),
    ("saturation", {"saturation"}),
])
def test_only_one_experiment_writes_its_figures(only, names, tmp_path, capsys):
    written = cli.main(["--quick", "--only", only, "--out", str(tmp_path)], REFERENCE)
    assert set(written) == names
    for path in written.values():
        assert_png(path)
    out = capsys.readouterr().out
    assert f"[{only}: " in out


def test_summary_states_the_measured_gains(full_dial, quick_saturation):
    sentences = summary.summarize(dial=full_dial, saturation=quick_saturation)
    relu_he = dial.gain_at(full_dial, "relu", "he")
    assert f"{relu_he:.2f} (relu)" in sentences[0]
    assert f"{dial.gain_at(full_dial, 'sigmoid', 'glorot'):.2f} (sigmoid)" in sentences[0]
    # At Glorot's scale the sigmoid contracts forward as it does backward: said, because measured.
    assert "the same contraction both ways" in sentences[1]
    tanh = quick_saturation["runs"][0]
    assert f"up to {np.max(tanh['trained']['saturated']):.0%} after training" in sentences[2]
    assert f"at most {np.max(tanh['init']['saturated']):.0%} of any layer's values" in sentences[2]


def test_summary_says_no_more_than_it_measured(full_dial):
    # A forward pass that did not contract: the sentence reports the numbers, nothing more.
    data = dict(full_dial, curves=[dict(c) for c in full_dial["curves"]])
    sigmoid = next(c for c in data["curves"] if c["activation"] == "sigmoid")
    sigmoid["forward_gain"] = np.ones_like(sigmoid["forward_gain"])
    sentences = summary.summarize(dial=data)
    assert "the same contraction" not in " ".join(sentences)
    assert "by a factor 1.00 per layer" in sentences[1]


def test_the_notebooks_copy_runs_the_dial_and_the_saturation(tmp_path):
    # The names the notebook's cells call (written by the narrative) exist in its library.
    from course.notebook import experiment_library

    source, renames = experiment_library()
    assert renames == {}
    namespace = {name: getattr(REFERENCE, name) for name in MODULE_OF_FUNCTION}
    exec(compile(source, "experiments_library", "exec"), namespace)
    impl = namespace["Implementation"].of(namespace)
    data = namespace["backward_gain_sweep"](impl, namespace["QUICK"].dial)
    assert_png(namespace["plot_dial"](data, tmp_path / "dial.png"))
    mine = dial.backward_gain_sweep(REFERENCE, config.QUICK.dial)
    np.testing.assert_array_equal(data["curves"][0]["backward_gain"],
                                  mine["curves"][0]["backward_gain"])
    sat = namespace["saturation_histograms"](impl, namespace["QUICK"].saturation)
    assert [run["activation"] for run in sat["runs"]] == ["tanh", "tanh", "sigmoid"]
    # Drawing it is tested above; here only that the cell's function is there to call.
    assert callable(namespace["plot_saturation"])
    results = namespace["gradient_flow_grid"](impl, namespace["QUICK"].flow)
    assert_png(namespace["plot_headline"](results, tmp_path / "headline.png"))
