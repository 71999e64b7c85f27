"""A student's own helper modules are imported as Python would import them from their folder.

Students put shared code in a module of their own (``core.py``, ``utils.py``) and import it the
way they run their code: ``from core import *`` or ``import utils`` (the folder is the working
directory), ``from .core import f`` or ``from exercises.core import f``. Each style must work
wherever the code is graded, and a helper must never shadow a module the grader already uses or
the standard library's.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from grader.batch.run import grade_submission
from grader.checking.trial import REGISTRY
from tests.helpers import failed_checks, grade_in_process

REPO = Path(__file__).resolve().parent.parent
MODULES = ("activations", "layers", "network", "gradient_check")
TOTAL = sum(c.points for c in REGISTRY.values())
# How an exercise module reaches its helper ``{name}``; ``{star}`` re-exports what it needs.
STYLES = {
    "flat star": "from {name} import *  # noqa: F403\n",
    "flat module": "import {name}\n{star}",
    "relative": "from .{name} import *  # noqa: F403\n",
    "package": "from exercises.{name} import *  # noqa: F403\n",
}


def _all_in_helper(folder: Path, helper: str, style: str) -> Path:
    """Every function in one helper module; each exercise module only re-exports it."""
    folder.mkdir(parents=True)
    parts = []
    for module in MODULES:
        source = (REPO / "solutions" / f"{module}.py").read_text()
        lines = source.splitlines()
        # The reference modules import one another; in one file those imports go.
        for node in reversed(ast.parse(source).body):
            if isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__"):
                del lines[node.lineno - 1:node.end_lineno]
        parts.append("\n".join(lines))
    (folder / f"{helper}.py").write_text("\n\n".join(parts) + "\n")
    for module in MODULES:
        star = "".join(f"{n} = {helper}.{n}\n" for n in _api(module))
        (folder / f"{module}.py").write_text(STYLES[style].format(name=helper, star=star))
    return folder


def _api(module: str) -> tuple[str, ...]:
    from grader.spec.api import MODULES as API

    return API[module]


@pytest.mark.parametrize("helper", ["core", "utils", "my_helpers"])
@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_helper_module_in_any_import_style_earns_full_marks(tmp_path, helper, style):
    folder = _all_in_helper(tmp_path / "alice", helper, style)
    assert failed_checks(grade_in_process(folder)) == set()


def test_a_small_helper_beside_the_reference_modules(tmp_path):
    folder = tmp_path / "bob"
    shutil.copytree(REPO / "examples" / "correct", folder)
    (folder / "numerics.py").write_text("import numpy as np\n\n\ndef stable_exp(z):\n"
                                        "    return np.exp(np.minimum(z, 700.0))\n")
    with open(folder / "activations.py", "a") as handle:
        handle.write("\nimport numerics\n\nEXP = numerics.stable_exp\n")
    assert failed_checks(grade_in_process(folder)) == set()


@pytest.mark.parametrize("style", ["flat star", "flat module"])
def test_helpers_through_the_worker_and_its_stand_in_re_imports(tmp_path, style):
    # A broken sigmoid makes the judge re-import the submission with a stand-in in the same
    # worker: the helper must then be this import's, not the first one's.
    folder = _all_in_helper(tmp_path / "carol", "core", style)
    with open(folder / "core.py", "a") as handle:  # a later, wrong sigmoid wins in core
        handle.write("\n\ndef sigmoid(z):\n    return 0.5 + 0 * z\n")
    result = grade_submission(folder, seed=5, measure=False)
    assert result.error is None
    assert {c.name for c in result.checks if not c.passed} == {"sigmoid", "sigmoid_stability"}
    assert result.score == TOTAL - 3


def test_a_helper_never_shadows_the_standard_library_or_numpy(tmp_path):
    folder = tmp_path / "dave"
    shutil.copytree(REPO / "examples" / "correct", folder)
    for name in ("numpy", "random", "json"):
        (folder / f"{name}.py").write_text("raise SystemExit('a student file shadowed ' "
                                           f"'{name}')\n")
    with open(folder / "activations.py", "a") as handle:
        handle.write("\nimport json\nimport random\n\nimport numpy\n")
    assert failed_checks(grade_in_process(folder)) == set()


# How a function first reaches its helper when the import is inside the function's body.
LAZY_STYLES = {
    "import": "    import {name}\n    return {name}.passed({original})",
    "from": "    from {name} import passed\n    return passed({original})",
    "relative": "    from .{name} import passed\n    return passed({original})",
    "package": "    from exercises.{name} import passed\n    return passed({original})",
}


@pytest.mark.parametrize("sandbox", [None, False], ids=["bubblewrap", "subprocess"])
@pytest.mark.parametrize("style", sorted(LAZY_STYLES))
def test_a_helper_first_imported_inside_a_call_costs_nothing(tmp_path, style, sandbox):
    # Every API function imports the helper in its own body, so the first import of the helper
    # happens in the middle of a call in the worker (and again after each stand-in re-import).
    folder = tmp_path / "erin"
    shutil.copytree(REPO / "examples" / "correct", folder)
    (folder / "utils.py").write_text("def passed(value):\n    return value\n")
    for module in MODULES:
        wrappers = []
        for name in _api(module):
            body = LAZY_STYLES[style].format(name="utils", original=f"_own_{name}(*a, **k)")
            wrappers.append(f"\n\n_own_{name} = {name}\n\n\ndef {name}(*a, **k):\n{body}\n")
        with open(folder / f"{module}.py", "a") as handle:
            handle.write("".join(wrappers))
    result = grade_submission(folder, seed=5, sandbox=sandbox, measure=False)
    assert result.error is None
    assert [c.name for c in result.checks if not c.passed] == []
    assert result.score == TOTAL
