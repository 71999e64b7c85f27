"""A notebook is graded as Jupyter runs it: grader/student/notebook_cells.py, case by case.

The generated module runs the student's code cells in order in one namespace (a cell that raises
does not stop the next), skips IPython syntax and the assignment's own cells, stops cells that
run too long, and says all of it in one-line notes. Generated cases: any JSON value in place of
a notebook, notebooks with wrong types in every field, and sequences of cells compared with a
model of a kernel; enumerated cases: every IPython form handled, every cell the release gives
(with its metadata, without it, edited).
"""

from __future__ import annotations

import builtins
import json
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.batch.submissions import prepare
from grader.student import notebook_cells
from grader.student.calling import describe_exception
from grader.student.loader import NOTES_NAME, SubmissionError, load_submission
from grader.student.notebook_cells import (
    _RUNNER,
    MAX_CELLS,
    MAX_NOTES,
    RUN_SECONDS,
    _plan,
    _python_of,
    notebook_source,
    release,
    release_cells,
    run_cells,
)
from tests.helpers import failed_checks, grade_in_process
from tests.strategies import generated, json_values

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebook" / "vanishing_gradients.ipynb"
INSTRUCTOR = json.loads(NOTEBOOK.read_text())
SETTINGS = generated()


def _code(text: str, grade_id: str | None = None, **flags) -> dict:
    meta = {}
    if grade_id is not None:
        meta = {"nbgrader": {"grade_id": grade_id, "grade": False, "solution": False,
                             "locked": False, **flags}}
    return {"cell_type": "code", "metadata": meta, "source": text, "outputs": [],
            "execution_count": None}


