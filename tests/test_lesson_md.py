"""The modules path gets the whole lesson: LESSON.md and answers.md, generated from the narrative.

Both come from the notebook's own narrative (course/lesson_md.py), so the two paths teach the
same text and ask the same written questions for the same points; no model answer reaches either.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from course import lesson_md
from course.notebook import narrative_files, parse_narrative
from grader.checking import checks  # noqa: F401 - registers the checks, so points are known
from grader.checking.trial import REGISTRY
from grader.spec.api import FUNCTIONS, MODULE_OF
from lesson.cli import EXPERIMENTS

REPO = Path(__file__).resolve().parent.parent
LESSON = lesson_md.render_lesson()
ANSWERS = lesson_md.render_answers()
BLOCKS = [block for path in narrative_files() for block in parse_narrative(path)]


def test_the_order_of_work_lists_every_function_once_with_its_module_and_points():
    order = LESSON.split("## Order of work", 1)[1].split("\n\n", 2)[1]
    listed = re.findall(r"`exercises/(\w+)\.py`: (.*)", order)
    seen = [(module, name, int(points)) for module, names in listed
            for name, points in re.findall(r"`(\w+)` \((\d+) points?\)", names)]
    assert sorted(name for _, name, _ in seen) == sorted(FUNCTIONS)
    for module, name, points in seen:
        assert (module, points) == (MODULE_OF[name], REGISTRY[name].points)
    # in the narrative's order: a function comes after those its exercise cell follows
    narrative = [block.arg for block in BLOCKS if block.kind == "exercise"]
    assert [name for _, name, _ in seen] == narrative


def test_the_written_questions_are_the_notebooks_with_the_same_points():
    notebook = json.loads((REPO / "notebook" / "vanishing_gradients.ipynb").read_text())
    graded = {cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"]
              for cell in notebook["cells"]
              if cell["metadata"].get("nbgrader", {}).get("task") is False
              and cell["metadata"]["nbgrader"].get("solution")
              and cell["metadata"]["nbgrader"].get("grade") and cell["cell_type"] == "markdown"}
    written = {name: points for name, points, _ in lesson_md.answers()}
    assert written == graded and len(written) == 3
    for name, points, question in lesson_md.answers():
        assert f"## {name}\n\n*{points} points.* {question}\n\nYour answer:" in ANSWERS
        assert question.startswith("**Question")
        assert f"under `## {name}`" in LESSON


def test_no_model_answer_reaches_either_file():
    for block in BLOCKS:
        if block.kind != "answer":
            continue
        for line in block.text.splitlines():
            if len(line.strip()) >= 30:
                assert line.strip() not in LESSON and line.strip() not in ANSWERS
    assert "Model answer" not in LESSON + ANSWERS and "Marking" not in LESSON + ANSWERS


def test_the_narrative_reaches_the_modules_path_whole():
    for block in BLOCKS:
        if block.kind == "markdown":
            assert lesson_md._for_modules(block.text) in LESSON
    kept = [b for b in BLOCKS if b.kind == "markdown"]
    assert sum(len(lesson_md._for_modules(b.text)) for b in kept) > 0.9 * sum(
        len(b.text) for b in kept)  # only the notebook's own instructions are left out


def test_every_command_it_gives_exists():
    for only in re.findall(r"python -m exercises\.experiments --only (\w+)", LESSON):
        assert only in EXPERIMENTS
    for name in re.findall(r"grader/selfcheck\.py -k (\w+)", LESSON):
        assert name in REGISTRY


def test_the_snippets_run_on_working_modules(tmp_path):
    snippets = re.findall(r"```python\n(.*?)```", LESSON, flags=re.S)
    preamble, rest = snippets[0], snippets[1:]
    assert preamble.strip() == lesson_md.PREAMBLE and rest
    # With the reference in place of exercises/ (what a finished student has).
    program = "\n\n".join([preamble.replace("from exercises.", "from solutions."), *rest])
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_release_ships_both_as_generated(tmp_path):
    from course.release import build_release

    folder, _ = build_release(tmp_path)
    assert (folder / "LESSON.md").read_text() == LESSON
    assert (folder / "answers.md").read_text() == ANSWERS
    assert "`LESSON.md`" in (folder / "README.md").read_text()
