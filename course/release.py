"""``python -m course release [--out DIR]``: the student bundle, as a folder and a zip of it.

The bundle holds what a student works with and nothing the grading depends on keeping private:

* ``exercises/``: the stubs, generated from ``solutions/`` (``course.stubs.render``), so no
  solution body can slip in even if the committed ``exercises/`` were hand-edited;
* the release notebook, made by ``course.notebook.release_notebook`` when that module exists;
* the public self-check: its entry points (``grader/selfcheck.py`` and its conftest, and
  ``grader/notebook_tests.py`` for the notebook's test cells) and the packages they run on
  (``PUBLIC_PACKAGES``: spec, student, checking, public), plus the answers they compare against,
  ``grader/data/public_expected.npz``. Not shipped: the reference,
  the grading seed and config, and the instructor's machinery (batch grading, sandbox, workers,
  reports, gradebook). ``check_clean`` refuses to release a bundle holding a solution body or a
  grading seed;
* ``lesson/``, the experiments (given code that runs on any implementation; the stubs'
  ``exercises/experiments.py`` runs it on the student's functions);
* ``requirements.txt`` (the project's runtime dependencies), a ``pytest.ini`` that keeps pytest's
  settings inside the bundle, and a README (``course/templates/student/README.md``).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import re
import shutil
import string
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from course import stubs

REPO = Path(__file__).resolve().parent.parent
GRADER = REPO / "grader"
TEMPLATES = Path(__file__).resolve().parent / "templates" / "student"
BUNDLE_NAME = "vanishing-gradients"


class ReleaseError(Exception):
    """The bundle would contain something students must not get; nothing is written."""


# What ships: the self-check's entry points and whole packages, never a hand-picked file list.
# The import contracts in pyproject.toml (``make lint``) keep these packages from importing the
# instructor's side (batch, sandbox, inside, settings), so shipping them ships everything the
# self-check and the notebook's test cells need, and nothing the grading keeps private.
PUBLIC_ENTRIES = ("__init__.py", "selfcheck.py", "conftest.py", "notebook_tests.py")
PUBLIC_PACKAGES = ("spec", "student", "checking", "public")
# The experiments: a top-level package of the repository, shipped whole.
LESSON = "lesson"


def self_check_modules(grader_dir: Path = GRADER) -> list[str]:
    """Paths (relative to ``grader_dir``) of the grader's modules that ship to students."""
    names = [name for name in PUBLIC_ENTRIES if (grader_dir / name).is_file()]
    for package in PUBLIC_PACKAGES:
        names += sorted(path.relative_to(grader_dir).as_posix()
                        for path in (grader_dir / package).rglob("*.py"))
    return names


def self_check_data(grader_dir: Path = GRADER) -> list[Path]:
    """Data files the self-check reads: the recorded public answers."""
    return [grader_dir / "data" / "public_expected.npz"]


