"""LMS-ready exports (grader/batch/exports.py), prune and the check order: every format checked
column by column against the columns its documentation names, totals from ``totals``, the
assignment's check order whatever the gradebook's row order, ``prune`` removing exactly the
rows whose submission is gone; and one class end to end, from a Canvas download to Canvas's and
Moodle's import files."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.batch import exports
from grader.batch.exports import ExportOptions, export
from grader.batch.gradebook import Gradebook
from grader.batch.results import SubmissionResult
from grader.batch.roster import Student
from grader.batch.totals import StudentTotal, totals
from grader.checking import checks as _registered  # noqa: F401 - fills REGISTRY
from grader.checking.judge import CheckResult
from grader.checking.trial import REGISTRY
from grader.cli import main
from tests.strategies import generated

REPO = Path(__file__).resolve().parent.parent
CHECKS = list(REGISTRY)
TOTAL = sum(c.points for c in REGISTRY.values())
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _result(name: str, lost: set[str] = frozenset(), error: str | None = None,
            order: list[str] | None = None, source: str = "") -> SubmissionResult:
    """A recorded result losing the checks ``lost``; its checks in ``order`` (default: the
    registry's)."""
    checks = [CheckResult(c, REGISTRY[c].title, REGISTRY[c].points,
                          0 if c in lost or error else REGISTRY[c].points,
                          c not in lost and not error, tags=REGISTRY[c].tags)
              for c in (order or CHECKS)]
    score = sum(c.score for c in checks)
    return SubmissionResult(name, source or f"class/{name}", f"hash-{name}", 7, "test", score,
                            TOTAL, checks, "none", 0.1, error=error)


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@st.composite
def classes(draw):
    """A gradebook's submissions (name -> (lost checks, error, LMS user)) and a roster: some
    students hand in, some do not; some submissions are on no row."""
    count = draw(st.integers(0, 6))
    graded = {}
    for i in range(count):
        lost = set(draw(st.lists(st.sampled_from(CHECKS), max_size=4)))
        error = draw(st.sampled_from([None, None, "the submission could not be read: x"]))
        graded[f"stud{i}_{1000 + i}"] = (lost, error, str(1000 + i))
    students = []
    for i, name in enumerate(graded):
        how = draw(st.sampled_from(["name", "user", "off the roster"]))
        if how != "off the roster":
            students.append(Student(
                id=f"S{i:03}", name=draw(st.sampled_from([f"Étudiant {i}", f"Doe, Jo{i}"])),
                email=draw(st.sampled_from(["", f"s{i}@example.org"])),
                submission=name if how == "name" else str(1000 + i),
                section=draw(st.sampled_from(["", "A"])), login=f"login{i}", line=i + 2))
    absent = draw(st.integers(0, 2))
    # An absent student's submission cell is a name, or (as a Canvas roster has it) the LMS
    # user id: digits, which the Canvas export uses as ID.
    students += [Student(id=f"A{k}", name=f"Absent {k}", email=f"a{k}@example.org",
                         submission=draw(st.sampled_from([f"absent{k}", str(9000 + k)])),
                         line=50 + k) for k in range(absent)]
    order = draw(st.permutations(range(len(students))))
    return graded, [students[i] for i in order]


def _book(graded: dict) -> Gradebook:
    book = Gradebook(Path(":memory:"))  # SQLite in memory: hundreds of cases in seconds
    for name, (lost, error, user) in graded.items():
        book.record(_result(name, lost, error))
        book.record_origin(name, "canvas", user, [f"{name}_55_activations.py"])
    return book


def _owner(students: list[Student], name: str, user: str) -> Student | None:
    return next((s for s in students if s.submission in (name, user)), None)


@generated(40)
@given(classes())
def test_canvas_export_column_by_column(tmp_path_factory, case):
    graded, students = case
    folder = tmp_path_factory.mktemp("canvas")
    with _book(graded) as book:
        by_name = {t.submission: t for t in totals(book)}
        path, said = export(book, folder / "canvas.csv",
                            ExportOptions("canvas", "Lab 3", "4711"), students)
    table = _read(path)
    # Canvas's Gradebook export/import: the five identity columns, then "Name (id)"
    assert table[0] == [*CANVAS_COLUMNS, "Lab 3 (4711)"]
    assert table[1] == ["    Points Possible", "", "", "", "", str(TOTAL)]
    assert all(len(row) == 6 for row in table)
    expected = []
    for s in students:
        name = next((n for n, (_, _, user) in graded.items() if s.submission in (n, user)), None)
        score = str(int(by_name[name].total)) if name else ""
        user = graded[name][2] if name else (s.submission if s.submission.isdigit() else "")
        expected.append([s.name, user, s.id, s.login, s.section, score])
    unknown = sorted(n for n, (_, _, user) in graded.items() if not _owner(students, n, user))
    expected += [[n, graded[n][2], "", "", "", str(int(by_name[n].total))] for n in unknown]
    assert table[2:] == expected
    absent = [s for s in students if s.id.startswith("A")]
    assert said[0] == (f"{len(expected)} row(s): "
                       f"{sum(not e for _, (_, e, _) in graded.items())} graded, "
                       f"{sum(bool(e) for _, (_, e, _) in graded.items())} not graded, "
                       f"{len(absent)} with no submission, {len(unknown)} not on the roster")
    assert [line for line in said if "no submission:" in line] == [
        f"  no submission: {s.id} ({s.name})" for s in students if s.id.startswith("A")]
    assert [line for line in said if "not on the roster:" in line] == [
        f"  not on the roster: {n}" for n in unknown]


@pytest.mark.parametrize(("cell", "canvas_id", "expected"), [
    ("123456", "", "123456"), ("123456", "777", "777"), ("alice", "", ""),
    ("alice_*", "", ""), ("12a", "", ""), ("١٢٣", "", ""), ("", "", "")])
def test_canvas_id_of_a_student_with_no_submission(tmp_path, cell, canvas_id, expected):
    """The roster's canvas id, else a submission cell of ASCII digits (the LMS user id)."""
    student = Student(id="S1", name="Absent", submission=cell, canvas_id=canvas_id, line=2)
    with Gradebook(tmp_path / "book.sqlite") as book:
        path, _ = export(book, tmp_path / "c.csv", ExportOptions("canvas"), [student])
    assert _read(path)[2] == ["Absent", expected, "S1", "", "", ""]


@generated(40)
@given(classes(), st.sampled_from(["email", "idnumber"]), st.booleans())
def test_moodle_export_column_by_column(tmp_path_factory, case, identifier, feedback):
    graded, students = case
    folder = tmp_path_factory.mktemp("moodle")
    with _book(graded) as book:
        by_name = {t.submission: t for t in totals(book)}
        path, said = export(book, folder / "moodle.csv",
                            ExportOptions("moodle", "Lab 3", identifier=identifier,
                                          feedback=feedback), students)
    table = _read(path)
    # MoodleDocs "Grade import": a user identifier column, a column per grade item, feedback
    assert table[0] == [{"email": "Email address", "idnumber": "ID number"}[identifier],
                        "Lab 3", *(["Feedback"] if feedback else [])]
    rows = {row[0]: row[1:] for row in table[1:]}
    assert len(rows) == len(table) - 1
    identified = []
    for s in students:
        key = s.email if identifier == "email" else s.id
        name = next((n for n, (_, _, user) in graded.items() if s.submission in (n, user)), None)
        if not key:
            assert any(line.startswith("  left out of the Moodle file") and s.id in line
                       for line in said)
            continue
        identified.append(key)
        assert rows[key][0] == (str(int(by_name[name].total)) if name else "")
        if feedback:
            text = rows[key][1]
            if name is None:
                assert text == "no submission"
            elif graded[name][1]:
                assert text == f"not graded: {graded[name][1]}"
            else:
                assert text.startswith(f"autograded {int(by_name[name].auto)}/{TOTAL}")
                for check in graded[name][0]:
                    assert f"{check} (0/{REGISTRY[check].points})" in text
    assert list(rows) == identified  # roster order; nobody without an identifier
    for n, (_, _, user) in graded.items():
        if _owner(students, n, user) is None:
            assert any(f"submission {n}" in line for line in said)
    assert said[-1] == (f'moodle: set the maximum grade of the grade item "Lab 3" to {TOTAL} '
                        "before importing")


@generated(30)
@given(classes())
def test_plain_export_with_a_roster_column_by_column(tmp_path_factory, case):
    graded, students = case
    folder = tmp_path_factory.mktemp("plain")
    with _book(graded) as book:
        path, _ = export(book, folder / "plain.csv", students=students)
    table = _read(path)
    recorded = CHECKS if graded else []  # the checks recorded, in the assignment's order
    assert table[0] == ["student_id", "name", "email", "submission", "score", "max_score",
                        *recorded, "status", "not_graded"]
    status = {}
    for row in table[1:]:
        record = dict(zip(table[0], row, strict=True))
        status[record["student_id"] or record["submission"]] = record["status"]
        if record["submission"]:
            lost, error, _ = graded[record["submission"]]
            assert record["score"] == str(0 if error else TOTAL - sum(
                REGISTRY[c].points for c in lost))
            assert record["max_score"] == str(TOTAL)
            assert record["not_graded"] == (error or "")
            for check in recorded:
                assert record[check] == str(0 if error or check in lost
                                            else REGISTRY[check].points)
        else:
            assert record["score"] == record["max_score"] == ""
    for s in students:
        assert status[s.id] in (("no submission",) if s.id.startswith("A")
                                else ("graded", "not graded"))
    unknown = [n for n, (_, _, user) in graded.items() if not _owner(students, n, user)]
    assert all(status[n] == "not on the roster" for n in unknown)
    assert len(table) == 1 + len(students) + len(unknown)


# --- the check order --------------------------------------------------------------------------


@generated(10)  # three SQLite files per case
@given(st.lists(st.permutations(CHECKS), min_size=1, max_size=4))
def test_check_columns_follow_the_assignment_whatever_order_rows_were_recorded(
        tmp_path_factory, orders):
    folder = tmp_path_factory.mktemp("order")
    with Gradebook(folder / "book.sqlite") as book:
        for i, order in enumerate(orders):
            book.record(_result(f"s{i}", {order[0]}, order=list(order)))
        direct, _ = export(book, folder / "direct.csv")
        book.export_csv(folder / "old.csv")
    with Gradebook(folder / "merged.sqlite") as merged:
        merged.merge_from(folder / "book.sqlite")
        after_merge, _ = export(merged, folder / "merged.csv")
    for table in (_read(direct), _read(after_merge), _read(folder / "old.csv")):
        assert table[0] == ["submission", "score", "max_score", *CHECKS, "not_graded"]
    assert direct.read_bytes() == after_merge.read_bytes() == (folder / "old.csv").read_bytes()


def test_the_policy_columns_appear_when_the_totals_hold_policy(tmp_path, monkeypatch):
    with Gradebook(tmp_path / "book.sqlite") as book:
        book.record(_result("alice", {"sigmoid"}))
        book.record(_result("bob"))
        policy = [StudentTotal("alice", 48.0, TOTAL, manual=4.5, manual_max=6, late_penalty=2.5),
                  StudentTotal("bob", TOTAL, TOTAL, manual_max=6, override=40.0,
                               override_reason="plagiarism hearing")]
        monkeypatch.setattr(exports, "totals", lambda _, policy_=None, **__: policy)
        plain, _ = export(book, tmp_path / "plain.csv")
        canvas, _ = export(book, tmp_path / "canvas.csv", ExportOptions("canvas"))
    table = _read(plain)
    assert table[0] == ["submission", "score", "max_score", *CHECKS, "auto", "manual",
                        "late_penalty", "override", "not_graded"]
    assert [row[:3] + row[-5:] for row in table[1:]] == [
        ["alice", "50", str(TOTAL + 6), "48", "4.5", "2.5", "", ""],
        ["bob", "40", str(TOTAL + 6), str(TOTAL), "0", "0", "40 (plagiarism hearing)", ""]]
    assert _read(canvas)[1][-1] == str(TOTAL + 6)  # Points Possible: the configured maximum
    assert [row[-1] for row in _read(canvas)[2:]] == ["50", "40"]


# --- prune and --present-only ---------------------------------------------------------------


@generated(40)
@given(st.sets(st.text(alphabet="abcé_0123", min_size=1, max_size=5), min_size=1, max_size=8),
       st.data())
def test_prune_removes_exactly_the_rows_whose_submission_is_gone(names, data):
    gone = data.draw(st.sets(st.sampled_from(sorted(names))))
    with Gradebook(Path(":memory:")) as book:
        for name in names:
            book.record(_result(name))
            book.record_origin(name, "folders", "", [name])
        keep = names - gone
        assert book.prune(keep, dry_run=True) == sorted(gone)
        assert book.names() == sorted(names)  # a dry run changes nothing
        assert book.prune(keep) == sorted(gone)
        assert book.names() == sorted(keep)
        left = {row[0] for row in book.check_rows()} | set(book.origins())
        assert left == keep  # the checks and the origins went with them
        assert book.prune(keep) == []


def test_prune_and_present_only_through_the_cli(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    with Gradebook(tmp_path / "book.sqlite") as book:
        for name in ("alice", "bob", "carol"):
            book.record(_result(name, source=str(tmp_path / "class" / name)))
    for name in ("alice", "carol"):
        (tmp_path / "class" / name).mkdir()
        (tmp_path / "class" / name / "activations.py").write_text("A = 1\n")
    book, klass = str(tmp_path / "book.sqlite"), str(tmp_path / "class")
    assert main(["export", book, "--csv", str(tmp_path / "all.csv"), "--present-only",
                 klass]) == 0
    assert [row[0] for row in _read(tmp_path / "all.csv")[1:]] == ["alice", "carol"]
    assert "1 submission(s) of the gradebook left out: not in" in capsys.readouterr().err
    assert main(["prune", book, klass, "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        f"would remove: bob\nwould remove 1 submission(s) no longer in {klass}; 2 left in the "
        "gradebook (dry run: nothing changed)\n")
    assert main(["prune", book, klass]) == 0
    assert capsys.readouterr().out == (
        f"removed: bob\nremoved 1 submission(s) no longer in {klass}; 2 left in the "
        "gradebook\n")
    with Gradebook(tmp_path / "book.sqlite") as reopened:
        assert reopened.names() == ["alice", "carol"]
    assert main(["prune", book, str(tmp_path / "nowhere")]) == 2


def test_a_bad_roster_stops_export_and_merge_with_one_line(tmp_path, capsys):
    with Gradebook(tmp_path / "book.sqlite") as book:
        book.record(_result("alice"))
    (tmp_path / "roster.csv").write_text("id,name\nS1,Ana\n")
    for argv in (["export", str(tmp_path / "book.sqlite"), "--csv", str(tmp_path / "x.csv")],
                 ["merge", str(tmp_path / "m.sqlite"), str(tmp_path / "book.sqlite")]):
        assert main([*argv, "--roster", str(tmp_path / "roster.csv")]) == 2
        assert capsys.readouterr().err == (
            "error: --roster roster.csv line 1: missing column(s) email, submission (the "
            "header has 'id', 'name'; separator ',')\n")


def test_merge_with_a_roster_says_who_is_in_the_merged_gradebook(tmp_path, capsys):
    for shard, names in (("one", ["alice"]), ("two", ["bob", "zed"])):
        with Gradebook(tmp_path / f"{shard}.sqlite") as book:
            for name in names:
                book.record(_result(name))
    (tmp_path / "roster.csv").write_text("id,name,email,submission\nS1,Alice,,alice\n"
                                         "S2,Bob,,BOB\nS3,Carl,,carl\n")
    assert main(["merge", str(tmp_path / "all.sqlite"), str(tmp_path / "one.sqlite"),
                 str(tmp_path / "two.sqlite"), "--roster", str(tmp_path / "roster.csv")]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        "3 submission(s) in " + str(tmp_path / "all.sqlite"),
        "roster: 3 student(s), 2 with a submission, 1 with no submission; 1 submission(s) not "
        "on the roster", "  no submission: S3 (Carl)", "  not on the roster: zed"]


def test_grade_with_a_bad_roster_is_refused_before_anything_is_graded(tmp_path, capsys):
    (tmp_path / "roster.csv").write_text("id,name,email,submission\nS1,A,,x\nS1,B,,y\n")
    book = tmp_path / "book.sqlite"
    assert main(["grade", str(REPO / "examples" / "correct"), "--roster",
                 str(tmp_path / "roster.csv"), "--gradebook", str(book)]) == 2
    assert capsys.readouterr().err == ("error: --roster roster.csv line 3: duplicate student "
                                       "id 'S1' (first on line 2)\n")
    assert not book.exists()


# --- end to end ------------------------------------------------------------------------------


def _canvas_download(folder: Path, tmp: Path) -> tuple[dict[str, int], dict[str, str]]:
    """A Canvas download of 8 students built from the corpus: (expected total by Canvas user
    id, how each handed in)."""
    from tests.corpus.build import build_submission, load_entries
    from tests.corpus.truth import expected_total

    entries = {e.slug: e for e in load_entries()}
    plan = [  # (canvas name, user, corpus entry, how)
        ("lópezana", "2001", "dense_einsum", "files"),
        ("smith_bob2", "2002", "sigmoid_grad_returns_s", "files"),
        ("o_brien_3", "2003", "dense_backward_db_mean", "zip"),
        ("nguyen", "2004", "sigmoid_logaddexp", "zip"),
        ("müller", "2005", "relu_grad_sign", "late"),
        ("kim", "2006", "mse_sign_flip", "resubmitted"),
        ("zoe", "2007", "init_he_fan_out", "files"),
        ("stranger", "2099", "tanh_grad_not_squared", "files"),  # on no roster row
    ]
    folder.mkdir(parents=True)
    expected, how = {}, {}
    for number, (name, user, slug, kind) in enumerate(plan):
        entry = entries[slug]
        built = build_submission(entry, tmp / slug)
        expected[user] = expected_total(slug, entry.blames)
        how[user] = kind
        prefix = f"{name}_{'LATE_' if kind == 'late' else ''}{user}_{700 + number}_"
        modules = sorted(p for p in built.glob("*.py") if p.name != "__init__.py")
        if kind == "zip":
            with zipfile.ZipFile(folder / f"{prefix}submission.zip", "w") as archive:
                for module in modules:
                    archive.write(module, module.name)
            continue
        for module in modules:
            shutil.copy(module, folder / f"{prefix}{module.name}")
        if kind == "resubmitted":  # the buggy module, then the reference's as a new upload
            shutil.copy(REPO / "solutions" / f"{entry.module}.py",
                        folder / f"{prefix}{entry.module}-1.py")
    (folder / "grades-export.txt").write_text("not a submission\n")
    return expected, how


USERS = ["2001", "2002", "2003", "2004", "2005", "2006", "2007", "2008"]  # the roster's rows


@pytest.mark.slow
def test_a_canvas_download_and_a_roster_end_to_end(tmp_path):
    download = tmp_path / "download"
    expected, how = _canvas_download(download, tmp_path / "built")
    rows = [("S1", "López, Ana", "ana@uni.edu", "2001"), ("S2", "Smith, Bob", "bob@uni.edu",
                                                              "smith_bob2_*"),
            ("S3", "O'Brien, Kim", "ob@uni.edu", "o_brien_3_2003"),
            ("S4", "Nguyen, Lan", "", "2004"), ("S5", "Müller, Jörg", "jm@uni.edu", "2005"),
            ("S6", "Kim, Min", "min@uni.edu", "2006"), ("S7", "Zoe, Ada", "zoe@uni.edu", "2007"),
            ("S8", "Absent, Al", "al@uni.edu", "2008")]
    roster = tmp_path / "roster.csv"
    # Saved from a European Excel: a BOM, ";" between cells
    roster.write_text("\ufeffStudent ID;Name;Email;Submission\n"
                      + "".join(";".join(f'"{c}"' for c in row) + "\n" for row in rows),
                      encoding="utf-8")
    book = tmp_path / "book.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(download), "--roster", str(roster),
         "--gradebook", str(book), "--csv", str(tmp_path / "plain.csv"), "--workers", "2",
         "--no-sandbox"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("roster: 8 student(s), 7 with a submission, 1 with no submission; 1 submission(s) "
            "not on the roster") in done.stderr
    assert "  no submission: S8 (Absent, Al)" in done.stderr
    assert "  not on the roster: stranger_2099" in done.stderr
    assert "left out of the LMS download, not named like a submission: grades-export.txt" \
        in done.stderr
    assert ("kim_2006: kim_2006_705_layers-1.py graded, the newest upload of layers.py "
            "(kim_2006_705_layers.py left out)") in done.stderr
    with Gradebook(book) as gradebook:
        origins = gradebook.origins()
        assert origins["müller_2005"][3] is True  # LATE_ kept for the late policy
        assert {user for _, user, _, _ in origins.values()} == set(expected)
    kept = {"2006": TOTAL}  # its newest upload of the buggy module is the reference's
    again = tmp_path / "again.csv"  # export after grade: the same file, columns and all
    assert main(["export", str(book), "--csv", str(again), "--roster", str(roster)]) == 0
    assert again.read_bytes() == (tmp_path / "plain.csv").read_bytes()
    for fmt, extra in (("canvas", ["--assignment-id", "31"]), ("moodle", ["--feedback-column"])):
        out = tmp_path / f"{fmt}.csv"
        done = subprocess.run(
            [sys.executable, "-m", "grader", "export", str(book), "--csv", str(out), "--format",
             fmt, "--roster", str(roster), "--assignment", "Vanishing gradients", *extra],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        table = _read(out)
        if fmt == "canvas":
            assert table[0] == [*CANVAS_COLUMNS, "Vanishing gradients (31)"]
            assert table[1] == ["    Points Possible", "", "", "", "", str(TOTAL)]
            got = {row[1]: row for row in table[2:]}
            for (student_id, name, _, _), row in zip(rows, table[2:], strict=False):
                assert (row[0], row[2]) == (name, student_id)
            for user, total in expected.items():
                assert got[user][5] == str(kept.get(user, total)), user
            # no submission: the roster's submission cell (2008) is the Canvas user id
            assert table[2 + 7] == ["Absent, Al", "2008", "S8", "", "", ""]
            assert table[-1][:2] == ["stranger_2099", "2099"]
            assert len(table) == 2 + 8 + 1
        else:
            assert table[0] == ["Email address", "Vanishing gradients", "Feedback"]
            by_email = {row[0]: row[1:] for row in table[1:]}
            assert list(by_email) == [r[2] for r in rows if r[2]]  # S4 has no email
            for (_, _, email, _), user in zip(rows, USERS, strict=True):
                if email and user in expected:
                    assert by_email[email][0] == str(kept.get(user, expected[user]))
            assert by_email["al@uni.edu"] == ["", "no submission"]
            assert "left out of the Moodle file (no email to identify the user): student S4" \
                in done.stderr
