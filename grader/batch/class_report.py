"""The class report: what an instructor wants to know after grading, as one HTML page and as
Markdown for a terminal.

``analyse`` turns a gradebook into plain data (``ClassAnalysis``): the score distribution with
its mean, median and pass rate; per check its pass rate, the submissions that did not attempt it,
the failures that come from another check (knock-on), and every distinct diagnosis with its count
and the submissions that made it; the submissions that could not be graded, with the reason.
``write_html`` and ``write_markdown`` only lay that data out, so the two always agree.

Kinds of outcome of one check (``results.outcome``, stored in the gradebook):
  pass; fail (the check's own function is wrong); knock_on (not graded on its own because what
  it builds on failed, or the student's own net is missing); not_attempted (the function is
  absent or still the stub); grader_error (the grader could not evaluate it).
Only ``fail`` counts as a failure of the check; the others are counted apart.

Everything a student controls (names, messages) is escaped where it lands (``html.escape``, and
``md_inline`` for Markdown); the page holds no script from outside, no link to a server, and its
plots are embedded PNGs, so it opens from a file anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import statistics
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.gradebook import Gradebook
from grader.batch.identity import visible
from grader.batch.policy import Policy
from grader.batch.results import OUTCOMES
from grader.batch.roster import Student
from grader.batch.totals import StudentTotal

DEFAULT_PASS_MARK = 0.5
# Long enough for a diagnosis sentence; longer text is shortened at a word boundary.
REASON_WIDTH = 220


@dataclass
class Misconception:
    """One distinct reason a check failed, and who it was."""

    reason: str
    diagnosed: bool  # a named misconception, not a generic message
    submissions: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.submissions)


@dataclass
class CheckStats:
    """One check across the class. ``counts``: submissions per outcome (see the module doc)."""

    name: str
    max_score: int
    counts: dict[str, int]
    reasons: list[Misconception]

    @property
    def graded(self) -> int:
        """Submissions whose own code this check judged (pass or its own failure)."""
        return self.counts["pass"] + self.counts["fail"]

    @property
    def pass_rate(self) -> float | None:
        return self.counts["pass"] / self.graded if self.graded else None


@dataclass
class ClassAnalysis:
    """Everything the class report shows, as plain data."""

    totals: list[StudentTotal]
    checks: list[CheckStats]
    ungraded: dict[str, str]
    not_attempted: list[str]
    pass_mark: float
    feedback_links: dict[str, str] = field(default_factory=dict)
    # (submission, submission, similarity in [0, 1], where they match)
    similar_pairs: list[tuple[str, str, float, str]] = field(default_factory=list)
    # The students table: roster order with the students who handed nothing in, then the
    # submissions on no roster row (``exports.Row``); without a roster, every submission.
    rows: list = field(default_factory=list)
    has_roster: bool = False

    @property
    def no_submission(self) -> list:
        """The roster's students who handed nothing in."""
        return [row for row in self.rows if row.identity is None]

    @property
    def passed(self) -> int:
        """How many reached the pass mark, of everyone counted (``headline``)."""
        return sum(t.total >= self.pass_mark * t.max_total for t in self.totals
                   if t.submission not in self.ungraded)

    @property
    def scores(self) -> list[float]:
        """Totals of the submissions that were graded and attempted something."""
        left_out = set(self.ungraded) | set(self.not_attempted)
        return [t.total for t in self.totals if t.submission not in left_out]

    @property
    def max_total(self) -> int:
        return max((t.max_total for t in self.totals), default=0)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None

    @property
    def pass_rate(self) -> float | None:
        """Share of the graded, attempted submissions at or above the pass mark."""
        if not self.scores or not self.max_total:
            return None
        return sum(s >= self.pass_mark * self.max_total for s in self.scores) / len(self.scores)


_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_INDEX = re.compile(r"\[[\d,\s]+\]")


def reason_of(feedback: str, diagnosis: str | None) -> tuple[str, bool]:
    """(the reason a failure is listed under, whether it is a named misconception).

    A diagnosis is used as it is. A generic message is reduced to what does not depend on one
    input: its first line, with array indexes and numbers replaced by ``…``, so the same mistake
    on different inputs is counted once ("dpred[…] = …, expected …").
    """
    if diagnosis:
        return shorten(diagnosis), True
    first = next((line.strip() for line in feedback.splitlines() if line.strip()),
                 "(no message)")
    general = _NUMBER.sub("…", _INDEX.sub("[…]", first))
    return shorten(general), False


