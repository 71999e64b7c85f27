"""The points policy of grader.toml as the grader applies it: points per check, the split of a
check's points over its sub-parts, the late policy and per-student extensions.

``Policy.from_settings`` checks the names against the checks (an unknown check or part is a
one-line ``PolicyError`` before anything is graded). ``Policy.score`` re-scores one
submission's results under ``[points]`` and ``[parts]`` (the verdicts stay the judge's);
``LatePolicy.penalty`` is the late arithmetic the totals use (``batch.totals``).

Late penalties are percents of the maximum (autograded + written points) per day late or part
of a day, from the student's own deadline (an extension replaces the class deadline), capped at
``max_days`` days, and never more than the points earned: a total never goes below 0.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import stat
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from grader.batch.results import SubmissionResult
from grader.batch.roster import Matching, Student
from grader.checking.judge import apply_points, total
from grader.checking.trial import REGISTRY, whole
from grader.settings import Settings, SettingsError

DAY_SECONDS = 86400.0


class PolicyError(SettingsError):
    """The points policy names a check or a part that does not exist, or omits a part."""


@dataclass(frozen=True)
class LatePolicy:
    """[late] and [extensions]: the deadline, the penalty (percent of the maximum per day late,
    or part of a day), the most days penalised (None: no cap) and each student's own deadline."""

    deadline: datetime | None = None
    penalty_per_day: float = 0.0
    max_days: int | None = None
    extensions: dict[str, datetime] = field(default_factory=dict)

    def due(self, student: str) -> datetime | None:
        """The deadline that holds for ``student``: an extension wins over the class's."""
        return self.extensions.get(student, self.deadline)

    def days_late(self, student: str, submitted_at: datetime | None) -> int:
        """Whole days late, a started day counting as one (0 when on time or unknown)."""
        due = self.due(student)
        if due is None or submitted_at is None or submitted_at <= due:
            return 0
        days = math.ceil((submitted_at - due).total_seconds() / DAY_SECONDS)
        return days if self.max_days is None else min(days, self.max_days)

    def resolved(self, extensions: Extensions) -> LatePolicy:
        """This policy with its extensions keyed by submission identity (``resolve_extensions``)."""
        return replace(self, extensions=dict(extensions.by_identity))

    def penalty(self, student: str, submitted_at: datetime | None, max_total: float,
                earned: float) -> int | float:
        """Points taken from ``earned`` (never more than it, never below 0)."""
        days = self.days_late(student, submitted_at)
        taken = max_total * self.penalty_per_day / 100.0 * days
        return whole(min(max(earned, 0.0), taken))


