"""The student bundle: no solution, nothing hidden, and a self-check that works on its own."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader.checking import checks  # noqa: F401 - registers the checks, so REGISTRY is full
from grader.checking.trial import REGISTRY
from grader.settings import DEFAULT_SEED
from grader.spec.api import FUNCTIONS

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
TOTAL = sum(c.points for c in REGISTRY.values())
BEGIN = re.compile(r"^\s*### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
DEF = re.compile(r"^\s*def (\w+)\(")
# The instructor's machinery: grading batches, the sandbox and its workers, reports, gradebook.
# The grader's instructor side: packages (batch, sandbox, inside) and top-level modules.
INSTRUCTOR_ONLY = {"batch", "sandbox", "inside", "cli", "settings", "__main__"}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("release")
    done = subprocess.run([sys.executable, "-m", "course", "release", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "vanishing-gradients", out / "vanishing-gradients.zip"


def bundle_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def normalise(lines: list[str]) -> str:
    """Lines without indentation, inner runs of spaces or blank lines: layout cannot hide a copy."""
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def solution_blocks() -> dict[str, str]:
    """``module.function`` -> the normalised text between its BEGIN/END SOLUTION markers."""
    blocks: dict[str, str] = {}
    for path in sorted(SOLUTIONS.glob("*.py")):
        function, block = None, None
        for line in path.read_text().splitlines():
            if block is None and (match := DEF.match(line)):
                function = match[1]
            if BEGIN.match(line):
                block = []
            elif END.match(line):
                blocks[f"{path.stem}.{function}"] = normalise(block)
                block = None
            elif block is not None:
                block.append(line)
    return blocks


def readable_text(path: Path) -> str:
    """A file's text as a reader would see it: a notebook's cell sources, else its bytes."""
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        cells = json.loads(data)["cells"]
        return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells)
    return data.decode("utf-8", errors="replace")


def leaked_blocks(files: list[Path]) -> dict[str, list[str]]:
    """Which solution blocks appear, as whole consecutive lines, in which of ``files``."""
    blocks = solution_blocks()
    found: dict[str, list[str]] = {}
    for path in files:
        text = "\n" + normalise(readable_text(path).splitlines()) + "\n"
        for name, block in blocks.items():
            if f"\n{block}\n" in text:
                found.setdefault(name, []).append(path.name)
    return found


def in_bundle(folder: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the project's Python inside a bundle, importing the bundle's own grader package."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(folder)
    return subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=timeout)


# --- (a) no solution ----------------------------------------------------------------------------

def test_the_leak_detector_finds_every_solution_block():
    blocks = solution_blocks()
    assert {name.split(".")[1] for name in blocks} >= set(FUNCTIONS)
    assert all(blocks.values())
    assert set(leaked_blocks(sorted(SOLUTIONS.glob("*.py")))) == set(blocks)


def test_no_solution_body_is_in_the_bundle(release):
    folder, archive = release
    assert leaked_blocks(bundle_files(folder)) == {}
    # The zip holds exactly the folder, byte for byte, so the same holds for it.
    with zipfile.ZipFile(archive) as handle:
        zipped = {name: handle.read(name) for name in handle.namelist() if not name.endswith("/")}
    assert zipped == {f"{folder.name}/{p.relative_to(folder).as_posix()}": p.read_bytes()
                      for p in bundle_files(folder)}


def test_no_reference_folder_module_or_compiled_file(release):
    folder, _ = release
    for path in bundle_files(folder):
        parts = path.relative_to(folder).parts
        assert not any("solution" in part.lower() for part in parts), path
        assert "__pycache__" not in parts and path.suffix not in (".pyc", ".pyo"), path
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                assert not any(n.split(".")[0] == "solutions" for n in names), path


def test_release_refuses_a_bundle_with_a_solution_or_seed(release, tmp_path):
    from course.release import ReleaseError, check_clean

    folder, _ = release
    copy = tmp_path / "bundle"
    shutil.copytree(folder, copy)
    check_clean(copy)
    hint = copy / "exercises" / "network.py"
    original = hint.read_text()
    body = (SOLUTIONS / "layers.py").read_text().split("### BEGIN SOLUTION")[1]
    hint.write_text(original + "\n# hint:\n" + body.split("### END SOLUTION")[0])
    with pytest.raises(ReleaseError, match="the solution of layers"):
        check_clean(copy)
    hint.write_text(original + f"\nSEED = {DEFAULT_SEED}\n")
    with pytest.raises(ReleaseError, match="a grading seed"):
        check_clean(copy)


# --- (a') not one line of a solution ----------------------------------------------------------
# The class: any line of a solution body, however re-indented or re-spaced, anywhere students
# look (stubs, given code, the lesson, the notebook, the README). Every line of every solution
# is enumerated and planted alone; lines too plain to prove anything must not stop a release.

TOKEN = re.compile(r"\w+|[^\w\s]")
# The lines of solution bodies that any code says (fewer than 5 tokens); the rest must be caught.
PLAIN = {"return grad", "params = []", "else:", "return params", "caches = []", "a = x",
         "return z, caches", "grads = []", "upstream = dout"}
# What an exercise's own docstring states (dense_forward's: "Affine layer: out = x @ W + b").
GIVEN = {"out = x @ W + b"}


def solution_lines() -> list[tuple[str, str]]:
    """(module.function, line) for every distinct line of every solution body, in file order."""
    seen: dict[str, str] = {}
    for name, block in solution_blocks().items():
        for line in block.splitlines():
            seen.setdefault(line, name)
    return [(name, line) for line, name in seen.items()]


DISTINCTIVE = [(name, line) for name, line in solution_lines() if line not in PLAIN | GIVEN]
# Where a planted line goes, and how it is disguised: re-indented code, a comment, re-spaced
# Markdown, a notebook cell.
PLACES = ("exercises/network.py", "lesson/flow.py", "README.md", "vanishing_gradients.ipynb")


def _plant(folder: Path, place: str, line: str) -> None:
    path = folder / place
    path.parent.mkdir(parents=True, exist_ok=True)
    if place.endswith(".ipynb"):
        cells = [{"cell_type": "code", "id": "given", "metadata": {}, "outputs": [],
                  "source": ["x = 1\n", f"   {line}\n"]}]
        path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}))
    elif place.endswith(".md"):
        respaced = " ".join(TOKEN.findall(line))  # "x . T @ dout" for "x.T @ dout"
        path.write_text(f"# Notes\n\nThe trick:\n\n    {respaced}\n")
    elif place.startswith("lesson"):
        path.write_text(f"def given():\n    # hint: {line}\n    return None\n")
    else:
        path.write_text(f"def helper(x):\n        {line}\n")


def test_the_enumeration_sees_every_solution():
    names = {name for name, _ in DISTINCTIVE}
    assert names == set(solution_blocks()), "every solution has a line the detector must catch"
    assert all(len(TOKEN.findall(line)) >= 5 for _, line in DISTINCTIVE)
    assert all(len(TOKEN.findall(line)) < 5 for line in PLAIN)
    assert {line for _, line in solution_lines()} >= PLAIN | GIVEN


@pytest.mark.parametrize("index", range(len(DISTINCTIVE)),
                         ids=[f"{n}:{i}" for i, (n, _) in enumerate(DISTINCTIVE)])
def test_one_planted_solution_line_stops_the_release(index, tmp_path):
    from course.release import ReleaseError, check_clean

    name, line = DISTINCTIVE[index]
    place = PLACES[index % len(PLACES)]
    _plant(tmp_path, place, line)
    # Every function the line belongs to is named, with the file.
    owners = sorted({n for n, body in solution_blocks().items() if line in body.splitlines()})
    with pytest.raises(ReleaseError) as refused:
        check_clean(tmp_path)
    message = str(refused.value)
    for owner in owners:
        assert f"{place}: a line of the solution of {owner} (" in message, message
    assert name in owners


@pytest.mark.parametrize("line", sorted(PLAIN | GIVEN))
def test_plain_or_given_lines_do_not_stop_the_release(line, tmp_path):
    from course.release import check_clean

    for place in PLACES:
        _plant(tmp_path, place, line)
    check_clean(tmp_path)


def test_the_self_checks_shared_lines_pass_in_grader_only(tmp_path):
    from course.release import GRADER_SHARES, ReleaseError, check_clean

    lines = {line for _, line in DISTINCTIVE}
    assert set(GRADER_SHARES) <= lines, "an allowance for a line no solution holds"
    shared = tmp_path / "shared"
    (shared / "grader" / "checking").mkdir(parents=True)
    (shared / "grader" / "checking" / "extra.py").write_text(
        "def f(x):\n" + "".join(f"    {line}\n" for line in GRADER_SHARES))
    check_clean(shared)
    for line in GRADER_SHARES:
        elsewhere = tmp_path / f"elsewhere{abs(hash(line))}"
        _plant(elsewhere, "exercises/network.py", line)
        with pytest.raises(ReleaseError, match="exercises/network.py: a line of the solution"):
            check_clean(elsewhere)


def test_the_real_release_holds_no_solution_line(release):
    from course.release import check_clean

    folder, _ = release
    check_clean(folder)
    # Independently of course.release: no distinctive solution line stands as a line in
    # anything students read outside the self-check (whose feedback may name a fix).
    lines = {" ".join(TOKEN.findall(line)) for _, line in DISTINCTIVE}
    for path in bundle_files(folder):
        if path.relative_to(folder).parts[0] == "grader":
            continue
        text = {" ".join(TOKEN.findall(line)) for line in readable_text(path).splitlines()}
        assert not text & lines, (path, text & lines)


# --- (b) nothing hidden --------------------------------------------------------------------------

def test_no_grading_seed_or_config(release):
    folder, _ = release
    seeds = {DEFAULT_SEED}
    if (REPO / "grader.toml").is_file():
        seeds.add(tomllib.loads((REPO / "grader.toml").read_text()).get("seed", DEFAULT_SEED))
    for path in bundle_files(folder):
        assert path.name != "grader.toml"
        for seed in seeds:
            assert not re.search(rb"(?<!\d)%d(?!\d)" % seed, path.read_bytes()), path


def test_only_the_modules_the_self_check_imports(release):
    folder, _ = release
    grader = folder / "grader"
    shipped = {p.relative_to(grader).with_suffix("").as_posix().replace("/", ".")
               for p in grader.rglob("*.py")}
    tops = {name.partition(".")[0] for name in shipped}
    present = {p.name if p.is_dir() else p.stem for p in (REPO / "grader").iterdir()}
    assert INSTRUCTOR_ONLY <= present, "the instructor-only list names no real module"
    assert not tops & INSTRUCTOR_ONLY
    assert not set(os.listdir(grader / "data")) - {"public_expected.npz"}
    # Independent of the release's package list: what the self-check and the notebook's setup
    # really import is shipped, and every shipped package is used.
    notebook_imports = [ast.unparse(node) for cell in code_cells(folder)
                        for node in ast.walk(ast.parse(cell["text"]))
                        if isinstance(node, ast.Import | ast.ImportFrom) and "grader" in
                        ast.unparse(node)]
    probe = ("import json, sys, pytest\n"
             "pytest.main(['grader/selfcheck.py', '-q', '-p', 'no:cacheprovider'])\n"
             + "".join(f"{line}\n" for line in notebook_imports)
             + "print(json.dumps(sorted(m for m in sys.modules if m.startswith('grader'))))")
    done = in_bundle(folder, "-c", probe)
    imported = {name.partition(".")[2] or "__init__"
                for name in json.loads(done.stdout.strip().splitlines()[-1])}
    imported = {name if name in shipped else f"{name}.__init__" for name in imported}
    assert imported <= shipped
    assert {name.partition(".")[0] for name in imported} == tops


def code_cells(folder: Path) -> list[dict]:
    """The released notebook's code cells (id, nbgrader metadata, text without magics)."""
    cells = []
    for path in folder.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else (
                    cell["source"])
                text = "\n".join(line for line in text.splitlines()
                                 if not line.lstrip().startswith(("%", "!")))
                cells.append({"id": cell.get("id"), "text": text,
                              "nbgrader": cell.get("metadata", {}).get("nbgrader", {})})
    return cells


