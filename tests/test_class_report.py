"""The class report: its data (outcomes, reasons, statistics), and the page in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import grader.checking.checks  # noqa: F401 - registers the checks
from grader.batch.class_report import (
    REASON_WIDTH,
    analyse,
    reason_of,
    render_html,
    shorten,
    write_reports,
)
from grader.batch.gradebook import Gradebook
from grader.batch.results import OUTCOMES, SubmissionResult, outcome
from grader.checking.judge import CheckResult
from grader.checking.trial import REGISTRY
from tests.strategies import generated

CHECKS = list(REGISTRY.values())
TOTAL = sum(c.points for c in CHECKS)
WORDS = st.text(alphabet="abcdefghij xyz_", min_size=0, max_size=400)


# --- one check's outcome ------------------------------------------------------------------

@generated(60)
@given(passed=st.booleans(), internal=st.booleans(), absent=st.booleans(),
       waiting=st.booleans(), refused=st.sampled_from([None, "refused", "untestable"]),
       nothing_left=st.booleans())
def test_outcome_precedence(passed, internal, absent, waiting, refused, nothing_left):
    feedback = {"refused": "not graded: this check tests your own mlp_forward",
                "untestable": "dense_backward could not be tested: your dense_forward fails on "
                "every input dense_backward is checked with"}.get(refused, "wrong")
    check = CheckResult(
        "sigmoid", "sigmoid", 2, 2 if passed else 0, passed, feedback=feedback,
        internal_error=internal, absent=("sigmoid",) if absent else (),
        waiting=("tanh",) if waiting else (),
        notes=["not graded on its own: it runs only x"] if nothing_left else [])
    expected = ("pass" if passed else "grader_error" if internal else
                "not_attempted" if absent else
                "knock_on" if (waiting or refused or nothing_left) else "fail")
    assert outcome(check) == expected
    assert expected in OUTCOMES


# --- reasons ------------------------------------------------------------------------------

@generated(80)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=2),
       st.lists(st.integers(0, 99), min_size=2, max_size=2))
def test_the_same_mistake_on_other_inputs_is_one_reason(values, index):
    first = f"dpred[{index[0]}, {index[1]}] = {values[0]}, expected {values[1]}\nmore"
    second = "dpred[3, 4] = -2.99496, expected -0.49916"
    assert reason_of(first, None) == reason_of(second, None) == (
        "dpred[…] = …, expected …", False)


@generated(80)
@given(WORDS, st.integers(20, REASON_WIDTH))
def test_reasons_are_never_cut_mid_word(text, width):
    short = shorten(text, width)
    assert len(short) <= width
    words = text.split()
    kept = short.removesuffix(" …").split()
    # Every word shown is a whole word of the text, in order.
    assert kept == words[:len(kept)]


def test_a_diagnosis_is_its_own_reason():
    assert reason_of("x = 1, expected 2", "your sigmoid_grad evaluates at a") == (
        "your sigmoid_grad evaluates at a", True)


# --- the analysis over a generated class --------------------------------------------------

def _record(book: Gradebook, name: str, kinds: dict[str, str], error: str | None = None,
            diagnosis: str | None = None) -> None:
    checks = []
    for c in CHECKS:
        kind = kinds.get(c.name, "pass")
        checks.append(CheckResult(
            c.name, c.title, c.points, c.points if kind == "pass" else 0, kind == "pass",
            feedback={"fail": f"{c.name}[1] = 0.5, expected 0.25", "knock_on":
                      "not graded: this check tests your own mlp_forward"}.get(kind, ""),
            diagnosis=diagnosis if kind == "fail" else None, tags=c.tags,
            internal_error=kind == "grader_error",
            absent=c.tags[:1] if kind == "not_attempted" else ()))
    score = sum(c.score for c in checks) if error is None else 0
    book.record(SubmissionResult(name, name, "h" + name, 7, "t", score, TOTAL, checks, "none",
                                 0.1, error=error))


@generated(25)
@given(st.lists(st.dictionaries(st.sampled_from([c.name for c in CHECKS]),
                                st.sampled_from(OUTCOMES[1:]), max_size=6),
                min_size=1, max_size=8))
def test_counts_statistics_and_reasons_agree_with_what_was_recorded(tmp_path_factory, classes):
    folder = tmp_path_factory.mktemp("class")
    with Gradebook(folder / "book.db") as book:
        for i, kinds in enumerate(classes):
            _record(book, f"s{i}", kinds)
        analysis = analyse(book)
    assert len(analysis.checks) == len(CHECKS)
    for stats in analysis.checks:
        expected = [kinds.get(stats.name, "pass") for kinds in classes]
        assert stats.counts == {k: expected.count(k) for k in OUTCOMES}
        # Only real failures are listed as reasons; the same message counts once per student.
        assert sum(m.count for m in stats.reasons) == stats.counts["fail"]
        graded = stats.counts["pass"] + stats.counts["fail"]
        assert stats.pass_rate == (stats.counts["pass"] / graded if graded else None)
    attempted = [i for i, kinds in enumerate(classes)
                 if not (set(kinds.values()) <= {"not_attempted", "knock_on"}
                         and "not_attempted" in kinds.values()
                         and len(kinds) == len(CHECKS))]
    scores = [sum(c.points for c in CHECKS if classes[i].get(c.name, "pass") == "pass")
              for i in attempted]
    assert analysis.scores == scores
    if scores:
        assert analysis.mean == pytest.approx(statistics.fmean(scores))
        assert analysis.median == statistics.median(scores)
        assert analysis.pass_rate == sum(s >= TOTAL / 2 for s in scores) / len(scores)


def test_diagnoses_come_first_then_by_count(tmp_path):
    with Gradebook(tmp_path / "book.db") as book:
        _record(book, "a", {"sigmoid": "fail"})
        _record(book, "b", {"sigmoid": "fail"})
        _record(book, "c", {"sigmoid": "fail"}, diagnosis="your sigmoid overflows")
        _record(book, "d", {"sigmoid": "not_attempted"})
        _record(book, "e", {}, error="SyntaxError: invalid syntax (line 3)")
        stats = {s.name: s for s in analyse(book).checks}["sigmoid"]
        analysis = analyse(book)
    assert [(m.reason, m.count, m.submissions) for m in stats.reasons] == [
        ("your sigmoid overflows", 1, ["c"]), ("sigmoid[…] = …, expected …", 2, ["a", "b"])]
    assert analysis.ungraded == {"e": "SyntaxError: invalid syntax (line 3)"}
    assert "e" not in [t.submission for t in analysis.totals if t.submission in
                       ("a", "b", "c", "d")]
    assert 0 not in analysis.scores  # the ungraded 0 is not a score of the distribution


def test_hostile_names_and_messages_are_escaped(tmp_path):
    name = '<img src=x onerror=alert(1)>"&'
    with Gradebook(tmp_path / "book.db") as book:
        _record(book, name, {"tanh": "fail"}, diagnosis="<script>alert(2)</script>")
        page = render_html(analyse(book))
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;&amp;" in page
    assert len(re.findall(r"<script>", page)) == 1  # the page's own image check only


# --- a realistic class, graded for real and opened in a browser --------------------------

REPO = Path(__file__).resolve().parent.parent
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu",
                           "--allow-file-access-from-files", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=timeout)


def realistic_class(folder: Path) -> Path:
    """correct, buggy, half done, a stub, an empty notebook, an unreadable notebook, an honest
    variant (fay) and gus's near-copy of it (renamed, reordered, comments changed)."""
    from tests.corpus.build import build_submission, load_entries
    from tests.test_similarity import copy_via_ast, plant

    examples = REPO / "examples"
    for name in ("correct", "buggy", "half_done"):
        shutil.copytree(examples / name, folder / name)
    bugs = {e.slug: e for e in load_entries("bug")}
    build_submission(bugs["sigmoid_grad_at_activation"], folder / "dana")
    build_submission(bugs["dense_backward_db_mean"], folder / "eli")
    shutil.copytree(REPO / "exercises", folder / "stub",
                    ignore=shutil.ignore_patterns("__pycache__", "experiments.py"))
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "garbled.ipynb").write_bytes(b"\x89PNG not a notebook")
    honest = {e.slug: e for e in load_entries("correct")}
    build_submission(honest["dense_einsum"], folder / "fay")
    plant(folder / "fay", folder / "gus", copy_via_ast, seed=3)
    return folder


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no Chromium here (`make browser` installs it)")
def test_the_report_of_a_real_class_renders_in_a_browser(tmp_path):
    from grader.cli import main

    roster = realistic_class(tmp_path / "class")
    book, out = tmp_path / "book.db", tmp_path / "report"
    config = tmp_path / "grader.toml"
    config.write_text("[late]\ndeadline = 2030-01-01T23:59:00+00:00\npenalty_per_day = 10\n")
    times = tmp_path / "times.csv"  # eli handed in half a day late: one day's 10% of 50
    times.write_text("student,submitted_at\neli,2030-01-02T12:00:00+00:00\n")
    names = ["buggy", "correct", "dana", "eli", "empty", "fay", "garbled", "gus", "half_done",
             "stub"]
    class_list = tmp_path / "roster.csv"  # everyone, and hal, who handed nothing in
    class_list.write_text("id,name,email,submission\n" + "".join(
        f"S{i},{n.title()} Student,{n}@uni.edu,{n}\n" for i, n in enumerate([*names, "hal"])))
    assert main(["grade", str(roster), "--gradebook", str(book), "--feedback",
                 str(tmp_path / "feedback"), "--summary", str(out), "--no-sandbox",
                 "--config", str(config), "--times", str(times), "--roster",
                 str(class_list)]) == 0
    page = out / "report.html"
    dom = _browser("--dump-dom", "--virtual-time-budget=5000", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    text = dom.stdout
    assert 'data-images="ok-1"' in text  # the embedded histogram decoded
    headline = dict(re.findall(r'data-label="([^"]+)">([^<]+)</b>', text))
    assert headline["submissions"] == "10"
    assert headline["could not be graded"] == "2"  # the empty and the garbled notebook
    assert headline["not attempted"] == "1"  # the stub
    assert headline["graded"] == "7"
    assert headline["no submission"] == "1"  # hal
    # At or above 25 of 50: buggy 40, correct 50, dana 48, eli 44 (late), fay and gus 50.
    assert headline["passed, of everyone"] == "6 of 11"
    similar = re.search(r'<table id="similar">.*?</table>', text, re.S).group()
    pairs = set(re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td>", similar))
    # The planted copy, and the three samples of examples/ (one author wrote them all).
    assert pairs == {("fay", "gus"), ("buggy", "correct"), ("buggy", "half_done"),
                     ("correct", "half_done")}
    students = re.search(r'<table id="students">.*?</table>', text, re.S).group()
    assert '<tr class="absent"><td>Hal Student</td><td>S10</td>' in students
    eli = re.search(r"<tr><td>Eli Student</td><td>S3</td><td><a [^>]*>eli</a></td>.*?</tr>",
                    students, re.S).group()
    assert re.findall(r'<td class="num">([^<]+)</td>', eli) == ["49 / 50", "–", "5",
                                                                "44 / 50"]
    assert re.findall(r'<tr data-check="([^"]+)"', text) == [c.name for c in CHECKS]
    checks_table = re.search(r'<table id="checks">.*?</table>', text, re.S).group()
    assert "could not be read" not in checks_table  # listed once, under could not be graded
    ungraded = re.search(r'<table id="ungraded">.*?</table>', text, re.S).group()
    assert "empty.ipynb" in ungraded and "garbled.ipynb" in ungraded
    sigmoid_grad = re.search(r'<tr data-check="sigmoid_grad">.*?</tr>', text, re.S).group()
    assert "derivative at the activation" in sigmoid_grad
    assert re.search(r"\(\d+: <a href=\"\.\./feedback/", sigmoid_grad)
    # Every feedback link points at a file that exists.
    links = re.findall(r'href="([^"]+\.md)"', text)
    assert links and all((out / link).is_file() for link in links)
    shot = Path(os.environ.get("VG_REPORT_SCREENSHOT", tmp_path / "report.png"))
    done = _browser(f"--screenshot={shot}", "--window-size=1280,3200", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr
    assert "## No submission\n\n- Hal Student (S10)" in (out / "summary.md").read_text(
        encoding="utf-8")
    # The late student's feedback says the total every export gives.
    feedback = next((tmp_path / "feedback").glob("eli*.md")).read_text(encoding="utf-8")
    assert ("**Your total: 44 / 50** (autograded 49 / 50, late penalty −5)" in feedback)


def test_write_reports_writes_the_three_files(tmp_path):
    with Gradebook(tmp_path / "book.db") as book:
        _record(book, "a", {"sigmoid": "fail"})
        written = write_reports(analyse(book), tmp_path / "out")
    assert sorted(p.name for p in written.values()) == ["report.html", "score_histogram.png",
                                                        "summary.md"]
    assert written["histogram"].read_bytes()[:4] == b"\x89PNG"


def test_a_gradebook_from_before_outcomes_opens_and_merges(tmp_path):
    import sqlite3

    old = tmp_path / "old.db"
    with Gradebook(old) as book:
        _record(book, "a", {"sigmoid": "fail", "tanh": "not_attempted"})
    # What a gradebook written before the outcome column looks like.
    with sqlite3.connect(old) as db:
        db.execute("ALTER TABLE results DROP COLUMN outcome")
    with Gradebook(tmp_path / "new.db") as merged:
        assert merged.merge_from(old) == (1, 0)
        kinds = {row[1]: row[-1] for row in merged.check_rows(with_outcome=True)}
    assert kinds["sigmoid"] == kinds["tanh"] == "fail" and kinds["relu"] == "pass"
    with Gradebook(old) as reopened:  # the column is added; old rows read as pass or fail
        assert {row[-1] for row in reopened.check_rows(with_outcome=True)} == {"pass", "fail"}
