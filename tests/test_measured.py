"""Every number the lesson quotes comes from the data file, and the data from the studies' code.

course/measured.json is written by `make study` (lesson/studies.py); course/measured.py fills
the narrative's {{key}} placeholders (and so the notebook and LESSON.md) and the README's
<!--m key-->VALUE<!--/m--> markers from it. These tests hold the three together: the formats
round-trip, every placeholder and marker resolves to the data, the data has every key of the
contract between the studies and the narrative with a sane range, and a quick study writes the
same keys (so code and data cannot drift apart).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course import lesson_md, measured
from course import notebook as course_notebook
from lesson import studies, train
from tests.strategies import generated

REPO = Path(__file__).resolve().parent.parent
DATA = measured.load()
ACTS = ("sigmoid", "tanh", "relu", "leaky_relu")
INITS = ("glorot", "he", "small")
RUNS = ("sigmoid_lr0.5", "tanh_lr0.5", "tanh_lr0.1", "relu_lr0.1", "relu_glorot_lr0.1",
        "leaky_relu_lr0.1", "shallow_sigmoid_lr0.5")
UNICODE_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def contract_keys() -> list[str]:
    """The keys the data file must have (the contract between the studies and the text)."""
    keys = [f"flow.{act}.{init}.{what}"
            for act, init, what in itertools.product(ACTS, INITS, ("r", "r_delta", "gain"))]
    keys += ["flow.sigmoid.glorot.mean_slope", "flow.sigmoid.normal1.depth10.r_delta",
             "flow.tanh.glorot.depth10.r_delta", "flow.relu.glorot.depth10.r_delta",
             "flow.relu.he.depth10.r_delta"]
    keys += [f"collapse.{act}.layer{k}" for act in ("sigmoid", "relu") for k in (1, 10)]
    keys += [f"speed.{act}.{what}" for act in ("sigmoid", "relu")
             for what in ("first", "last", "ratio")]
    keys += [f"training.{run}.{part}" for run in RUNS for part in ("train", "heldout")]
    keys += ["training.relu_lr0.1.epochs_to_95", "training.relu_glorot_lr0.1.epochs_to_95",
             "training.tanh_lr0.5.peak_train"]
    keys += [f"sweep.{act}.{what}" for act in ACTS for what in ("best_lr", "heldout")]
    keys += ["sweep.sigmoid.max_heldout"]
    keys += [f"frozen.{act}.{which}.heldout" for act in ("sigmoid", "relu")
             for which in ("first1", "first3", "last1", "last3", "none")]
    keys += ["saturation.tanh_lr0.5.init", "saturation.tanh_lr0.5.trained",
             "saturation.tanh_lr0.1.trained"]
    return keys


def parse(text: str, unit: str) -> float:
    """A formatted number back to a float (the inverse of measured.format_value)."""
    if unit in ("accuracy", "fraction"):
        assert text.endswith("%"), text
        return float(text[:-1]) / 100
    if "×10" in text:
        mantissa, exponent = text.split("×10")
        return float(mantissa) * 10.0 ** int(exponent.translate(UNICODE_DIGITS))
    return float(text)


# --- formats ---------------------------------------------------------------------------------

MAGNITUDES = st.builds(lambda m, e, sign: sign * m * 10.0**e, st.floats(1.0, 9.999),
                       st.integers(-30, 8), st.sampled_from((1.0, -1.0)))


@generated(300)
@given(x=MAGNITUDES, unit=st.sampled_from(("ratio", "value")))
def test_two_figures_round_trip(x, unit):
    text = measured.format_value(x, unit)
    back = parse(text, unit)
    # 2 significant figures: within half a unit of the second digit
    assert abs(back - x) <= 0.05 * abs(x) * (1 + 1e-9)
    significant = re.sub(r"×10.*|[-.]", "", text).strip("0")
    assert len(significant) <= 2, text
    rounded = abs(back)
    assert ("×10" in text) == (rounded < 0.01 or rounded >= 1000), text


@generated(200)
@given(x=st.floats(0.0, 1.0))
def test_accuracy_and_fraction_round_trip(x):
    accuracy = measured.format_value(x, "accuracy")
    assert re.fullmatch(r"\d{1,3}\.\d%", accuracy)
    assert abs(parse(accuracy, "accuracy") - x) <= 0.0005 + 1e-12
    fraction = measured.format_value(x, "fraction")
    back = parse(fraction, "fraction")
    if x >= 0.01:
        assert re.fullmatch(r"\d{1,3}%", fraction) and abs(back - x) <= 0.005 + 1e-12
    elif x > 0:  # one significant figure below 1%
        assert abs(back - x) <= 0.5 * 10.0 ** math.floor(math.log10(x)) * (1 + 1e-9)


@generated(200)
@given(values=st.lists(MAGNITUDES | st.floats(0.0, 1.0), min_size=1, max_size=5),
       unit=st.sampled_from(measured.UNITS))
def test_range_is_low_to_high_and_brackets_the_median(values, unit):
    if unit in ("accuracy", "fraction"):
        values = [min(abs(v), 1.0) for v in values]
    if unit == "epochs":
        values = [float(round(abs(v) * 100)) for v in values]
    entry = studies.entry(values, unit, "test")
    low, high = measured.format_entry(entry, "range").split(" to ")
    median = measured.format_entry(entry)
    assert parse(low, unit) <= parse(median, unit) <= parse(high, unit)
    assert measured.format_entry(entry, "n") == str(len(values))


@pytest.mark.parametrize(("x", "unit", "text"), [
    (4.2e-13, "ratio", "4.2×10⁻¹³"), (4e-13, "ratio", "4×10⁻¹³"), (0.234, "ratio", "0.23"),
    (1.24, "ratio", "1.2"), (0.00999, "ratio", "0.01"), (1234.0, "value", "1.2×10³"),
    (0.9943, "accuracy", "99.4%"), (1 / 3, "accuracy", "33.3%"), (0.234, "fraction", "23%"),
    (0.004, "fraction", "0.4%"), (0.0, "fraction", "0%"), (37.0, "epochs", "37"),
    (0.1, "value", "0.1"), (10.0, "value", "10"),
])
def test_the_contracts_examples(x, unit, text):
    assert measured.format_value(x, unit) == text


def test_placeholders_render_median_range_and_n():
    data = {"a.b": {"median": 0.5, "low": 0.25, "high": 0.75, "n": 5, "unit": "accuracy",
                    "what": "test"}}
    text = "x {{a.b}}, {{ a.b:range }} over {{a.b:n}} seeds"
    assert measured.render(text, data) == "x 50.0%, 25.0% to 75.0% over 5 seeds"
    assert measured.render("no placeholder", None, path=Path("/nonexistent")) == "no placeholder"


@pytest.mark.parametrize("text", ["{{flow.nope}}", "{{_meta}}", "{{}}",
                                  "line\n{{flow.relu.he.r:median}}"])
def test_an_unknown_key_or_format_is_an_error_naming_it_and_the_file(text):
    with pytest.raises(measured.MeasuredError) as raised:
        measured.render(text, source="05-early-layers.md")
    message = str(raised.value)
    assert "05-early-layers.md:" in message
    inside = text.split("{{")[1].split("}}")[0]
    key, _, part = inside.partition(":")
    if part:
        assert f"unknown format {part!r}" in message
    else:
        assert f"unknown measured key {key.strip()!r}" in message
        assert str(measured.DATA) in message


# --- the text quotes the data ------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((REPO / "course" / "narrative").glob("*.md")),
                         ids=lambda p: p.name)
def test_every_placeholder_of_the_narrative_resolves(path):
    text = path.read_text()
    rendered = measured.render(text, source=path.name)
    assert "{{" not in rendered
    for match in measured.PLACEHOLDER.finditer(text):
        key = match[1].strip().partition(":")[0].strip()
        assert key in DATA, f"{path.name}: {key}"


def test_the_notebook_and_lesson_md_hold_no_placeholder():
    cells = course_notebook.build()["cells"]
    for cell in cells:
        assert not measured.PLACEHOLDER.search("".join(cell["source"])), cell["id"]
    assert not measured.PLACEHOLDER.search(lesson_md.render_lesson())
    assert not measured.PLACEHOLDER.search(lesson_md.render_answers())


def test_a_placeholder_reaches_the_notebook_as_its_value(tmp_path):
    # the narrative passes through render before it becomes cells (and LESSON.md's text)
    source = tmp_path / "00-x.md"
    source.write_text("Sigmoid + Glorot keeps {{flow.sigmoid.glorot.r_delta}} "
                      "({{flow.sigmoid.glorot.r_delta:range}}, {{flow.sigmoid.glorot.r:n}} "
                      "seeds).\n")
    (block,) = course_notebook.parse_narrative(source)
    entry = DATA["flow.sigmoid.glorot.r_delta"]
    assert block.text == (f"Sigmoid + Glorot keeps {measured.format_entry(entry)} "
                          f"({measured.format_entry(entry, 'range')}, {entry['n']} seeds).")
    source.write_text("ok\n\n{{flow.sigmoid.glorot.typo}}\n")
    with pytest.raises(measured.MeasuredError, match=r"00-x\.md:3: unknown measured key "
                       r"'flow\.sigmoid\.glorot\.typo'"):
        list(course_notebook.parse_narrative(source))


def test_the_readme_numbers_are_the_data():
    text = (REPO / "README.md").read_text()
    markers = list(measured.MARKER.finditer(text))
    assert len(markers) >= 10
    assert measured.marker_drift(text) == []
    assert measured.refresh_markers(text) == text


def test_refreshing_markers_rewrites_a_stale_value_and_check_reports_it(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("ReLU + He: <!--m flow.relu.he.r_delta-->0.5<!--/m--> "
                      "(<!--m flow.relu.he.r_delta:range-->?<!--/m-->, "
                      "<!--m flow.relu.he.r_delta:n-->9<!--/m--> seeds)\n")
    from course.__main__ import main

    assert main(["measured", "--check", "--file", str(readme)]) == 1
    assert "<!--m flow.relu.he.r_delta--> says '0.5'" in capsys.readouterr().out
    assert main(["measured", "--readme", "--file", str(readme)]) == 0
    entry = DATA["flow.relu.he.r_delta"]
    assert readme.read_text() == (
        f"ReLU + He: <!--m flow.relu.he.r_delta-->{measured.format_entry(entry)}<!--/m--> "
        f"(<!--m flow.relu.he.r_delta:range-->{measured.format_entry(entry, 'range')}<!--/m-->, "
        f"<!--m flow.relu.he.r_delta:n-->{entry['n']}<!--/m--> seeds)\n")
    assert main(["measured", "--check", "--file", str(readme)]) == 0


# --- the data file -----------------------------------------------------------------------------


def test_the_data_file_has_every_contract_key_with_a_sane_range():
    missing = [key for key in contract_keys() if key not in DATA]
    assert missing == []
    for key in measured.keys(DATA):
        entry = DATA[key]
        assert set(entry) == {"median", "low", "high", "n", "unit", "what"}, key
        assert entry["low"] <= entry["median"] <= entry["high"], key
        assert isinstance(entry["n"], int) and entry["n"] >= 1, key
        assert entry["unit"] in measured.UNITS, key
        assert entry["what"].strip(), key
        if entry["unit"] in ("accuracy", "fraction"):
            assert 0.0 <= entry["low"] and entry["high"] <= 1.0, key
    meta = DATA["_meta"]
    assert meta["seeds"] == [0, 1, 2, 3, 4] and not meta["quick"]
    assert {"command", "numpy", "date"} <= set(meta)
    # the seeds each key says it was measured over
    for key in measured.keys(DATA):
        study = key.split(".")[0]
        expected = len(meta.get(f"{study}_seeds", meta["seeds"]))
        assert DATA[key]["n"] == expected, key


@pytest.fixture(scope="module")
def quick_study() -> dict:
    return studies.run_study("solutions", quick=True, jobs=1)


def test_a_quick_study_writes_the_same_keys_as_the_committed_file(quick_study, tmp_path):
    assert measured.keys(quick_study) == measured.keys(DATA)
    for key in measured.keys(quick_study):
        assert quick_study[key]["unit"] == DATA[key]["unit"], key
        assert quick_study[key]["n"] == 2, key
    assert quick_study["_meta"]["quick"] is True
    path = studies.write(quick_study, tmp_path / "measured.json")
    assert json.loads(path.read_text()) == quick_study


def test_the_study_command_writes_the_data_file(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert studies.main(["--on", "solutions", "--out", str(out), "--quick", "--jobs", "1"]) == 0
    assert measured.keys(json.loads(out.read_text())) == measured.keys(DATA)
    assert f"{out}: {len(measured.keys(DATA))} keys" in capsys.readouterr().out


# --- the held-out split ----------------------------------------------------------------------


@generated(100)
@given(counts=st.lists(st.integers(1, 60), min_size=1, max_size=5),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**31 - 1))
def test_the_heldout_split_is_disjoint_complete_stratified_and_seeded(counts, fraction, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(labels)
    fit, held = train.heldout_split(labels, fraction, seed)
    assert fit.dtype == held.dtype == np.int64
    assert np.intersect1d(fit, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, held])), np.arange(labels.size))
    for k, count in enumerate(counts):
        assert np.sum(labels[held] == k) == round(fraction * count)
    again = train.heldout_split(labels, fraction, seed)
    np.testing.assert_array_equal(again[1], held)


def test_the_lessons_split_holds_out_a_third_of_each_arm_and_depends_on_the_seed():
    x, labels = train.make_spirals()
    fit, held = train.heldout_split(labels)
    assert (fit.size, held.size) == (600, 300)
    assert np.bincount(labels[held]).tolist() == [100, 100, 100]
    assert not np.array_equal(train.heldout_split(labels, seed=1)[1], held)
    with pytest.raises(ValueError, match="fraction"):
        train.heldout_split(labels, 1.0)


# --- the study figures -------------------------------------------------------------------------

FIGURES = ("heldout_vs_train.png", "lr_sweep.png", "frozen_layers.png")


def test_the_study_figures_are_drawn_from_the_data_file_alone(tmp_path):
    from lesson import study_plots

    written = study_plots.draw_all(DATA, tmp_path)
    assert [path.name for path in written] == list(FIGURES)
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and path.stat().st_size > 10_000
        # the committed figure is the one this data draws (same bytes: no timestamp inside)
        assert (REPO / "docs" / "figures" / path.name).read_bytes() == path.read_bytes(), (
            f"docs/figures/{path.name} is stale: run `make study` (or `python -m "
            "lesson.study_plots`)")
