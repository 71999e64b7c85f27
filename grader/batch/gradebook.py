"""The class gradebook: one SQLite file, one row per submission x check.

Each submission's rows are replaced in a single transaction, so a batch killed at any moment
leaves every submission either fully recorded or not at all; re-running skips submissions whose
content hash, seed and grader version are already recorded, and grades the rest.

Submissions are keyed by their identity (``identity.submission_name``), always valid Unicode.
Text SQLite cannot store (lone surrogates from file names that are not UTF-8) is written with
``\\xNN`` escapes, and the exact bytes of each submission's path are kept in ``sources``, so the
original file name stays recoverable. Every CSV cell the grader writes goes through
``identity.csv_cell`` (no formula injection).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from grader.batch.identity import csv_cell, fs_text
from grader.batch.results import SubmissionResult, outcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    seed INTEGER NOT NULL,
    score INTEGER NOT NULL,
    max_score INTEGER NOT NULL,
    sandbox TEXT NOT NULL,
    seconds REAL NOT NULL,
    error TEXT,
    notes TEXT NOT NULL,
    graded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    submission TEXT NOT NULL REFERENCES submissions(name) ON DELETE CASCADE,
    check_name TEXT NOT NULL,
    score INTEGER NOT NULL,
    max_score INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    feedback TEXT NOT NULL,
    diagnosis TEXT,
    tags TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    seed INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    outcome TEXT,
    PRIMARY KEY (submission, check_name)
);
CREATE TABLE IF NOT EXISTS sources (
    submission TEXT PRIMARY KEY REFERENCES submissions(name) ON DELETE CASCADE,
    path BLOB NOT NULL
);
""" + """
-- The instructor's side of a grade (batch.totals): no foreign key on purpose, so grading a
-- submission again (which replaces its rows above) keeps its time, marks and override.
CREATE TABLE IF NOT EXISTS submitted_times (
    submission TEXT PRIMARY KEY,
    submitted_at TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS manual_scores (
    submission TEXT NOT NULL,
    question TEXT NOT NULL,
    points REAL NOT NULL,
    max_points REAL NOT NULL,
    PRIMARY KEY (submission, question)
);
-- What the class was graded with: "policy" (batch.policy.policy_text), so an export or a
-- report without --config applies the same late policy.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS overrides (
    submission TEXT PRIMARY KEY,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    set_at TEXT NOT NULL
);
"""

# Where each submission was found (batch.lms): the layout, the student's user id in an LMS
# download, the original file names (JSON) and Canvas's LATE marker. What a roster matches
# against when the gradebook is exported, long after the download is gone.
ORIGINS = """
CREATE TABLE IF NOT EXISTS origins (
    submission TEXT PRIMARY KEY REFERENCES submissions(name) ON DELETE CASCADE,
    layout TEXT NOT NULL,
    lms_user TEXT NOT NULL,
    names TEXT NOT NULL,
    late INTEGER NOT NULL
);
"""


def _path_bytes(source: str) -> bytes:
    """The exact bytes of a path Python read from the file system (PEP 383 round trip)."""
    try:
        return os.fsencode(source)
    except UnicodeEncodeError:  # not from the file system: keep what there is
        return source.encode("utf-8", "surrogatepass")


def _text(value: str | None) -> str | None:
    return None if value is None else fs_text(value)


