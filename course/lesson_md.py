"""The lesson for students who work in modules: ``LESSON.md`` and ``answers.md``.

Both are generated from the notebook's own narrative (``course/narrative/*.md``), so the two paths
teach the same text and ask the same written questions for the same points:

* ``LESSON.md``: the narrative in order, with each exercise cell replaced by where that function
  lives in ``exercises/`` and how to self-check it, each experiment cell by the command that runs
  it on the student's modules (``python -m exercises.experiments --only ...``), each other code
  cell as a snippet to paste into Python after one preamble, and each written question by where
  to answer it. Model answers (the nbgrader solution of an answer cell) never appear.
* ``answers.md``: one section per written question, with its text and points, for the student
  to fill in.

    python -m course lesson [--out DIR]      # writes DIR/LESSON.md and DIR/answers.md
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from course.notebook import NARRATIVE, Block, _checks_of, narrative_files, parse_narrative

# The notebook's experiment cells and the command that makes the same figures from the modules.
EXPERIMENT_COMMANDS = {
    "experiment_flow": "python -m exercises.experiments --only flow",
    "experiment_headline": "python -m exercises.experiments --only flow",
    "experiment_dial": "python -m exercises.experiments --only dial",
    "experiment_speed": "python -m exercises.experiments --only speed",
    "experiment_training": "python -m exercises.experiments --only training",
    "experiment_saturation": "python -m exercises.experiments --only saturation",
    "summary": "python -m exercises.experiments",
}
# Cells that only set the notebook up (its settings, the copy of the lesson package).
NOTEBOOK_ONLY = {"experiment_settings"}
PREAMBLE = """\
import numpy as np
from dataclasses import replace

