"""What grading produces for people: Gradescope's results.json, per-student Markdown feedback with
a plot of their gradient flow, and the score table printed by the CLI (the class report is
``class_report``).

Everything a student controls (the submission's name, and feedback that quotes their error
messages, output, warnings or file names) is escaped where it lands: Markdown gets backslash
escapes and HTML entities (``md_inline``) or a code fence longer than any run of backticks inside
(``md_code_block``), the terminal and plot titles get control characters made visible
(``identity.visible``), and file names come from ``identity.feedback_stem``. ``index.csv`` in
the feedback folder says which files belong to which submission.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

from grader.batch.gradebook import write_csv
from grader.batch.identity import csv_text, feedback_stem, visible
from grader.batch.results import SubmissionResult
from grader.checking.judge import CheckResult

INDEX_NAME = "index.csv"
PLOT_SUFFIX = "_gradient_flow.png"
# Characters that open Markdown or HTML syntax anywhere in a line: emphasis, code, links and
# images, tables, strikethrough, maths, attribute lists, e-mail autolinks. Others are escaped
# only where they mean something (see md_inline).
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MD_ALWAYS = frozenset("\\`*_[]|~$!{}@^")
# Where the text starts a block (a list item, a table cell, a paragraph): a heading, a list,
# a quote, a setext underline or a numbered list ("1." "1)").
_MD_BLOCK_START = re.compile(r"[#+\-=]|\d+[.)]")
# Autolinks ("https://", "www.") and highlight/insert marks of some renderers ("==", "++").
_MD_RUNS = re.compile(r"(?<=[A-Za-z0-9+.\-]):(?=//)|(?<=(?i:www))\.|={2,}|\+{2,}")


def md_inline(text: str) -> str:
    """``text`` as literal Markdown inside one line: no heading, link, image, HTML or code.

    Safe also where the text starts a block (a list item, a table cell). Control characters
    (newlines too) are written as escapes first, so the text cannot start a new line; ``<``,
    ``>`` and ``&`` become entities (which every renderer honours, unlike backslash escapes of
    them), leading spaces ``&#32;``; syntax characters get a backslash, the rest of the
    punctuation only where it would mean something, so the file stays readable as text.
    """
    text = visible(text)
    stripped = text.lstrip(" ")
    # Leading spaces would indent the block the text starts (four make a code block).
    out = ["&#32;" * (len(text) - len(stripped))]
    escape = {m.start() + i for m in _MD_RUNS.finditer(stripped) for i in range(len(m.group()))}
    start = _MD_BLOCK_START.match(stripped)
    if start:
        escape.add(start.end() - 1)
    for index, char in enumerate(stripped):
        if char in _MD_ENTITIES:
            out.append(_MD_ENTITIES[char])
        elif char in _MD_ALWAYS or index in escape:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def md_code_block(text: str) -> list[str]:
    """Lines of a fenced code block showing ``text`` literally.

    The fence is longer than any run of backticks in the text, so no line of it can close the
    block early; control characters other than newline and tab are made visible (a lone CR
    would end a line for a Markdown parser).
    """
    body = visible(text.replace("\r\n", "\n"), keep="\n\t")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, body, fence]


def _what_the_ratio_means(ratio: float) -> str:
    """What a first-to-last-layer gradient ratio says about how the early layers learn (the
    bands of the lesson checks: below 1e-3 it has vanished, above 10 it explodes)."""
    if not ratio < float("inf"):
        return "the gradient is not a finite number"
    if ratio < 1e-3:
        return "the gradient has vanished by the first layer, so the early layers barely learn"
    if ratio < 1e-2:
        return "the gradient shrinks on its way back, so the early layers learn slowly"
    if ratio > 10:
        return "the gradient grows on its way back: it explodes"
    return "the gradient reaches the first layer"


def check_output(check: CheckResult) -> str:
    """A check's feedback as plain text: verdict, what is wrong, diagnosis, notes."""
    lines = [f"{check.title}."]
    if not check.passed and check.feedback:
        lines.append(check.feedback)
    if check.diagnosis:
        lines.append(f"Diagnosis: your code {check.diagnosis}.")
    lines += [f"Note: {note}" for note in check.notes]
    if check.passed and check.warnings:
        lines.append("Warnings seen (no points lost): " + "; ".join(check.warnings[:3]))
    return "\n".join(lines)


def gradescope_results(result: SubmissionResult) -> dict:
    """Gradescope's results.json: top-level score, execution_time, output and tests[]."""
    tests = [{
        "name": f"{check.name} ({check.max_score} pts)",
        "score": check.score,
        "max_score": check.max_score,
        "status": "passed" if check.passed else "failed",
        "output": check_output(check),
        "visibility": "visible",
        "tags": list(check.tags),
    } for check in result.checks]
    output = [f"Score: {result.score} / {result.max_score}."]
    if result.error:
        output.append(result.error)
    output += result.notes
    return {
        "score": result.score,
        "execution_time": result.seconds,
        "output": "\n".join(output),
        "tests": tests,
    }


def write_results_json(result: SubmissionResult, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(gradescope_results(result), indent=2) + "\n")
    return path