def write_csv(path: Path, rows: Iterable[Iterable[object]]) -> Path:
    """Write ``rows`` as CSV with every cell made safe by ``csv_cell``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for row in rows:
            writer.writerow([csv_cell(cell) for cell in row])
    return path


class Gradebook:
    """A SQLite gradebook; safe to reopen and resume."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)
        _add_outcome_column(self.db)
        self.db.executescript(ORIGINS)

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def is_current(self, name: str, content_hash: str, seed: int, version: str) -> bool:
        """True when this exact content was already graded with this seed and grader."""
        row = self.db.execute(
            "SELECT content_hash, seed, grader_version FROM submissions WHERE name = ?", (name,)
        ).fetchone()
        return row == (content_hash, seed, version)

    def record(self, result: SubmissionResult) -> None:
        name = fs_text(result.name)
        with self.db:  # one transaction: all of a submission's rows, or none
            self.db.execute("DELETE FROM results WHERE submission = ?", (name,))
            self.db.execute("DELETE FROM submissions WHERE name = ?", (name,))
            self.db.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, fs_text(result.source), result.content_hash, result.grader_version,
                 result.seed, result.score, result.max_score, result.sandbox, result.seconds,
                 _text(result.error), json.dumps(result.notes),
                 datetime.now(UTC).isoformat(timespec="seconds")),
            )
            self.db.execute("INSERT INTO sources VALUES (?, ?)",
                            (name, _path_bytes(result.source)))
            self.db.executemany(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(name, c.name, c.score, c.max_score, int(c.passed), fs_text(c.feedback),
                  _text(c.diagnosis), json.dumps(list(c.tags)), result.grader_version,
                  result.seed, result.content_hash, outcome(c)) for c in result.checks],
            )

    def original_path(self, name: str) -> bytes | None:
        """The exact bytes of the path submission ``name`` was graded from (None if unknown).

        ``os.fsdecode`` of it gives back the ``Path`` Python read, bytes that are not UTF-8
        included.
        """
        row = self.db.execute("SELECT path FROM sources WHERE submission = ?",
                              (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def merge_from(self, other: Path) -> tuple[int, int]:
        """Copy every submission of another gradebook (a shard's) into this one.

        A submission already here is replaced only when the other copy was graded later, and
        always with all of its rows in one transaction, so nothing is lost or doubled.
        Returns (copied, kept) counts.
        """
        copied = kept = 0
        source = sqlite3.connect(Path(other))
        try:
            for row in source.execute("SELECT * FROM submissions").fetchall():
                name, graded_at = row[0], row[-1]
                mine = self.db.execute("SELECT graded_at FROM submissions WHERE name = ?",
                                       (name,)).fetchone()
                if mine is not None and mine[0] >= graded_at:
                    kept += 1
                    continue
                # In grading order: without ORDER BY, SQLite reads them through the primary key
                # (alphabetically), and the merged CSV's columns would come out in another order.
                cursor = source.execute("SELECT * FROM results WHERE submission = ? "
                                        "ORDER BY rowid", (name,))
                checks = cursor.fetchall()
                checks_columns = [column[0] for column in cursor.description]
                original = _source_row(source, name)
                with self.db:
                    self.db.execute("DELETE FROM results WHERE submission = ?", (name,))
                    self.db.execute("DELETE FROM submissions WHERE name = ?", (name,))
                    self.db.execute(f"INSERT INTO submissions VALUES ({_marks(row)})", row)
                    if original is not None:
                        self.db.execute("INSERT INTO sources VALUES (?, ?)", original)
                    if checks:
                        # By column name: a shard written before a column was added has fewer.
                        columns = ", ".join(checks_columns)
                        self.db.executemany(f"INSERT INTO results ({columns}) VALUES "
                                            f"({_marks(checks[0])})", checks)
                    _copy_origin(source, self.db, name)
                copied += 1
        finally:
            source.close()
        return copied, kept

    def scores(self) -> list[tuple[str, int, int]]:
        return self.db.execute(
            "SELECT name, score, max_score FROM submissions ORDER BY name").fetchall()

    def errors(self) -> dict[str, str]:
        """Why each submission that could not be graded got its 0 (only those)."""
        return dict(self.db.execute(
            "SELECT name, error FROM submissions WHERE error IS NOT NULL AND error != ''"))

    def check_rows(self, with_outcome: bool = False) -> list[tuple]:
        """(submission, check, score, max_score, passed, feedback, diagnosis[, outcome]) rows,
        each submission's checks in grading order. The outcome (``results.OUTCOMES``) of a row
        recorded before outcomes were stored is "pass" or "fail"."""
        outcome_column = (", COALESCE(outcome, CASE passed WHEN 1 THEN 'pass' ELSE 'fail' END)"
                          if with_outcome else "")
        return self.db.execute(
            "SELECT submission, check_name, score, max_score, passed, feedback, diagnosis"
            f"{outcome_column} FROM results ORDER BY submission, rowid").fetchall()

    # --- identity: where submissions came from, which are gone, the checks' order -----------

    def record_origin(self, name: str, layout: str, lms_user: str = "",
                      names: Iterable[str] = (), late: bool = False) -> None:
        """Keep where submission ``name`` was found (``lms.Found``); nothing when ``name`` is
        not recorded (its row would be removed with the submission anyway)."""
        name = fs_text(name)
        with self.db:
            if self.db.execute("SELECT 1 FROM submissions WHERE name = ?", (name,)).fetchone():
                self.db.execute("INSERT OR REPLACE INTO origins VALUES (?, ?, ?, ?, ?)",
                                (name, layout, fs_text(lms_user),
                                 json.dumps([fs_text(n) for n in names]), int(late)))

    def origins(self) -> dict[str, tuple[str, str, list[str], bool]]:
        """Each submission's (layout, LMS user id, original names, late) as recorded."""
        return {name: (layout, user, json.loads(names), bool(late)) for name, layout, user,
                names, late in self.db.execute("SELECT * FROM origins")}

    def names(self) -> list[str]:
        """Every recorded submission, by name."""
        return [row[0] for row in self.db.execute("SELECT name FROM submissions ORDER BY name")]

    def prune(self, keep: Iterable[str], dry_run: bool = False) -> list[str]:
        """Remove every submission whose name is not in ``keep`` (with all its rows, in one
        transaction); returns the names removed (or, with ``dry_run``, that would be).

        Names are compared after NFC normalisation, as ``identity.check_unique`` does."""
        kept = {unicodedata.normalize("NFC", fs_text(n)) for n in keep}
        gone = [n for n in self.names() if unicodedata.normalize("NFC", n) not in kept]
        if gone and not dry_run:
            with self.db:
                self.db.executemany("DELETE FROM submissions WHERE name = ?",
                                    [(n,) for n in gone])
        return gone

    def check_order(self) -> list[str]:
        """The check columns of every export: the recorded checks in the assignment's order (the
        check registry), then any the registry no longer has, by name. Never SQL's row order,
        which a merge or a re-run can change."""
        from grader.checking import checks as _registered  # noqa: F401 - fills REGISTRY
        from grader.checking.trial import REGISTRY

        recorded = {row[0] for row in self.db.execute("SELECT DISTINCT check_name FROM results")}
        return [c for c in REGISTRY if c in recorded] + sorted(recorded - set(REGISTRY))

    def export_csv(self, path: Path) -> Path:
        """One row per submission: the autograder's score, each check's score (in the
        assignment's order, ``check_order``), then ``not_graded``: the one-line reason when the
        submission could not be graded (its 0). The commands write ``exports.export``'s files
        instead, whose totals include manual points and the late policy; without those the two
        are the same bytes.

        Names are written as recorded, except that a cell a spreadsheet would run as a formula
        gets a leading ``'`` and control characters other than tab/CR/LF are shown as escapes
        (``identity.csv_cell``); scores stay numbers.
        """
        checks = self.check_order()
        per_submission: dict[str, dict[str, int]] = {}
        for submission, check_name, score, *_ in self.check_rows():
            per_submission.setdefault(submission, {})[check_name] = score
        errors = self.errors()
        table = [["submission", "score", "max_score", *checks, "not_graded"]]
        for name, score, possible in self.scores():
            marks = per_submission.get(name, {})
            table.append([name, score, possible, *(marks.get(c, "") for c in checks),
                          errors.get(name, "")])
        return write_csv(path, table)

    # --- the policy's tables (submission times, written marks, overrides) ------------------

    def set_submitted_at(self, name: str, when: datetime, origin: str) -> None:
        """Record when ``name`` was submitted. ``origin`` "mtime" (the file's time) never
        replaces a time given explicitly (--submitted-at, --times, an LMS layout)."""
        if when.tzinfo is None:
            raise ValueError(f"the submission time of {name} has no UTC offset")
        with self.db:
            if origin == "mtime":
                row = self.db.execute("SELECT origin FROM submitted_times WHERE submission = ?",
                                      (fs_text(name),)).fetchone()
                if row is not None and row[0] != "mtime":
                    return
            self.db.execute("INSERT OR REPLACE INTO submitted_times VALUES (?, ?, ?)",
                            (fs_text(name), when.isoformat(), origin))

    def submitted_times(self) -> dict[str, datetime]:
        """Each submission's recorded time (aware datetimes)."""
        return {name: datetime.fromisoformat(when) for name, when in
                self.db.execute("SELECT submission, submitted_at FROM submitted_times")}

    def submission_times(self) -> dict[str, tuple[datetime, str]]:
        """Each submission's recorded (time, origin): origin "times" (--times), "flag"
        (--submitted-at) or "mtime" (the file's modification time), for reports to show
        where a late penalty's time came from."""
        return {name: (datetime.fromisoformat(when), origin) for name, when, origin in
                self.db.execute("SELECT submission, submitted_at, origin FROM submitted_times")}

    def set_policy(self, text: str) -> None:
        """Keep the points policy the class is graded with (``policy.policy_text``); the
        latest ``grade`` wins."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('policy', ?)", (text,))

    def policy(self) -> str | None:
        """The stored points policy (``policy.policy_text``), None when never graded here."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'policy'").fetchone()
        return None if row is None else row[0]

    def set_extension_keys(self, keys: dict[str, str]) -> None:
        """Keep which submission each [extensions] key named (``policy.Extensions.keys``),
        added to those kept before (a key given again takes its new submission)."""
        merged = self.extension_keys() | {fs_text(k): fs_text(v) for k, v in keys.items()}
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('extension_keys', ?)",
                            (json.dumps(merged, sort_keys=True),))

    def extension_keys(self) -> dict[str, str]:
        """[extensions] key -> the submission identity a ``grade`` resolved it to."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'extension_keys'").fetchone()
        return {} if row is None else json.loads(row[0])

    def set_manual(self, rows: Iterable[tuple[str, str, float, float]]) -> int:
        """Record marks of written answers, (submission, question, points, max), in one
        transaction; a mark given again replaces the old one. Returns how many."""
        rows = [(fs_text(s), fs_text(q), float(p), float(m)) for s, q, p, m in rows]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO manual_scores VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def manual_scores(self) -> list[tuple[str, str, float, float]]:
        """Every mark: (submission, question, points, max), by submission then question."""
        return self.db.execute("SELECT submission, question, points, max_points FROM "
                               "manual_scores ORDER BY submission, question").fetchall()

    def set_override(self, name: str, score: float, reason: str) -> None:
        """Set ``name``'s total by hand, with the reason (kept across re-grades)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?)",
                            (fs_text(name), float(score), fs_text(reason),
                             datetime.now(UTC).isoformat(timespec="seconds")))

    def clear_override(self, name: str) -> bool:
        """Remove ``name``'s override; whether there was one."""
        with self.db:
            return self.db.execute("DELETE FROM overrides WHERE submission = ?",
                                   (fs_text(name),)).rowcount > 0

    def overrides(self) -> dict[str, tuple[float, str]]:
        """Each overridden submission's (score, reason)."""
        return {name: (score, reason) for name, score, reason in
                self.db.execute("SELECT submission, score, reason FROM overrides")}

    def merge_policy_from(self, other: Path) -> None:
        """Copy another gradebook's (a shard's) times, marks, overrides and stored policy:
        what this one already holds stays, except that an explicit time replaces a file's
        mtime."""
        source = sqlite3.connect(Path(other))
        try:
            try:
                times = source.execute("SELECT * FROM submitted_times").fetchall()
                marks = source.execute("SELECT * FROM manual_scores").fetchall()
                overrides = source.execute("SELECT * FROM overrides").fetchall()
                try:
                    meta = dict(source.execute("SELECT key, value FROM meta"))
                except sqlite3.OperationalError:  # a shard written before the table existed
                    meta = {}
            except sqlite3.OperationalError:  # a gradebook written before the tables existed
                return
        finally:
            source.close()
        with self.db:
            for name, when, origin in times:
                mine = self.db.execute("SELECT origin FROM submitted_times WHERE submission = ?",
                                       (name,)).fetchone()
                if mine is None or (mine[0] == "mtime" and origin != "mtime"):
                    self.db.execute("INSERT OR REPLACE INTO submitted_times VALUES (?, ?, ?)",
                                    (name, when, origin))
            self.db.executemany("INSERT OR IGNORE INTO manual_scores VALUES (?, ?, ?, ?)", marks)
            self.db.executemany("INSERT OR IGNORE INTO overrides VALUES (?, ?, ?, ?)", overrides)
            if "policy" in meta:  # the shards were graded with one policy: keep the first
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('policy', ?)",
                                (meta["policy"],))
        if "extension_keys" in meta:  # each shard resolved its own students' keys
            self.set_extension_keys(json.loads(meta["extension_keys"]))


def _add_outcome_column(db: sqlite3.Connection) -> None:
    """Bring a gradebook from before outcomes were stored up to date (its rows keep NULL)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
    if "outcome" not in columns:
        with db:
            db.execute("ALTER TABLE results ADD COLUMN outcome TEXT")


def _source_row(db: sqlite3.Connection, name: str) -> tuple | None:
    try:
        return db.execute("SELECT submission, path FROM sources WHERE submission = ?",
                          (name,)).fetchone()
    except sqlite3.OperationalError:  # a gradebook written before the table existed
        return None


def _copy_origin(source: sqlite3.Connection, target: sqlite3.Connection, name: str) -> None:
    try:
        row = source.execute("SELECT * FROM origins WHERE submission = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # a gradebook written before the table existed
        return
    if row is not None:
        target.execute("INSERT OR REPLACE INTO origins VALUES (?, ?, ?, ?, ?)", row)


def _marks(row: tuple) -> str:
    return ", ".join("?" * len(row))
