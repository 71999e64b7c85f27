"""The shared strategies give what they promise (tests/strategies.py), and the profile is on."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings

from grader.spec.api import ACTIVATION_NAMES
from tests.helpers import scaled
from tests.strategies import (
    ACTIVATIONS,
    ANY_NAMES,
    BYTE_NAMES,
    PROFILE,
    SEEDS,
    float_arrays,
    generated,
    json_values,
    numeric_arrays,
    shapes,
    unicode_text,
)


def test_the_profile_is_loaded_and_generated_settings_are_reproducible():
    assert settings.get_profile(PROFILE).derandomize
    for chosen in (settings.default, generated(7)):
        assert chosen.derandomize and chosen.database is None and chosen.deadline is None
    assert generated(7).max_examples == scaled(7)


@generated(60)
@given(float_arrays(-2.5, 7.0, shapes(min_dims=1, max_dims=2, max_side=3)))
def test_float_arrays_are_finite_in_range_and_shaped(array):
    assert array.dtype == np.float64 and 1 <= array.ndim <= 2 and max(array.shape) <= 3
    assert np.all(np.isfinite(array)) and np.all((-2.5 <= array) & (array <= 7.0))


@generated(60)
@given(numeric_arrays())
def test_numeric_arrays_hold_numbers_only(array):
    assert array.dtype.kind in "biuf" and array.ndim <= 4


@generated(60)
@given(json_values())
def test_json_values_survive_json(value):
    text = json.dumps(value)
    assert json.dumps(json.loads(text)) == text


@generated(30)
@given(ACTIVATIONS, SEEDS, unicode_text(max_size=20))
def test_activations_seeds_and_text(name, seed, text):
    assert name in ACTIVATION_NAMES
    np.random.default_rng(seed)
    text.encode("utf-8")  # no lone surrogates


@generated(60)
@given(ANY_NAMES, BYTE_NAMES)
def test_file_names_can_be_created_and_listed_as_they_are(name, raw):
    with tempfile.TemporaryDirectory() as folder:
        for made in (name, os.fsdecode(raw)):
            (Path(folder) / made).write_bytes(b"")
            assert made in os.listdir(folder)
            (Path(folder) / made).unlink()
