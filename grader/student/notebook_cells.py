"""Turn a notebook into the source of one module that runs its cells as a Jupyter kernel would.

The generated module (``notebook_code.py``, imported by the worker) holds the notebook's code
cells as data and runs them **in order, in its own namespace**, as a kernel's "Run All" does:
``ZERO = np.zeros(())`` in one cell is there for ``def relu(z): return np.maximum(z, ZERO)`` in
the next. What it does with each cell mirrors ``nbgrader autograde`` (0.9), whose test cells
give the same points from the same check definitions:

* Cells the assignment gives are recognised by their nbgrader ``grade_id`` (the last cell with
  an id keeps it, as nbgrader's DeduplicateIds does) or, when a student's copy lost its
  metadata, by their text. Its test cells are not run (the grader's checks replace them), nor
  its experiment, demo and plotting cells (no points depend on them). The given cells the
  exercises need (the setup imports, the ``given_*`` constants such as ``ACTIVATIONS``) run
  with the release's text, as nbgrader restores a locked cell a student edited; the setup's
  import of the course's test helper is left out (the worker does not have it).
* The student's own cells run as written. A cell that raises does not stop the later ones
  (nbgrader executes with ``allow_errors``); the feedback notes say which cell raised what.
* IPython syntax is not Python: line magics (``%matplotlib inline``), shell escapes
  (``!pip install``) and help (``np.maximum?``) are skipped, ``%time stmt`` runs ``stmt``, a
  ``%%time`` or ``%%capture`` cell runs its body, other cell magics (``%%bash``) are skipped; a
  cell that does not parse is skipped. The notes say so.
* Time: the cells together get ``RUN_SECONDS`` (a share of the import time limit of
  ``Limits.call_seconds``). A cell still running then (a training loop left in)
  is stopped and said in the notes; each later cell gets ``SLICE_SECONDS`` until a further
  ``RESERVE_SECONDS`` are used up, so the definitions after a long cell still count.
* Plots: the worker runs headless (``MPLBACKEND=Agg``); figures are closed after each cell, as
  the inline backend does. Printed output is discarded. While its cells run, the module's
  ``__name__`` is ``"__main__"``, as in a kernel.

Each cell is compiled with the file name ``cell N`` (N counts every cell of the notebook, from
1) in the submission's folder, so a traceback in a student's function names their cell and line.
Notes reach the feedback through ``grader.student.loader.NOTES_NAME``.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from grader.spec.api import FUNCTIONS
from grader.spec.profile import Limits
from grader.student.loader import NOTES_NAME, SubmissionError

RELEASE_DATA = Path(__file__).resolve().parents[1] / "data" / "notebook_release.json"

# The worker gives importing one module Limits.call_seconds (10 s by default): the cells get a
# share of it, and after a cell was stopped the rest get slices of a reserve, leaving a margin
# for compiling the cells and a slow machine.
RUN_SECONDS = round(0.6 * Limits.call_seconds, 3)
RESERVE_SECONDS = round(0.2 * Limits.call_seconds, 3)
SLICE_SECONDS = 0.25

MAX_CELLS = 2000
# Bounds on what the judge parses (and the worker compiles): all cells together, and one cell.
MAX_CELL_CHARS = 100_000
MAX_MODULE_CHARS = 2_000_000
MAX_NOTES = 20  # what the judge passes on (grader.sandbox.remote); the last one sums up the rest

# Cell magics that run their body as Python in the kernel's namespace (IPython's %%time and
# %%capture); %%timeit runs it in a scope of its own, the others are not Python.
BODY_MAGICS = frozenset({"time", "capture"})
ROLES = ("student", "run", "skip")
_HIDDEN_BEGIN, _HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_HELP = re.compile(r"\?{1,2}[\w.]+|[\w.\[\]'\"]+\?{1,2}")
_MAGIC_ASSIGNMENT = re.compile(r"[\w.,\s\[\]]+=\s*[!%]")
_GIVEN_RUN = re.compile(r"setup|given_[\w-]*")


class _Unparsable(Exception):
    """The text is not Python the judge could parse (a one-line reason)."""


@dataclass(frozen=True)
class ReleaseCell:
    """One nbgrader cell of the released assignment, as the grader treats it.

    role: "student" (a solution cell: the student's text runs), "run" (given code the exercises
    need: the release's text runs), "skip" (tests, experiments, demos, written answers).
    digest: of the cell's normalised text as a student receives it (see ``_digest``).
    source: the release's text, for "run" cells only."""

    grade_id: str
    role: str
    digest: str
    source: str = ""


@dataclass(frozen=True)
class _Cell:
    number: int
    title: str
    kind: str  # "student" or "given"
    source: str | None  # None: not run (the notes say why)
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# The release: which cells the assignment gives
# --------------------------------------------------------------------------------------------


def _text_of(cell: dict) -> str | None:
    source = cell.get("source", "")
    if type(source) is str:
        return source
    if type(source) is list and all(type(line) is str for line in source):
        return "".join(source)
    return None


def _strip_hidden(text: str) -> str:
    kept, hidden = [], False
    for line in text.split("\n"):
        if line.strip() == _HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == _HIDDEN_END:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def _digest(text: str) -> str:
    """A cell's identity by text: blank lines and trailing spaces do not count."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return hashlib.sha256("\n".join(lines).encode("utf-8", "replace")).hexdigest()[:20]


def _nbgrader(cell: dict) -> dict:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if type(metadata) is dict else None
    return meta if type(meta) is dict else {}


def release_cells(instructor: dict) -> dict[str, ReleaseCell]:
    """The roles of the instructor notebook's nbgrader cells, by grade_id (see ReleaseCell).

    Given cells that run are ``setup`` and ``given_*`` (course.notebook writes the exercises'
    imports and the constants they need there); every other locked cell is the course's."""
    found: dict[str, ReleaseCell] = {}
    for cell in instructor["cells"]:
        meta = _nbgrader(cell)
        grade_id, text = meta.get("grade_id"), _text_of(cell)
        if type(grade_id) is not str or text is None:
            continue
        if meta.get("solution") is True and cell.get("cell_type") == "code":
            role = "student"
        elif meta.get("grade") is True or meta.get("solution") is True:
            role = "skip"  # test cells and written answers
        elif meta.get("locked") is True:
            role = "run" if _GIVEN_RUN.fullmatch(grade_id) else "skip"
        else:
            continue
        visible = _strip_hidden(text)
        found[grade_id] = ReleaseCell(grade_id, role, _digest(visible),
                                      visible if role == "run" else "")
    return found


def write_release_data(instructor_notebook: Path, target: Path = RELEASE_DATA) -> bool:
    """Write the release's cell roles (``python -m grader.student.notebook_cells NOTEBOOK``);
    True when the file changed."""
    cells = release_cells(json.loads(Path(instructor_notebook).read_text(encoding="utf-8")))
    text = json.dumps({gid: {"role": c.role, "digest": c.digest, "source": c.source}
                       for gid, c in cells.items()}, indent=1, sort_keys=True) + "\n"
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True


@functools.cache
def release() -> dict[str, ReleaseCell]:
    """The stored roles of the assignment's cells ({} if the data file is missing: then only
    nbgrader metadata tells test cells, and given cells run with the student's text)."""
    try:
        data = json.loads(RELEASE_DATA.read_text(encoding="utf-8"))
        return {gid: ReleaseCell(gid, c["role"], c["digest"], c["source"])
                for gid, c in data.items() if c["role"] in ROLES}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


# --------------------------------------------------------------------------------------------
# The notebook, cell by cell (judge side: nothing here runs student code)
# --------------------------------------------------------------------------------------------


def notebook_source(notebook: object) -> str:
    """The source of a module that runs the notebook's code cells in order (module docstring).

    notebook: the parsed JSON of an ``.ipynb`` file, any JSON value. Raises SubmissionError
    (one line) when it is not a notebook or is too large; never another exception."""
    try:
        return _module_source(_plan(notebook))
    except SubmissionError:
        raise
    except (RecursionError, MemoryError) as error:
        raise SubmissionError(f"the notebook is too deeply nested or too large to read "
                              f"({type(error).__name__})") from None


def _plan(notebook: object) -> list[_Cell]:
    if type(notebook) is not dict or type(notebook.get("cells")) is not list:
        raise SubmissionError("not a notebook (no list of cells)")
    cells = notebook["cells"]
    if len(cells) > MAX_CELLS:
        raise SubmissionError(f"the notebook has {len(cells)} cells (at most {MAX_CELLS})")
    known = release()
    by_digest = {c.digest: c for c in known.values() if c.role != "student"}
    identities = _identities(cells)
    plan: list[_Cell] = []
    total = 0
    for number, cell in enumerate(cells, 1):
        if type(cell) is not dict:
            continue
        given = known.get(identities.get(number, ""))
        if given is not None and given.role == "skip":
            continue  # the course's: its tests, experiments and demos
        if given is None and cell.get("cell_type") != "code":
            continue
        if given is not None and given.role == "run":
            planned = _planned(number, given.grade_id, "given", given.source)
            text = _text_of(cell)
            if text is None or _digest(text) != given.digest:  # as nbgrader restores it
                planned = replace(planned, notes=planned.notes + (
                    f"cell {number} ({given.grade_id}) is read-only: its released text ran, "
                    "without your edits",))
        else:
            text = _text_of(cell)
            title = given.grade_id if given is not None else None
            if text is None:
                plan.append(_Cell(number, title or "", "student", None, (
                    f"cell {number}{_paren(title)} was not run: its source is not text",)))
                continue
            total += len(text)
            if total > MAX_MODULE_CHARS:
                raise SubmissionError(f"the notebook's code cells hold more than "
                                      f"{MAX_MODULE_CHARS} characters")
            if len(text) > MAX_CELL_CHARS:
                plan.append(_Cell(number, title or "", "student", None, (
                    f"cell {number}{_paren(title)} was not run: it holds more than "
                    f"{MAX_CELL_CHARS} characters",)))
                continue
            match = None if given is not None else by_digest.get(_digest(text))
            if match is not None and match.role == "skip":
                continue  # a course cell that lost its metadata
            if given is None and match is None and _only_test_calls(text):
                continue  # an edited test cell without its metadata: still the course's
            if match is not None:  # a given cell that lost its metadata: the release's text
                planned = _planned(number, match.grade_id, "given", match.source)
            else:
                planned = _planned(number, title or _first_line(text), "student", text)
        plan.append(planned)
    return plan


def _identities(cells: list) -> dict[int, str]:
    """Cell number -> grade_id, for the cells nbgrader would treat as its own: the last of
    several cells with one id keeps it (nbgrader's DeduplicateIds clears the earlier ones)."""
    found: dict[int, str] = {}
    seen: set[str] = set()
    for number in range(len(cells), 0, -1):
        cell = cells[number - 1]
        meta = _nbgrader(cell) if type(cell) is dict else {}
        grade_id = meta.get("grade_id")
        if type(grade_id) is not str or not any(
                meta.get(flag) is True for flag in ("grade", "solution", "locked")):
            continue
        if grade_id not in seen:
            seen.add(grade_id)
            found[number] = grade_id
    return found


def _planned(number: int, title: str, kind: str, text: str) -> _Cell:
    notes: list[str] = []
    label = f"cell {number}{_paren(title)}"
    try:
        python, skipped = _python_of(text)
        if kind == "given":
            python = _without_test_helper(python)
    except _Unparsable as reason:
        return _Cell(number, title, kind, None, (f"{label} was not run: {reason}",))
    if skipped:
        notes.append(f"{label}: skipped what is not Python ({skipped})")
    if python is None:
        return _Cell(number, title, kind, None, tuple(notes))
    return _Cell(number, title, kind, python, tuple(notes))


def _parses(text: str) -> None:
    try:
        ast.parse(text)
    except SyntaxError as error:
        where = f", line {error.lineno}" if error.lineno else ""
        raise _Unparsable(f"it does not parse ({type(error).__name__}: {error.msg}{where})"
                          ) from None
    except (ValueError, OverflowError, RecursionError, MemoryError) as error:
        raise _Unparsable(f"it cannot be read as Python ({type(error).__name__})") from None


def _python_of(text: str) -> tuple[str | None, str]:
    """(the cell as Python, or None if nothing of it runs; what was skipped, for the notes).

    Line numbers are kept: a skipped line becomes ``pass`` at its indentation."""
    lines = text.split("\n")
    skipped: list[str] = []
    # IPython drops a cell's leading blank lines, then reads a cell magic on its first line.
    start = next((i for i, line in enumerate(lines) if line.strip()), 0)
    first = lines[start].strip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if magic not in BODY_MAGICS:
            return None, f"a %%{_clean(magic, 20)} cell"
        skipped.append(f"the %%{magic} line")
        lines[start] = ""
    # It also removes an indentation common to the whole cell (pasted code), if the first
    # line has it.
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())] if lines else ""
    if indent and all(line.startswith(indent) or not line.strip() for line in lines):
        lines = [line[len(indent):] for line in lines]
    body = "\n".join(lines)
    try:
        _parses(body)
        return body, "; ".join(skipped)
    except _Unparsable:
        pass  # IPython's own syntax, perhaps
    for index, line in enumerate(lines):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped.startswith("%time ") and not stripped.startswith("%timeit"):
            lines[index] = indent + stripped[len("%time "):].lstrip()
            skipped.append("%time (its statement ran)")
        elif (stripped.startswith(("%", "!")) or _HELP.fullmatch(stripped)
              or _MAGIC_ASSIGNMENT.match(stripped)):
            lines[index] = indent + "pass"
            skipped.append(_clean(stripped, 40))
    python = "\n".join(lines)
    _parses(python)
    return python, "; ".join(skipped)


