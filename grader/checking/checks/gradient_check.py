"""Checks of ``gradient_check.py``: numerical_gradient and relative_error.

Expected values are computed judge-side (central differences of a known function, the measure's
formula), so these checks need no reference answers.
"""

from __future__ import annotations

import numpy as np

from grader.checking.compare import CheckFailed, assert_close, assert_norm_close
from grader.checking.diagnoses import numerical_gradient_mistake, relative_error_mistake
from grader.checking.trial import Trial, check
from grader.spec.functions import central_differences, curved
from grader.spec.protocol import ScalarFunction


@check("numerical_gradient", 3)
def check_numerical_gradient(t: Trial) -> None:
    """numerical_gradient: central differences for x of any shape, x left unchanged"""
    for shape, eps in (((5,), None), ((3, 4), None), ((2, 2, 3), 1e-3), ((), 1e-3), ((6,), 1e-3)):
        C = t.rng.uniform(0.5, 2.0, size=shape)
        D = t.rng.uniform(-1.0, 1.0, size=shape)
        x = np.array(t.rng.normal(size=shape))
        spec = ScalarFunction("curved", (("C", C), ("D", D)))
        f = curved(C, D)
        inputs = {"f": "sum(C * x**2) / 2 + sum(D * sin(x))", "x": x}
        if eps is None:
            got = t.call("numerical_gradient", spec, x, inputs=inputs)
            expected, tol = central_differences(f, x, 1e-6), 1e-7
        else:
            inputs["eps"] = eps
            got = t.call("numerical_gradient", spec, x, eps, inputs=inputs)
            expected, tol = central_differences(f, x, eps), 1e-9
        if got.dtype.kind != "f":
            raise CheckFailed(f"numerical_gradient returned dtype {got.dtype}; expected float64")
        step = 1e-6 if eps is None else eps
        try:
            assert_norm_close("the numerical gradient", got, expected, inputs, tol=tol,
                              hint="use central differences (f(x + eps) - f(x - eps)) / "
                                   "(2 * eps), one entry at a time, for every index of an n-d x "
                                   "(np.ndindex)")
        except CheckFailed as failure:
            failure.diagnosis = numerical_gradient_mistake(got, f, x, step, expected)
            raise


@check("relative_error", 1)
def check_relative_error(t: Trial) -> None:
    """relative_error(a, b) = ||a - b|| / max(||a|| + ||b||, 1e-12)"""
    a = t.rng.normal(size=(4, 3))
    cases = [(a, a + 1e-3 * t.rng.normal(size=a.shape)), (a, -a), (a, np.zeros_like(a)),
             (np.zeros((2, 2)), np.zeros((2, 2))), (np.full(3, 1e-14), np.zeros(3)),
             (t.rng.normal(size=(2, 3, 2)), t.rng.normal(size=(2, 3, 2)))]
    for a, b in cases:
        got = t.call("relative_error", a, b, inputs={"a": a, "b": b})
        expected = np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
        try:
            assert_close("relative_error(a, b)", np.asarray(got), np.asarray(expected),
                         {"a": a, "b": b}, rtol=1e-9, atol=1e-15,
                         hint="Frobenius norms (np.linalg.norm); the denominator is "
                              "max(||a|| + ||b||, 1e-12), so two zero arrays give 0")
        except CheckFailed as failure:
            failure.diagnosis = relative_error_mistake(got, a, b)
            raise
