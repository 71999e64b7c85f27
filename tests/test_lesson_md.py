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

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import lesson_md
from course.notebook import NotebookError, narrative_files, parse_narrative
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
    # All of it but the notebook-only regions (<!-- notebook only -->), which must not.
    for block in BLOCKS:
        if block.kind == "markdown":
            assert (lesson_md._for_modules(block.text) in LESSON) == block.shown_in("lesson")
    kept = [b for b in BLOCKS if b.kind == "markdown" and b.shown_in("lesson")]
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


# --- prose for one path only ------------------------------------------------------------------

def notebook_markdown() -> str:
    """The text of every Markdown cell of the committed notebook."""
    notebook = json.loads((REPO / "notebook" / "vanishing_gradients.ipynb").read_text())
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"]
                     if cell["cell_type"] == "markdown")


def test_notebook_only_prose_is_in_the_notebook_and_not_in_lesson_md():
    only = [b for b in BLOCKS if b.options.get("only") == "notebook"]
    assert only, "the narrative marks its notebook-only prose"
    cells = notebook_markdown()
    for block in only:
        assert block.text in cells
        assert lesson_md._for_modules(block.text) not in LESSON
    # The outsider's example: how the notebook's cells find the student's functions.
    assert "collects them from this notebook" in cells
    assert "collects them from this notebook" not in LESSON
    assert "The next cell holds the experiments" not in LESSON


REGIONS = st.lists(st.tuples(st.sampled_from([None, "notebook", "lesson"]),
                             st.integers(min_value=1, max_value=3)), min_size=1, max_size=6)


@settings(derandomize=True, deadline=None, max_examples=40)
@given(regions=REGIONS)
def test_generated_regions_reach_exactly_their_paths(regions, tmp_path_factory):
    """Narratives of plain, notebook-only and lesson-only runs of paragraphs (a code cell in
    some): each paragraph and cell is shown in the paths its region names, and in both when it
    is in no region; the notebook's builder and LESSON.md drop the others."""
    folder = tmp_path_factory.mktemp("narrative")
    lines, expected = [], []
    for number, (only, paragraphs) in enumerate(regions):
        if only:
            lines.append(f"<!-- {only} only -->")
        for k in range(paragraphs):
            text = f"Paragraph {number}-{k} of the {only or 'shared'} text."
            lines += [text, "<!-- cell -->"]
            expected.append(("markdown", text, only))
        if paragraphs == 2:  # a read-only code cell too
            lines += [f"<!-- code: snippet_{number} -->", "```python", f"x_{number} = 1", "```"]
            expected.append(("code", f"x_{number} = 1", only))
        if only:
            lines.append("<!-- end -->")
    (folder / "01-text.md").write_text("\n".join(lines) + "\n")
    blocks = list(parse_narrative(folder / "01-text.md", render=False))
    assert [(b.kind, b.text, b.options.get("only")) for b in blocks] == expected
    for block, (_, _, only) in zip(blocks, expected, strict=True):
        assert block.shown_in("notebook") == (only in (None, "notebook"))
        assert block.shown_in("lesson") == (only in (None, "lesson"))
    lesson = lesson_md.render_lesson(folder)
    for kind, text, only in expected:
        assert (text in lesson) == (only in (None, "lesson")), (kind, text, only)


@pytest.mark.parametrize("lines, message", [
    (["<!-- notebook only -->", "text"], "needs <!-- end -->"),
    (["<!-- lesson only -->", "text"], "needs <!-- end -->"),
    (["text", "<!-- end -->"], "closes no"),
    (["<!-- notebook only -->", "<!-- lesson only -->", "x", "<!-- end -->", "<!-- end -->"],
     "close it first"),
    (["<!-- notebook only -->", "<!-- notebook only -->", "<!-- end -->"], "close it first"),
    (["<!-- notebook only -->", "<!-- exercise: sigmoid -->", "<!-- end -->"],
     "only Markdown and code"),
    (["<!-- lesson only -->", "<!-- answer: q points=1 -->", "a", "<!-- end answer -->",
      "<!-- end -->"], "only Markdown and code"),
    (["<!-- notebook only -->", "<!-- test: vanishing_relu -->", "<!-- end -->"],
     "only Markdown and code"),
])
def test_a_malformed_region_is_refused_with_its_line(lines, message, tmp_path):
    """Points live in exercises, tests and questions: no region may hold one (both paths must
    carry the same points), and every region closes, once, without nesting."""
    path = tmp_path / "01-bad.md"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(NotebookError, match=re.escape(message)) as raised:
        list(parse_narrative(path, render=False))
    assert str(raised.value).startswith("01-bad.md:")


