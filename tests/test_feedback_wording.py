"""Feedback sentences read right: a diagnosis follows "your code", and the gradient-flow
sentence says what the student's own ratio means."""

from __future__ import annotations

import pytest

from grader.batch.report import _what_the_ratio_means
from grader.checking.checks import network as checks
from grader.checking.diagnoses import VARIANTS

# Diagnoses are shown as "Diagnosis: your code <diagnosis>.": each must start with a verb.
VERBS = {"returns", "applies", "evaluates", "computes", "inverts", "ignores", "misses",
         "transposes", "sums", "averages", "drops", "forgets", "gives", "divides", "skips",
         "uses", "draws", "scales"}
INIT_CASES = [(1e-4, 3.0), (1.0, 3.0), (2 / 200, 3.0), (2 / 100, 1.8), (2 / 300, 3.0),
              (2 / 100, 3.0), (6 / 300 / 3, 3.0), (6 / 300, 3.0)]


@pytest.mark.parametrize("diagnosis", sorted({d for vs in VARIANTS.values() for d, _ in vs}))
def test_every_known_misconception_reads_after_your_code(diagnosis):
    assert diagnosis.split(" ", 1)[0] in VERBS, diagnosis


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize(("var", "kurtosis"), INIT_CASES)
def test_every_init_diagnosis_reads_after_your_code(activation, var, kurtosis):
    diagnosis = checks._init_diagnosis(var, kurtosis, 100, 200, activation)
    assert diagnosis is None or diagnosis.split(" ", 1)[0] in VERBS, diagnosis


@pytest.mark.parametrize(("ratio", "meaning"), [
    (3.9e-13, "the gradient has vanished by the first layer, so the early layers barely learn"),
    (9.9e-4, "the gradient has vanished by the first layer, so the early layers barely learn"),
    (5e-3, "the gradient shrinks on its way back, so the early layers learn slowly"),
    (0.5, "the gradient reaches the first layer"), (1.2, "the gradient reaches the first layer"),
    (10.0, "the gradient reaches the first layer"),
    (4.5e12, "the gradient grows on its way back: it explodes"),
    (float("inf"), "the gradient is not a finite number"),
    (float("nan"), "the gradient is not a finite number"),
])
def test_the_gradient_flow_sentence_says_what_the_ratio_means(ratio, meaning):
    assert _what_the_ratio_means(ratio) == meaning