@dataclass(frozen=True)
class Policy:
    """grader.toml's points policy: ``points`` (check -> points), ``weights`` (check -> part ->
    relative weight) and the late policy. ``Policy()`` is today's: 50 points, the default
    splits, no late penalty."""

    points: dict[str, float] = field(default_factory=dict)
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    late: LatePolicy = LatePolicy()
    # Where it was read (for messages): not part of the policy.
    source: str = field(default="grader.toml", compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy of ``settings``; PolicyError for an unknown check or part."""
        where = settings.source or "grader.toml"
        points = dict(settings.tables.get("points", {}))
        unknown = sorted(set(points) - set(REGISTRY))
        if unknown:
            raise PolicyError(f"{where}: [points] names no check: {', '.join(unknown)}; checks: "
                              f"{', '.join(REGISTRY)}")
        weights = {check: dict(parts) for check, parts in settings.tables.get("parts", {}).items()}
        for check, parts in weights.items():
            own = [p for p, _ in REGISTRY[check].parts] if check in REGISTRY else []
            if not own:
                with_parts = [c.name for c in REGISTRY.values() if c.parts]
                raise PolicyError(f"{where}: [parts.{check}]: {check} has no parts; checks "
                                  f"with parts: {', '.join(with_parts)}")
            if set(parts) != set(own):
                raise PolicyError(f"{where}: [parts.{check}] must give a weight to each of "
                                  f"{', '.join(own)} (got {', '.join(parts) or 'none'})")
        late = settings.tables.get("late", {})
        return cls(points, weights, LatePolicy(
            late.get("deadline"), float(late.get("penalty_per_day", 0.0)), late.get("max_days"),
            dict(settings.tables.get("extensions", {}))), str(where))

    @property
    def default_points(self) -> bool:
        return not self.points and not self.weights

    def version(self, grader_version: str) -> str:
        """The version recorded with a grade: the grader's, plus a digest of ``[points]`` and
        ``[parts]`` when they are set, so a changed policy grades again (a gradebook skips
        only what it holds with the same version)."""
        if self.default_points:
            return grader_version
        text = json.dumps([self.points, self.weights], sort_keys=True)
        return f"{grader_version}+points.{hashlib.sha256(text.encode()).hexdigest()[:10]}"

    def max_score(self) -> int | float:
        """The autograded maximum under this policy (50 by default)."""
        return whole(sum(self.points.get(c.name, c.points) for c in REGISTRY.values()))

    def score(self, result: SubmissionResult) -> SubmissionResult:
        """``result`` scored under ``[points]`` and ``[parts]``: each check's score and maximum,
        the submission's total and the version it is recorded with. A result that could not be
        graded (every check at 0) keeps its 0, out of the new maximum."""
        if self.default_points:
            return result
        checks = apply_points(result.checks, self.points, self.weights)
        score, possible = total(checks)
        return replace(result, checks=checks, score=score, max_score=possible,
                       grader_version=self.version(result.grader_version))


# --- whose extension is which: [extensions] keys to submission identities ---------------------

@dataclass
class Extensions:
    """[extensions] resolved: ``by_identity`` (submission identity -> deadline), ``keys`` (each
    key that named a submission -> its identity, kept in the gradebook so a later export or
    report without the roster finds the same students), and ``problems``: one line per key that
    matches nothing (those keys also in ``unknown``), matches several roster rows, or names a
    student another key names."""

    by_identity: dict[str, datetime] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)  # key matching nothing -> its line


def _norm(text: str, fold: bool) -> str:
    text = unicodedata.normalize("NFC", text.strip())
    return text.casefold() if fold else text


def resolve_extensions(extensions: dict[str, datetime], identities: Collection[str],
                       students: Sequence[Student] | None = None,
                       matching: Matching | None = None,
                       known: dict[str, str] | None = None,
                       where: str = "grader.toml") -> Extensions:
    """Each [extensions] key as the submission it means, tried in this order: a submission's
    identity (exactly as the score table shows it); a key an earlier ``grade`` resolved
    (``known``); with a roster, a row's id, name, email or submission cell (exactly, then
    ignoring case; Unicode NFC), whose matched submission (``matching``) it then is. A roster
    row with no submission is no problem (there is nothing to extend); a key matching nothing
    is (see ``Extensions.problems``)."""
    identities = set(identities)
    known = known or {}
    result = Extensions()
    owner: dict[str, str] = {}  # identity -> the key that gave it its extension
    for key, due in extensions.items():
        identity = key if key in identities else known.get(key)
        if identity is None and students:
            rows: list[Student] = []
            for fold in (False, True):  # exact first: "Li" and "li" may be two students
                wanted = _norm(key, fold)
                rows = [s for s in students
                        if wanted in {_norm(c, fold) for c in (s.id, s.name, s.email,
                                                                s.submission) if c}]
                if rows:
                    break
            if len(rows) > 1:
                result.problems.append(
                    f"{where}: [extensions] {key!r} matches {len(rows)} roster rows (ids "
                    f"{', '.join(s.id for s in rows[:5])}): key it by the student's id")
                continue
            if rows:
                identity = (matching.by_student.get(rows[0].id) if matching is not None
                            else None)
                if identity is None:
                    continue  # on the roster, no submission: nothing to extend
        if identity is None or identity not in identities:
            if identity is None:
                line = f"{where}: [extensions] {key!r} {_what_a_key_is(students)}"
                result.unknown[key] = line
                result.problems.append(line)
            continue
        if identity in owner:
            result.problems.append(f"{where}: [extensions] {owner[identity]!r} and {key!r} both "
                                   f"name {identity!r}: keep one")
            due = max(due, result.by_identity[identity])  # the later: never less than given
        owner.setdefault(identity, key)
        result.by_identity[identity] = due
        result.keys[key] = identity
    return result


def _what_a_key_is(students: Sequence[Student] | None) -> str:
    if students:
        return ("matches no submission and no roster row: a key is a submission's identity "
                "(as the score table shows it) or a roster id, name, email or submission cell")
    return ("matches no submission: a key is a submission's identity (as the score table shows "
            "it); with --roster, also a roster id, name, email or submission cell")


# --- the policy a class was graded with (kept in its gradebook) -------------------------------

POLICY_TABLES = ("points", "parts", "late", "extensions")
_MOMENTS = {"late": ("deadline",), "extensions": None}  # None: every value is a date-time


def policy_text(settings: Settings) -> str:
    """The points policy of ``settings`` (its [points], [parts], [late], [extensions]) as
    canonical JSON, date-times in ISO 8601: what ``grade`` stores in the gradebook, and equal
    text for equal policies (``export``/``report`` compare a --config with it)."""
    def plain(value):
        return value.isoformat() if isinstance(value, datetime) else value

    tables = {name: {key: ({k: plain(v) for k, v in value.items()} if isinstance(value, dict)
                           else plain(value)) for key, value in settings.tables[name].items()}
              for name in POLICY_TABLES if settings.tables.get(name)}
    return json.dumps(tables, sort_keys=True, ensure_ascii=False)


def stored_settings(text: str) -> Settings:
    """The settings whose policy ``policy_text`` wrote (``source``: the gradebook), checked
    again by ``Policy.from_settings`` when they are used; PolicyError for text it did not
    write."""
    try:
        tables = json.loads(text)
        for name, keys in _MOMENTS.items():
            table = tables.get(name, {})
            for key in (keys if keys is not None else list(table)):
                if key in table:
                    table[key] = datetime.fromisoformat(table[key])
    except (ValueError, TypeError, AttributeError) as error:
        raise PolicyError(f"the policy stored in the gradebook cannot be read: {error}") from None
    if not isinstance(tables, dict) or set(tables) - set(POLICY_TABLES):
        raise PolicyError("the policy stored in the gradebook cannot be read")
    return Settings(source=Path("the gradebook's stored policy"), tables=tables)


# --- submission times ------------------------------------------------------------------------

def parse_moment(text: str, where: str) -> datetime:
    """An ISO 8601 date-time with its UTC offset ("Z" allowed); PolicyError otherwise."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise PolicyError(f"{where}: {text!r} is not a date-time such as "
                          "2026-12-01T23:59:00+00:00") from None
    if moment.tzinfo is None:
        raise PolicyError(f"{where}: {text!r} has no UTC offset (write "
                          f"{moment.isoformat()}+00:00 for UTC)")
    return moment


