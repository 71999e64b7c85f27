"""What grading produces for people: Gradescope's results.json, per-student Markdown feedback with
a plot of their gradient flow, a class summary, and the score table printed by the CLI."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .batch import SubmissionResult
from .judge import CheckResult


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
    axis.set_title(f"{result.name}: gradient size per layer, 20 hidden layers of width 64")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def feedback_markdown(result: SubmissionResult, plot: Path | None) -> str:
    lines = [f"# Feedback for {result.name}: {result.score} / {result.max_score} points", ""]
    lines.append(f"Graded by grader {result.grader_version}; student code ran in: "
                 f"{result.sandbox}.")
    if result.error:
        lines += ["", f"**The submission could not be graded normally:** {result.error}"]
    lines += [f"- {note}" for note in result.notes]
    lines += ["", "| check | points | verdict |", "|---|---|---|"]
    for check in result.checks:
        verdict = "passed" if check.passed else "**failed**"
        lines.append(f"| `{check.name}` | {check.score} / {check.max_score} | {verdict} |")
    for check in result.checks:
        if check.passed and not check.notes:
            continue
        lines += ["", f"## `{check.name}`: {check.score} / {check.max_score}", "",
                  check.title + "."]
        if not check.passed:
            lines += ["", "```", check.feedback.strip(), "```"]
        if check.diagnosis:
            lines += ["", f"**Diagnosis:** your code {check.diagnosis}."]
        lines += [f"- {note}" for note in check.notes]
    lines += ["", "## Your gradient flow", ""]
    if plot is not None:
        flow = result.gradient_flow
        lines.append(f"![gradient size per layer]({plot.name})")
        lines.append("")
        if "sigmoid" in flow and flow["sigmoid"][-1] > 0:
            ratio = flow["sigmoid"][0] / flow["sigmoid"][-1]
            lines.append(f"In your 20-layer sigmoid net the first layer's gradient is {ratio:.1e} "
                         "times the last hidden layer's: the early layers barely learn.")
        if "relu" in flow and flow["relu"][-1] > 0:
            ratio = flow["relu"][0] / flow["relu"][-1]
            lines.append(f"In your ReLU net (He init) that ratio is {ratio:.2g}: the gradient "
                         "reaches the first layer.")
    else:
        lines.append("No plot: your init_params, mlp_forward or mlp_backward did not run "
                     "on a 20-layer net. Fix them and you will see your gradients here.")
    return "\n".join(lines) + "\n"


def write_feedback(result: SubmissionResult, folder: Path, reference_flow: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plot = plot_student_flow(result, reference_flow, folder / f"{result.name}_gradient_flow.png")
    path = folder / f"{result.name}.md"
    path.write_text(feedback_markdown(result, plot))
    return path


def score_table(results: Iterable[SubmissionResult]) -> str:
    results = list(results)
    width = max([len(r.name) for r in results] + [10])
    lines = [f"{'submission':<{width}}  score   failed checks"]
    for r in results:
        failed = [c.name for c in r.checks if not c.passed]
        shown = ", ".join(failed[:6]) + (f" (+{len(failed) - 6})" if len(failed) > 6 else "")
        lines.append(f"{r.name:<{width}}  {r.score:>2}/{r.max_score:<3}  {shown or '-'}")
    return "\n".join(lines)


def class_summary(rows: list[tuple], scores: list[tuple[str, int, int]], folder: Path) -> Path:
    """summary.md and score_histogram.png: score distribution and each check's commonest failure.

    rows: (submission, check, score, max_score, passed, feedback, diagnosis) from the gradebook.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    possible = max((m for _, _, m in scores), default=0)
    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    axis.hist([s for _, s, _ in scores], bins=range(0, possible + 2), color="tab:blue",
              edgecolor="white", align="left")
    axis.set_xlabel(f"score (of {possible})")
    axis.set_ylabel("submissions")
    axis.set_title(f"Score distribution, {len(scores)} submissions")
    figure.tight_layout()
    figure.savefig(folder / "score_histogram.png", dpi=110)
    plt.close(figure)

    failures: dict[str, Counter] = {}
    attempts: Counter = Counter()
    for _, check, _, _, passed, feedback, diagnosis in rows:
        attempts[check] += 1
        if not passed:
            reason = diagnosis or (feedback.strip().splitlines() or ["(no message)"])[0]
            failures.setdefault(check, Counter())[reason[:140]] += 1
    lines = [f"# Class summary: {len(scores)} submissions", "",
             "![score histogram](score_histogram.png)", "",
             "| check | failed | most common failure |", "|---|---|---|"]
    for check in attempts:
        counter = failures.get(check)
        if not counter:
            lines.append(f"| `{check}` | 0 / {attempts[check]} | |")
            continue
        reason, count = counter.most_common(1)[0]
        lines.append(f"| `{check}` | {sum(counter.values())} / {attempts[check]} | "
                     f"{reason.replace('|', '/')} ({count}) |")
    path = folder / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