# --- (c) it works on its own ---------------------------------------------------------------------

@pytest.mark.slow
def test_self_check_runs_from_a_copy_of_the_bundle(release, tmp_path):
    folder, _ = release
    copy = tmp_path / "student"
    shutil.copytree(folder, copy)
    where = in_bundle(copy, "-c", "import grader; print(grader.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(copy), where.stdout + where.stderr

    stubs = in_bundle(copy, "-m", "pytest", "grader/selfcheck.py", "-p", "no:cacheprovider")
    assert stubs.returncode == 1, stubs.stdout[-2000:] + stubs.stderr
    # Three stubs' tests call an unwritten function first: not checked yet (skipped), 0 confirmed.
    assert f"{len(REGISTRY) - 3} failed, 3 skipped" in stubs.stdout
    assert f"self-check score: 0 / {TOTAL} confirmed; 11 points wait on " in stubs.stdout

    for path in (REPO / "examples" / "correct").glob("*.py"):
        shutil.copyfile(path, copy / "exercises" / path.name)
    finished = in_bundle(copy, "-m", "pytest", "grader/selfcheck.py", "-p", "no:cacheprovider")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr
    assert f"{len(REGISTRY)} passed" in finished.stdout
    assert f"self-check score: {TOTAL} / {TOTAL} points" in finished.stdout


@pytest.mark.slow
def test_requirements_resolve_and_readme_explains(release):
    folder, _ = release
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                           "--ignore-installed", "-r", str(folder / "requirements.txt")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    readme = (folder / "README.md").read_text()
    assert "python -m pytest grader/selfcheck.py" in readme
    assert "pip install -r requirements.txt" in readme
    assert "Gradescope" in readme and ".ipynb" in readme and "zip" in readme
    assert "${" not in readme


NOTEBOOK_RUNNER = """
import json, sys
cells = json.loads(sys.argv[1])
namespace = {}
for cell in cells:
    try:
        exec(compile(cell["text"], cell["id"], "exec"), namespace)
        outcome = "ok"
    except BaseException as error:  # a test cell's failure is an AssertionError (CheckFailure)
        outcome = "AssertionError" if isinstance(error, AssertionError) else type(error).__name__
    print(json.dumps([cell["id"], outcome]))
"""


def _runnable(cell: dict) -> bool:
    """Setup, exercise and test cells, and read-only cells that only define things (the
    experiments, which take a minute, are left out)."""
    meta = cell["nbgrader"]
    if meta.get("solution") or meta.get("grade") or re.search(r"^\s*from grader\b", cell["text"],
                                                               re.MULTILINE):
        return True
    return all(_defines_only(node) for node in ast.parse(cell["text"]).body)


def _defines_only(node: ast.stmt) -> bool:
    """An import, a definition, or an assignment that calls nothing."""
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
        return True
    return isinstance(node, ast.Assign | ast.AnnAssign) and not any(
        isinstance(inner, ast.Call) for inner in ast.walk(node))


def run_notebook(folder: Path, solved: dict[str, str] | None = None) -> dict[str, str]:
    """Run the notebook's runnable cells in the bundle; cell id -> "ok" or the exception."""
    cells = [dict(c, text=(solved or {}).get(c["id"], c["text"]))
             for c in code_cells(folder) if _runnable(c)]
    done = in_bundle(folder, "-c", NOTEBOOK_RUNNER, json.dumps(cells))
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(line) for line in done.stdout.splitlines() if line.startswith("["))


