"""The notebook's test cells: run the grader's own check for one exercise on the notebook's code.

A test cell of ``vanishing_gradients.ipynb`` is one line, ``check("sigmoid", globals())``, plus a
hidden line ``check("sigmoid", globals(), hidden=True)`` that nbgrader keeps out of the student's
copy. Both run the check definition registered in ``grader.checking.checks`` (the same one the
self-check and the sandboxed grader run) on the functions defined in the notebook, so the notebook
and the grader cannot disagree about what is right.

- Visible tests use the public seed and the answers recorded in ``grader/data`` (no reference
  solutions needed, so they work in a student's environment).
- Hidden tests use another seed and the reference solutions; they only run where ``solutions/``
  is available (the instructor's autograding environment).

A check only looks at the functions it builds on: those upstream checks run first, in the
registry's order, through the grader's one blame engine (``grader.checking.judge.grade``), so a
check whose failure comes from a broken upstream function is run again with the reference in
place of that function when the reference is available, with the grader's notes. Upstream
failures never cost this cell its points twice.

Nothing reaches stderr: nbgrader gives a test cell zero as soon as anything is written to stderr,
and a correct but warning-emitting student function (``np.exp`` overflowing in a sigmoid) must
not lose the points of its value check. Warnings from student calls are captured by the checks
themselves (``student.calling.call_and_capture``); everything else the check run might emit is
silenced or captured here.

A visible test whose function builds on one that fails its own test, with no reference to stand
in (a student's setup), is not checked yet: the cell prints "not checked yet: needs X, which
fails its own test" and raises nothing. That is no pass (it prints no points) and no wrong answer
(an AssertionError would tell the student this function is wrong, which nothing showed); where
the reference is present (autograding), the grader's stand-ins decide instead.

A failed check raises ``CheckFailure`` (an ``AssertionError``) whose traceback, as IPython shows
it, is the feedback alone: no lines of the test cell, so a failing hidden test does not print its
own source into the autograded notebook or nbgrader's feedback.
"""

from __future__ import annotations

import io
import os
import types
import warnings
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from grader.checking.judge import NOTEBOOK_WORDS, PUBLIC_SEED, CheckResult, grade
from grader.checking.trial import REGISTRY, LiveExpected, RecordedExpected
from grader.public.engine import RECORDED
from grader.spec.api import FUNCTIONS
from grader.student.calling import InProcessStudent
from grader.student.loader import SubmissionError, reference_functions

# The hidden tests' seed: the grader's default instructor seed unless the course sets its own.
# Never the public seed, whose inputs the students see.
SEED_VARIABLE = "VG_GRADING_SEED"

# IPython's own names in a kernel's globals, never student code.
_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit"})


class CheckFailure(AssertionError):
    """A notebook test failed; the message is the grader's feedback.

    IPython calls ``_render_traceback_`` instead of formatting the stack, so the cell's error
    output is exactly the feedback (and never the test cell's source).
    """

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"\x1b[0;31mAssertionError\x1b[0m: {lines[0]}", *lines[1:]]


def hidden_seed() -> int:
    """The seed of the hidden tests: ``$VG_GRADING_SEED`` or the grader's default."""
    value = os.environ.get(SEED_VARIABLE)
    if value:
        return int(value)
    # The one exception to the public packages' layering (declared in the import contract):
    # hidden tests run only in the instructor's environment, where the settings live.
    from grader.settings import DEFAULT_SEED

    return DEFAULT_SEED


@cache
def _recorded() -> RecordedExpected:
    return RecordedExpected(RECORDED)


@cache
def _reference() -> dict[str, Callable] | None:
    """The reference solutions when ``solutions/`` is present, else None (a student's setup)."""
    try:
        return reference_functions()
    except (SubmissionError, ImportError):
        return None


def notebook_functions(namespace: Mapping[str, Any]) -> tuple[dict[str, Callable], dict[str, str]]:
    """(API functions defined in the namespace, API name -> why it is missing)."""
    functions: dict[str, Callable] = {}
    missing: dict[str, str] = {}
    for name in FUNCTIONS:
        value = namespace.get(name)
        if callable(value):
            functions[name] = value
        else:
            missing[name] = (f"{name} is not defined yet: run the cell that defines it "
                             "(and the cells above it) first")
    return functions, missing


def _student_files(functions: Mapping[str, Callable]) -> tuple[str, ...]:
    """Where the notebook's code lives, so error messages can point at the student's line.

    ipykernel compiles each cell into a file of its own folder; any of them is student code.
    """
    folders = set()
    for function in functions.values():
        code = getattr(function, "__code__", None)
        if code is not None:
            folders.add(str(Path(code.co_filename).parent) + os.sep)
    return tuple(sorted(folders))


