"""Hypothesis strategies and settings shared by the generated-input tests.

One place for what several test files used to spell out each on their own: the settings every
generated test runs under (`generated`), numbers and arrays in given ranges, activation names,
seeds, JSON-like values of any shape, text and file names. A strategy that only one test needs
stays in that test's file.

Every generated test is reproducible: the ``vg`` profile (loaded by tests/conftest.py, so it is
the default even for a bare ``@given``) derandomizes hypothesis, keeps no example database and
sets no deadline (the machines are shared; a slow moment is not a failure). The number of cases
is ``scaled``: ``make fuzz`` multiplies it by ``VG_FUZZ_SCALE``.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.spec.api import ACTIVATION_NAMES
from tests.helpers import scaled

# --- settings ----------------------------------------------------------------------------------

PROFILE = "vg"
# The same cases on every run and every machine: no randomness, no database of past failures
# (which would replay cases another run found), no deadline.
settings.register_profile(PROFILE, derandomize=True, database=None, deadline=None,
                          print_blob=True, max_examples=scaled(100))

# Generators of big or rejected-heavy inputs (deep JSON, megabyte members, module-scoped
# fixtures shared across cases) trip health checks that say nothing about the code under test.
SLOW_INPUTS = (HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
               HealthCheck.large_base_example)


def generated(examples: int = 100, *, suppress: tuple[HealthCheck, ...] = (HealthCheck.too_slow,),
              **overrides: object) -> settings:
    """The settings of a generated-input test: ``examples`` cases (times ``VG_FUZZ_SCALE``).

    Derandomized, without database or deadline whatever profile is loaded. suppress: the health
    checks that do not apply (``SLOW_INPUTS`` for generators of large inputs). overrides: any
    other hypothesis setting, e.g. ``phases``."""
    return settings(max_examples=scaled(examples), derandomize=True, database=None,
                    deadline=None, print_blob=True, suppress_health_check=list(suppress),
                    **overrides)


# --- numbers and arrays ------------------------------------------------------------------------

#: Seeds for ``np.random.default_rng`` (any 31-bit integer).
SEEDS = st.integers(0, 2**31 - 1)
#: The activations of the exercise, by the name the student API uses.
ACTIVATIONS = st.sampled_from(ACTIVATION_NAMES)


def finite_floats(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats in [low, high]: never NaN or infinite."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes (tuples of ints, each side 1..max_side); ``()`` when min_dims is 0."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)


def float_arrays(low: float, high: float, shape: st.SearchStrategy | tuple[int, ...] | None = None,
                 dtype: type = np.float64) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``dtype`` (float64) with finite elements in [low, high].

    shape: a fixed shape or a strategy of shapes; default ``shapes()`` (0-3 dims, sides <= 4)."""
    return hnp.arrays(dtype, shapes() if shape is None else shape,
                      elements=finite_floats(low, high))


def mixed_arrays() -> st.SearchStrategy[np.ndarray]:
    """Small float64, int32 or uint8 arrays (0-3 dims, sides <= 4) of any values: NaN included."""
    return hnp.arrays(dtype=st.sampled_from([np.float64, np.int32, np.uint8]),
                      shape=shapes())


def numeric_arrays(max_dims: int = 4, max_side: int = 4) -> st.SearchStrategy[np.ndarray]:
    """Arrays of every numeric dtype (bool, int, uint, float; both byte orders) and any values.

    Shapes with 0 to max_dims dimensions, sides 0 to max_side (empty arrays too); the elements
    are any of the dtype's values, NaN with any payload and signed zeros included."""
    dtypes = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(endianness="?"),
                       hnp.unsigned_integer_dtypes(endianness="?"),
                       hnp.floating_dtypes(endianness="?"))
    return hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0,
                                               max_side=max_side))


# --- JSON-like values --------------------------------------------------------------------------

def json_values(*, text_size: int = 8, key_size: int = 8,
                integers: st.SearchStrategy[int] | None = None, max_leaves: int = 20,
                list_size: int = 4, dict_size: int = 4,
                extra_leaves: tuple[st.SearchStrategy, ...] = (), pairs: bool = False
                ) -> st.SearchStrategy:
    """Trees of None, bools, ints, floats (NaN and infinities too) and text, in lists and dicts.

    What a parsed JSON file (or a hostile worker's reply) can hold. text_size, key_size: the
    longest leaf text and dict key; integers: the ints (default: any); list_size, dict_size: the
    longest list and dict; extra_leaves: more kinds of leaf (e.g. arrays); pairs: 2-tuples too
    (not JSON, but they cross the wire)."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers() if integers is None else integers,
                       st.floats(), st.text(max_size=text_size), *extra_leaves)

    def containers(inner: st.SearchStrategy) -> st.SearchStrategy:
        kinds = [st.lists(inner, max_size=list_size)]
        if pairs:
            kinds.append(st.tuples(inner, inner))
        kinds.append(st.dictionaries(st.text(max_size=key_size), inner, max_size=dict_size))
        return st.one_of(*kinds)

    return st.recursive(leaves, containers, max_leaves=max_leaves)


# --- text and file names -----------------------------------------------------------------------

def unicode_text(max_size: int | None = None) -> st.SearchStrategy[str]:
    """Any text that can be encoded as UTF-8 (no lone surrogates): every other code point."""
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size)


#: One path component as raw bytes, as a Linux file system stores it: 1-255 bytes, no "/" or
#: NUL, not "." or "..".
BYTE_NAMES = st.binary(min_size=1, max_size=255).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))
#: One path component as text (surrogates included, as os.fsdecode can give them) that fits in
#: 255 bytes.
TEXT_NAMES = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=()),
                     min_size=1, max_size=80).filter(
    lambda s: s not in (".", "..") and len(s.encode("utf-8", "surrogatepass")) <= 255)
#: A file name as Python sees it on this machine: decoded bytes or text without surrogates.
ANY_NAMES = st.one_of(BYTE_NAMES.map(os.fsdecode), TEXT_NAMES.filter(
    lambda s: not any(0xD800 <= ord(c) < 0xE000 for c in s)))
