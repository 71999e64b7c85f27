"""The late policy, extensions and overrides of grader.toml, as the totals apply them.

Generated (hypothesis): deadlines, extensions, submission times, penalties and caps: a penalty
is never negative, never more than the points earned, none before the student's deadline, and
an extension always wins over the class deadline. Then what the gradebook keeps (times, marks,
overrides) survives grading again, and the CLI's override command says what it did.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.batch.gradebook import Gradebook
from grader.batch.policy import (
    LatePolicy,
    Policy,
    PolicyError,
    parse_moment,
    policy_text,
    read_times,
    stored_settings,
)
from grader.batch.results import SubmissionResult
from grader.batch.totals import totals
from grader.checking.judge import CheckResult
from grader.cli import main
from grader.settings import Settings, SettingsError
from tests.helpers import scaled

PROFILE = settings(derandomize=True, deadline=None, max_examples=scaled(100))
BASE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))])
MOMENTS = st.builds(lambda minutes, tz: (BASE + timedelta(minutes=minutes)).astimezone(tz),
                    st.integers(-20 * 1440, 20 * 1440), OFFSETS)


@PROFILE
@given(deadline=MOMENTS, extension=st.none() | MOMENTS, submitted=st.none() | MOMENTS,
       percent=st.floats(0, 100), max_days=st.none() | st.integers(0, 30),
       max_total=st.integers(1, 100), earned=st.floats(0, 100))
def test_late_penalty_arithmetic(deadline, extension, submitted, percent, max_days, max_total,
                                 earned):
    extensions = {"alice": extension} if extension is not None else {}
    late = LatePolicy(deadline, percent, max_days, extensions)
    for student in ("alice", "bob"):
        due = extension if (student == "alice" and extension is not None) else deadline
        assert late.due(student) == due  # an extension wins
        penalty = late.penalty(student, submitted, max_total, earned)
        assert 0 <= penalty <= earned + 1e-9
        days = late.days_late(student, submitted)
        if submitted is None or submitted <= due:
            assert (days, penalty) == (0, 0)
            continue
        started = math.ceil((submitted - due) / timedelta(days=1))
        assert days == (started if max_days is None else min(started, max_days))
        assert penalty == pytest.approx(min(earned, max_total * percent / 100 * days), abs=1e-9)


@PROFILE
@given(MOMENTS, st.integers(1, 3 * 1440))
def test_no_penalty_until_the_deadline_and_a_full_day_for_a_minute_late(deadline, minutes):
    late = LatePolicy(deadline, 10)
    assert late.penalty("x", deadline, 50, 50) == 0
    late_by = deadline + timedelta(minutes=minutes)
    assert late.days_late("x", late_by) == math.ceil(minutes / 1440)
    assert late.penalty("x", late_by, 50, 50) == min(50, 5 * math.ceil(minutes / 1440))


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "grader.toml"
    path.write_text(text)
    return Settings.load(path)


EXAMPLE = """seed = 11
[points]
dense_backward = 8

[parts.dense_backward]
dx = 1
dW = 1
db = 2

[late]
deadline = 2026-12-01T23:59:00+00:00
penalty_per_day = 10
max_days = 3