def shorten(text: str, width: int = REASON_WIDTH) -> str:
    """``text`` on one line, at most ``width`` characters, cut only between words."""
    return textwrap.shorten(visible(" ".join(text.split())), width, placeholder=" …")


def analyse(gradebook: Gradebook, *, pass_mark: float = DEFAULT_PASS_MARK,
            feedback: Path | None = None,
            similar_pairs: Sequence[tuple] = (),
            policy: Policy | None = None,
            students: Sequence[Student] | None = None) -> ClassAnalysis:
    """The class report's data from ``gradebook``.

    feedback: the feedback folder (its ``index.csv`` says which file is whose) for the links;
    similar_pairs: (submission, submission, similarity in [0, 1][, where]) above the
    threshold; policy: the points policy whose late rule the totals apply; students: the
    roster (its names and ids in the table, and who handed nothing in).
    """
    from grader.batch.exports import export_rows
    from grader.batch.report import read_index

    rows = gradebook.check_rows(with_outcome=True)
    ungraded = gradebook.errors()
    checks: dict[str, CheckStats] = {}
    outcomes_of: dict[str, list[str]] = {}
    for submission, check, _score, possible, _passed, text, diagnosis, outcome in rows:
        if submission in ungraded:  # its checks never ran: listed once, with the reason
            continue
        stats = checks.setdefault(check, CheckStats(check, possible, dict.fromkeys(OUTCOMES, 0),
                                                    []))
        stats.counts[outcome] += 1
        outcomes_of.setdefault(submission, []).append(outcome)
        if outcome != "fail":
            continue
        reason, diagnosed = reason_of(text, diagnosis)
        entry = next((m for m in stats.reasons if m.reason == reason), None)
        if entry is None:
            entry = Misconception(reason, diagnosed)
            stats.reasons.append(entry)
        entry.submissions.append(submission)
    for stats in checks.values():
        # Named misconceptions first, then by how many made them; ties by the text (stable).
        stats.reasons.sort(key=lambda m: (not m.diagnosed, -m.count, m.reason))
    not_attempted = sorted(name for name, kinds in outcomes_of.items()
                           if name not in ungraded
                           and all(k in ("not_attempted", "knock_on") for k in kinds)
                           and "not_attempted" in kinds)
    links = {}
    if feedback is not None:
        from grader.batch.identity import csv_text

        for cell, file_name, _plot in read_index(feedback):
            links[csv_text(cell)] = str(Path(feedback) / file_name)
    rows, _ = export_rows(gradebook, students, policy=policy)
    pairs = [(*pair[:3], pair[3] if len(pair) > 3 else "") for pair in similar_pairs]
    return ClassAnalysis(
        totals=[row.total for row in rows if row.total is not None],
        checks=list(checks.values()), ungraded=ungraded, not_attempted=not_attempted,
        pass_mark=pass_mark, feedback_links=links, similar_pairs=pairs, rows=rows,
        has_roster=students is not None)