def plot_student_flow(result: SubmissionResult, reference: dict, path: Path) -> Path | None:
    """Log-scale ||dW_l|| per layer: the student's sigmoid and ReLU nets against the reference."""
    if not result.gradient_flow:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2))
    colours = {"sigmoid": "tab:red", "relu": "tab:blue"}
    for activation, norms in sorted(result.gradient_flow.items()):
        layers = range(1, len(norms) + 1)
        if reference.get(activation):  # drawn wide and pale underneath, so both stay visible
            axis.semilogy(layers, [max(n, 1e-300) for n in reference[activation]], "-",
                          color=colours[activation], alpha=0.25, linewidth=6,
                          label=f"reference {activation} net")
        axis.semilogy(layers, [max(n, 1e-300) for n in norms], "o-", color=colours[activation],
                      markersize=4, label=f"your {activation} net")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.set_xlabel(f"layer (1 = first, nearest the input; {len(norms)} = linear output)")
    axis.set_ylabel("||dL/dW_l|| (log scale)")
    shown = visible(result.name)
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    # parse_math=False: a name with "$" would otherwise be parsed as mathtext (and can fail).
    axis.set_title(f"{shown}: gradient size per layer, 20 hidden layers of width 64",
                   parse_math=False)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # characters of a name the font lacks are drawn as boxes
        warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def feedback_markdown(result: SubmissionResult, plot: Path | None) -> str:
    lines = [f"# Feedback for {md_inline(result.name)}: {result.score} / {result.max_score} "
             "points", ""]
    lines.append(f"Graded by grader {md_inline(result.grader_version)}; student code ran in: "
                 f"{md_inline(result.sandbox)}.")
    if result.error:
        lines += ["", "**The submission could not be graded normally:**", "",
                  *md_code_block(result.error.strip()), ""]
    lines += [f"- {md_inline(note)}" for note in result.notes]
    lines += ["", "| check | points | verdict |", "|---|---|---|"]
    for check in result.checks:
        verdict = "passed" if check.passed else "**failed**"
        lines.append(f"| `{check.name}` | {check.score} / {check.max_score} | {verdict} |")
    for check in result.checks:
        if check.passed and not check.notes:
            continue
        lines += ["", f"## `{check.name}`: {check.score} / {check.max_score}", "",
                  md_inline(check.title) + "."]
        if not check.passed:
            lines += ["", *md_code_block(check.feedback.strip())]
        if check.diagnosis:
            lines += ["", f"**Diagnosis:** your code {md_inline(check.diagnosis)}."]
        lines += [f"- {md_inline(note)}" for note in check.notes]
    lines += ["", "## Your gradient flow", ""]
    if plot is not None:
        flow = result.gradient_flow
        lines.append(f"![gradient size per layer]({plot.name})")
        lines.append("")
        if "sigmoid" in flow and flow["sigmoid"][-1] > 0:
            ratio = flow["sigmoid"][0] / flow["sigmoid"][-1]
            lines.append(f"In your 20-layer sigmoid net the first layer's gradient is {ratio:.1e} "
                         f"times the last hidden layer's: {_what_the_ratio_means(ratio)}.")
        if "relu" in flow and flow["relu"][-1] > 0:
            ratio = flow["relu"][0] / flow["relu"][-1]
            lines.append(f"In your ReLU net (He init) that ratio is {ratio:.2g}: "
                         f"{_what_the_ratio_means(ratio)}.")
    else:
        lines.append("No plot: your init_params, mlp_forward or mlp_backward did not run "
                     "on a 20-layer net. Fix them and you will see your gradients here.")
    return "\n".join(lines) + "\n"


def feedback_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """Where submission ``name``'s feedback and plot go: safe, unique, stable file names."""
    stem = feedback_stem(name)
    return Path(folder) / f"{stem}.md", Path(folder) / f"{stem}{PLOT_SUFFIX}"


def write_feedback(result: SubmissionResult, folder: Path, reference_flow: dict) -> Path:
    """Write ``<stem>.md`` (and the plot) for one submission and list them in ``index.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path, plot_path = feedback_paths(folder, result.name)
    plot = plot_student_flow(result, reference_flow, plot_path)
    path.write_text(feedback_markdown(result, plot), encoding="utf-8")
    update_index(folder, result.name, path.name, plot.name if plot else "")
    return path


def read_index(folder: Path) -> list[list[str]]:
    """The rows of a feedback folder's ``index.csv``: [submission, feedback file, plot file].

    The submission cell is as written (``identity.csv_cell``: a leading ``'`` before text a
    spreadsheet would run); the file names are plain ASCII.
    """
    import csv

    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [row for row in list(csv.reader(handle))[1:] if len(row) == 3]


def update_index(folder: Path, name: str, feedback: str, plot: str) -> Path:
    """Add or replace one submission's line of ``index.csv`` (locked: shards may share it)."""
    folder = Path(folder)
    lock = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)  # the folder itself: no lock file
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [row for row in read_index(folder) if row[1] != feedback]
        stored = [[csv_text(row[0]), *row[1:]] for row in rows]
        stored.append([name, feedback, plot])
        stored.sort(key=lambda row: row[1])
        # Written beside and renamed over: a reader never sees half an index. One name is
        # enough, the lock is held (and a file left by a killed run is simply overwritten).
        temporary = folder / f".{INDEX_NAME}.partial"
        write_csv(temporary, [["submission", "feedback", "plot"], *stored])
        os.replace(temporary, folder / INDEX_NAME)
    finally:
        os.close(lock)  # releases the lock
    return folder / INDEX_NAME


def score_table(results: Iterable[SubmissionResult]) -> str:
    """The table the CLI prints: names with control characters made visible, widths aligned."""
    results = list(results)
    names = [visible(r.name) for r in results]
    width = min(max([len(n) for n in names] + [10]), 40)  # a 255-character name just overflows
    lines = [f"{'submission':<{width}}  score   failed checks"]
    for r, name in zip(results, names, strict=True):
        failed = [c.name for c in r.checks if not c.passed]
        shown = ", ".join(failed[:6]) + (f" (+{len(failed) - 6})" if len(failed) > 6 else "")
        lines.append(f"{name:<{width}}  {r.score:>2}/{r.max_score:<3}  {shown or '-'}")
    return "\n".join(lines)