from exercises.activations import *
from exercises.layers import *
from exercises.network import *
from exercises.gradient_check import *
from lesson.config import FULL as CONFIG
from lesson.flow import gradient_flow, gradient_flow_table
from lesson.implementation import Implementation"""
QUESTION = re.compile(r"\*\*Question \d+\.\*\*")
# Where the introduction starts explaining the notebook's cells (the rest of that block).
NOTEBOOK_INSTRUCTIONS = "**How this notebook works**"


def _blocks(narrative: Path) -> list[Block]:
    """The narrative's blocks as the modules path reads them: without the notebook-only ones
    (``<!-- notebook only -->``), with the lesson-only ones."""
    return [block for path in narrative_files(narrative) for block in parse_narrative(path)
            if block.shown_in("lesson")]


def _points() -> dict[str, int]:
    from grader.checking import checks  # noqa: F401 - registers the checks, so points are known
    from grader.checking.trial import REGISTRY

    return {name: check.points for name, check in REGISTRY.items()}


def _module_of(name: str) -> str:
    from grader.spec.api import MODULE_OF

    return MODULE_OF[name]


def _question(blocks: list[Block], index: int) -> str:
    """The question an answer block answers: from the last "**Question N.**" of the Markdown
    before it."""
    for block in reversed(blocks[:index]):
        if block.kind == "markdown":
            text = block.text
            found = list(QUESTION.finditer(text))
            return text[found[-1].start():].strip() if found else text.strip()
    return ""


def _for_modules(text: str) -> str:
    """A Markdown block of the narrative as the modules path reads it: without the notebook's
    title (LESSON.md has its own) and its how-this-notebook-works instructions."""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    text = "\n".join(lines).strip("\n")
    cut = text.find(NOTEBOOK_INSTRUCTIONS)
    return text[:cut].rstrip() if cut >= 0 else text


def answers(narrative: Path = NARRATIVE) -> list[tuple[str, int, str]]:
    """(answer id, points, question text) of every written question, in order."""
    return _answers(_blocks(narrative))


def _answers(blocks: list[Block]) -> list[tuple[str, int, str]]:
    return [(block.arg, int(block.options.get("points", 1)), _question(blocks, i))
            for i, block in enumerate(blocks) if block.kind == "answer"]


def _points_text(points: int) -> str:
    return f"{points} point" + ("" if points == 1 else "s")


def _order_of_work(blocks: list[Block]) -> list[tuple[str, list[str]]]:
    """The order of work: runs of consecutive exercises of one module, in the narrative's order
    (later exercises call earlier ones, so the order matters more than the grouping), with the
    checks of the whole network (``<!-- test: ... -->``) where the narrative puts them. Each
    entry: where the work is, and the exercise or check names; every check's points are
    counted once, under its own function (see ``_with_points``) or as a network check."""
    order: list[tuple[str, list[str]]] = []
    for block in blocks:
        if block.kind == "exercise":
            where = f"`exercises/{_module_of(block.arg)}.py`"
        elif block.kind == "test":
            where = "Checks of your whole network"
        else:
            continue
        if order and order[-1][0] == where:
            order[-1][1].append(block.arg)
        else:
            order.append((where, [block.arg]))
    return order


def _with_points(name: str, points: dict[str, int]) -> str:
    """An exercise or check with its points; an exercise with checks of its own besides its
    namesake (``sigmoid`` and ``sigmoid_stability``) shows each, so the list adds up."""
    own = [check for check in _checks_of(name) if check != name] if name in _functions() else []
    text = f"`{name}` ({_points_text(points.get(name, 0))})"
    return text + "".join(f" and its `{check}` check ({_points_text(points[check])})"
                          for check in own)


def _functions() -> set[str]:
    from grader.spec.api import FUNCTIONS

    return set(FUNCTIONS)


def render_lesson(narrative: Path = NARRATIVE) -> str:
    """LESSON.md's text (see the module docstring)."""
    blocks = _blocks(narrative)
    points = _points()
    written = _answers(blocks)
    order = _order_of_work(blocks)
    lines = [
        "# The lesson: vanishing gradients",
        "",
        "The same lesson as the notebook `vanishing_gradients.ipynb`, for working in the modules "
        "of `exercises/` (both are generated from one text). Where the text says *cell* or "
        "*test cell*, read *function* and *self-check*.",
        "",
        "## What you will be able to do",
        "",
        "- implement the forward and backward pass of a multilayer perceptron and check every "
        "derivative numerically;",
        "- explain, with the recursion of the backpropagated gradient, why it shrinks from the "
        "last layer to the first, and why that depends on both the activation and the "
        "initialisation;",
        "- measure it in your own network, and say what changes it: sigmoid or tanh or ReLU, "
        "Glorot or He or small weights;",
        "- connect it to learning: which layers learn, and which networks train.",
        "",
        "## Order of work",
        "",
    ]
    for number, (where, names) in enumerate(order, start=1):
        lines.append(f"{number}. {where}: {', '.join(_with_points(n, points) for n in names)}")
    lines += [
        f"{len(order) + 1}. The experiments: `python -m exercises.experiments` (all figures, in "
        "`experiment_outputs/`; `--quick` for a smoke test, "
        "`--only flow|dial|speed|training|saturation` for one).",
        f"{len(order) + 2}. The written questions, in `answers.md` "
        f"({_points_text(sum(p for _, p, _ in written))} in all, marked by hand).",
        "",
        f"The code is worth {_points_text(sum(points.values()))}: every check's points are listed "
        "above, under the function it checks.",
        "",
        "Check yourself at any time with `python -m pytest grader/selfcheck.py` "
        "(`-k NAME` for one function). The Python snippets below run in a Python session started "
        "in this folder, after:",
        "",
        "```python",
        PREAMBLE,
        "```",
        "",
    ]
    shown: set[str] = set()
    for block in blocks:
        if block.kind == "markdown":
            lines += [_for_modules(block.text), ""]
        elif block.kind == "exercise":
            lines += [f"> **Exercise `{block.arg}`** ({_points_text(points.get(block.arg, 0))}): "
                      f"in `exercises/{_module_of(block.arg)}.py`; self-check: "
                      f"`python -m pytest grader/selfcheck.py -k {block.arg}`", ""]
        elif block.kind == "test":
            lines += [f"> **Check `{block.arg}`** ({_points_text(points.get(block.arg, 0))}), on "
                      f"your network: `python -m pytest grader/selfcheck.py -k {block.arg}`", ""]
        elif block.kind == "library":
            lines += ["> The experiments live in `lesson/`; they run on your functions and have "
                      "no network code of their own.", ""]
        elif block.kind == "code" and block.arg in EXPERIMENT_COMMANDS:
            # Several notebook cells can come from one command (flow and headline): the
            # modules path runs it once, so the command is said once.
            command = EXPERIMENT_COMMANDS[block.arg]
            lines += [f"> Run: `{command}`" if command not in shown
                      else "> (The same run as above draws this figure.)", ""]
            shown.add(command)
        elif block.kind == "code" and block.arg not in NOTEBOOK_ONLY:
            lines += ["```python", block.text, "```", ""]
        elif block.kind == "answer":
            lines += [f"> **Your answer** ({_points_text(int(block.options.get('points', 1)))}):"
                      f" in `answers.md`, under `## {block.arg}`.", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_answers(narrative: Path = NARRATIVE) -> str:
    """answers.md's text: a section per written question, for the student to fill in."""
    written = answers(narrative)
    total = _points_text(sum(points for _, points, _ in written))
    lines = ["# Written answers", "",
             f"Answer each question under its heading ({total}"
             " in all, marked by hand; `LESSON.md` shows where each comes in the lesson). Keep the "
             "headings as they are.", ""]
    for name, points, question in written:
        lines += [f"## {name}", "", f"*{_points_text(points)}.* " + question, "", "Your answer:",
                  "", ""]
    return "\n".join(lines).rstrip() + "\n"


def write(out: Path) -> list[Path]:
    """Write ``out``/LESSON.md and ``out``/answers.md; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("LESSON.md", render_lesson()), ("answers.md", render_answers())):
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


def register(commands) -> None:
    """Add the ``lesson`` sub-command to ``python -m course``."""
    parser = commands.add_parser("lesson", help="write LESSON.md and answers.md (modules path)",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/lesson"),
                        help="folder for the two files (default: out/lesson)")
    parser.set_defaults(run=lambda args: print(*write(args.out), sep="\n") or 0)