[extensions]
alice = 2026-12-03T23:59:00+00:00
"bob smith" = 2026-12-02T12:00:00-05:00
"""


def test_the_policy_tables_are_read_and_written_back_equal(tmp_path):
    loaded = _settings(tmp_path, EXAMPLE)
    policy = Policy.from_settings(loaded)
    assert policy.points == {"dense_backward": 8}
    assert policy.weights == {"dense_backward": {"dx": 1, "dW": 1, "db": 2}}
    assert policy.late.deadline == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    assert (policy.late.penalty_per_day, policy.late.max_days) == (10, 3)
    assert policy.late.due("bob smith") == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    # What the Gradescope build writes into the autograder reads back the same.
    again = tmp_path / "again"
    again.mkdir()
    (again / "grader.toml").write_text(loaded.toml("copy"))
    assert Settings.load(again / "grader.toml").tables == loaded.tables


@pytest.mark.parametrize("text,message", [
    ("points = 3\n", "points must be a table ([points]), got 3"),
    ("[points]\nsigmoid = -1\n", "points.sigmoid must be a whole number 0 or more, got -1"),
    ("[points]\nsigmoid = true\n", "points.sigmoid must be a whole number 0 or more, got True"),
    ("[points]\nsigmoid = 1.5\n", "points.sigmoid must be a whole number 0 or more, got 1.5"),
    ("[parts.mse_loss]\nvalue = -1\ngradient = 1\n",
     "parts.mse_loss.value must be a number 0 or more, got -1"),
    ("[late]\ndeadline = 2026-12-01T23:59:00\n", "late.deadline must give its UTC offset "
     "(2026-12-01T23:59:00+00:00, not 2026-12-01T23:59:00)"),
    ("[late]\ndeadline = \"tomorrow\"\n", "late.deadline must be a date-time such as "
     "2026-12-01T23:59:00+00:00, got 'tomorrow'"),
    ("[late]\npenalty_per_day = 10\n", "[late] needs a deadline"),
    ("[late]\ndeadline = 2026-12-01T23:59:00Z\npenalty_per_day = 150\n",
     "late.penalty_per_day is a percent, at most 100, got 150"),
    ("[late]\ndeadline = 2026-12-01T23:59:00Z\nmax_days = 1.5\n",
     "late.max_days must be a whole number 0 or more, got 1.5"),
    ("[late]\ndeadline = 2026-12-01T23:59:00Z\ngrace = 1\n",
     "unknown late setting(s) grace; known: deadline, penalty_per_day, max_days"),
    ("[extensions]\nalice = 2026-12-03\n", "extensions.alice must be a date-time such as "
     "2026-12-01T23:59:00+00:00, got datetime.date(2026, 12, 3)"),
    ("[parts.mse_loss]\nvalue = 0\ngradient = 0\n", "parts.mse_loss: the weights sum to 0"),
])
def test_a_bad_policy_table_is_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(SettingsError) as refused:
        _settings(tmp_path, text)
    assert str(refused.value) == f"{tmp_path / 'grader.toml'}: {message}"


@pytest.mark.parametrize("text,expected", [
    ("2026-12-01T23:59:00+00:00", datetime(2026, 12, 1, 23, 59, tzinfo=UTC)),
    ("2026-12-01T23:59:00Z", datetime(2026, 12, 1, 23, 59, tzinfo=UTC)),
    ("2026-12-01 18:59:00-05:00", datetime(2026, 12, 1, 23, 59, tzinfo=UTC)),
])
def test_submission_times_are_read_with_their_offset(text, expected):
    assert parse_moment(text, "--submitted-at") == expected


@pytest.mark.parametrize("text,message", [
    ("2026-12-01T23:59:00", "--submitted-at: '2026-12-01T23:59:00' has no UTC offset (write "
     "2026-12-01T23:59:00+00:00 for UTC)"),
    ("yesterday", "--submitted-at: 'yesterday' is not a date-time such as "
     "2026-12-01T23:59:00+00:00"),
])
def test_a_time_without_offset_or_not_a_time_is_refused(text, message):
    with pytest.raises(PolicyError) as refused:
        parse_moment(text, "--submitted-at")
    assert str(refused.value) == message


def test_the_times_csv(tmp_path):
    path = tmp_path / "times.csv"
    path.write_text("student,submitted_at\nalice,2026-12-02T10:00:00Z\n,\n"
                    "bob,2026-12-01T10:00:00+01:00\n")
    assert read_times(path) == {"alice": datetime(2026, 12, 2, 10, tzinfo=UTC),
                                "bob": datetime(2026, 12, 1, 9, tzinfo=UTC)}
    path.write_text("student,submitted_at\nalice,2026-12-02T10:00:00Z\nalice,2026-12-02Z\n")
    with pytest.raises(PolicyError, match=r"line 3: alice is listed twice$"):
        read_times(path)
    path.write_text("name,when\n")
    with pytest.raises(PolicyError, match=r"needs the columns student \(or submission\) and "
                       r"submitted_at, has name, when$"):
        read_times(path)


# --- the gradebook keeps it, grading again or not -------------------------------------------

def _result(name: str, score: int, possible: int = 50) -> SubmissionResult:
    checks = [CheckResult("sigmoid", "sigmoid", possible, score, score == possible)]
    return SubmissionResult(name, name, f"hash-{score}", 1, "v", score, possible, checks,
                            "none", 0.1)


def test_times_marks_and_overrides_survive_grading_again(tmp_path):
    late = Policy(late=LatePolicy(BASE, 10, None, {"alice": BASE + timedelta(days=2)}))
    with Gradebook(tmp_path / "book.sqlite") as book:
        for name in ("alice", "bob", "carol"):
            book.record(_result(name, 40))
        book.set_submitted_at("alice", BASE + timedelta(days=1), "times")  # within extension
        book.set_submitted_at("bob", BASE + timedelta(hours=30), "flag")  # 2 days late
        book.set_submitted_at("carol", BASE - timedelta(hours=1), "mtime")
        book.set_manual([("alice", "q1", 2, 2), ("bob", "q1", 1, 2), ("bob", "q2", 3, 4)])
        book.set_override("carol", 45, "regrade request: dense_backward")
        before = totals(book, policy=late)
        # Graded again (a resubmission): the policy's tables stay.
        for name in ("alice", "bob", "carol"):
            book.record(_result(name, 42))
        # A file's mtime never replaces an explicit time.
        book.set_submitted_at("bob", BASE, "mtime")
        after = {t.submission: t for t in totals(book, policy=late)}
    assert [t.submission for t in before] == ["alice", "bob", "carol"]
    assert (after["alice"].manual, after["alice"].manual_max, after["alice"].late_penalty) == (
        2, 6, 0)
    assert after["alice"].total == 44
    # bob: 42 + 4 marks, 2 days at 10% of 56 = 11.2 points.
    assert (after["bob"].manual, after["bob"].late_penalty) == (4, 11.2)
    assert after["bob"].total == pytest.approx(34.8)
    assert (after["carol"].override, after["carol"].override_reason) == (
        45, "regrade request: dense_backward")
    assert (after["carol"].total, after["carol"].max_total) == (45, 56)
    assert (after["carol"].manual, after["carol"].late_penalty) == (0, 0)


def test_without_a_policy_the_totals_are_the_autograded_scores(tmp_path):
    with Gradebook(tmp_path / "book.sqlite") as book:
        book.record(_result("alice", 50))
        book.set_submitted_at("alice", BASE + timedelta(days=9), "flag")
        (only,) = totals(book)
    assert (only.total, only.max_total, only.late_penalty) == (50, 50, 0)


def test_the_override_command(tmp_path, capsys):
    path = tmp_path / "book.sqlite"
    with Gradebook(path) as book:
        book.record(_result("alice", 30))
    assert main(["override", str(path), "alice", "47.5", "--reason", "  excused absence "]) == 0
    assert capsys.readouterr().out == "alice: total set to 47.5 (excused absence)\n"
    with Gradebook(path) as book:
        book.record(_result("alice", 31))  # re-graded: the override stays
        assert [(t.total, t.override_reason) for t in totals(book)] == [
            (47.5, "excused absence")]
    assert main(["override", str(path), "alice", "--clear"]) == 0
    assert capsys.readouterr().out == "alice: override cleared\n"
    with Gradebook(path) as book:
        assert [(t.total, t.override) for t in totals(book)] == [(31, None)]
    assert main(["override", str(path), "alice", "--clear"]) == 0
    assert capsys.readouterr().out == "alice: had no override\n"
    assert main(["override", str(path), "zed", "40", "--reason", "x"]) == 2
    assert capsys.readouterr().err == f"error: unknown student 'zed' (not in {path})\n"
    assert main(["override", str(path), "alice", "40"]) == 2
    assert capsys.readouterr().err == "error: give SCORE and --reason TEXT (or --clear)\n"
    assert main(["override", str(tmp_path / "none.sqlite"), "alice", "4", "--reason", "x"]) == 2
    assert not (tmp_path / "none.sqlite").exists()


def test_grade_refuses_a_bad_policy_or_time_before_grading(tmp_path, capsys):
    config = tmp_path / "grader.toml"
    config.write_text("[points]\nnope = 1\n")
    submission = tmp_path / "s"
    submission.mkdir()
    book = tmp_path / "book.sqlite"
    assert main(["grade", str(submission), "--config", str(config), "--gradebook",
                 str(book)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {config}: [points] names no check: nope")
    assert main(["grade", str(submission), "--submitted-at", "noon", "--gradebook",
                 str(book)]) == 2
    assert capsys.readouterr().err == ("error: --submitted-at: 'noon' is not a date-time such "
                                       "as 2026-12-01T23:59:00+00:00\n")
    assert not book.exists()


def test_the_policy_through_grade_reaches_the_gradebook_and_the_totals(tmp_path, capsys):
    """One run of the CLI: [points] and [parts] rescore what is recorded (and a changed policy
    grades again), --times keeps the time, --manual brings the marks, totals apply [late]."""
    import shutil

    from grader.batch.written import questions

    examples = Path(__file__).resolve().parent.parent / "examples"
    shutil.copytree(examples / "buggy", tmp_path / "class" / "bob")
    config = tmp_path / "grader.toml"
    # dense_backward worth 8, db weighing 2 of 4: db costs 4. The class is bob alone, so
    # EXAMPLE's extensions (alice, "bob smith": no such submission) would be refused.
    config.write_text(EXAMPLE.split("[extensions]")[0])
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\nbob,2026-12-02T00:30:00+00:00\n")  # 1 day late
    scores = tmp_path / "scores.csv"
    scores.write_text("student,question,points,max\n"
                      + "".join(f"bob,{q.name},1,2\n" for q in questions()))
    book = tmp_path / "book.sqlite"
    args = ["grade", str(tmp_path / "class"), "--config", str(config), "--gradebook", str(book),
            "--times", str(times), "--manual", str(scores), "--workers", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    # examples/buggy is 40/50 by default, dense_backward 3 of 4; worth 8 with db weighing 2
    # of 4, it earns 4 of 8: 41/54.
    assert "bob         41/54" in out
    assert f"3 mark(s) from {scores} recorded in {book}" in out
    policy = Policy.from_settings(Settings.load(config))
    with Gradebook(book) as opened:
        rows = {c: (s, m) for _, c, s, m, *_ in opened.check_rows()}
        (bob,) = totals(opened, policy=policy)
        assert opened.submitted_times() == {"bob": datetime(2026, 12, 2, 0, 30, tzinfo=UTC)}
    assert rows["dense_backward"] == (4, 8)
    # 41 + 3 marks, 1 day late at 10% of (54 + 6).
    assert (bob.auto, bob.auto_max, bob.manual, bob.manual_max, bob.late_penalty) == (
        41, 54, 3, 6, 6)
    assert bob.total == 38
    # The same policy again: unchanged, skipped; another one: graded again.
    assert main(args[:-4]) == 0
    assert "1 unchanged submission(s) skipped" in capsys.readouterr().out
    config.write_text(EXAMPLE.split("[extensions]")[0].replace("dense_backward = 8",
                                                                "dense_backward = 4"))
    assert main(args[:-4]) == 0
    assert "bob         39/50" in capsys.readouterr().out  # db now costs 2 of 4
    with Gradebook(book) as opened:
        (bob,) = totals(opened, policy=Policy.from_settings(Settings.load(config)))
    # The marks and the time stayed: 39 + 3 - 10% of 56.
    assert (bob.manual, bob.late_penalty, bob.total) == (3, 5.6, pytest.approx(36.4))


def test_merging_shards_keeps_their_times_marks_and_overrides(tmp_path, capsys):
    shard = tmp_path / "shard.sqlite"
    with Gradebook(shard) as book:
        book.record(_result("alice", 40))
        book.set_submitted_at("alice", BASE + timedelta(days=1), "times")
        book.set_manual([("alice", "q1", 2, 2)])
        book.set_override("alice", 44, "reason")
        book.set_policy('{"late": {}}')
        book.set_extension_keys({"Alice A": "alice"})
    other = tmp_path / "other.sqlite"
    with Gradebook(other) as book:
        book.record(_result("bob", 30))
        book.set_policy('{"late": {}}')
        book.set_extension_keys({"S2": "bob"})
    target = tmp_path / "all.sqlite"
    with Gradebook(target) as book:
        book.record(_result("bob", 30))
        book.set_submitted_at("alice", BASE, "mtime")  # an explicit time from the shard wins
    assert main(["merge", str(target), str(shard), str(other)]) == 0
    with Gradebook(target) as book:
        assert book.policy() == '{"late": {}}'  # the policy the shards were graded with
        assert book.extension_keys() == {"Alice A": "alice", "S2": "bob"}  # each shard's
        assert book.submitted_times()["alice"] == BASE + timedelta(days=1)
        assert book.manual_scores() == [("alice", "q1", 2.0, 2.0)]
        assert book.overrides() == {"alice": (44.0, "reason")}


# --- where submission times come from, and what the instructor is told ---------------------------

LATE_TOML = "[late]\ndeadline = 2026-12-01T23:59:00+00:00\npenalty_per_day = 10\n"
MTIME_WARNING = (
    "warning: the late policy takes the submission time of {n} submission(s) from their files' "
    "modification times (mtime); copying the files (cp -r, unzipping, a download) resets "
    "mtimes and makes students look late: give the real times with --times CSV (student, "
    "submitted_at columns, e.g. from the LMS) or --submitted-at TIME")
LMS_NOTE = (
    "note: {n} submission(s) of an LMS download have no submission time (the files' times are "
    "the download's, not the students'): they are not penalised as late; give their times "
    "with --times CSV or --submitted-at TIME")
FLAG_WARNING = (
    "warning: {n} student(s) are marked late by Canvas (LATE_ in the file name) but no "
    "submission time was given, so they are not penalised: {names}; give their times with "
    "--times CSV")


@pytest.mark.parametrize("late_policy", [False, True])
@pytest.mark.parametrize("layout", ["folders", "canvas", "moodle"])
@pytest.mark.parametrize("given", ["nothing", "times", "submitted_at", "some times"])
def test_times_their_origin_and_the_warnings(tmp_path, late_policy, layout, given):
    """Every layout x every way of giving times x with/without [late]: plain folders fall back
    to the mtime (warned, with a late policy); LMS downloads never do (no time: noted, not
    penalised; Canvas's LATE_ with no time: warned by name); a given time is kept with its
    origin."""
    from grader.batch.classroom import ClassList, GradeOptions, record_times
    from grader.batch.lms import Found

    names = ["ann", "bob", "cat"]
    paths = []
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "activations.py").write_text("x = 1\n")
        paths.append(tmp_path / name)
    late = {"bob", "cat"} if layout == "canvas" else set()
    found = [Found(n, layout, [p], [p.name], "1" if layout != "folders" else "", n in late)
             for n, p in zip(names, paths, strict=True)]
    config = tmp_path / "grader.toml"
    config.write_text(LATE_TOML if late_policy else "")
    times = {"ann": BASE, "bob": BASE, "cat": BASE} if given == "times" else (
        {"ann": BASE} if given == "some times" else None)
    options = GradeOptions(paths=tuple(paths), settings=Settings.load(config), times=times,
                           submitted_at=BASE if given == "submitted_at" else None)
    with Gradebook(Path(":memory:")) as book:
        said = record_times(book, paths, options, ClassList(found, None))
        recorded = book.submission_times()
    timed = set(times or {}) | (set(names) if given == "submitted_at" else set())
    untimed = [n for n in names if n not in timed]
    origin = "flag" if given == "submitted_at" else "times"
    for name in timed:
        assert recorded[name] == (BASE, origin)
    expected = []
    if layout == "folders":
        assert {n: o for n, (_, o) in recorded.items() if n in untimed} == {
            n: "mtime" for n in untimed}
        if untimed:
            expected.append(MTIME_WARNING.format(n=len(untimed)))
    else:
        assert set(recorded) == timed  # a download's mtime is never a submission time
        if untimed:
            expected.append(LMS_NOTE.format(n=len(untimed)))
        flagged = sorted(n for n in untimed if n in late)
        if flagged:
            expected.append(FLAG_WARNING.format(n=len(flagged), names=", ".join(flagged)))
    assert said == (expected if late_policy else [])


FILE_TIME = datetime(2026, 12, 5, tzinfo=UTC)


def test_a_copied_class_is_warned_about_once_on_stderr(tmp_path, capsys):
    """Through the CLI: a class folder graded with a late policy and no times says so once."""
    import shutil

    examples = Path(__file__).resolve().parent.parent / "examples"
    shutil.copytree(examples / "buggy", tmp_path / "class" / "bob")
    config = tmp_path / "grader.toml"
    import os

    for path in [tmp_path / "class" / "bob", *(tmp_path / "class" / "bob").rglob("*")]:
        os.utime(path, (FILE_TIME.timestamp(), FILE_TIME.timestamp()))
    # An extension keyed by the roster's name: grade stores whose it is.
    config.write_text(LATE_TOML + '[extensions]\n"Bob Smith" = 2026-12-09T00:00:00+00:00\n')
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email,submission\nS2,Bob Smith,bob@uni.edu,bob\n")
    assert main(["grade", str(tmp_path / "class"), "--config", str(config), "--gradebook",
                 str(tmp_path / "book.sqlite"), "--workers", "1", "--roster", str(roster)]) == 0
    err = capsys.readouterr().err
    assert err.count(MTIME_WARNING.format(n=1)) == 1
    with Gradebook(tmp_path / "book.sqlite") as book:
        assert book.submission_times()["bob"][1] == "mtime"
        assert book.extension_keys() == {"Bob Smith": "bob"}
        assert book.submitted_times()["bob"] == FILE_TIME
        # without the roster, totals still find bob's extension: 4 days late, not penalised
        (bob,) = totals(book, policy=Policy.from_settings(Settings.load(config)))
        assert bob.late_penalty == 0
        (bob,) = totals(book, policy=Policy(late=LatePolicy(BASE, 10)))
        assert bob.late_penalty == 20  # without it: 4 started days x 10% of 50
        # grade keeps the policy it graded with, for export/report without --config
        assert book.policy() == policy_text(Settings.load(config))


# --- the policy a class was graded with, kept in the gradebook ---------------------------------

def _toml(deadline: datetime, percent: int, max_days: int | None, extensions: dict,
          points: int | None) -> str:
    text = "seed = 3\n"
    if points is not None:
        text += f"[points]\nsigmoid = {points}\n"
    text += f"[late]\ndeadline = {deadline.isoformat()}\npenalty_per_day = {percent}\n"
    text += f"max_days = {max_days}\n" if max_days is not None else ""
    if extensions:
        text += "[extensions]\n" + "".join(f'"{k}" = {v.isoformat()}\n'
                                             for k, v in extensions.items())
    return text


POLICIES = st.builds(_toml, MOMENTS, st.integers(0, 100), st.none() | st.integers(0, 9),
                     st.dictionaries(st.sampled_from(["alice", "Bob Li", "ü.x"]), MOMENTS,
                                     max_size=3),
                     st.none() | st.integers(0, 9))


@settings(derandomize=True, deadline=None, max_examples=scaled(60))
@given(POLICIES)
def test_a_stored_policy_reads_back_as_the_same_policy(text):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "grader.toml"
        config.write_text(text, encoding="utf-8")
        loaded = Settings.load(config)
    stored = policy_text(loaded)
    back = stored_settings(stored)
    assert policy_text(back) == stored
    assert Policy.from_settings(back) == Policy.from_settings(loaded)


def _graded_book(tmp_path: Path, config_text: str | None) -> Path:
    """A gradebook with bob one day late (40/50), graded under ``config_text``'s policy."""
    path = tmp_path / "book.sqlite"
    with Gradebook(path) as book:
        book.record(_result("bob", 40))
        book.set_submitted_at("bob", BASE + timedelta(hours=1), "times")
        if config_text is not None:
            (tmp_path / "graded.toml").write_text(config_text)
            book.set_policy(policy_text(Settings.load(tmp_path / "graded.toml")))
    return path


GRADED = "[late]\ndeadline = 2026-12-01T23:59:00+00:00\npenalty_per_day = 10\n"


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize("stored,given,applied,said", [
    (GRADED, None, 5, ["late policy: as graded (stored in the gradebook)"]),
    (GRADED, GRADED, 5, []),
    (GRADED, GRADED.replace("= 10", "= 20"), 10, ["note: the policy of {config} differs from "
     "the one the class was graded with (stored in the gradebook); {config}'s applies"]),
    (GRADED, "", 0, ["note: the policy of {config} differs from the one the class was graded "
                     "with (stored in the gradebook); {config}'s applies"]),
    (None, None, 0, []),  # graded before the policy was stored: nothing to apply
    ("", None, 0, []),  # graded without a policy
    ("", GRADED, 5, ["note: the policy of {config} differs from the one the class was graded "
                     "with (stored in the gradebook); {config}'s applies"]),
])
def test_export_and_report_apply_the_policy_the_class_was_graded_with(
        tmp_path, monkeypatch, capsys, command, stored, given, applied, said):
    monkeypatch.chdir(tmp_path)  # no ./grader.toml
    book = _graded_book(tmp_path, stored)
    args = [command, str(book)]
    args += ["--csv", str(tmp_path / "out.csv")] if command == "export" else [
        "--out", str(tmp_path / "report")]
    config = tmp_path / "given.toml"
    if given is not None:
        config.write_text(given)
        args += ["--config", str(config)]
    seen = []
    import grader.batch.totals as totals_module

    real = totals_module.totals

    def spy(gradebook, *, policy=None):
        rows = real(gradebook, policy=policy)
        seen.extend(r.late_penalty for r in rows)
        return rows

    import grader.batch.exports as exports_module

    # Every export and the report read their totals through the exports' rows.
    monkeypatch.setattr(totals_module, "totals", spy)
    monkeypatch.setattr(exports_module, "totals", spy)
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    wanted = [line.format(config=config) for line in said]
    assert [line for line in err if line.startswith(("late policy:", "note: the policy"))] \
        == wanted
    assert seen and set(seen) == {applied}  # 10% (or 20%) of 50 for one day late


# --- [extensions] keys: an identity, or with a roster a row's id, name, email or submission ----

from grader.batch.policy import resolve_extensions  # noqa: E402
from grader.batch.roster import Matching, Student  # noqa: E402

ROSTER = [
    Student("S1", "Ann Lee", "ann@uni.edu", "ann_1001", line=2),
    Student("S2", "Bob Smith", "Bob.Smith@uni.edu", "1002", line=3),
    Student("S3", "Cat Wu", "cat@uni.edu", "", line=4),  # no submission handed in
    Student("S4", "Li Na", "li1@uni.edu", "li_a", line=5),
    Student("S5", "Li Na", "li2@uni.edu", "li_b", line=6),  # the same name twice
]
IDENTITIES = {"ann_1001", "smithbob_1002", "li_a", "li_b", "stranger"}
MATCHING = Matching(by_student={"S1": "ann_1001", "S2": "smithbob_1002", "S4": "li_a",
                                "S5": "li_b"}, unknown=["stranger"], no_submission=[ROSTER[2]])
ALL_KEYS = "is a submission's identity (as the score table shows it) or a roster id, name, email"
NO_ROSTER = ("matches no submission: a key is a submission's identity (as the score table shows "
             "it); with --roster, also a roster id, name, email or submission cell")


@pytest.mark.parametrize(("key", "identity"), [
    ("ann_1001", "ann_1001"), ("stranger", "stranger"),  # identities, on the roster or not
    ("S1", "ann_1001"), ("s1", "ann_1001"),  # roster id (case ignored when nothing exact)
    ("Ann Lee", "ann_1001"), ("ANN LEE", "ann_1001"), (" Ann Lee ", "ann_1001"),  # name
    ("ann@uni.edu", "ann_1001"), ("bob.smith@UNI.edu", "smithbob_1002"),  # email
    ("1002", "smithbob_1002"),  # the submission cell: the LMS user id
    ("li1@uni.edu", "li_a"), ("S5", "li_b"),  # the ambiguous name's students, keyed clearly
])
def test_an_extension_key_finds_its_students_submission(key, identity):
    resolved = resolve_extensions({key: BASE}, IDENTITIES, ROSTER, MATCHING, where="g.toml")
    assert (resolved.by_identity, resolved.keys, resolved.problems) == (
        {identity: BASE}, {key: identity}, [])
    late = LatePolicy(BASE - timedelta(days=3), 10, None, {key: BASE}).resolved(resolved)
    assert late.due(identity) == BASE


@pytest.mark.parametrize(("key", "problem"), [
    ("zed", f"g.toml: [extensions] 'zed' matches no submission and no roster row: a key "
            f"{ALL_KEYS} or submission cell"),
    ("ann", f"g.toml: [extensions] 'ann' matches no submission and no roster row: a key "
            f"{ALL_KEYS} or submission cell"),  # not a prefix, not a glob
    ("Li Na", "g.toml: [extensions] 'Li Na' matches 2 roster rows (ids S4, S5): key it by the "
              "student's id"),
])
def test_an_extension_key_finding_nobody_or_several_is_named(key, problem):
    resolved = resolve_extensions({key: BASE}, IDENTITIES, ROSTER, MATCHING, where="g.toml")
    assert (resolved.by_identity, resolved.problems) == ({}, [problem])


def test_a_roster_row_without_a_submission_and_two_keys_for_one_student():
    resolved = resolve_extensions({"Cat Wu": BASE}, IDENTITIES, ROSTER, MATCHING)
    assert (resolved.by_identity, resolved.problems) == ({}, [])  # nothing to extend
    resolved = resolve_extensions({"S1": BASE, "ann@uni.edu": BASE + timedelta(days=1)},
                                  IDENTITIES, ROSTER, MATCHING, where="g.toml")
    assert resolved.by_identity == {"ann_1001": BASE + timedelta(days=1)}  # the later
    assert resolved.problems == ["g.toml: [extensions] 'S1' and 'ann@uni.edu' both name "
                                 "'ann_1001': keep one"]
    # Without a roster only identities (and keys a grade resolved before) are keys.
    resolved = resolve_extensions({"S1": BASE, "Bob Smith": BASE}, IDENTITIES,
                                  known={"Bob Smith": "smithbob_1002"}, where="g.toml")
    assert resolved.by_identity == {"smithbob_1002": BASE}
    assert resolved.problems == [f"g.toml: [extensions] 'S1' {NO_ROSTER}"]


KEY_KINDS = st.sampled_from(["identity", "id", "name", "email", "submission", "upper", "junk"])


@PROFILE
@given(st.lists(st.tuples(st.integers(0, 4), KEY_KINDS), max_size=6), st.booleans())
def test_every_extension_key_is_applied_named_as_a_problem_or_has_no_submission(picks, roster):
    """Generated keys of every kind: each ends up extending a recorded submission, or in one
    problem line naming it, or (on the roster, nothing handed in) extends nobody; never a key
    silently dropped, never an extension for a submission that does not exist."""
    extensions = {}
    for index, kind in picks:
        s = ROSTER[index]
        key = {"identity": MATCHING.by_student.get(s.id, "stranger"), "id": s.id, "name": s.name,
               "email": s.email, "submission": s.submission or s.id, "upper": s.id.lower(),
               "junk": f"nobody{index}"}[kind]
        extensions[key] = BASE + timedelta(hours=index)
    resolved = resolve_extensions(extensions, IDENTITIES, ROSTER if roster else None,
                                  MATCHING if roster else None)
    assert set(resolved.by_identity) <= IDENTITIES
    for key in extensions:
        named = [line for line in resolved.problems if repr(key) in line]
        on_roster_without_work = roster and key in {"S3", "Cat Wu", "cat@uni.edu", "s3"}
        assert key in resolved.keys or named or on_roster_without_work, key
        if key in IDENTITIES:
            assert resolved.keys[key] == key
    assert set(resolved.keys.values()) == set(resolved.by_identity)


def test_grade_refuses_an_extension_for_nobody_and_export_warns(tmp_path, capsys, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    examples = Path(__file__).resolve().parent.parent / "examples"
    shutil.copytree(examples / "buggy", tmp_path / "class" / "bob")
    config = tmp_path / "grader.toml"
    config.write_text(GRADED + "[extensions]\nzed = 2026-12-05T00:00:00+00:00\n")
    book = tmp_path / "book.sqlite"
    assert main(["grade", str(tmp_path / "class"), "--config", str(config), "--gradebook",
                 str(book)]) == 2
    assert capsys.readouterr().err == (f"error: {config}: [extensions] 'zed' {NO_ROSTER}\n")
    assert not book.exists()  # refused before anything is graded or written
    # export: the same key is a warning, and the export is written
    _graded_book(tmp_path, GRADED)
    out = tmp_path / "out.csv"
    assert main(["export", str(book), "--csv", str(out), "--config", str(config)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert f"warning: {config}: [extensions] 'zed' {NO_ROSTER}" in err
    assert out.is_file()


def test_export_with_a_roster_applies_an_extension_keyed_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    book = _graded_book(tmp_path, GRADED)  # bob: one hour late, 40/50
    roster = tmp_path / "roster.csv"
    roster.write_text("id;name;email;submission\nS2;Bob Smith;bob@uni.edu;bob\n")
    out = tmp_path / "out.csv"
    for key in ("Bob Smith", "S2", "bob@uni.edu", "BOB@uni.edu", "bob"):
        config = tmp_path / "given.toml"
        config.write_text(GRADED + f'[extensions]\n"{key}" = 2026-12-03T00:00:00+00:00\n')
        assert main(["export", str(book), "--csv", str(out), "--config", str(config),
                     "--roster", str(roster)]) == 0
        assert not [line for line in capsys.readouterr().err.splitlines()
                    if line.startswith("warning")]
        import csv

        rows = list(csv.DictReader(out.open()))
        assert rows[0]["score"] == "40", key  # the extension holds: no late penalty
    config.write_text(GRADED)
    assert main(["export", str(book), "--csv", str(out), "--config", str(config)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["score"] == "35"  # without it: 10% of 50 for a started day
