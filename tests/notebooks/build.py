"""Realistic student notebooks, made from the released notebook with the solutions filled in.

Nothing is stored: every notebook is built from the student version of the current notebook
(``course.notebook.student_version``, or nbgrader's own release) and the instructor's solution
cells, then given one habit students have (see ``HABITS``). Each entry says which checks it
loses, the same with the project's grader and with ``nbgrader autograde``, and what the
grader's notes must say; where nbgrader legitimately gives other points, ``nbgrader_lost`` and
``differs`` say what and why.

    python tests/notebooks/build.py OUT    # write the corpus as OUT/NAME.ipynb, to open in Jupyter
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass
class Student:
    """One corpus notebook and its expected verdicts."""

    notebook: dict
    lost: frozenset[str] = frozenset()  # checks it fails with the grader (and nbgrader)
    notes: tuple[str, ...] = ()  # texts that must appear in the grader's notes
    nbgrader_lost: frozenset[str] | None = None  # nbgrader's lost checks, where they differ
    differs: str = ""  # why they differ


@dataclass
class _Notebook:
    """A notebook under construction, with cell helpers addressed by grade_id."""

    data: dict
    count: list[int] = field(default_factory=lambda: [0])

    @property
    def cells(self) -> list[dict]:
        return self.data["cells"]

    def index(self, grade_id: str) -> int:
        for i, cell in enumerate(self.cells):
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                return i
        raise KeyError(grade_id)

    def cell(self, grade_id: str) -> dict:
        return self.cells[self.index(grade_id)]

    def set(self, grade_id: str, text: str) -> None:
        self.cell(grade_id)["source"] = _lines(text)

    def new(self, text: str) -> dict:
        self.count[0] += 1
        return {"cell_type": "code", "execution_count": None, "id": f"student-{self.count[0]}",
                "metadata": {}, "outputs": [], "source": _lines(text)}

    def before(self, grade_id: str, *texts: str) -> None:
        at = self.index(grade_id)
        self.cells[at:at] = [self.new(t) for t in texts]

    def after(self, grade_id: str, *texts: str) -> None:
        at = self.index(grade_id) + 1
        self.cells[at:at] = [self.new(t) for t in texts]


def _lines(text: str) -> list[str]:
    parts = text.strip("\n").split("\n")
    return [line + "\n" for line in parts[:-1]] + [parts[-1]]


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def solved(release: dict, instructor: dict) -> dict:
    """The release with every solution cell as the instructor wrote it, markers removed (a
    student's notebook has none)."""
    answers = {c["metadata"]["nbgrader"]["grade_id"]: _text(c) for c in instructor["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    notebook = copy.deepcopy(release)
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            lines = [line for line in answers[meta["grade_id"]].split("\n")
                     if line.strip() not in SOLUTION_MARKERS]
            cell["source"] = _lines("\n".join(lines))
    return notebook


# --- the habits ---------------------------------------------------------------------------------

def helper_constant(nb: _Notebook) -> Student:
    """Module-level constants made with calls, used by the functions (lost before the grader
    ran cells in one namespace: it kept only call-free constants)."""
    nb.before("relu", "ZERO = np.zeros(())")
    nb.set("relu", "def relu(z):\n    return np.maximum(z, ZERO)")
    nb.set("relative_error", (
        "FLOOR = max(1e-12, TINY)\n\n\n"
        "def relative_error(a, b):\n"
        "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
        "    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b),"
        " FLOOR))"))
    nb.before("relative_error", "TINY = float(np.finfo(np.float64).tiny)")
    return Student(nb.data)


def helpers_and_imports(nb: _Notebook) -> Student:
    """A helper function in a cell of its own, and imports made inside cells."""
    nb.before("softmax_cross_entropy", (
        "import math\n"
        "from numpy import exp as np_exp\n\n\n"
        "def log_sum_exp(rows):\n"
        '    """log(sum(exp(rows), axis=1)), stable: the row maximum is taken out first."""\n'
        "    top = rows.max(axis=1, keepdims=True)\n"
        "    return top + np.log(np_exp(rows - top).sum(axis=1, keepdims=True))"))
    nb.set("softmax_cross_entropy", (
        "def softmax_cross_entropy(logits, labels):\n"
        "    n = logits.shape[0]\n"
        "    log_probs = logits - log_sum_exp(logits)\n"
        "    rows = np.arange(n)\n"
        "    probs = np.exp(log_probs)\n"
        "    probs[rows, labels] -= 1.0\n"
        "    return float(-log_probs[rows, labels].mean()), probs / n"))
    nb.set("tanh", "def tanh(z):\n    from numpy import tanh as np_tanh\n\n    return np_tanh(z)")
    nb.before("tanh_grad", "import numpy")
    nb.set("tanh_grad", "def tanh_grad(z):\n    return 1.0 - numpy.tanh(z) ** 2")
    return Student(nb.data)


def raising_cells(nb: _Notebook) -> Student:
    """Scratch cells left raising (an index error, a failed hand check, a name used before its
    cell, a line that does not parse): a kernel goes on, and so does the grader."""
    nb.after("test_relu", "print(relu(np.array([1.0, -2.0]))[5])")
    nb.after("test_sigmoid", 'assert sigmoid(np.zeros(1))[0] == 0.4, "my hand calculation"')
    nb.before("dense_forward", "out, _ = dense_forward(np.ones((2, 3)), np.ones((3, 4)), 0)")
    nb.after("test_tanh", "for z in np.linspace(-1, 1, 5)\n    print(tanh(z))")
    return Student(nb.data, notes=(
        "raised IndexError: index 5 is out of bounds", "raised AssertionError: my hand",
        "raised NameError: name 'dense_forward' is not defined",
        "was not run: it does not parse (SyntaxError"))


def prints_and_plots(nb: _Notebook) -> Student:
    """Printing and plotting in the student's own cells (headless in the worker)."""
    nb.after("test_sigmoid_grad", (
        "%matplotlib inline\n"
        "import matplotlib.pyplot as plt\n\n"
        "z = np.linspace(-6, 6, 200)\n"
        "fig, ax = plt.subplots()\n"
        'ax.plot(z, sigmoid(z), label="sigmoid")\n'
        'ax.plot(z, sigmoid_grad(z), label="slope")\n'
        "ax.legend()\n"
        "plt.show()\n"
        'print("largest slope:", sigmoid_grad(z).max())'))
    nb.after("test_relu_grad", "z = np.array([-1.0, 2.0])\nprint(relu(z), relu_grad(z))")
    return Student(nb.data, notes=("skipped what is not Python (%matplotlib inline)",))


def split_solution(nb: _Notebook) -> Student:
    """A solution split across two cells: the helper in the solution cell, the function in a
    cell after it; and a function whose helper is defined in a later cell (before its test)."""
    nb.set("dense_backward", (
        "def _affine_grads(dout, x, W):\n"
        "    return dout @ W.T, x.T @ dout, dout.sum(axis=0)"))
    nb.after("dense_backward", (
        "def dense_backward(dout, cache):\n"
        "    x, W = cache\n"
        "    return _affine_grads(dout, x, W)"))
    nb.set("mlp_backward", (
        "def mlp_backward(dout, caches):\n"
        "    grads, upstream = [], dout\n"
        "    for dense_cache, act_cache in reversed(caches):\n"
        "        upstream, dW, db = layer_backward(upstream, dense_cache, act_cache)\n"
        "        grads.append((dW, db))\n"
        "    return grads[::-1]"))
    nb.after("mlp_backward", (
        "def layer_backward(upstream, dense_cache, act_cache):\n"
        "    if act_cache is not None:\n"
        "        upstream = activation_backward(upstream, act_cache)\n"
        "    return dense_backward(upstream, dense_cache)"))
    return Student(nb.data)


def redefinition(nb: _Notebook) -> Student:
    """First attempts left above the final versions: the later definition wins, as in a kernel."""
    nb.before("tanh_grad", "def tanh_grad(z):\n    return 1.0 - z ** 2  # first try: wrong")
    nb.before("sigmoid", "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))  # overflows")
    nb.after("sigmoid", (
        "def sigmoid(z):\n"
        "    z = np.asarray(z)\n"
        "    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable: tanh saturates"))
    return Student(nb.data)


def magics(nb: _Notebook) -> Student:
    """IPython magics, shell escapes and help: skipped; %%time and %time run their Python."""
    nb.before("dense_forward", "%load_ext autoreload\n%autoreload 2\n!echo ready")
    nb.after("test_relu", "np.maximum?\n%timeit relu(np.ones(10))\n%time z = relu(np.ones(3))")
    nb.set("relu_grad", (
        "%%time\n"
        "def relu_grad(z):\n"
        "    z = np.asarray(z)\n"
        "    return (z > 0).astype(np.result_type(z.dtype, np.float32))"))
    nb.after("test_relu_grad", "files = !ls\nprint(files)")
    # A cell magic after a blank line, and code pasted with an indentation (IPython drops
    # both): the wrong leaky_relu of the solution cell is replaced by the pasted one.
    nb.before("sigmoid", "\n%%capture\nHALF = 0.5")
    nb.set("sigmoid", "def sigmoid(z):\n    return HALF * (1.0 + np.tanh(HALF * np.asarray(z)))")
    nb.set("leaky_relu", "def leaky_relu(z, alpha=0.01):\n    return np.maximum(z, 0)  # wrong")
    nb.after("leaky_relu", "    def leaky_relu(z, alpha=0.01):\n"
                           "        return np.where(z > 0, z, alpha * z)")
    return Student(nb.data, notes=(
        "skipped what is not Python (%load_ext autoreload; %autoreload 2; !echo ready)",
        "skipped what is not Python (np.maximum?; %timeit relu(np.ones(10)); %time",
        "skipped what is not Python (the %%time line)"))


def unfinished(nb: _Notebook, release: dict) -> Student:
    """Exercises left as released (NotImplementedError): only their own points go."""
    stubs = {c["metadata"]["nbgrader"]["grade_id"]: _text(c) for c in release["cells"]
             if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    nb.set("leaky_relu_grad", stubs["leaky_relu_grad"])
    nb.set("numerical_gradient", stubs["numerical_gradient"])
    return Student(nb.data, lost=frozenset({"leaky_relu_grad", "numerical_gradient"}),
                   )


def mutated_global(nb: _Notebook) -> Student:
    """Cells that change globals the functions read: the given ACTIVATIONS table, and a
    constant set twice (the last value is the one the tests see)."""
    nb.after("given_activations", (
        'ACTIVATIONS["tanh"] = (np.tanh, tanh_grad)\n'
        'ACTIVATIONS["swish"] = (lambda z: z * sigmoid(z), None)'))
    nb.before("leaky_relu", "LEAK = 0.1")
    nb.set("leaky_relu", (
        "LEAK = 0.01\n\n\n"
        "def leaky_relu(z, alpha=None):\n"
        "    alpha = LEAK if alpha is None else alpha\n"
        "    return np.where(z > 0, z, alpha * z)"))
    return Student(nb.data)


def long_running(nb: _Notebook) -> Student:
    """A training loop left in a cell: stopped when graded (the load time limit), and the
    functions defined after it still count."""
    nb.after("test_init_params", (
        "import time\n\n"
        "rng = np.random.default_rng(0)\n"
        "x, labels = rng.normal(size=(64, 4)), rng.integers(0, 3, size=64)\n"
        'W1, b1 = init_params([4, 16, 3], "relu", rng)[0]\n'
        "for epoch in range(40):  # slowed down to watch the loss go\n"
        "    hidden, cache = dense_forward(x, W1, b1)\n"
        '    print(epoch, float(np.mean(hidden)))\n'
        "    time.sleep(0.2)"))
    return Student(nb.data, notes=("was stopped at line", "a notebook's cells get 6 s in all"))


def stripped_metadata(nb: _Notebook) -> Student:
    """A notebook copied cell by cell into a new one: the given and solution cells lost their
    nbgrader metadata (its test cells kept theirs, or nbgrader could not grade it)."""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and not meta.get("grade"):
            cell["metadata"] = {}
    return Student(nb.data)


def edited_given(nb: _Notebook) -> Student:
    """Edits in read-only cells: nbgrader restores the released text, and so does the grader,
    so what the edit added is gone (``exp`` is undefined) and the ACTIVATIONS swap is undone."""
    setup = nb.cell("setup")
    setup["source"] = _lines(_text(setup).replace("import numpy as np",
                                                  "import numpy as np\nfrom numpy import exp"))
    given = nb.cell("given_activations")
    given["source"] = _lines(_text(given).replace('"relu": (relu, relu_grad)',
                                                  '"relu": (leaky_relu, leaky_relu_grad)'))
    nb.set("sigmoid_grad",
           "def sigmoid_grad(z):\n    s = 1.0 / (1.0 + exp(-z))\n    return s * (1.0 - s)")
    return Student(nb.data, lost=frozenset({"sigmoid_grad"}), notes=(
        "(setup) is read-only: its released text ran, without your edits",
        "(given_activations) is read-only: its released text ran, without your edits"))


def broken_solution(nb: _Notebook) -> Student:
    """A solution cell that does not parse: its function is missing, the rest is graded."""
    nb.set("relative_error", (
        "def relative_error(a, b)\n"
        "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
        "    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))"))
    return Student(nb.data, lost=frozenset({"relative_error"}),
                   notes=("(relative_error) was not run: it does not parse",))


def late_fix(nb: _Notebook) -> Student:
    """A wrong relu fixed in a cell after its test cell. nbgrader grades each function when its
    test cell runs, so its test_relu saw the wrong one; the grader grades what the notebook
    holds after a whole run (the last definition), as a student's "Run All" leaves it."""
    nb.set("relu", "def relu(z):\n    return np.abs(z)  # wrong: fixed below")
    nb.after("test_relu", "def relu(z):\n    return np.maximum(z, 0)")
    return Student(nb.data, nbgrader_lost=frozenset({"relu"}), differs=(
        "nbgrader ran test_relu before the fix; the grader grades the notebook's final state"))


# One notebook per entry; each has one habit or two that do not touch the same cells.
HABITS: dict[str, tuple[Callable[..., Student], ...]] = {
    "helper_constant": (helper_constant, mutated_global),
    "helpers_and_imports": (helpers_and_imports,),
    "split_solution": (split_solution, redefinition),
    "raising_cells": (raising_cells, broken_solution),
    "prints_and_plots": (prints_and_plots,),
    "magics": (magics,),
    "unfinished": (unfinished,),
    "long_running": (long_running,),
    "stripped_metadata": (stripped_metadata,),
    "edited_given": (edited_given,),
    "late_fix": (late_fix,),
}


def corpus(release: dict, instructor: dict) -> dict[str, Student]:
    """Every entry's notebook, built from ``release`` (the student version) and the
    instructor's solutions."""
    students = {}
    for name, habits in HABITS.items():
        notebook = _Notebook(solved(release, instructor))
        parts = [habit(notebook, release) if habit is unfinished else habit(notebook)
                 for habit in habits]
        differ = [p for p in parts if p.nbgrader_lost is not None]
        lost = frozenset().union(*(p.lost for p in parts))
        students[name] = Student(
            notebook.data, lost, tuple(text for p in parts for text in p.notes),
            lost | differ[0].nbgrader_lost if differ else None,
            " ".join(p.differs for p in parts if p.differs))
    return students


def from_repository() -> dict[str, Student]:
    """The corpus built from this checkout's notebook (no nbgrader needed)."""
    root = Path(__file__).resolve().parents[2]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from course.notebook import NOTEBOOK, student_version

    instructor = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return corpus(student_version(instructor), instructor)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip())
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, student in from_repository().items():
        (out / f"{name}.ipynb").write_text(json.dumps(student.notebook, indent=1) + "\n")
        print(f"wrote {out / name}.ipynb")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
