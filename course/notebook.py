"""Generate the lesson notebook from ``solutions/`` and the narrative in ``course/narrative/``.

    python -m course notebook           # rewrite notebook/vanishing_gradients.ipynb
    python -m course notebook --check   # exit 1 if the committed notebook has drifted

The notebook is the instructor's (nbgrader "source") version: solution cells hold the reference
code with its ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers, test cells hold hidden tests,
and every cell carries nbgrader metadata (schema 3). ``release_notebook`` makes the student
version from it without nbgrader; ``python -m course nbgrader DIR`` lays out an nbgrader course.

No code is written twice. Each exercise cell is the function's source as it stands in
``solutions/*.py`` (read with ``ast``: docstring, markers and all), module-level constants a
function needs (``ACTIVATIONS``) come along as read-only cells, relative imports are dropped and
the modules' other imports go into the setup cell. Test cells are generated from the grader's
check registry (titles and points included), so the notebook's points are the grader's.

Narrative files (``course/narrative/*.md``, read in name order) are Markdown with directives,
each alone on its line:

    <!-- setup -->                    the setup cell: the solutions' imports and the test helper
    <!-- exercise: NAME -->           NAME's solution cell (plus any constant it needs), then one
                                      test cell per check of NAME
    <!-- test: CHECK -->              a test cell for a check that spans several functions
    <!-- library: experiments -->     the experiment code (see below), read-only
    <!-- code: ID -->                 the ```python fenced block that follows is a read-only cell
    <!-- answer: ID points=N -->      the Markdown up to <!-- end answer --> is a model answer to a
                                      written question: a manually graded cell worth N points
    <!-- cell -->                     start a new Markdown cell
    <!-- notebook only -->            the Markdown and code up to <!-- end --> belong to the
                                      notebook alone (LESSON.md leaves them out: text about
                                      cells, globals(), Jupyter)
    <!-- lesson only -->              the Markdown and code up to <!-- end --> belong to
                                      LESSON.md alone (the modules path's wording)

Experiments: the notebook is self-contained. The experiment code is copied, by the same ``ast``
extraction, from the modules of the package ``lesson`` into one read-only cell (only what the
notebook calls, and what that needs, in the package's dependency order; the package's own
relative imports are dropped; a name that would shadow an exercise's is renamed). Importing it
instead would need ``lesson`` to be importable wherever the notebook runs, and it is not:
nbgrader runs a submission alone in its own folder. The experiment cells hand the experiments
the notebook's own functions, ``Implementation.of(globals())``, so re-running an exercise cell
is enough for the next experiment run to use the new code.
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course import measured
from course.stubs import make_stub
from grader.checking import checks as _checks  # noqa: F401 - registers the checks the test cells run
from grader.checking.trial import REGISTRY, upstream
from grader.spec.api import FUNCTIONS, MODULES

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
LESSON = REPO / "lesson"
# The lesson's modules that hold experiment code, each after the ones it imports.
LESSON_MODULES = ("config", "implementation", "flow", "dial", "train", "saturation", "plots",
                  "summary")
NARRATIVE = Path(__file__).resolve().parent / "narrative"
ASSIGNMENT = "vanishing_gradients"
NOTEBOOK = REPO / "notebook" / f"{ASSIGNMENT}.ipynb"

# What the experiment cells call; the extraction adds everything these need.
EXPERIMENT_ROOTS = (
    "FULL",
    "QUICK",
    "Implementation",
    "gradient_flow",
    "gradient_flow_grid",
    "gradient_flow_table",
    "layer_speed",
    "training_comparison",
    "summarize",
    "plot_gradient_flow",
    "plot_delta_flow",
    "plot_layer_speed",
    "plot_training",
    "plot_decision_boundary",
    "backward_gain_sweep",
    "dial_table",
    "plot_dial",
    "plot_headline",
    "saturation_histograms",
    "saturation_table",
    "plot_saturation",
)
RENAMED_PREFIX = "EXPERIMENT_"

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
ANSWER_STUB = "YOUR ANSWER HERE"

DIRECTIVE = re.compile(r"^<!--\s*(?P<kind>[a-z]+)(?:\s*:\s*(?P<arg>.*?))?\s*-->\s*$")
END_ANSWER = re.compile(r"^<!--\s*end answer\s*-->\s*$")
# A region for one path only: its blocks carry options["only"] = "notebook" or "lesson".
ONLY_BEGIN = re.compile(r"^<!--\s*(?P<path>notebook|lesson)\s+only\s*-->\s*$")
ONLY_END = re.compile(r"^<!--\s*end\s*-->\s*$")
PATHS = ("notebook", "lesson")
FENCE_OPEN = re.compile(r"^```python\s*$")
FENCE_CLOSE = re.compile(r"^```\s*$")
GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")


class NotebookError(Exception):
    """The narrative or the solutions cannot make a consistent notebook."""


# --------------------------------------------------------------------------------------------
# Reading Python sources with ast
# --------------------------------------------------------------------------------------------


@dataclass
class Definition:
    """One top-level statement of a module: its source text and the global names it reads."""

    name: str
    source: str
    kind: str  # "function", "constant" or "import"
    reads: frozenset[str] = frozenset()
    binds: frozenset[str] = frozenset()


@dataclass
class ModuleSource:
    """A module's imports, functions and constants, in file order."""

    path: Path
    definitions: list[Definition] = field(default_factory=list)

    def named(self, kind: str) -> dict[str, Definition]:
        """The definitions of one kind ("function", "constant"), by name."""
        return {d.name: d for d in self.definitions if d.kind == kind}

    @property
    def imports(self) -> list[Definition]:
        """The module's absolute imports, in file order."""
        return [d for d in self.definitions if d.kind == "import"]


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The node's lines, with its decorators and the comment block right above it.

    A comment directly above a constant says why it has its value; it belongs to it.
    """
    first = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    last = node.end_lineno
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        # ast ends a function at its last statement; the indented comments after it (the
        # closing ### END SOLUTION) are still the function's.
        while last < len(lines) and (not lines[last].strip() or lines[last][:1].isspace()):
            last += 1
        while not lines[last - 1].strip():
            last -= 1
    return "\n".join(lines[first - 1 : last])


def _reads(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def read_module(path: Path, renames: dict[str, str] | None = None) -> ModuleSource:
    """Split a module into definitions; relative imports are dropped (the notebook is flat).

    renames: top-level names to rename everywhere in the module (as ``Name`` nodes only, so
    attributes and keyword arguments that happen to share the name are left alone).
    """
    text = path.read_text()
    tree = ast.parse(text)
    lines = text.splitlines()
    if renames:
        lines = _rename(lines, tree, renames)
    module = ModuleSource(path)
    renames = renames or {}

    def reads(node: ast.AST) -> frozenset[str]:
        return frozenset(renames.get(name, name) for name in _reads(node))

    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                continue
            bound = frozenset((a.asname or a.name).split(".")[0] for a in node.names)
            module.definitions.append(
                Definition(_segment(lines, node), _segment(lines, node), "import", binds=bound))
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            name = renames.get(node.name, node.name)
            module.definitions.append(Definition(name, _segment(lines, node), "function",
                                                 reads(node), frozenset({name})))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if len(names) != 1:
                raise NotebookError(f"{path.name}:{node.lineno}: only simple assignments "
                                    "can be copied into the notebook")
            name = renames.get(names[0], names[0])
            module.definitions.append(Definition(name, _segment(lines, node), "constant",
                                                 reads(node.value), frozenset({name})))
    return module


def _rename(lines: list[str], tree: ast.Module, renames: dict[str, str]) -> list[str]:
    """Rename Name nodes (and the definitions they refer to) in the source lines."""
    spots: list[tuple[int, int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in renames:
            spots.append((node.lineno, node.col_offset, node.end_col_offset, renames[node.id]))
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in renames:
            raise NotebookError(f"cannot rename the function {node.name}")
    lines = list(lines)
    # Right to left, so earlier offsets on the same line stay valid. ast's column offsets
    # count UTF-8 bytes, so the splice is done on bytes.
    for lineno, start, end, new in sorted(spots, reverse=True):
        line = lines[lineno - 1].encode()
        lines[lineno - 1] = (line[:start] + new.encode() + line[end:]).decode()
    return lines


def exercise_sources(solutions: Path = SOLUTIONS) -> dict[str, ModuleSource]:
    """The four exercise modules of ``solutions/``, by module name."""
    return {module: read_module(solutions / f"{module}.py") for module in MODULES}


def experiment_library(lesson: Path = LESSON, roots: Iterable[str] = EXPERIMENT_ROOTS,
                       solutions: Path = SOLUTIONS) -> tuple[str, dict[str, str]]:
    """(source of the experiment cell, names renamed) from the modules of ``lesson``.

    Only the definitions the roots need (transitively) are kept, in package order, with the
    imports they use. A top-level name that the exercise modules (read from ``solutions``) also
    define is renamed with RENAMED_PREFIX: in the notebook's single namespace it would replace
    the exercise's.
    """
    paths = [lesson / f"{module}.py" for module in LESSON_MODULES]
    exercise_names = {name for module in exercise_sources(solutions).values()
                      for d in module.definitions if d.kind != "import" for name in d.binds}
    defined = {d.name for path in paths for d in read_module(path).definitions
               if d.kind != "import"}
    renames = {name: RENAMED_PREFIX + name for name in sorted(defined & exercise_names)}
    modules = [read_module(path, renames) for path in paths]
    definitions = [d for module in modules for d in module.definitions if d.kind != "import"]
    by_name: dict[str, Definition] = {}
    for definition in definitions:
        if definition.name in by_name:
            raise NotebookError(f"the lesson defines {definition.name} twice: the notebook's "
                                "single namespace would keep only one")
        by_name[definition.name] = definition
    wanted: set[str] = set()
    stack = [renames.get(root, root) for root in roots]
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        if name not in by_name:
            raise NotebookError(f"the lesson defines no {name}")
        wanted.add(name)
        stack.extend(n for n in by_name[name].reads if n in by_name)
    used = set().union(*(by_name[name].reads for name in wanted))
    imports: list[str] = []
    for module in modules:
        for definition in module.imports:
            # A future import changes how the code compiles (annotations stay unevaluated, so
            # a class may name itself in its methods' hints): kept, and first, as Python asks.
            future = definition.source.startswith("from __future__ ")
            if (future or definition.binds & used) and definition.source not in imports:
                imports.insert(0 if future else len(imports), definition.source)
    parts = ["\n".join(imports)] + [d.source for d in definitions if d.name in wanted]
    header = (
        "# The experiments (read-only), copied from the package `lesson` that came with this\n"
        "# notebook. They run on the implementation they are given: the\n"
        "# cells below pass Implementation.of(globals()), the functions you wrote above."
    )
    if renames:
        header += ("\n# Renamed here so they do not replace your definitions: "
                   + ", ".join(f"{old} -> {new}" for old, new in renames.items()) + ".")
    return header + "\n\n" + "\n\n\n".join(parts) + "\n", renames


# --------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """Jupyter's on-disk form of a cell's source: lines with their newlines, the last without."""
    text = text.strip("\n")
    parts = text.split("\n")
    return [line + "\n" for line in parts[:-1]] + [parts[-1]]


def nbgrader_metadata(grade_id: str, *, grade: bool = False, solution: bool = False,
                      locked: bool = False, points: float | None = None) -> dict[str, Any]:
    """Schema-3 nbgrader metadata for one cell."""
    if not GRADE_ID.match(grade_id):
        raise NotebookError(f"grade_id {grade_id!r} may only hold letters, digits, _ and -")
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": 3, "solution": solution, "task": False}
    if grade:
        meta["points"] = points if points is not None else 0
    return {"nbgrader": meta}


def code_cell(cell_id: str, source: str, metadata: dict[str, Any] | None = None) -> dict:
    """An unexecuted nbformat-4.5 code cell (ids are fixed, so regenerating is reproducible)."""
    return {"cell_type": "code", "execution_count": None, "id": cell_id,
            "metadata": metadata or {}, "outputs": [], "source": _lines(source)}


# A figure the narrative shows from the repository (drawn by `make study`), e.g.
# ![what it shows](docs/figures/lr_sweep.png).
FIGURE_LINK = re.compile(r"!\[([^\]]*)\]\((docs/figures/[\w.-]+\.png)\)")


def markdown_cell(cell_id: str, source: str, metadata: dict[str, Any] | None = None) -> dict:
    """An nbformat-4.5 Markdown cell. Figures under docs/figures/ travel inside the cell as
    attachments, so the notebook shows them wherever it is opened (the repository's copy sits in
    notebook/, a student's anywhere)."""
    attachments: dict[str, dict[str, str]] = {}

    def attach(match: re.Match) -> str:
        path = REPO / match[2]
        if not path.is_file():
            raise NotebookError(f"the narrative shows {match[2]}, which does not exist "
                                "(make study draws the figures)")
        attachments[path.name] = {"image/png": base64.b64encode(path.read_bytes()).decode()}
        return f"![{match[1]}](attachment:{path.name})"

    text = FIGURE_LINK.sub(attach, source)
    cell = {"cell_type": "markdown", "id": cell_id, "metadata": metadata or {},
            "source": _lines(text)}
    if attachments:
        cell["attachments"] = attachments
    return cell


def cell_text(cell: dict) -> str:
    """A cell's source as one string, whether stored as a string or as a list of lines."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def test_source(check_name: str) -> str:
    """A test cell: the visible check, then the hidden one (stripped from the student's copy)."""
    check = REGISTRY[check_name]
    plural = "s" if check.points != 1 else ""
    return (
        f"# Test: {check.title} ({check.points} point{plural}).\n"
        "# It prints a line when it passes and raises an AssertionError that says what to fix\n"
        "# when it does not. Graded with other inputs too: hard-coding these will not pass.\n"
        f'check("{check_name}", globals())\n'
        f"{HIDDEN_BEGIN}\n"
        f'check("{check_name}", globals(), hidden=True)\n'
        f"{HIDDEN_END}"
    )


def setup_source(exercises: dict[str, ModuleSource]) -> str:
    """The first code cell: the solutions' own imports, then the test cells' helper."""
    seen: list[str] = []
    for module in exercises.values():
        for definition in module.imports:
            if definition.source not in seen:
                seen.append(definition.source)
    stdlib = sorted(s for s in seen if "numpy" not in s)
    third_party = sorted(s for s in seen if "numpy" in s)
    imports = "\n".join(stdlib) + ("\n\n" if stdlib else "") + "\n".join(third_party)
    return (
        "# Setup (read-only): what the exercises import, and check() for the test cells.\n"
        f"{imports}\n\n"
        "# check() comes from the grader/ folder that came with this notebook: Jupyter finds\n"
        "# it when started in the folder that holds both. (It is imported inside `try` so that\n"
        "# tools reading only this notebook's definitions, like the course grader, do not\n"
        "# import it.)\n"
        "try:\n"
        "    from grader.notebook_tests import check\n"
        "except ImportError as error:\n"
        "    raise ImportError(\n"
        '        "The test cells need the grader/ folder that came with this notebook. Start "\n'
        '        "Jupyter in the folder you unpacked (the one that holds grader/ and this "\n'
        '        "notebook), with its packages installed: pip install -r requirements.txt "\n'
        '        "jupyterlab, then jupyter lab."\n'
        "    ) from error"
    )


# --------------------------------------------------------------------------------------------
# The narrative
# --------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One piece of the narrative: Markdown text or a directive with its content."""

    kind: str  # markdown, setup, exercise, test, library, code, answer
    arg: str = ""
    text: str = ""
    where: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def shown_in(self, path: str) -> bool:
        """Whether this block belongs to ``path`` ("notebook" or "lesson"): every block does,
        except those of a ``<!-- notebook only -->`` or ``<!-- lesson only -->`` region."""
        return self.options.get("only", path) == path


def parse_narrative(path: Path, render: bool = True) -> Iterator[Block]:
    """The blocks of one narrative file, in order (see the module docstring for the syntax).

    Its measured numbers are filled in first (``{{key}}`` placeholders, ``course/measured.py``),
    so the notebook and ``LESSON.md`` quote the same data file; ``render=False`` keeps the
    placeholders (to check the text as written)."""
    text = path.read_text()
    lines = (measured.render(text, source=path.name) if render else text).splitlines()
    markdown: list[str] = []
    i = 0
    # The path of the open notebook-only / lesson-only region, and where it opened.
    only: tuple[str, str] | None = None

    def options() -> dict[str, str]:
        return {"only": only[0]} if only else {}

    def flush() -> Iterator[Block]:
        text = "\n".join(markdown).strip("\n")
        markdown.clear()
        if text.strip():
            yield Block("markdown", text=text, where=f"{path.name}:{i + 1}", options=options())

    while i < len(lines):
        line = lines[i]
        where = f"{path.name}:{i + 1}"
        if region := ONLY_BEGIN.match(line.strip()):
            if only:
                raise NotebookError(f"{where}: <!-- {region['path']} only --> inside the "
                                    f"<!-- {only[0]} only --> of {only[1]}: close it first")
            yield from flush()
            only, i = (region["path"], where), i + 1
            continue
        if ONLY_END.match(line.strip()):
            if not only:
                raise NotebookError(f"{where}: <!-- end --> closes no <!-- notebook only --> "
                                    "or <!-- lesson only -->")
            yield from flush()
            only, i = None, i + 1
            continue
        match = DIRECTIVE.match(line.strip())
        if match and only and match["kind"] not in ("cell", "code"):
            # Exercises, tests and questions carry points: both paths must have the same ones.
            raise NotebookError(f"{where}: <!-- {match['kind']} --> inside <!-- {only[0]} only "
                                f"--> ({only[1]}): only Markdown and code cells may be")
        if FENCE_OPEN.match(line):
            raise NotebookError(f"{where}: a ```python block needs a <!-- code: ID --> line "
                                "above it (every code cell has a grade_id)")
        if not match:
            markdown.append(line)
            i += 1
            continue
        yield from flush()
        kind, arg = match["kind"], (match["arg"] or "").strip()
        i += 1
        if kind == "cell":
            continue
        if kind in ("setup", "exercise", "test", "library"):
            yield Block(kind, arg, where=where)
        elif kind == "code":
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i >= len(lines) or not FENCE_OPEN.match(lines[i]):
                raise NotebookError(f"{where}: <!-- code: {arg} --> must be followed by a "
                                    "```python block")
            body: list[str] = []
            i += 1
            while i < len(lines) and not FENCE_CLOSE.match(lines[i]):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise NotebookError(f"{where}: the ```python block never ends")
            i += 1
            yield Block("code", arg, "\n".join(body), where, options())
        elif kind == "answer":
            name, *settings = arg.split()
            options = dict(s.split("=", 1) for s in settings if "=" in s)
            body = []
            while i < len(lines) and not END_ANSWER.match(lines[i].strip()):
                if DIRECTIVE.match(lines[i].strip()):
                    break
                body.append(lines[i])
                i += 1
            if i >= len(lines) or not END_ANSWER.match(lines[i].strip()):
                raise NotebookError(f"{where}: <!-- answer: {name} --> needs <!-- end answer -->")
            i += 1
            yield Block("answer", name, "\n".join(body).strip("\n"), where, options)
        else:
            raise NotebookError(f"{where}: unknown directive {kind!r}")
    if only:
        raise NotebookError(f"{only[1]}: <!-- {only[0]} only --> needs <!-- end -->")
    yield from flush()


def narrative_files(narrative: Path = NARRATIVE) -> list[Path]:
    """The narrative's Markdown files, in the order they make the notebook."""
    files = sorted(narrative.glob("*.md"))
    if not files:
        raise NotebookError(f"no narrative files in {narrative}")
    return files


# --------------------------------------------------------------------------------------------
# Building the notebook
# --------------------------------------------------------------------------------------------


def _checks_of(function: str) -> list[str]:
    """The checks graded with NAME's exercise cell: its own, and those blaming it alone."""
    return [name for name, check in REGISTRY.items()
            if name == function or (name not in FUNCTIONS and check.tags == (function,))]


def _functions_behind(check_name: str) -> set[str]:
    """Every API function check ``check_name`` calls, directly or through its upstream checks."""
    names = {check_name} | upstream(check_name)
    return {f for n in names for f in REGISTRY[n].tags} | (names & set(FUNCTIONS))


class _Builder:
    """Turns narrative blocks into cells, checking order and uniqueness as it goes."""

    def __init__(self, solutions: Path):
        self.solutions = solutions
        self.exercises = exercise_sources(solutions)
        self.functions = {name: d for m in self.exercises.values()
                          for name, d in m.named("function").items()}
        self.constants = {name: d for m in self.exercises.values()
                          for name, d in m.named("constant").items()}
        self.cells: list[dict] = []
        self.grade_ids: set[str] = set()
        self.defined: set[str] = set()  # API functions and constants emitted so far
        self.tested: list[str] = []
        self.markdown_count = 0

    def add(self, cell: dict) -> None:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            if grade_id in self.grade_ids:
                raise NotebookError(f"grade_id {grade_id!r} is used twice")
            self.grade_ids.add(grade_id)
        self.cells.append(cell)

    def markdown(self, text: str) -> None:
        self.markdown_count += 1
        self.add(markdown_cell(f"md-{self.markdown_count:03d}", text))

    def locked(self, grade_id: str, source: str) -> None:
        self.add(code_cell(grade_id, source, nbgrader_metadata(grade_id, locked=True)))

    def test(self, check_name: str, where: str) -> None:
        if check_name not in REGISTRY:
            raise NotebookError(f"{where}: the grader has no check {check_name!r}")
        needed = _functions_behind(check_name) - self.defined
        if needed:
            raise NotebookError(f"{where}: the test {check_name} comes before the exercise "
                                f"cell(s) of {', '.join(sorted(needed))}")
        grade_id = f"test_{check_name}"
        meta = nbgrader_metadata(grade_id, grade=True, locked=True,
                                 points=REGISTRY[check_name].points)
        self.add(code_cell(grade_id, test_source(check_name), meta))
        self.tested.append(check_name)

    def exercise(self, name: str, where: str) -> None:
        if name not in self.functions or name not in FUNCTIONS:
            raise NotebookError(f"{where}: {name!r} is not an exercise function")
        if name in self.defined:
            raise NotebookError(f"{where}: the exercise {name} appears twice")
        function = self.functions[name]
        for constant in sorted(function.reads & set(self.constants) - self.defined):
            definition = self.constants[constant]
            missing = definition.reads & set(self.functions) - self.defined
            if missing:
                raise NotebookError(f"{where}: {constant} (needed by {name}) uses "
                                    f"{', '.join(sorted(missing))}, not defined yet")
            self.locked(f"given_{constant.lower()}",
                        f"# Given (read-only): used by {name} and the functions after it.\n"
                        + definition.source)
            self.defined.add(constant)
        if SOLUTION_BEGIN not in function.source or SOLUTION_END not in function.source:
            raise NotebookError(f"{where}: {name} has no {SOLUTION_BEGIN} ... {SOLUTION_END}")
        self.add(code_cell(name, function.source, nbgrader_metadata(name, solution=True)))
        self.defined.add(name)
        for check_name in _checks_of(name):
            self.test(check_name, where)

    def block(self, block: Block) -> None:
        if not block.shown_in("notebook"):
            return
        if block.kind == "markdown":
            self.markdown(block.text)
        elif block.kind == "setup":
            if self.cells and any(c["cell_type"] == "code" for c in self.cells):
                raise NotebookError(f"{block.where}: the setup cell must be the first code cell")
            self.locked("setup", setup_source(self.exercises))
        elif block.kind == "exercise":
            self.exercise(block.arg, block.where)
        elif block.kind == "test":
            self.test(block.arg, block.where)
        elif block.kind == "library":
            if block.arg != "experiments":
                raise NotebookError(f"{block.where}: the only library is 'experiments'")
            missing = set(FUNCTIONS) - self.defined
            if missing:
                raise NotebookError(f"{block.where}: the experiment cells run the notebook's "
                                    "functions, so the experiment code must follow every "
                                    f"exercise; missing: {', '.join(sorted(missing))}")
            self.locked("experiments_library",
                        experiment_library(solutions=self.solutions)[0])
        elif block.kind == "code":
            self.locked(block.arg, block.text)
        elif block.kind == "answer":
            points = float(block.options.get("points", "0"))
            if points <= 0:
                raise NotebookError(f"{block.where}: answer {block.arg} needs points=N")
            meta = nbgrader_metadata(block.arg, grade=True, solution=True,
                                     points=int(points) if points.is_integer() else points)
            self.add(markdown_cell(block.arg, block.text, meta))

    def finish(self) -> dict:
        untested = [name for name in REGISTRY if name not in self.tested]
        if untested:
            raise NotebookError("the notebook has no test cell for check(s) "
                                + ", ".join(untested))
        missing = [name for name in FUNCTIONS if name not in self.defined]
        if missing:
            raise NotebookError("the notebook has no exercise cell for " + ", ".join(missing))
        return {
            "cells": self.cells,
            "metadata": {"kernelspec": KERNELSPEC,
                         "language_info": {"name": "python", "pygments_lexer": "ipython3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }


def build(solutions: Path = SOLUTIONS, narrative: Path = NARRATIVE) -> dict:
    """The source notebook as a JSON-ready dict."""
    builder = _Builder(solutions)
    for path in narrative_files(narrative):
        for block in parse_narrative(path):
            builder.block(block)
    return builder.finish()


def dumps(notebook: dict) -> str:
    """Notebook JSON as Jupyter writes it (1-space indent, sorted keys), so saving it in Jupyter
    does not reformat the whole file."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render(solutions: Path = SOLUTIONS, narrative: Path = NARRATIVE) -> str:
    """The source notebook's file content."""
    return dumps(build(solutions, narrative))


def write(target: Path = NOTEBOOK) -> bool:
    """Regenerate the notebook; True when the file changed."""
    text = render()
    if target.is_file() and target.read_text() == text:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return True


def drift(target: Path = NOTEBOOK) -> list[str]:
    """Why the committed notebook differs from what its sources generate ([] if it does not)."""
    if not target.is_file():
        return [f"{target} does not exist"]
    committed = json.loads(target.read_text())
    fresh = build()
    problems = []
    old = {c["id"]: c for c in committed.get("cells", [])}
    new = {c["id"]: c for c in fresh["cells"]}
    problems += [f"cell {i} is new" for i in new if i not in old]
    problems += [f"cell {i} is gone" for i in old if i not in new]
    problems += [f"cell {i} differs" for i in new if i in old and old[i] != new[i]]
    if not problems and target.read_text() != dumps(fresh):
        problems.append("cell order, notebook metadata or formatting differ")
    return problems


# --------------------------------------------------------------------------------------------
# The student version
# --------------------------------------------------------------------------------------------


def _strip_hidden_tests(text: str, where: str) -> str:
    kept: list[str] = []
    hidden = False
    for line in text.split("\n"):
        marker = line.strip()
        if marker == HIDDEN_BEGIN:
            if hidden:
                raise NotebookError(f"{where}: nested {HIDDEN_BEGIN}")
            hidden = True
        elif marker == HIDDEN_END:
            if not hidden:
                raise NotebookError(f"{where}: {HIDDEN_END} without {HIDDEN_BEGIN}")
            hidden = False
        elif not hidden:
            kept.append(line)
    if hidden:
        raise NotebookError(f"{where}: {HIDDEN_BEGIN} never ends")
    return "\n".join(kept)


def student_version(notebook: dict) -> dict:
    """The release: solution bodies and model answers replaced, hidden tests and outputs gone.

    Solution code keeps its signature and docstring (``course.stubs.make_stub`` replaces each
    BEGIN/END SOLUTION block by a ``raise NotImplementedError``); written answers become
    "YOUR ANSWER HERE". nbgrader's release marks its cells the same way: locked cells are not
    editable, graded and solution cells not deletable.
    """
    released = json.loads(json.dumps(notebook))
    for cell in released["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        text = cell_text(cell)
        where = f"cell {cell.get('id')}"
        if meta.get("solution") and cell["cell_type"] == "code":
            text = make_stub(text, where)
        elif meta.get("solution"):
            text = ANSWER_STUB
        if HIDDEN_BEGIN in text:
            if not meta.get("grade"):
                raise NotebookError(f"{where}: hidden tests outside a test cell")
            text = _strip_hidden_tests(text, where)
        if SOLUTION_BEGIN in text or HIDDEN_BEGIN in text:
            raise NotebookError(f"{where}: a solution or hidden test would reach students")
        cell["source"] = _lines(text)
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        if meta:
            if meta.get("locked"):
                cell["metadata"]["editable"] = False
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                cell["metadata"]["deletable"] = False
    return released


def release_notebook(source: Path, target: Path) -> Path:
    """Write the student version of the notebook ``source`` to ``target`` (see student_version).

    Needs no nbgrader: a release bundle can call it wherever the course package is installed.
    """
    notebook = json.loads(Path(source).read_text())
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dumps(student_version(notebook)))
    return target


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``python -m course notebook``."""
    parser = commands.add_parser("notebook", help=f"regenerate {NOTEBOOK.relative_to(REPO)} "
                                                  "from solutions/ and course/narrative/")
    parser.add_argument("--check", action="store_true",
                        help="only report drift from the sources; exit 1 if there is any")
    parser.add_argument("--release", type=Path, metavar="PATH",
                        help="also write the student version (no solutions, no hidden tests)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.check:
        problems = drift()
        for problem in problems:
            print(f"{NOTEBOOK.relative_to(REPO)}: {problem}")
        if problems:
            print("run `python -m course notebook` to regenerate it")
        return 1 if problems else 0
    changed = write()
    print(f"{'wrote' if changed else 'unchanged:'} {NOTEBOOK.relative_to(REPO)}")
    # The grader recognises the cells the release gives (it does not run them) from this data.
    from grader.student import notebook_cells

    changed = notebook_cells.write_release_data(NOTEBOOK)
    print(f"{'wrote' if changed else 'unchanged:'} "
          f"{notebook_cells.RELEASE_DATA.relative_to(REPO)}")
    if args.release:
        print(f"wrote {release_notebook(NOTEBOOK, args.release)}")
    return 0