def patched_functions(namespace: Mapping[str, Any],
                      overrides: Mapping[str, Callable]) -> dict[str, Callable]:
    """The namespace's API functions with ``overrides`` put in place everywhere they are used.

    Replacing an entry of the functions dict is not enough: the student's ``mlp_backward`` looks
    ``dense_backward`` up in the notebook's globals, and ``activation_backward`` finds
    ``tanh_grad`` in the ``ACTIVATIONS`` dict. So every function defined in the notebook is
    cloned onto a copy of the globals holding the overrides, and the notebook's dicts, lists and
    tuples (and default arguments) are rebuilt with the clones and overrides in place. The
    notebook's own objects are left untouched.
    """
    new_globals: dict[str, Any] = dict(namespace)
    replaced: dict[int, Any] = {}
    for name, override in overrides.items():
        if name in namespace:
            replaced[id(namespace[name])] = override
        new_globals[name] = override
    clones: list[types.FunctionType] = []
    for name, value in namespace.items():
        if (isinstance(value, types.FunctionType) and value.__globals__ is namespace
                and id(value) not in replaced):
            clone = types.FunctionType(value.__code__, new_globals, value.__name__,
                                       value.__defaults__, value.__closure__)
            clone.__kwdefaults__ = value.__kwdefaults__
            clone.__dict__.update(value.__dict__)
            clone.__qualname__ = value.__qualname__
            replaced[id(value)] = clone
            new_globals[name] = clone
            clones.append(clone)

    def rebuild(value: Any, depth: int = 0) -> Any:
        if id(value) in replaced:
            return replaced[id(value)]
        if depth >= 4:
            return value
        if type(value) is tuple:
            items = tuple(rebuild(item, depth + 1) for item in value)
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if type(value) is list:
            items = [rebuild(item, depth + 1) for item in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if type(value) is dict:
            items = {key: rebuild(item, depth + 1) for key, item in value.items()}
            changed = any(items[key] is not value[key] for key in value)
            return items if changed else value
        return value

    for name, value in namespace.items():
        if name in _KERNEL_NAMES or name.startswith("_") or name in overrides:
            continue
        if type(value) in (tuple, list, dict):
            new_globals[name] = rebuild(value)
    for clone in clones:
        if clone.__defaults__:
            clone.__defaults__ = rebuild(clone.__defaults__)
        if clone.__kwdefaults__:
            clone.__kwdefaults__ = rebuild(clone.__kwdefaults__)
    functions, _ = notebook_functions(new_globals)
    return functions


def run_checks(name: str, namespace: Mapping[str, Any], expected, seed: int,
               reference: Mapping[str, Callable] | None) -> dict[str, CheckResult]:
    """Check ``name`` and the checks it builds on, run on the notebook's functions by the
    grader's own engine (``grader.checking.judge.grade``), so a cell gets the verdict, score
    and notes the grader gives that check.

    With a ``reference``, a stand-in is patched into copies of the notebook's functions
    (``patched_functions``), as the grader patches it into a submission's modules.
    """
    functions, missing = notebook_functions(namespace)
    files = _student_files(functions)

    def make_student(overrides: dict[str, Callable]) -> InProcessStudent:
        if not overrides:
            return InProcessStudent(functions, missing, files)
        return InProcessStudent(patched_functions(namespace, overrides), missing, files)

    results = grade(make_student, expected, seed, reference, only=name, words=NOTEBOOK_WORDS)
    return {result.name: result for result in results}


def _feedback(result: CheckResult, hidden: bool, stderr_text: str) -> str:
    which = "hidden tests" if hidden else "tests"
    lines = [f"{result.name} failed its {which} ({result.max_score} point"
             f"{'s' if result.max_score != 1 else ''}): {result.title}", result.feedback]
    if result.diagnosis:
        lines.append(f"  this looks like a known mistake: {result.diagnosis}")
    lines += [f"  note: {note}" for note in result.notes]
    if result.warnings:
        lines.append("  warnings from your code: " + "; ".join(result.warnings[:3]))
    if stderr_text.strip():
        lines.append("  your code wrote to stderr: " + stderr_text.strip()[-500:])
    return "\n".join(lines)


def check(name: str, namespace: Mapping[str, Any], *, hidden: bool = False) -> None:
    """Run the grader's check ``name`` on the functions defined in ``namespace``.

    namespace: the notebook's ``globals()``. hidden: use the hidden seed and the reference
    solutions (instructor side) instead of the public seed and the recorded answers.
    Prints one line when the check passes, or a "not checked yet" notice when it builds on a
    function that fails its own test and no reference can stand in; raises ``CheckFailure`` (an
    AssertionError) with the grader's feedback when it fails. Returns None, so the cell shows no
    result value (nbgrader would read a number there as partial credit).
    """
    if name not in REGISTRY:
        raise KeyError(f"no check named {name!r}; known: {', '.join(REGISTRY)}")
    reference = _reference()
    if hidden:
        if reference is None:
            raise RuntimeError(
                "the hidden tests need the reference solutions (solutions/ next to the grader "
                "package): run them in the instructor's environment")
        expected, seed = LiveExpected(reference), hidden_seed()
    else:
        expected, seed = _recorded(), PUBLIC_SEED
    stderr = io.StringIO()
    # Anything on stderr zeroes an nbgrader test cell: silence warnings raised outside student
    # calls (the checks record those made inside), and keep stray writes for the feedback.
    with warnings.catch_warnings(), np.errstate(all="ignore"), redirect_stderr(stderr):
        warnings.simplefilter("ignore")
        result = run_checks(name, namespace, expected, seed, reference)[name]
    if result.waiting:
        print(f"{name}: {result.feedback} (fix that first, then run this cell again)")
        return
    if not result.passed:
        raise CheckFailure(_feedback(result, hidden, stderr.getvalue()))
    points = f"{result.score}/{result.max_score} point{'s' if result.max_score != 1 else ''}"
    print(f"{name}: {'hidden tests' if hidden else 'tests'} passed ({points})")
    for note in result.notes:
        print(f"  note: {note}")