def requirements(repo: Path = REPO) -> list[str]:
    """The project's runtime dependencies, from pyproject.toml (one source of truth)."""
    with open(repo / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    return list(project.get("dependencies", []))


def _python_floor(repo: Path = REPO) -> str:
    with open(repo / "pyproject.toml", "rb") as handle:
        spec = tomllib.load(handle)["project"].get("requires-python", ">=3.11")
    return spec.removeprefix(">=").strip()


def notebook_release(target: Path) -> Path | None:
    """Write the student notebook into ``target`` with ``course.notebook``, if that exists.

    Returns the notebook's path, or None (with a printed note) when the module is absent.
    """
    if not (Path(__file__).resolve().parent / "notebook.py").is_file():
        print("note: course/notebook.py does not exist (yet): the bundle has no notebook")
        return None
    notebook = importlib.import_module("course.notebook")
    # The instructor's notebook (nbgrader's "source" version), kept in sync by course.notebook.
    source = Path(getattr(notebook, "NOTEBOOK", ""))
    if not source.is_file():
        print(f"note: the instructor notebook {source} is missing: the bundle has no notebook")
        return None
    path = target / source.name
    made = notebook.release_notebook(source, path)
    return Path(made) if isinstance(made, str | Path) else path


def readme(notebook: Path | None, repo: Path = REPO) -> str:
    """The student README, filled in from the grader's own definitions."""
    from grader.checking import checks  # noqa: F401 - registers the checks, so their points are known
    from grader.checking.trial import REGISTRY
    from grader.spec.api import MODULES
    from grader.spec.profile import Limits

    row = ""
    if notebook is not None:
        # The notebook's test cells import grader/ from the kernel's working folder.
        row = (f"| `{notebook.name}` | the same exercises as a notebook, with a test cell after "
               "each exercise: start Jupyter in this folder (`pip install jupyterlab`, then "
               "`jupyter lab`) so the test cells find `grader/`, and submit the notebook "
               "instead of the modules |\n")
    files = [f"`{name}.py`" for name in MODULES]
    template = string.Template((TEMPLATES / "README.md").read_text(encoding="utf-8"))
    return template.substitute(
        modules=", ".join(files[:-1]) + f" and {files[-1]}",
        module_files=", ".join(files),
        notebook_row=row,
        python=_python_floor(repo),
        self_check=stubs.SELF_CHECK,
        points=sum(check.points for check in REGISTRY.values()),
        call_seconds=f"{Limits.call_seconds:g}",
    )


def linked_figures(*texts: str) -> list[str]:
    """The figures under ``docs/figures/`` that the given Markdown texts show, as repository
    paths (``docs/figures/lr_sweep.png``), sorted, each once; the notebook embeds the same
    links (``course.notebook.FIGURE_LINK``), so both paths show the same figures."""
    from course.notebook import FIGURE_LINK

    return sorted({match[2] for text in texts for match in FIGURE_LINK.finditer(text)})


def build_bundle(folder: Path, repo: Path = REPO) -> list[Path]:
    """Write the bundle's files into ``folder`` (which must be empty); returns them."""
    grader_dir = repo / "grader"
    written: list[Path] = []

    def put(relative: str, text: str | None = None, source: Path | None = None) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            shutil.copyfile(source, path)
        else:
            path.write_text(text or "", encoding="utf-8")
        written.append(path)

    for name, text in stubs.render(repo / "solutions").items():
        put(f"exercises/{name}", text)
    # The notebook first: its test cells run on the public packages shipped below.
    notebook = notebook_release(folder)
    if notebook is not None:
        written.append(notebook)
    for name in self_check_modules(grader_dir):
        put(f"grader/{name}", source=grader_dir / name)
    for data in self_check_data(grader_dir):
        put(f"grader/{data.relative_to(grader_dir)}", source=data)
    for path in sorted((repo / LESSON).rglob("*.py")):
        put(f"{LESSON}/{path.relative_to(repo / LESSON).as_posix()}", source=path)
    # The lesson and the written questions for the modules path, from the notebook's narrative.
    from course import lesson_md

    lesson_text, answers_text = lesson_md.render_lesson(), lesson_md.render_answers()
    readme_text = readme(notebook, repo)
    put("LESSON.md", lesson_text)
    put("answers.md", answers_text)
    put("requirements.txt", "".join(f"{r}\n" for r in requirements(repo)))
    put("pytest.ini", source=TEMPLATES / "pytest.ini")
    put("README.md", readme_text)
    # The study figures the shipped Markdown shows, at the same path as in the repository; only
    # those: docs/figures/ also holds the instructor's figures (the class report), not the class's.
    for relative in linked_figures(lesson_text, answers_text, readme_text):
        source = repo / relative
        if not source.is_file():
            raise ReleaseError(f"LESSON.md shows {relative}, which does not exist "
                               "(make study draws the figures)")
        put(relative, source=source)
    check_clean(folder, repo)
    return written


def _normalised(lines: Iterable[str]) -> str:
    """Lines without indentation, inner runs of spaces or blank lines: layout hides no copy."""
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def solution_blocks(solutions: Path) -> dict[str, str]:
    """``module.function`` -> the normalised text between its BEGIN/END SOLUTION markers."""
    blocks: dict[str, str] = {}
    for path in sorted(solutions.glob("*.py")):
        function, block = None, None
        for line in path.read_text(encoding="utf-8").splitlines():
            if block is None and (match := stubs.DEF.match(line)):
                function = match["name"]
            if stubs.BEGIN.match(line):
                block = []
            elif stubs.END.match(line):
                blocks[f"{path.stem}.{function}"] = _normalised(block or [])
                block = None
            elif block is not None:
                block.append(line)
    return blocks


# A line of a solution body is a leak on its own when it says something: at least this many
# tokens (names, numbers, punctuation), or a comment of at least MIN_COMMENT characters.
# Shorter lines (``a = x``, ``grads = []``, ``return params``, ``else:``) are what any code
# says, and finding them elsewhere proves nothing.
MIN_TOKENS = 5
MIN_COMMENT = 30
_TOKEN = re.compile(r"\w+|[^\w\s]")

# Lines the shipped self-check's own code shares with a solution because it computes the same
# quantity to judge it (the Glorot limit, float64 copies of the two arrays a relative error
# compares, the row-major walk over x of the judge's own central differences). Allowed in
# grader/ only, and only these lines; anywhere else they are leaks like any other.
GRADER_SHARES = (
    'if activation in ("sigmoid", "tanh"):',
    "limit = np.sqrt(6.0 / (fan_in + fan_out))",
    "a = np.asarray(a, dtype=np.float64)",
    "b = np.asarray(b, dtype=np.float64)",
    "for index in np.ndindex(x.shape):",
    # Feedback that names the fix: the shapes of dx and dW, the diagnoses of a missing or
    # extra transpose, the sigmoid_grad hint.
    "dx = dout @ W.T",
    "dW = x.T @ dout",
    "s = sigmoid(z)",
)


def _tokens(line: str) -> str:
    """The line as tokens joined by single spaces: re-spacing or re-indenting a copy (``x@W``
    for ``x @ W``) does not hide it, and a match is always whole tokens."""
    return " ".join(_TOKEN.findall(line))


def significant(line: str) -> bool:
    """Whether one line of a solution body is distinctive enough to count as a leak alone."""
    text = line.strip()
    if text.startswith("#"):
        return len(text) >= MIN_COMMENT
    return len(_TOKEN.findall(text)) >= MIN_TOKENS


def _docstrings(solutions: Path) -> list[str]:
    """The docstrings of the exercise functions (``_tokens`` of each line): what the exercise
    itself tells students."""
    lines = []
    for path in sorted(solutions.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and (doc := ast.get_docstring(node)):
                lines += [f" {_tokens(line)} " for line in doc.splitlines()]
    return lines


def solution_lines(solutions: Path) -> dict[str, list[str]]:
    """Significant line of a solution body (as ``_tokens``) -> the ``module.function``s it is
    from. A line the exercises' docstrings already state (``out = x @ W + b``) is given, not
    leaked, and left out."""
    given = _docstrings(solutions)
    lines: dict[str, list[str]] = {}
    for name, block in solution_blocks(solutions).items():
        for line in block.splitlines():
            tokens = _tokens(line)
            if significant(line) and not any(f" {tokens} " in doc for doc in given):
                lines.setdefault(tokens, []).append(name)
    return lines


def _located_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(where, line) for every line a reader of the file sees: a notebook's cell sources by
    cell, else the text by line number."""
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except ValueError:
            cells = None
        if isinstance(cells, list):
            for number, cell in enumerate(cells, 1):
                source = cell.get("source", "") if isinstance(cell, dict) else ""
                text = "".join(source) if isinstance(source, list) else str(source)
                name = cell.get("id", number) if isinstance(cell, dict) else number
                for line in text.splitlines():
                    yield f"cell {name}", line
            return
    text = path.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        yield f"line {number}", line


def leaked_lines(path: Path, relative: Path, lines: dict[str, list[str]]) -> list[str]:
    """One problem per solution function with a significant line in the file at ``path``
    (``lines`` from ``solution_lines``; ``relative`` the file's path in the bundle).

    A solution line counts wherever it stands in a file line, as whole tokens: in code, a
    comment, a string or Markdown."""
    allowed = ({_tokens(line) for line in GRADER_SHARES} if relative.parts[:1] == ("grader",)
               else set())
    wanted = {f" {line} ": names for line, names in lines.items() if line not in allowed}
    found: dict[str, str] = {}
    for where, line in _located_lines(path):
        padded = f" {_tokens(line)} "
        for solution, names in wanted.items():
            if solution in padded:
                for name in names:
                    found.setdefault(name, f"{where}: {line.strip()[:100]}")
    return [f"{relative}: a line of the solution of {name} ({found[name]})"
            for name in sorted(found)]


def _readable(path: Path) -> str:
    """What a reader of the file sees: a notebook's cell sources, else the text."""
    return "\n".join(line for _, line in _located_lines(path))


def grading_seeds(repo: Path = REPO) -> set[int]:
    """Seeds that grade for real: the grader's default and the instructor's grader.toml's."""
    from grader.settings import DEFAULT_SEED, Settings, SettingsError

    try:
        seed = Settings.load(folder=repo).seed
    except SettingsError as error:  # its seed could not be looked for in the bundle
        raise ReleaseError(f"{error}: fix it first (the release checks that no file holds "
                           "its grading seed)") from None
    return {DEFAULT_SEED, seed}


def check_clean(folder: Path, repo: Path = REPO) -> None:
    """Raise ReleaseError if any file holds a solution body, a grading seed or the reference.

    A solution body counts whole and line by line: any significant line of it (see
    ``significant``) anywhere in the bundle, in code, comments, strings, Markdown or notebook
    cells, stops the release with the file, the function and where. The last line of defence
    behind the stubs and the module selection: a future edit that copies a solution or one line
    of it into a hint or into given code, or makes the self-check import the seed, stops it.
    """
    blocks = solution_blocks(repo / "solutions")
    lines = solution_lines(repo / "solutions")
    seeds = [re.compile(rb"(?<![0-9])%d(?![0-9])" % seed) for seed in grading_seeds(repo)]
    problems: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if "solutions" in relative.parts or path.name == "grader.toml":
            problems.append(f"{relative}: reference or grading config")
        text = "\n" + _normalised(_readable(path).splitlines()) + "\n"
        problems += [f"{relative}: the solution of {name}" for name, block in blocks.items()
                     if block and f"\n{block}\n" in text]
        problems += leaked_lines(path, relative, lines)
        data = path.read_bytes()
        problems += [f"{relative}: a grading seed" for seed in seeds if seed.search(data)]
    if problems:
        raise ReleaseError("the bundle would leak:\n  " + "\n  ".join(problems))


def zip_folder(folder: Path, path: Path) -> Path:
    """Zip ``folder`` (kept as the archive's top folder, so it unpacks into one folder)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(file, Path(folder.name) / file.relative_to(folder))
    return path


def build_release(out: Path, repo: Path = REPO) -> tuple[Path, Path]:
    """Build ``out/vanishing-gradients/`` and ``out/vanishing-gradients.zip``; returns both.

    Built in a temporary folder and moved into place, so a failed build leaves no half bundle.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder, archive = out / BUNDLE_NAME, out / f"{BUNDLE_NAME}.zip"
    with tempfile.TemporaryDirectory(prefix="vg-release-", dir=out) as temporary:
        staged = Path(temporary) / BUNDLE_NAME
        staged.mkdir()
        build_bundle(staged, repo)
        zip_folder(staged, Path(temporary) / archive.name)
        if folder.exists():
            shutil.rmtree(folder)
        staged.replace(folder)
        (Path(temporary) / archive.name).replace(archive)
    return folder, archive


def register(commands) -> None:
    """Add the ``release`` sub-command to ``python -m course``."""
    parser = commands.add_parser("release", help="build the student bundle (folder and zip)",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/release"),
                        help="folder for the bundle and its zip (default: out/release)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        folder, archive = build_release(args.out)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    print(f"wrote {folder}/ ({len(files)} files) and {archive}")
    for name in files:
        print(f"  {name}")
    print(f"Students unpack it and run: {stubs.SELF_CHECK}")
    return 0
