"""The instructor's command line, run for real: results.json, batches, the gradebook, resuming."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.checking.trial import REGISTRY
from tests.corpus.build import build_submission, load_entries

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TOTAL = sum(c.points for c in REGISTRY.values())


def grader(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_results_json_follows_gradescope_schema(tmp_path):
    results = tmp_path / "results" / "results.json"
    done = grader("grade", str(EXAMPLES / "buggy"), "--results", str(results))
    assert done.returncode == 0, done.stderr
    data = json.loads(results.read_text())
    assert set(data) == {"score", "execution_time", "output", "tests"}
    assert isinstance(data["execution_time"], float) and data["execution_time"] > 0
    assert len(data["tests"]) == len(REGISTRY)
    for test in data["tests"]:
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility",
                             "tags"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] == "visible"
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
        assert test["tags"] and all(isinstance(tag, str) for tag in test["tags"])
    assert data["score"] == sum(t["score"] for t in data["tests"])
    failed = {t["name"].split()[0]: t for t in data["tests"] if t["status"] == "failed"}
    assert set(failed) == {"sigmoid_grad", "dense_backward", "mse_loss", "mlp_forward",
                           "numerical_gradient"}
    assert failed["sigmoid_grad"]["tags"] == ["sigmoid_grad"]
    assert "Diagnosis: your code evaluates the derivative at the activation" in (
        failed["sigmoid_grad"]["output"])


def test_results_json_needs_exactly_one_submission(tmp_path):
    done = grader("grade", str(EXAMPLES / "buggy"), str(EXAMPLES / "correct"), "--results",
                  str(tmp_path / "r.json"))
    assert done.returncode == 2
    assert "exactly one" in done.stderr


def _gradebook_counts(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    with sqlite3.connect(path) as db:
        submissions = dict(db.execute("SELECT name, score FROM submissions"))
        rows = dict(db.execute("SELECT submission, COUNT(*) FROM results GROUP BY submission"))
    return submissions, rows


@pytest.mark.slow
def test_batch_gradebook_csv_feedback_summary_and_resume(tmp_path):
    batch = tmp_path / "class"
    for name in ("correct", "buggy", "half_done"):
        shutil.copytree(EXAMPLES / name, batch / name)
    book, csv = tmp_path / "book.sqlite", tmp_path / "grades.csv"
    args = ["grade", str(batch), "--gradebook", str(book), "--csv", str(csv), "--feedback",
            str(tmp_path / "feedback"), "--summary", str(tmp_path / "summary")]
    first = grader(*args)
    assert first.returncode == 0, first.stderr
    scores, rows = _gradebook_counts(book)
    # examples/buggy's five bugs cost 14 points before partial credit; its dense_backward
    # (db wrong) and mse_loss (gradient wrong) now keep their right parts' 4 points.
    assert scores == {"correct": TOTAL, "buggy": TOTAL - 10, "half_done": 20}
    assert rows == {name: len(REGISTRY) for name in scores}
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("submission,score,max_score,sigmoid,")
    assert len(lines) == 4
    feedback = (tmp_path / "feedback" / "buggy.md").read_text()
    assert "Diagnosis" in feedback and "![gradient size per layer]" in feedback
    assert (tmp_path / "feedback" / "buggy_gradient_flow.png").stat().st_size > 10_000
    assert (tmp_path / "summary" / "score_histogram.png").is_file()
    summary = (tmp_path / "summary" / "summary.md").read_text()
    assert "| check | pass rate | failed | knock-on | not attempted | why it failed |" in summary
    assert (tmp_path / "summary" / "report.html").is_file()
    assert "[   3/3]" in first.stderr  # progress, one line per submission off a terminal

    second = grader(*args)
    assert "3 unchanged submission(s) skipped" in second.stdout
    (batch / "half_done" / "extra_helper.py").write_text("X = 1\n")
    third = grader(*args)
    assert "2 unchanged submission(s) skipped" in third.stdout
    assert _gradebook_counts(book)[1] == rows


@pytest.mark.slow
def test_killed_batch_resumes_without_losing_or_doubling(tmp_path):
    batch = tmp_path / "class"
    for i in range(6):
        shutil.copytree(EXAMPLES / ("buggy" if i % 2 else "correct"), batch / f"student{i}")
    book = tmp_path / "book.sqlite"
    command = [sys.executable, "-m", "grader", "grade", str(batch), "--gradebook", str(book),
               "--workers", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if book.exists() and len(_gradebook_counts(book)[0]) >= 2:
                break
        except sqlite3.OperationalError:  # the schema is still being created
            pass
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    graded_before, _ = _gradebook_counts(book)
    assert 2 <= len(graded_before) < 6
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(graded_before)} unchanged submission(s) skipped" in done.stdout
    scores, rows = _gradebook_counts(book)
    assert sorted(scores) == [f"student{i}" for i in range(6)]
    assert rows == {name: len(REGISTRY) for name in scores}


@pytest.mark.slow
def test_whole_corpus_through_the_cli_in_the_sandbox(tmp_path):
    """Correct variants earn full marks and each bug loses exactly its blamed checks, with the
    student code in sandboxed workers: the same verdicts as the in-process grading."""
    batch = tmp_path / "corpus"
    entries = {e.slug: e for e in load_entries()}
    for entry in entries.values():
        build_submission(entry, batch / entry.slug)
    book = tmp_path / "book.sqlite"
    done = grader("grade", str(batch), "--gradebook", str(book), "--workers", "2", timeout=600)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(book) as db:
        failed: dict[str, set[str]] = {slug: set() for slug in entries}
        for submission, check in db.execute("SELECT submission, check_name FROM results "
                                            "WHERE passed = 0"):
            failed[submission].add(check)
        graded = {name for (name,) in db.execute("SELECT name FROM submissions")}
    assert graded == set(entries)
    wrong = {slug: (sorted(failed[slug]), sorted(e.blames)) for slug, e in entries.items()
             if failed[slug] != set(e.blames)}
    assert wrong == {}


def _notebook(cells: list[str]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": source} for source in cells]}


def test_notebook_and_zip_submissions(tmp_path):
    sources = []
    for module in ("activations", "layers", "network", "gradient_check"):
        text = (EXAMPLES / "correct" / f"{module}.py").read_text()
        sources.append("\n".join(line for line in text.splitlines()
                                 if not line.startswith(("from exercises", "from layers"))))
    sources[1] = sources[1].replace("getattr(act, ", "globals().get(")
    sources.insert(0, "%matplotlib inline\nimport numpy as np")
    sources.append("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nraise RuntimeError('an "
                   "experiment cell must not run during grading')")
    sources.append("def broken(:\n    pass")
    notebook = tmp_path / "alice.ipynb"
    notebook.write_text(json.dumps(_notebook(sources)))
    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in (EXAMPLES / "buggy").glob("*.py"):
            handle.write(path, f"bob/exercises/{path.name}")
    book = tmp_path / "book.sqlite"
    done = grader("grade", str(notebook), str(archive), "--gradebook", str(book))
    assert done.returncode == 0, done.stderr
    scores, _ = _gradebook_counts(book)
    assert scores == {"alice": TOTAL, "bob": TOTAL - 10}  # examples/buggy: see above


@pytest.mark.parametrize("text", ["0/3", "4/3", "x"])
def test_bad_shard_argument_is_refused(text):
    done = grader("grade", str(EXAMPLES / "correct"), "--shard", text)
    assert done.returncode != 0
    assert "--shard" in done.stderr


@pytest.mark.slow
def test_shards_split_deterministically_and_merge_without_loss(tmp_path):
    batch = tmp_path / "class"
    for i in range(5):
        shutil.copytree(EXAMPLES / ("correct" if i % 2 else "half_done"), batch / f"s{i}")
    shard_books = []
    graded: list[str] = []
    for index in (1, 2, 3):
        book = tmp_path / f"shard{index}.sqlite"
        done = grader("grade", str(batch), "--shard", f"{index}/3", "--gradebook", str(book))
        assert done.returncode == 0 or "no submissions found" in done.stderr
        if book.exists():
            shard_books.append(book)
            graded += list(_gradebook_counts(book)[0])
    assert sorted(graded) == [f"s{i}" for i in range(5)]  # every one in exactly one shard
    merged = tmp_path / "all.sqlite"
    done = grader("merge", str(merged), *map(str, shard_books))
    assert done.returncode == 0, done.stderr
    again = grader("merge", str(merged), *map(str, shard_books))  # idempotent
    assert "0 submission(s) merged" in again.stdout
    scores, rows = _gradebook_counts(merged)
    with sqlite3.connect(merged) as db:
        failures = db.execute("SELECT submission, check_name, feedback FROM results "
                              "WHERE passed = 0 AND submission IN ('s1', 's3')").fetchall()
    assert scores == {f"s{i}": (TOTAL if i % 2 else 20) for i in range(5)}, failures
    assert rows == {name: len(REGISTRY) for name in scores}


def test_a_missing_path_or_an_unusable_gradebook_is_refused_before_grading(tmp_path):
    missing = grader("grade", str(tmp_path / "no-such-student"))
    assert missing.returncode == 2
    assert "no such file or folder" in missing.stderr and "grading" not in missing.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    book = grader("grade", str(EXAMPLES / "correct"), "--gradebook", str(blocker / "g.sqlite"))
    assert book.returncode == 2
    assert "cannot open the gradebook" in book.stderr and "Traceback" not in book.stderr


def test_the_settings_reach_the_judge_and_the_gradebook(tmp_path):
    """grader.toml's seed is the one graded and recorded (the settings object is what the judge
    runs with), --seed replaces it, and an unchanged submission is skipped under that seed."""
    config = tmp_path / "grader.toml"
    config.write_text("seed = 4321\n")
    book = tmp_path / "book.sqlite"
    done = grader("grade", str(EXAMPLES / "correct"), "--config", str(config), "--gradebook",
                  str(book), "--workers", "1")
    assert done.returncode == 0, done.stderr
    again = grader("grade", str(EXAMPLES / "correct"), "--config", str(config), "--seed", "99",
                   "--gradebook", str(tmp_path / "other.sqlite"), "--workers", "1")
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(book) as db, sqlite3.connect(tmp_path / "other.sqlite") as other:
        assert db.execute("SELECT name, seed, score FROM submissions").fetchall() == \
            [("correct", 4321, TOTAL)]
        assert other.execute("SELECT seed FROM submissions").fetchall() == [(99,)]
    # The same run again: unchanged (same content, seed and grader), so skipped.
    skipped = grader("grade", str(EXAMPLES / "correct"), "--config", str(config),
                     "--gradebook", str(book), "--workers", "1")
    assert "1 unchanged submission(s) skipped" in skipped.stdout


@pytest.mark.parametrize("outputs", [("--csv",), ("--summary",), ("--csv", "--summary")])
def test_csv_and_summary_without_a_gradebook_are_written(tmp_path, outputs):
    from grader.cli import main

    paths = {"--csv": tmp_path / "grades.csv", "--summary": tmp_path / "summary"}
    arguments = [part for option in outputs for part in (option, str(paths[option]))]
    # This run's folder only (vg-run-<pid>-<start>): other test processes run at the same time.
    mine = f"vg-run-{os.getpid()}-*"
    runs_before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob(mine))
    assert main(["grade", str(EXAMPLES / "correct"), str(EXAMPLES / "buggy"), *arguments]) == 0
    if "--csv" in outputs:
        rows = paths["--csv"].read_text().splitlines()
        assert rows[0].startswith("submission,score,max_score")
        assert sorted(row.split(",")[:2] for row in rows[1:]) == [["buggy", "40"],
                                                                   ["correct", "50"]]
    if "--summary" in outputs:
        assert (paths["--summary"] / "summary.md").is_file()
    assert not list(tmp_path.glob("*.sqlite"))  # the run's own gradebook went with the run
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob(mine)) <= runs_before


def test_export_of_a_missing_gradebook_is_refused_and_creates_nothing(tmp_path, capsys):
    from grader.cli import main

    missing = tmp_path / "nowhere" / "class.sqlite"
    assert main(["export", str(missing), "--csv", str(tmp_path / "grades.csv")]) == 2
    assert capsys.readouterr().err == f"{missing}: no such gradebook\n"
    assert not missing.exists() and not missing.parent.exists()
    assert not (tmp_path / "grades.csv").exists()


@pytest.mark.parametrize(("option", "message"), [
    (["--workers", "0"], "argument --workers: must be 1 or more, got 0"),
    (["--workers", "-3"], "argument --workers: must be 1 or more, got -3"),
    (["--shard", "3/2"], "argument --shard: --shard 3/2: I must be between 1 and N"),
    (["--shard", "0/4"], "argument --shard: --shard 0/4: I must be between 1 and N"),
    (["--shard", "2"], "argument --shard: --shard wants I/N (for example 2/8), got '2'"),
    (["--shard", "a/b"], "argument --shard: --shard wants I/N (for example 2/8), got 'a/b'"),
])
def test_bad_workers_or_shard_are_usage_errors_before_grading(tmp_path, option, message):
    done = grader("grade", str(EXAMPLES / "correct"), "--gradebook", str(tmp_path / "g.sqlite"),
                  *option)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(f"error: {message}")
    assert not (tmp_path / "g.sqlite").exists()