def read_times(path: Path) -> dict[str, datetime]:
    """``--times FILE``: a CSV with a ``student`` (or ``submission``) and a ``submitted_at``
    column, one row per student; PolicyError naming the line for anything else."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: cannot be read: {error}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or []]
    who = next((f for f in ("student", "submission") if f in fields), None)
    if who is None or "submitted_at" not in fields:
        raise PolicyError(f"{path}: needs the columns student (or submission) and submitted_at, "
                          f"has {', '.join(fields) or 'none'}")
    times: dict[str, datetime] = {}
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        name, when = row.get(who, ""), row.get("submitted_at", "")
        if not name and not when:
            continue
        if not name:
            raise PolicyError(f"{path} line {number}: no {who}")
        if name in times:
            raise PolicyError(f"{path} line {number}: {name} is listed twice")
        times[name] = parse_moment(when, f"{path} line {number}")
    return times


# Files looked at for a folder's time: enough for any real submission, bounded for a hostile one.
_MTIME_FILES = 2000


def submission_mtime(path: Path) -> datetime | None:
    """When ``path`` was last changed: a file's mtime, or the newest mtime of the regular files
    in a folder (a folder's own mtime changes only when entries come or go). None when it
    cannot be read. Symlinks are not followed."""
    path = Path(path)
    try:
        newest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for seen, (root, _, files) in enumerate(os.walk(path)):
                if seen > _MTIME_FILES:
                    break
                for name in files[:_MTIME_FILES]:
                    info = os.lstat(os.path.join(root, name))
                    if stat.S_ISREG(info.st_mode):
                        newest = max(newest, info.st_mtime)
    except OSError:
        return None
    return datetime.fromtimestamp(newest, UTC)