def histogram_png(analysis: ClassAnalysis) -> bytes:
    """The score histogram as PNG bytes: whole-number counts on the y axis, one bar per point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    possible = max(analysis.max_total, 1)
    figure, axis = plt.subplots(figsize=(7.0, 3.6))
    scores = analysis.scores
    axis.hist(scores, bins=[b - 0.5 for b in range(0, possible + 2)], color="tab:blue",
              edgecolor="white")
    if analysis.mean is not None:
        axis.axvline(analysis.mean, color="tab:orange", linestyle="--",
                     label=f"mean {analysis.mean:.1f}")
        axis.axvline(analysis.median, color="tab:green", linestyle=":",
                     label=f"median {analysis.median:g}")
        axis.axvline(analysis.pass_mark * possible - 0.5, color="tab:red", linewidth=1,
                     label=f"pass mark {analysis.pass_mark * possible:g}")
        axis.legend(loc="upper left", fontsize=8)
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlim(-0.5, possible + 0.5)
    axis.set_xlabel(f"score (of {possible})")
    axis.set_ylabel("submissions")
    axis.set_title(f"Score distribution: {len(scores)} graded submissions")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def headline(analysis: ClassAnalysis) -> list[tuple[str, str]]:
    """The numbers at the top of both reports, as (label, value)."""
    everyone = len(analysis.totals) + len(analysis.no_submission)
    numbers = []
    if analysis.has_roster:
        numbers.append(("no submission", str(len(analysis.no_submission))))
    return [
        ("submissions", str(len(analysis.totals))),
        *numbers,
        ("graded", str(len(analysis.scores))),
        ("not attempted", str(len(analysis.not_attempted))),
        ("could not be graded", str(len(analysis.ungraded))),
        ("mean", f"{_number(analysis.mean)} / {analysis.max_total}"),
        ("median", f"{_number(analysis.median)} / {analysis.max_total}"),
        (f"pass rate (≥ {analysis.pass_mark:.0%}) of the graded", _percent(analysis.pass_rate)),
        ("passed, of everyone", f"{analysis.passed} of {everyone}"),
    ]


# ---------------------------------------------------------------------------- HTML

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222;
       line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; white-space: nowrap; }
td code { white-space: nowrap; }
td.text { overflow-wrap: break-word; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.headline { display: flex; flex-wrap: wrap; gap: 0.8em; }
.headline div { border: 1px solid #ccc; border-radius: 6px; padding: 0.4em 0.8em; }
.headline b { display: block; font-size: 1.3em; }
.diagnosed { font-weight: 600; } .who { color: #555; font-size: 0.9em; }
.muted { color: #777; }
"""