def test_release_notebook_works_in_the_bundle(release, tmp_path):
    if not (REPO / "course" / "notebook.py").is_file():
        pytest.skip("course/notebook.py does not exist yet, so the release has no notebook")
    from course.notebook import NOTEBOOK

    folder, _ = release
    assert list(folder.glob("*.ipynb")), "course/notebook.py exists but no notebook was released"
    copy = tmp_path / "student"
    shutil.copytree(folder, copy)
    tests = {c["id"] for c in code_cells(copy) if c["nbgrader"].get("grade")}
    assert tests
    # As released: the setup cell imports the bundle's grader, every test cell fails, except
    # the three whose tests call an unwritten function first: not checked yet, a notice.
    outcomes = run_notebook(copy)
    waiting = {f"test_{name}" for name in ("dense_backward", "activation_backward",
                                           "mlp_backward")}
    assert {cell: outcomes[cell] for cell in tests} == {
        cell: "ok" if cell in waiting else "AssertionError" for cell in tests}, outcomes
    assert "ImportError" not in outcomes.values() and "NameError" not in outcomes.values()
    # With the instructor notebook's solution cells in place, every test cell passes.
    solved = {c["id"]: "".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
              if c["cell_type"] == "code"
              and c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    outcomes = run_notebook(copy, solved)
    assert {cell: outcomes[cell] for cell in tests if outcomes[cell] != "ok"} == {}


def test_the_bundle_ships_exactly_the_figures_its_markdown_shows(release):
    """docs/figures/ in the bundle is the set LESSON.md (and the other shipped Markdown) links,
    each present; the instructor's class report, which sits in the same folder, is not."""
    from course.notebook import FIGURE_LINK

    folder, archive = release
    linked = {match[2] for name in ("LESSON.md", "answers.md", "README.md")
              for match in FIGURE_LINK.finditer((folder / name).read_text(encoding="utf-8"))}
    assert linked, "LESSON.md shows no study figure"
    shipped = {p.relative_to(folder).as_posix()
               for p in (folder / "docs").rglob("*") if p.is_file()}
    assert shipped == linked
    assert not (folder / "docs" / "figures" / "class_report.png").exists()
    with zipfile.ZipFile(archive) as bundle:
        assert not any(n.endswith("class_report.png") for n in bundle.namelist())
    for relative in linked:  # the same bytes as the repository's figure
        assert (folder / relative).read_bytes() == (REPO / relative).read_bytes()


@pytest.mark.parametrize("text, figures", [
    ("no figure here", []),
    ("![a](docs/figures/lr_sweep.png)", ["docs/figures/lr_sweep.png"]),
    ("![a](docs/figures/b.png) and ![c](docs/figures/a.png) ![d](docs/figures/b.png)",
     ["docs/figures/a.png", "docs/figures/b.png"]),
    ("[not an image](docs/figures/class_report.png)", []),
    ("![elsewhere](other/x.png) ![web](https://example.org/docs/figures/x.png)", []),
])
def test_linked_figures_reads_image_links_under_docs_figures(text, figures):
    from course.release import linked_figures

    assert linked_figures(text) == figures
    assert linked_figures(text, text) == figures  # each figure once


def test_a_linked_figure_that_is_missing_stops_the_release(tmp_path, monkeypatch):
    from course import lesson_md, release

    monkeypatch.setattr(lesson_md, "render_lesson",
                        lambda: "![gone](docs/figures/no_such_figure.png)\n")
    monkeypatch.setattr(release, "notebook_release", lambda target: None)
    with pytest.raises(release.ReleaseError, match="docs/figures/no_such_figure.png"):
        release.build_bundle(tmp_path / "bundle")


def test_the_readme_submits_the_written_answers_and_names_no_one_platform(release):
    """The modules path hands in answers.md with exercises/ (the zip command says both, and
    what it makes holds both), and the README does not assume Gradescope."""
    folder, _ = release
    readme = (folder / "README.md").read_text()
    submit = readme.split("## Submit", 1)[1]
    assert "`zip -r submission.zip exercises answers.md`" in submit
    for platform in ("Gradescope", "Canvas", "Moodle"):
        assert platform in submit
    assert "Upload to the assignment on Gradescope" not in readme
    if shutil.which("zip"):
        work = folder.parent / "zip-check"
        shutil.copytree(folder, work)
        subprocess.run(["zip", "-qr", "submission.zip", "exercises", "answers.md"], cwd=work,
                       check=True, timeout=60)
        with zipfile.ZipFile(work / "submission.zip") as made:
            names = set(made.namelist())
        assert "answers.md" in names and "exercises/network.py" in names
        shutil.rmtree(work)


SHIPPED_TEXT = ("README.md", "LESSON.md", "answers.md", "exercises/*.py")


def test_what_students_read_names_no_course_tool_and_quotes_the_run_time_honestly(release):
    """Students have no solutions/, bench/ or `python -m course`: the README, LESSON.md, the
    stubs and every cell of the notebook name none of them; the full run's time is the
    reference's on quiet cores, with what a student's code on a busy machine may take."""
    folder, _ = release
    texts = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
             for pattern in SHIPPED_TEXT for p in sorted(folder.glob(pattern))}
    for notebook in folder.glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            texts[f"{notebook.name}:{cell['id']}"] = "".join(cell["source"])
    assert len(texts) > 20
    for where, text in texts.items():
        for tool in ("bench/", "python -m course", "solutions/", "jupyter notebook"):
            assert tool not in text, (where, tool)
    readme = texts["README.md"]
    assert "about 17 s with the reference solutions on 2 quiet cores" in " ".join(readme.split())
    assert "up to about 30 s" in " ".join(readme.split())
    settings_cell = next(t for w, t in texts.items() if w.endswith(":experiment_settings"))
    assert "up to about 30 s" in settings_cell and "quiet" in settings_cell
    setup_cell = next(t for w, t in texts.items() if w.endswith(":setup"))
    assert "jupyter lab" in setup_cell