def _imports_test_helper(node: ast.stmt) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] == "grader":
            return True
        if isinstance(inner, ast.Import) and any(a.name.split(".")[0] == "grader"
                                                 for a in inner.names):
            return True
    return False


def _without_test_helper(python: str | None) -> str | None:
    """A given cell without its statements that import the course's grader package (the setup
    cell's ``check``): blanked, so the other lines keep their numbers."""
    if python is None:
        return None
    lines = python.split("\n")
    for node in ast.parse(python).body:
        if _imports_test_helper(node):
            for index in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[index] = ""
    return "\n".join(lines)


def _only_test_calls(text: str) -> bool:
    """True for a cell whose statements are all calls of the test helper ``check(...)``."""
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return False
    return bool(body) and all(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name) and node.value.func.id == "check"
        for node in body)


def _clean(text: str, limit: int) -> str:
    """Student text fit for a one-line note: printable characters only, cut to ``limit``."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _paren(title: str | None) -> str:
    return f" ({title})" if title else ""


def _first_line(text: str) -> str:
    for line in text.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            return '"' + _clean(line.strip(), 40) + '"'
    return ""


# --------------------------------------------------------------------------------------------
# The generated module, and the runner it embeds (worker side)
# --------------------------------------------------------------------------------------------


def _module_source(plan: list[_Cell]) -> str:
    cells = [(c.number, c.title, c.kind, c.source, c.notes) for c in plan]
    return (
        "# The student's notebook as the grader runs it (grader/student/notebook_cells.py): the\n"
        "# code cells below run in order in this module's namespace, as a kernel runs them.\n"
        "__grader_runner__ = {'__builtins__': __import__('builtins')}\n"
        f"exec(compile({_RUNNER!r}, '<grader: notebook runner>', 'exec'), __grader_runner__)\n"
        f"__grader_runner__['run_cells'](globals(), {cells!r}, {RUN_SECONDS!r}, "
        f"{RESERVE_SECONDS!r}, {SLICE_SECONDS!r}, {NOTES_NAME!r}, {MAX_NOTES!r}, "
        f"{FUNCTIONS!r})\n"
    )


def run_cells(namespace, cells, seconds, reserve, slice_seconds, notes_name, max_notes,
              graded=()):
    """Run notebook cells in ``namespace`` in order, as a kernel would (the module docstring).

    Runs in the worker, inside the generated module, with a namespace of its own (only
    builtins): a student's ``time = 3`` or ``sum = 0`` cannot reach it. cells: tuples of
    (number, title, kind, source or None, notes). graded: the names of the graded functions;
    one defined by more than one cell gets a note naming the cell whose version is graded (the
    last to run, as after Run All). Leaves at most ``max_notes`` one-line notes in
    ``namespace[notes_name]`` and removes ``__grader_runner__``."""
    import linecache
    import os
    import signal
    import sys
    import time
    from contextlib import redirect_stderr, redirect_stdout

    class Stopped(BaseException):
        """Raised into a cell whose time is up; not an Exception, so ``except Exception``
        in the cell does not swallow it."""

    class Discard:
        """Where printed output goes: nowhere, at no cost."""

        def write(self, text):
            return len(text) if type(text) is str else 0

        def flush(self):
            pass

        def isatty(self):
            return False

    def one_line(error):
        try:
            text = str(error)
        except BaseException:  # noqa: BLE001 - a student's __str__ may raise anything
            text = ""
        text = (text.strip().splitlines() or [""])[0]
        text = "".join(ch if ch.isprintable() else "?" for ch in text[:121])
        text = text if len(text) <= 120 else text[:119] + "…"
        return f"{type(error).__name__}: {text}" if text else type(error).__name__

    def line_in(error, filename, form):
        line, tb = None, error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        return form.format(line) if line else ""

    def close_figures():
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            try:
                pyplot.close("all")
            except Exception:  # noqa: BLE001 - a student may have replaced pyplot's parts
                pass

    armed = [False]

    def on_alarm(signum, frame):
        if armed[0]:
            raise Stopped()

    os.environ.setdefault("MPLBACKEND", "Agg")  # headless (the sandbox sets it too)
    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except (ValueError, OSError, AttributeError):  # not the main thread: cells run untimed
        previous = None
    folder = os.path.dirname(str(namespace.get("__file__") or ""))
    had_name, old_name = "__name__" in namespace, namespace.get("__name__")
    namespace["__name__"] = "__main__"
    namespace.setdefault("display", lambda *objects, **options: None)  # IPython's builtin

    class Shell:
        """``get_ipython()`` in converted notebooks: magics and shell commands are skipped, as
        the kernel's own syntax for them is (said once in the notes)."""

        def _skip(self, *args, **kwargs):
            said = "get_ipython() magics and shell commands were skipped (not Python)"
            if said not in notes:
                notes.append(said)
            return ""

        run_line_magic = run_cell_magic = system = getoutput = magic = _skip

    shell = Shell()
    namespace.setdefault("get_ipython", lambda: shell)
    notes, not_run = [], []
    run_until = time.monotonic() + seconds
    reserve_until = None
    sink = Discard()
    defined_in = {}  # graded name -> the cells that (re)defined it, in order

    def note_definitions(number, before):
        for name in graded:
            value = namespace.get(name)
            if value is not None and value is not before.get(name):
                defined_in.setdefault(name, []).append(number)

    for number, title, _kind, source, said in cells:
        notes.extend(said)
        if source is None:
            continue
        label = f"cell {number}" + (f" ({title})" if title else "")
        now = time.monotonic()
        if reserve_until is None and now >= run_until:
            reserve_until = now + reserve
        if reserve_until is not None and now >= reserve_until:
            not_run.append(number)
            continue
        allowed = (run_until - now if reserve_until is None
                   else min(slice_seconds, reserve_until - now))
        filename = os.path.join(folder, f"cell {number}") if folder else f"cell {number}"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except BaseException as error:  # noqa: BLE001 - too deep for the compiler, say
            notes.append(f"{label} was not run: {one_line(error)}")
            continue
        outcome, where = None, ""
        with redirect_stdout(sink), redirect_stderr(sink):
            try:
                armed[0] = True
                if previous is not None:
                    # Repeating, so a bare ``except:`` in the cell only delays the stop.
                    signal.setitimer(signal.ITIMER_REAL, max(allowed, 0.001), 0.05)
                before = {name: namespace.get(name) for name in graded}
                try:
                    exec(code, namespace)
                finally:
                    note_definitions(number, before)
                    armed[0] = False
                    if previous is not None:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            except Stopped as stop:
                outcome, where = "stopped", line_in(stop, filename, " at line {}")
            except BaseException as error:  # noqa: BLE001 - a kernel goes on after any error
                outcome = error
            close_figures()
        if outcome == "stopped" and reserve_until is None:
            reserve_until = time.monotonic() + reserve
            notes.append(
                f"{label} was stopped{where}: a notebook's cells get {seconds:g} s in all when "
                "graded (its load time limit); long-running work such as a training loop "
                f"counts against it, and later cells got {slice_seconds:g} s each")
        elif outcome == "stopped":
            notes.append(f"{label} was stopped{where}: it ran out of "
                         f"its {slice_seconds:g} s")
        elif outcome is not None:
            notes.append(f"{label} raised {one_line(outcome)}"
                         f"{line_in(outcome, filename, ' (line {})')}; "
                         "the cells after it still ran")
    for name, numbers in defined_in.items():
        if len(numbers) > 1:
            earlier = ", ".join(str(n) for n in numbers[:-1])
            notes.append(f"{name} is defined in cell{'s' if len(numbers) > 2 else ''} {earlier} "
                         f"and again in cell {numbers[-1]}: the last one is graded, as after "
                         "Run All")
    if not_run:
        first, last = not_run[0], not_run[-1]
        which = f"cells {first}-{last}" if first != last else f"cell {first}"
        notes.append(f"{which} were not run: the time for running the notebook's cells "
                     f"({seconds + reserve:g} s) was used up")
    if previous is not None:
        signal.signal(signal.SIGALRM, previous)
    if had_name:
        namespace["__name__"] = old_name
    else:
        namespace.pop("__name__", None)
    if len(notes) > max_notes:
        notes = notes[: max_notes - 1] + [f"... and {len(notes) - max_notes + 1} more notes "
                                          "about other cells"]
    namespace[notes_name] = notes
    namespace.pop("__grader_runner__", None)


# The runner's source, embedded in every generated module (the worker cannot import this file).
_RUNNER = inspect.getsource(run_cells)


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.student.notebook_cells NOTEBOOK``: store the release's cell roles."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m grader.student.notebook_cells",
                                     description=write_release_data.__doc__)
    parser.add_argument("notebook", type=Path, help="the instructor notebook (nbgrader source)")
    args = parser.parse_args(argv)
    changed = write_release_data(args.notebook)
    print(f"{'wrote' if changed else 'unchanged:'} {RELEASE_DATA}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