def test_each_experiment_command_is_said_once():
    """The flow and headline cells come from one command: LESSON.md says "Run:" once for it,
    and the second cell points back to that run."""
    runs = re.findall(r"^> Run: `([^`]+)`$", LESSON, re.M)
    assert runs and len(runs) == len(set(runs))
    assert set(runs) == set(lesson_md.EXPERIMENT_COMMANDS.values())
    cells = [b.arg for b in BLOCKS if b.kind == "code" and b.arg in lesson_md.EXPERIMENT_COMMANDS]
    repeats = len(cells) - len({lesson_md.EXPERIMENT_COMMANDS[c] for c in cells})
    assert LESSON.count("> (The same run as above draws this figure.)") == repeats >= 1
    assert "`\n\n> Run: `python -m exercises.experiments --only flow`" not in LESSON


def order_of_work() -> str:
    return LESSON.split("## Order of work", 1)[1].split("\n\nCheck yourself", 1)[0]


def test_the_order_of_work_adds_up_to_every_checks_points():
    """Every check of the grader is named once in the order of work, with its own points, so
    the list adds up to the total (50): sigmoid_stability under sigmoid, the whole-network
    checks where the narrative tests them."""
    items = [line for line in order_of_work().splitlines() if re.match(r"^\d+\. ", line)]
    code = [line for line in items if "answers.md" not in line and "experiments" not in line]
    named = [(name, int(points)) for line in code
             for name, points in re.findall(r"`(\w+)`(?: check)? \((\d+) points?\)", line)]
    assert sorted(name for name, _ in named) == sorted(REGISTRY)
    for name, points in named:
        assert points == REGISTRY[name].points, name
    total = sum(check.points for check in REGISTRY.values())
    assert sum(points for _, points in named) == total == 50
    assert f"The code is worth {total} points" in LESSON
    network = next(line for line in code if "whole network" in line)
    assert "`vanishing_sigmoid` (3 points)" in network and "`vanishing_relu` (3 points)" in network


def test_saturation_text_says_which_settings_each_number_comes_from():
    """Section 7 quotes the studies' saturation (their epochs, all layers) and the figure's
    run (its epochs, per layer and over all layers) as two settings, from the data file's own
    description and the experiments' config, so neither can drift from the text."""
    from course.measured import load
    from lesson.config import FULL

    data = load()
    text = next(b.text for b in BLOCKS if b.kind == "markdown"
                and "Two sets of numbers, two settings" in b.text)
    study_epochs = {re.search(r"(\d+) epochs", data[key]["what"])[1]
                    for key in data if key.startswith("saturation.")}
    assert len(study_epochs) == 1
    assert f"{study_epochs.pop()} epochs" in text
    assert f"{FULL.saturation.net.epochs} at full size" in text
    assert "all** hidden layers" in text and "most saturated layer" in text
    assert "below* chance" in LESSON and "diverges" in LESSON


def test_the_seed_counts_are_said_for_every_kind_of_study():
    """The number of seeds differs between studies (flow, training: 5; sweep, frozen: 3): the
    text says each, not one count for all."""
    from course.measured import load

    data = load()
    counts = {key.split(".")[0]: int(entry["n"]) for key, entry in data.items()
              if not key.startswith("_")}
    seeds = next(b.text for b in BLOCKS if b.kind == "markdown" and "random seeds" in b.text)
    sentence = seeds[seeds.index("range over random seeds"):].split("close.")[0]
    for study, words in (("flow", "gradient flow"), ("sweep", "learning-rate sweep"),
                         ("frozen", "frozen-layer study"), ("training", "training"),
                         ("saturation", "saturation")):
        assert words in sentence
        assert f"{counts[study]} " in sentence or f"{counts[study]}\n" in sentence, study