# Marks the page once every embedded image has decoded, so a browser test can tell a page that
# rendered from one whose images are broken (read back with --dump-dom).
_IMAGES_CHECK = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images', ok ? 'ok-' + images.length : 'broken');
});
"""


def _e(text: object) -> str:
    return html.escape(visible(str(text)), quote=True)


def _who(names: Iterable[str], links: Mapping[str, str], limit: int = 12) -> str:
    names = list(names)
    shown = [(f'<a href="{_e(links[n])}">{_e(n)}</a>' if n in links else _e(n))
             for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


def _relative_links(analysis: ClassAnalysis, base: Path | None) -> dict[str, str]:
    """Feedback links as seen from the folder the page is written to (it may move with them)."""
    if base is None:
        return dict(analysis.feedback_links)
    return {name: Path(os.path.relpath(target, base)).as_posix()
            for name, target in analysis.feedback_links.items()}


def render_html(analysis: ClassAnalysis, title: str = "Class report",
                base: Path | None = None) -> str:
    """The whole report as one self-contained HTML document; ``base``: the folder it will be
    written to (feedback links are made relative to it)."""
    png = base64.b64encode(histogram_png(analysis)).decode("ascii")
    links = _relative_links(analysis, base)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style>",
        f"<script>{_IMAGES_CHECK}</script></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<div class="headline" id="headline">',
        *(f'<div><span>{_e(label)}</span><b data-label="{_e(label)}">{_e(value)}</b></div>'
          for label, value in headline(analysis)),
        "</div>",
        f'<p><img id="histogram" alt="score histogram" src="data:image/png;base64,{png}"></p>',
        "<h2>Checks</h2>",
        "<p class=\"muted\">Pass rate is over the submissions whose own code the check judged. "
        "Knock-on: not graded on its own because something it builds on failed. Not attempted: "
        "the function is missing or still the stub.</p>",
        '<table id="checks"><tr><th>check</th><th>points</th><th>pass rate</th><th>passed</th>'
        "<th>failed</th><th>knock-on</th><th>not<br>attempted</th><th>grader<br>error</th>"
        "<th>why it failed (how many: who)</th></tr>",
    ]
    for stats in analysis.checks:
        c = stats.counts
        reasons = "".join(
            f'<div class="{"diagnosed" if m.diagnosed else ""}">{_e(m.reason)} '
            f'<span class="who">({m.count}: {_who(m.submissions, links)})</span></div>'
            for m in stats.reasons) or '<span class="muted">–</span>'
        parts.append(
            f'<tr data-check="{_e(stats.name)}"><td><code>{_e(stats.name)}</code></td>'
            f'<td class="num">{stats.max_score}</td>'
            f'<td class="num">{_percent(stats.pass_rate)}</td><td class="num">{c["pass"]}</td>'
            f'<td class="num">{c["fail"]}</td><td class="num">{c["knock_on"]}</td>'
            f'<td class="num">{c["not_attempted"]}</td><td class="num">{c["grader_error"]}</td>'
            f'<td class="text">{reasons}</td></tr>')
    parts.append("</table>")

    parts.append("<h2>Could not be graded</h2>")
    if analysis.ungraded:
        parts.append('<table id="ungraded"><tr><th>submission</th><th>why</th></tr>')
        parts += [f"<tr><td>{_e(n)}</td><td>{_e(why)}</td></tr>"
                  for n, why in sorted(analysis.ungraded.items())]
        parts.append("</table>")
    else:
        parts.append('<p id="ungraded">None: every submission was read and graded.</p>')
    parts.append("<h2>Not attempted</h2>")
    parts.append(f'<p id="not-attempted">{_who(analysis.not_attempted, links) or "None."}</p>')

    if analysis.similar_pairs:
        parts.append("<h2>Similar submissions</h2>")
        parts.append('<p class="muted">Pairs sharing their own code (the given code and the '
                     "reference solution do not count): a lead to read, not a verdict.</p>")
        parts.append('<table id="similar"><tr><th>submission</th><th>submission</th>'
                     "<th>similarity</th><th>where</th></tr>")
        parts += [f'<tr><td>{_e(a)}</td><td>{_e(b)}</td><td class="num">{score:.0%}</td>'
                  f'<td class="text">{_e(where)}</td></tr>'
                  for a, b, score, where in analysis.similar_pairs]
        parts.append("</table>")

    parts.append("<h2>Students</h2>")
    roster_heads = "<th>student</th><th>id</th>" if analysis.has_roster else ""
    parts.append(f'<table id="students"><tr>{roster_heads}<th>submission</th><th>auto</th>'
                 "<th>manual</th><th>late penalty</th><th>total</th><th>note</th></tr>")
    for row in analysis.rows:
        cells = ""
        if analysis.has_roster:
            student = row.student
            cells = (f"<td>{_e(student.name) if student else '–'}</td>"
                     f"<td>{_e(student.id) if student else '–'}</td>")
        t = row.total
        if t is None:  # on the roster, handed nothing in
            parts.append(f'<tr class="absent">{cells}<td>–</td><td class="num">–</td>'
                         '<td class="num">–</td><td class="num">–</td><td class="num">–</td>'
                         f"<td>{_e(row.status)}</td></tr>")
            continue
        name = (f'<a href="{_e(links[t.submission])}">{_e(t.submission)}</a>'
                if t.submission in links else _e(t.submission))
        notes = [t.error, f"override: {t.override_reason}" if t.override is not None else "",
                 row.status if row.status not in ("graded", "not graded") else ""]
        manual = f"{t.manual:g} / {t.manual_max}" if t.manual_max else "–"
        parts.append(
            f'<tr>{cells}<td>{name}</td><td class="num">{t.auto:g} / {t.auto_max}</td>'
            f'<td class="num">{manual}</td><td class="num">{t.late_penalty:g}</td>'
            f'<td class="num">{t.total:g} / {t.max_total}</td>'
            f'<td class="text">{_e("; ".join(n for n in notes if n))}</td></tr>')
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def write_html(analysis: ClassAnalysis, path: Path, title: str = "Class report") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(analysis, title, path.parent), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- Markdown

def render_markdown(analysis: ClassAnalysis, histogram: str | None = None,
                    base: Path | None = None) -> str:
    """The same report as Markdown (terminals, the LMS's comment box); ``histogram``: the
    file name of the histogram PNG beside it, if written."""
    from grader.batch.report import md_inline

    links = _relative_links(analysis, base)
    lines = ["# Class summary", ""]
    lines += [f"- {label}: **{value}**" for label, value in headline(analysis)]
    if histogram:
        lines += ["", f"![score histogram]({histogram})"]
    lines += ["", "| check | pass rate | failed | knock-on | not attempted | why it failed |",
              "|---|---|---|---|---|---|"]
    for stats in analysis.checks:
        c = stats.counts
        why = "<br>".join(f"{md_inline(m.reason)} ({m.count})" for m in stats.reasons[:5])
        if len(stats.reasons) > 5:
            why += f"<br>and {len(stats.reasons) - 5} more reasons"
        lines.append(f"| `{stats.name}` | {_percent(stats.pass_rate)} | {c['fail']} | "
                     f"{c['knock_on']} | {c['not_attempted']} | {why} |")
    if analysis.ungraded:
        lines += ["", "## Could not be graded", ""]
        lines += [f"- {md_inline(n)}: {md_inline(shorten(why))}"
                  for n, why in sorted(analysis.ungraded.items())]
    if analysis.not_attempted:
        lines += ["", "## Not attempted", "",
                  ", ".join(md_inline(n) for n in analysis.not_attempted)]
    if analysis.similar_pairs:
        lines += ["", "## Similar submissions", ""]
        lines += [f"- {md_inline(a)} and {md_inline(b)}: {score:.0%}"
                  + (f" ({md_inline(shorten(where, 160))})" if where else "")
                  for a, b, score, where in analysis.similar_pairs]
    if analysis.no_submission:
        lines += ["", "## No submission", ""]
        lines += [f"- {md_inline(row.student.name)} ({md_inline(row.student.id)})"
                  for row in analysis.no_submission]
    lines += ["", "## Students", "", "| submission | auto | manual | late penalty | total |",
              "|---|---|---|---|---|"]
    for t in analysis.totals:
        name = md_inline(t.submission)
        if t.submission in links:
            name = f"[{name}](<{links[t.submission]}>)"
        manual = f"{t.manual:g} / {t.manual_max}" if t.manual_max else "–"
        lines.append(f"| {name} | {t.auto:g} / {t.auto_max} | {manual} | {t.late_penalty:g} | "
                     f"{t.total:g} / {t.max_total} |")
    return "\n".join(lines) + "\n"


TOTAL_MARK = ("<!-- total -->", "<!-- /total -->")


def total_line(t: StudentTotal) -> str:
    """The student's grade in one Markdown sentence, as every export counts it."""
    from grader.batch.report import md_inline

    parts = [f"autograded {t.auto:g} / {t.auto_max}"]
    if t.manual_max:
        parts.append(f"written answers {t.manual:g} / {t.manual_max}")
    if t.late_penalty:
        parts.append(f"late penalty −{t.late_penalty:g}")
    line = f"**Your total: {t.total:g} / {t.max_total}** ({', '.join(parts)})"
    if t.override is not None:
        line += f"; set by hand: {md_inline(t.override_reason)}"
    return line


def update_feedback_totals(analysis: ClassAnalysis) -> int:
    """Write each student's total (written marks, late penalty, override) into their feedback
    file, below its title, between ``TOTAL_MARK`` comments (replaced on every run). Only where
    the total is not just the autograded score. Returns how many files were updated."""
    updated = 0
    for t in analysis.totals:
        target = analysis.feedback_links.get(t.submission)
        plain = not (t.manual_max or t.late_penalty or t.override is not None)
        if target is None or not Path(target).is_file():
            continue
        text = Path(target).read_text(encoding="utf-8")
        start, end = TOTAL_MARK
        if start in text:  # an earlier run's block: replaced
            before, _, rest = text.partition(start)
            text = before.rstrip("\n") + "\n" + rest.partition(end)[2].lstrip("\n")
        if plain and start not in text:
            continue
        title, _, body = text.partition("\n")
        block = "" if plain else f"\n{start}\n{total_line(t)}\n{end}\n"
        Path(target).write_text(f"{title}\n{block}{body}", encoding="utf-8")
        updated += 1
    return updated


def write_reports(analysis: ClassAnalysis, folder: Path) -> dict[str, Path]:
    """Write ``report.html``, ``summary.md`` and ``score_histogram.png`` into ``folder``, and
    each student's total into their feedback file (``update_feedback_totals``)."""
    update_feedback_totals(analysis)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score_histogram.png").write_bytes(histogram_png(analysis))
    summary = folder / "summary.md"
    summary.write_text(render_markdown(analysis, "score_histogram.png", folder),
                       encoding="utf-8")
    return {"html": write_html(analysis, folder / "report.html"), "markdown": summary,
            "histogram": folder / "score_histogram.png"}