def _notebook(*cells: dict | str) -> dict:
    return {"cells": [_code(c) if isinstance(c, str) else c for c in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _run(notebook: object, folder: str | None = None) -> dict:
    """Execute the generated module as the worker's import would, in a fresh namespace."""
    namespace: dict = {} if folder is None else {"__file__": f"{folder}/notebook_code.py"}
    exec(compile(notebook_source(notebook), "notebook_code.py", "exec"), namespace)
    return namespace


def _notes(namespace: dict) -> list[str]:
    return namespace[NOTES_NAME]


def _with_solutions() -> dict:
    """The released notebook with the instructor's solutions (tests cells as a student has)."""
    from course.notebook import student_version
    from tests.notebooks.build import solved

    return solved(student_version(INSTRUCTOR), INSTRUCTOR)


# --- the example, end to end --------------------------------------------------------------

def test_a_constant_made_by_a_call_reaches_the_function_in_the_next_cell(tmp_path):
    notebook = _with_solutions()
    cells = notebook["cells"]
    at = next(i for i, c in enumerate(cells)
              if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu")
    cells[at]["source"] = "def relu(z):\n    return np.maximum(z, ZERO)\n"
    cells.insert(at, _code("ZERO = np.zeros(())"))
    path = tmp_path / "zero.ipynb"
    path.write_text(json.dumps(notebook))
    from grader.batch.run import grade_submission

    result = grade_submission(path, measure=False)
    assert (result.score, result.max_score) == (50, 50), [
        (c.name, c.feedback) for c in result.checks if not c.passed]
    assert result.notes == [] and result.sandbox != "none"


# --- running in order, in one namespace -----------------------------------------------------------

def test_cells_share_one_namespace_and_an_error_does_not_stop_the_next():
    namespace = _run(_notebook(
        "import numpy as np\nZERO = np.zeros(())",
        "def relu(z):\n    return np.maximum(z, ZERO)",
        "relu(np.ones(2))[7]",
        "LATER = relu(np.array([-1.0, 3.0]))",
    ))
    assert namespace["LATER"].tolist() == [0.0, 3.0]
    assert _notes(namespace) == [
        'cell 3 ("relu(np.ones(2))[7]") raised IndexError: index 7 is out of bounds for axis 0 '
        "with size 2 (line 1); the cells after it still ran"]
    assert "__grader_runner__" not in namespace and "__name__" not in namespace


def test_a_raising_cell_keeps_what_ran_before_the_error():
    namespace = _run(_notebook("A = 5\nraise KeyError('k')\nA = 6"))
    assert namespace["A"] == 5
    assert _notes(namespace) == ["cell 1 (\"A = 5\") raised KeyError: 'k' (line 2); the cells "
                                 "after it still ran"]


def test_later_definitions_win_and_globals_are_read_at_call_time():
    namespace = _run(_notebook(
        "def f():\n    return 1", "LEAK = 0.1", "def g():\n    return LEAK",
        "def f():\n    return 2", "LEAK = 0.01"))
    assert (namespace["f"](), namespace["g"]()) == (2, 0.01)


def test_cells_run_as_main_and_exit_does_not_end_the_run():
    namespace = _run(_notebook(
        'if __name__ == "__main__":\n    MAIN = True',
        "import sys\nsys.exit(3)",
        "AFTER = 1"), folder="/submission")
    assert namespace["MAIN"] is True and namespace["AFTER"] == 1
    assert "__name__" not in namespace  # restored: the module had none here
    assert _notes(namespace)[0] == ('cell 2 ("import sys") raised SystemExit: 3 (line 2); the '
                                    "cells after it still ran")


def test_student_names_cannot_break_the_runner():
    # A kernel's namespace often holds names of builtins and modules; the runner has its own.
    namespace = _run(_notebook(
        "time = 3\nlen = None\nsum = 0\nexec = None\ncompile = 5\nstr = int\nos = 'x'",
        "del print", "1 / 0", "AFTER = 2"))
    assert namespace["AFTER"] == 2
    assert [n.split(" raised ")[1].split(" (")[0] for n in _notes(namespace)] == [
        "NameError: name 'print' is not defined", "ZeroDivisionError: division by zero"]


def test_printed_output_is_discarded_and_plots_are_closed(capsys):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace = _run(_notebook(
        "print('hello ' * 1000)",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\nplt.show()",
        "import sys\nprint('to stderr', file=sys.stderr)\nDONE = True"))
    assert namespace["DONE"] and _notes(namespace) == []
    assert plt.get_fignums() == []  # closed after the cell, as the inline backend does
    assert capsys.readouterr() == ("", "")


def test_a_plotting_cell_whose_library_is_missing_costs_nothing(tmp_path):
    notebook = _with_solutions()
    notebook["cells"].insert(3, _code(
        "import matplotlib_that_is_not_installed as plt\nplt.plot([1, 2])"))
    path = tmp_path / "noplot.ipynb"
    path.write_text(json.dumps(notebook))
    prepared = prepare(path)
    try:
        assert failed_checks(grade_in_process(prepared.folder)) == set()
        notes = load_submission(prepared.folder).notes
    finally:
        prepared.cleanup()
    assert notes == ['cell 4 ("import matplotlib_that_is_not_installed…") raised '
                     "ModuleNotFoundError: No module named 'matplotlib_that_is_not_installed' "
                     "(line 1); the cells after it still ran"]


def test_plotting_cells_in_the_sandbox_cost_no_points(tmp_path):
    # The worker is headless (MPLBACKEND=Agg) and its limits let matplotlib import (about
    # 0.7 s there); were it missing, the cell's ImportError would be a note and cost nothing.
    notebook = _with_solutions()
    at = next(i for i, c in enumerate(notebook["cells"])
              if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu")
    notebook["cells"][at + 1:at + 1] = [
        _code("%matplotlib inline\nimport matplotlib.pyplot as plt\n"
              "fig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\nplt.show()\n"
              "fig.savefig('/tmp/plot.png')\nPLOTTED = True"),
        _code("def relu(z):\n    return np.maximum(z, 0) + 0 * PLOTTED")]
    path = tmp_path / "plots.ipynb"
    path.write_text(json.dumps(notebook))
    from grader.batch.run import grade_submission

    result = grade_submission(path, measure=False)
    assert result.sandbox != "none" and result.score == 50, [
        (c.name, c.feedback) for c in result.checks if not c.passed]
    skipped = (f'cell {at + 2} ("%matplotlib inline"): skipped what is not Python '
               "(%matplotlib inline)")
    redefined = (f"relu is defined in cell {at + 1} and again in cell {at + 3}: the last one is "
                 "graded, as after Run All")
    assert result.notes == [skipped, redefined]  # the plot ran: PLOTTED was there for relu


def test_a_traceback_names_the_students_cell_and_line(tmp_path):
    notebook = _notebook("import numpy as np",
                         "def relu(z):\n    scale = 2\n    return np.maximum(z, ZERO) * scale")
    path = tmp_path / "trace.ipynb"
    path.write_text(json.dumps(notebook))
    prepared = prepare(path)
    try:
        submission = load_submission(prepared.folder)
        with pytest.raises(NameError) as error:
            submission.functions["relu"](np.ones(2))
        folder = str(prepared.folder.resolve())
        assert describe_exception(error.value, (folder,)) == (
            "NameError: name 'ZERO' is not defined\n"
            "  at cell 2, line 3: return np.maximum(z, ZERO) * scale")
    finally:
        prepared.cleanup()


# --- a model of a kernel, against generated sequences of cells ---------------------------------

# Cell text -> what a kernel runs of it as Python (None: nothing), written by hand from IPython's
# documented behaviour, independently of the implementation.
CELLS = {
    "A = 1": "A = 1",
    "A = A + 1": "A = A + 1",
    "B = [A] * 2": "B = [A] * 2",
    "def f():\n    return A": "def f():\n    return A",
    "def f():\n    return B": "def f():\n    return B",
    "import math\nC = math.sqrt(4)": "import math\nC = math.sqrt(4)",
    "raise ValueError('boom')": "raise ValueError('boom')",
    "A = 5\nraise KeyError('k')\nA = 6": "A = 5\nraise KeyError('k')\nA = 6",
    "del A": "del A",
    "%precision 3\nE = 3": "E = 3",
    "!echo hi\nE = E * 2": "E = E * 2",
    "for x in range(3)\n    F = x": None,
    "%%time\nG = 7": "G = 7",
    "%%bash\nG = 8": None,
    "%%timeit -n1 -r1\nG = 9": None,
    "import sys; sys.exit(3)": "import sys; sys.exit(3)",
    "print('hi'); H = 'printed'": "print('hi'); H = 'printed'",
    "H?\nB = B + [0]": "B = B + [0]",
    "%time C = 10": "C = 10",
    "if True:\n    %pwd\n    F = 11": "if True:\n    F = 11",
}


def _kernel_model(texts: list[str]) -> dict:
    namespace: dict = {}
    for text in texts:
        python = CELLS[text]
        if python is None:
            continue
        try:
            exec(python, namespace)
        except BaseException:  # noqa: BLE001, S110 - the model of allow_errors
            pass
    return namespace


def _observable(namespace: dict) -> dict:
    seen = {name: namespace.get(name, "<undefined>") for name in "ABCEFGH"}
    try:
        seen["f()"] = namespace["f"]() if "f" in namespace else "<undefined>"
    except NameError:
        seen["f()"] = "<NameError>"
    return seen


@SETTINGS
@given(st.lists(st.sampled_from(sorted(CELLS)), max_size=12))
def test_cells_end_as_a_kernel_leaves_them(texts):
    namespace = _run(_notebook(*texts))
    assert _observable(namespace) == _observable(_kernel_model(texts))
    notes = _notes(namespace)
    assert len(notes) <= MAX_NOTES and all("\n" not in n and len(n) <= 300 for n in notes)


@pytest.fixture(scope="module")
def ipython():
    """A real IPython shell (the kernel's interpreter, without the kernel): the oracle."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    return interactiveshell.InteractiveShell.instance()


@pytest.mark.slow
def test_cells_end_as_ipython_leaves_them(ipython):
    # The same generated sequences, against IPython itself rather than a model of it. (A line
    # magic that fails in IPython stops its cell; the grader skips every line magic, so the
    # vocabulary holds only magics that work outside a kernel too.)
    import contextlib
    import io

    @generated(50)  # shell escapes cost IPython 0.1 s each
    @given(st.lists(st.sampled_from(sorted(CELLS)), max_size=10))
    def compare(texts):
        ipython.reset(new_session=False)
        with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
              warnings.catch_warnings()):
            warnings.simplefilter("ignore")  # IPython's "To exit: use 'exit'" after sys.exit
            for text in texts:
                ipython.run_cell(text, store_history=False)
        assert _observable(_run(_notebook(*texts))) == _observable(ipython.user_ns)

    compare()


# --- IPython syntax, enumerated -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "python", "said"), [
    ("%matplotlib inline\nx = 1", "pass\nx = 1", "%matplotlib inline"),
    ("!pip install tqdm\nx = 1", "pass\nx = 1", "!pip install tqdm"),
    ("np.maximum?\nx = 1", "pass\nx = 1", "np.maximum?"),
    ("??np.maximum", "pass", "??np.maximum"),
    ("files = !ls", "pass", "files = !ls"),
    ("out = %timeit -o f()", "pass", "out = %timeit -o f()"),
    ("%time y = f()", "y = f()", "%time (its statement ran)"),
    ("%timeit f()", "pass", "%timeit f()"),
    ("for i in range(2):\n    %time g(i)", "for i in range(2):\n    g(i)",
     "%time (its statement ran)"),
    ("%%time\ndef f():\n    return 1", "\ndef f():\n    return 1", "the %%time line"),
    ("%%capture out\nx = 1", "\nx = 1", "the %%capture line"),
    ("%%bash\necho hi", None, "a %%bash cell"),
    ("%%timeit\nf()", None, "a %%timeit cell"),
    ("%%writefile x.py\nprint(1)", None, "a %%writefile cell"),
    ("x = '%s' % 3\ny = '''\n%notmagic\n'''", "x = '%s' % 3\ny = '''\n%notmagic\n'''", ""),
    ("\n\n%%time\nx = 1", "\n\n\nx = 1", "the %%time line"),  # after blank lines
    ("\n%%bash\nls", None, "a %%bash cell"),
    ("    x = 1\n    if x:\n        y = 2", "x = 1\nif x:\n    y = 2", ""),  # pasted, indented
    ("  %time y = f()\n  z = 3", "y = f()\nz = 3", "%time (its statement ran)"),
    ("x = 1\r\n%matplotlib inline\r\ny = 2", "x = 1\r\npass\ny = 2", "%matplotlib inline"),
])
def test_ipython_syntax_is_skipped_and_said(text, python, said):
    assert _python_of(text) == (python, said)


def test_a_cell_that_does_not_parse_is_skipped_and_said():
    namespace = _run(_notebook("x = (1,", "%%time\ndef f(:\n    pass", "AFTER = 1"))
    assert namespace["AFTER"] == 1
    assert _notes(namespace) == [
        "cell 1 (\"x = (1,\") was not run: it does not parse (SyntaxError: '(' was never "
        "closed, line 1)",
        'cell 2 ("%%time") was not run: it does not parse (SyntaxError: invalid syntax, line 2)']


# --- the assignment's own cells -------------------------------------------------------------------

def test_stored_release_roles_are_the_current_notebooks():
    assert release() == release_cells(INSTRUCTOR), (
        "run `python -m grader.student.notebook_cells notebook/vanishing_gradients.ipynb`")
    roles = {gid: c.role for gid, c in release().items()}
    assert sorted(gid for gid, role in roles.items() if role == "run") == [
        "given_activations", "setup"]
    assert all(role == "skip" for gid, role in roles.items()
               if gid.startswith(("test_", "experiment", "demo_", "answer_", "summary")))


def _release_code_cells() -> list[dict]:
    from course.notebook import student_version

    return [c for c in student_version(INSTRUCTOR)["cells"]
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade_id")
            in release() and release()[c["metadata"]["nbgrader"]["grade_id"]].role != "student"]


def _given_cases() -> list:
    forms = ["as released", "metadata lost", "edited, metadata kept"]
    return [pytest.param(cell, form, id=f"{cell['id']}-{form}")
            for cell in _release_code_cells()
            for form in forms + (["edited test call, metadata lost"]
                                 if cell["id"].startswith("test_") else [])]


@pytest.mark.parametrize(("cell", "form"), _given_cases())
def test_every_given_cell_is_recognised(cell, form):
    grade_id = cell["metadata"]["nbgrader"]["grade_id"]
    given = release()[grade_id]
    cell = json.loads(json.dumps(cell))
    text = "".join(cell["source"])
    if form == "metadata lost":
        cell["metadata"] = {}
        cell["source"] = text.replace("\n", "  \n\n")  # whitespace does not matter
    elif form == "edited, metadata kept":
        cell["source"] = text + "\nEDITED = True"
    elif form == "edited test call, metadata lost":
        cell["metadata"] = {}
        cell["source"] = text.replace("globals())", "globals())  # mine")
    plan = _plan({"cells": [cell]})
    if given.role == "skip":
        assert plan == []  # the course's tests, experiments and demos are not run
    else:
        assert [c.source for c in plan] == [
            notebook_cells._without_test_helper(given.source)]
        assert [c.kind for c in plan] == ["given"]
        edited = (f"cell 1 ({grade_id}) is read-only: its released text ran, without your "
                  "edits",)
        assert plan[0].notes == (edited if form == "edited, metadata kept" else ())


def test_the_setup_cell_runs_without_the_test_helper_import():
    namespace = _run(_notebook(_release_code_cells()[0]))
    assert "np" in namespace and "check" not in namespace and _notes(namespace) == []


def test_the_last_of_two_cells_with_one_grade_id_keeps_it():
    # nbgrader's DeduplicateIds: a copied cell keeps its metadata; only the last copy counts.
    first = _code("def relu(z):\n    return z", "relu", solution=True)
    second = _code("def relu(z):\n    return -z", "relu", solution=True)
    test = _code('check("relu", globals())', "test_relu", grade=True, locked=True)
    plan = _plan({"cells": [first, test, second, test]})
    assert [(c.number, c.title) for c in plan] == [(1, '"def relu(z):"'), (3, "relu")]


def test_an_unknown_grade_id_is_the_students_cell():
    plan = _plan({"cells": [_code("X = 1", "not_in_the_release", locked=True)]})
    assert [(c.kind, c.source) for c in plan] == [("student", "X = 1")]


# --- time -----------------------------------------------------------------------------------------

def _cells(*texts: str) -> list[tuple]:
    return [(i, f"c{i}", "student", text, ()) for i, text in enumerate(texts, 1)]


def test_a_long_cell_is_stopped_and_the_definitions_after_it_still_count():
    namespace: dict = {}
    started = time.monotonic()
    run_cells(namespace, _cells(
        "try:\n    import time\n    time.sleep(5)\nexcept Exception:\n    CAUGHT = True",
        "def f():\n    return 1",
        "import time\ntime.sleep(5)\nSLEPT = True",
        "def g():\n    return 2"), 0.3, 0.3, 0.1, NOTES_NAME, MAX_NOTES)
    assert time.monotonic() - started < 2
    assert namespace["f"]() == 1 and namespace["g"]() == 2
    assert "CAUGHT" not in namespace and "SLEPT" not in namespace
    assert namespace[NOTES_NAME] == [
        "cell 1 (c1) was stopped at line 3: a notebook's cells get 0.3 s in all when graded "
        "(its load time limit); long-running work such as a training loop counts against it, "
        "and later cells got 0.1 s each",
        "cell 3 (c3) was stopped at line 2: it ran out of its 0.1 s"]


def test_cells_after_the_reserve_are_not_run_and_said():
    namespace: dict = {}
    run_cells(namespace, _cells("while True:\n    pass", "import time\ntime.sleep(1)",
                                "A = 1", "B = 2"), 0.1, 0.15, 0.2, NOTES_NAME, MAX_NOTES)
    assert "A" not in namespace and "B" not in namespace
    assert namespace[NOTES_NAME][1:] == [
        "cell 2 (c2) was stopped at line 2: it ran out of its 0.2 s",
        "cells 3-4 were not run: the time for running the notebook's cells (0.25 s) was used up"]


def test_outside_the_main_thread_cells_run_untimed():
    namespace: dict = {}
    thread = threading.Thread(target=run_cells, args=(
        namespace, _cells("import time\ntime.sleep(0.3)\nA = 1"), 0.05, 0.05, 0.05, NOTES_NAME,
        MAX_NOTES))
    thread.start()
    thread.join()
    assert namespace["A"] == 1 and namespace[NOTES_NAME] == []


def test_the_default_budget_fits_the_import_time_limit():
    from grader.spec.profile import Limits

    assert RUN_SECONDS + notebook_cells.RESERVE_SECONDS < 0.85 * Limits().call_seconds


# --- notes ----------------------------------------------------------------------------------------

def test_notes_are_capped_and_say_how_many_more():
    namespace = _run(_notebook(*[f"raise ValueError({i})" for i in range(30)]))
    notes = _notes(namespace)
    assert len(notes) == MAX_NOTES
    assert notes[-1] == "... and 11 more notes about other cells"


def test_student_text_in_notes_is_one_printable_line():
    namespace = _run(_notebook("x = '\x1b[31m\\u202e'\nraise ValueError('a\\nb\x07')"))
    (note,) = _notes(namespace)
    assert note.isprintable() and "\x1b" not in note and "\n" not in note


# --- any JSON in, text or a refusal out -----------------------------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    (None, "not a notebook (no list of cells)"),
    ([], "not a notebook (no list of cells)"),
    ("cells", "not a notebook (no list of cells)"),
    ({"cells": {}}, "not a notebook (no list of cells)"),
    ({"worksheets": []}, "not a notebook (no list of cells)"),
    ({"cells": [{}] * (MAX_CELLS + 1)}, f"the notebook has {MAX_CELLS + 1} cells "
                                        f"(at most {MAX_CELLS})"),
])
def test_a_wrong_shape_is_a_one_line_refusal(value, message):
    with pytest.raises(SubmissionError) as refusal:
        notebook_source(value)
    assert str(refusal.value) == message


JSON = json_values(text_size=8, key_size=8, max_leaves=20)
SOURCE_TEXT = st.sampled_from(["x = 1", "%time y = 2", "def f(:", "!ls", "\x00", "\ud800",
                               "%%bash\nls", "((((((((((" * 30, "import grader", "-" * 5000 + "1"])
FIELD = JSON | SOURCE_TEXT | st.lists(SOURCE_TEXT, max_size=3)
NBGRADER = st.fixed_dictionaries({}, optional={
    "grade_id": st.sampled_from(sorted(release())) | FIELD, "grade": FIELD, "solution": FIELD,
    "locked": FIELD, "points": FIELD})
CELL = st.fixed_dictionaries({}, optional={
    "cell_type": st.sampled_from(["code", "markdown", "raw"]) | FIELD,
    "source": FIELD, "id": FIELD,
    "metadata": st.fixed_dictionaries({}, optional={"nbgrader": NBGRADER | FIELD}) | FIELD})
NOTEBOOKS = st.fixed_dictionaries({"cells": st.lists(CELL | FIELD, max_size=6)},
                                  optional={"metadata": FIELD, "nbformat": FIELD})


def _assert_text_or_refusal(value) -> None:
    try:
        source = notebook_source(value)
    except SubmissionError as refusal:
        assert "\n" not in str(refusal) and str(refusal)
        return
    assert type(source) is str
    compile(source, "notebook_code.py", "exec")  # always a valid module


@SETTINGS
@given(JSON)
def test_any_json_value_gives_text_or_a_refusal(value):
    _assert_text_or_refusal(value)


@generated(400)
@given(NOTEBOOKS)
def test_wrong_types_in_every_field_give_text_or_a_refusal(value):
    _assert_text_or_refusal(value)


@generated(150)
@given(NOTEBOOKS)
def test_generated_modules_run_without_raising(value):
    try:
        source = notebook_source(value)
    except SubmissionError:
        return
    namespace: dict = {"__builtins__": builtins}
    exec(compile(source, "notebook_code.py", "exec"), namespace)
    notes = namespace[NOTES_NAME]
    assert len(notes) <= MAX_NOTES and all(type(n) is str and "\n" not in n for n in notes)


def test_the_runner_is_self_contained():
    # It runs in the worker from its source alone, with nothing but builtins around it.
    scope = {"__builtins__": builtins}
    exec(_RUNNER, scope)
    namespace: dict = {}
    scope["run_cells"](namespace, _cells("A = 1"), 1.0, 1.0, 0.1, NOTES_NAME, MAX_NOTES)
    assert namespace["A"] == 1 and namespace[NOTES_NAME] == []


@pytest.mark.parametrize("defining", [(1,), (1, 3), (1, 2, 4), (2, 3, 4)])
def test_a_graded_function_defined_in_several_cells_says_which_is_graded(defining):
    bodies = {1: "1 - np.tanh(z) ** 2", 2: "1 - z ** 2", 3: "np.ones_like(z)", 4: "0 * z"}
    cells = ["import numpy as np"] + [
        f"def tanh_grad(z):\n    return {bodies[n]}" if n in defining else f"X{n} = {n}"
        for n in range(1, 5)]
    namespace: dict = {}
    exec(compile(notebook_source(_notebook(*cells)), "notebook_code.py", "exec"), namespace)
    cell = {n: n + 1 for n in range(1, 5)}  # the import is cell 1
    *earlier, last = (cell[n] for n in defining)
    if not earlier:
        assert namespace[NOTES_NAME] == []
    else:
        said = ", ".join(map(str, earlier))
        assert namespace[NOTES_NAME] == [
            f"tanh_grad is defined in cell{'s' if len(earlier) > 1 else ''} {said} and again in "
            f"cell {last}: the last one is graded, as after Run All"]
    at_one = {1: 1 - np.tanh(1.0) ** 2, 2: 0.0, 3: 1.0, 4: 0.0}  # each body at z = 1
    assert namespace["tanh_grad"](np.ones(1))[0] == at_one[defining[-1]]  # the last one won


@pytest.mark.parametrize("call", ["get_ipython().run_line_magic('matplotlib', 'inline')",
                                  "get_ipython().system('pip install numpy')",
                                  "x = get_ipython().getoutput('ls')",
                                  "get_ipython().run_cell_magic('time', '', 'y = 1')"])
def test_get_ipython_calls_of_converted_notebooks_are_skipped_not_fatal(call):
    namespace = _run(_notebook("import numpy as np", f"{call}\nAFTER = 1",
                               "def relu(z):\n    return np.maximum(z, 0)"))
    assert namespace["AFTER"] == 1 and namespace["relu"](np.array([-1.0, 2.0])).tolist() == [
        0.0, 2.0]
    assert _notes(namespace) == ["get_ipython() magics and shell commands were skipped (not "
                                 "Python)"]
