"""The instructor's settings: ``grader.toml``, seeds, paths and environment variables, in one place.

``Settings.load(path)`` reads ``grader.toml`` once and refuses what it does not understand (an
unknown key, a value of the wrong type, a file that is not TOML) with a one-line
``SettingsError``. The grader's CLI (``python -m grader grade --config``), the Gradescope build
(``python -m course gradescope``, which writes the file into the autograder) and the release's
seed check (``course.release.grading_seeds``) all go through it, so they cannot disagree about
a key.

``docs/settings.md`` is generated from ``GRADER_TOML`` and ``ENVIRONMENT`` below
(``python -m grader.settings docs/settings.md``); a test keeps the two equal.

This module is instructor-side: what ships to students (spec, student, checking, public) never
imports it. The students' side reads the one variable it needs (``VG_GRADING_SEED``) itself;
it is documented here all the same.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.spec.profile import Limits

# The reference solutions: defined where they are loaded (the only code that touches them).
from grader.student.loader import SOLUTIONS_DIR

CONFIG_NAME = "grader.toml"
# The grading seed when neither grader.toml nor --seed gives one. Never the public seed (0),
# whose inputs the students see in the self-check; the release refuses any file holding it.
DEFAULT_SEED = 7211
PROJECT_DIR = SOLUTIONS_DIR.parent  # the project's folder: grader/, solutions/, examples/
# Submissions graded in parallel by default (``grade --workers``): the CI machines have two cores.
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)


class SettingsError(ValueError):
    """grader.toml cannot be used as written; the message names the file and the key."""


@dataclass(frozen=True)
class Key:
    """One key of grader.toml.

    kind: the TOML type it must have (int: an integer; float: an integer or a float).
    limit: the ``Limits`` field it sets, or "" for none.
    scale: Limits' value is the key's value times this (memory_mb -> memory_bytes).
    fixed: the default of a key that sets no limit.
    least, most: bounds beyond "greater than 0" (limits) or "0 or more" (the seed), with why.
    """

    name: str
    kind: type
    meaning: str
    limit: str = ""
    scale: int = 1
    fixed: int | float | None = None
    least: tuple[int, str] | None = None
    most: tuple[int, str] | None = None

    def default(self) -> int | float:
        """The value used when grader.toml does not set the key: ``fixed``, else the default
        of its ``Limits`` field (defined there once, with the other limits)."""
        if self.fixed is not None:
            return self.fixed
        return getattr(Limits(), self.limit) // self.scale


# The smallest worker address space that still starts the interpreter with numpy (measured:
# 200 MiB works, 100 MiB fails to map numpy's libraries), with a margin.
MIN_MEMORY_MB = 256

GRADER_TOML: tuple[Key, ...] = (
    Key("seed", int, "seed of the hidden inputs the checks draw (an integer >= 0); recorded "
        "with each grade, and a gradebook grades again what was graded with another seed",
        fixed=DEFAULT_SEED, most=(2**63 - 1, "the gradebook stores it as a 64-bit integer")),
    Key("call_seconds", float, "wall clock allowed for one call of student code, and for "
        "importing one student module", limit="call_seconds"),
    Key("submission_seconds", float, "wall clock allowed for all workers of one submission "
        "together", limit="submission_seconds"),
    Key("memory_mb", int, "address space of each worker process, in MiB (RLIMIT_AS; at least "
        f"{MIN_MEMORY_MB}: below that the worker cannot start, whatever the student wrote)",
        limit="memory_bytes", scale=1 << 20,
        least=(MIN_MEMORY_MB, "a worker's interpreter and numpy need about 200 MiB of address "
               "space; below that every submission would fail before any student code ran")),
)
KEYS = {key.name: key for key in GRADER_TOML}


@dataclass(frozen=True)
class Table:
    """One table of grader.toml: the points policy (read by ``grader.batch.policy``).

    entries: "number" (name = points), "weights" (check = {part = weight}), "datetime" (name =
    a date-time with its UTC offset), or "late" (the fixed keys of LATE_KEYS).
    """

    name: str
    entries: str
    meaning: str
    example: str


# [late]: each key, its kind, and what it means.
LATE_KEYS: dict[str, tuple[str, str]] = {
    "deadline": ("datetime", "the due date-time, with its UTC offset "
                 "(`2026-12-01T23:59:00+00:00`)"),
    "penalty_per_day": ("number", "percent of the maximum (autograded + written) taken per day "
                        "late or part of one (0 to 100)"),
    "max_days": ("integer", "the most days that are penalised (later submissions lose "
                 "max_days x penalty_per_day); unset: no cap, until the score reaches 0"),
}

TABLES: tuple[Table, ...] = (
    Table("points", "number", "points of a check (by its name, a whole number 0 or more); "
          "unset: the check's own points (50 in all)", "[points]\ndense_backward = 4"),
    Table("parts", "weights", "how a check with sub-parts splits its points, by relative "
          "weight (dense_backward: dx, dW, db; mse_loss, softmax_cross_entropy: value, "
          "gradient); unset: the default split (dx 1, dW 2, db 1; mse value 1, gradient 1; "
          "softmax value 1, gradient 2)", "[parts.dense_backward]\ndx = 1\ndW = 2\ndb = 1"),
    Table("late", "late", "the late policy: " + "; ".join(
          f"`{key}`: {meaning}" for key, (_, meaning) in LATE_KEYS.items()),
          "[late]\ndeadline = 2026-12-01T23:59:00+00:00\npenalty_per_day = 10\nmax_days = 5"),
    Table("extensions", "datetime", "a student's own deadline, which replaces `[late] "
          "deadline` for them. A key is a submission's identity (as the score table shows it) "
          "or, with `--roster`, a roster row's id, name, email or submission cell (exact, else "
          "ignoring case); `grade` refuses a key that finds no submission and no roster row, or "
          "several rows, and `export` warns about it (quote a key with spaces: `\"Bob Smith\"`)",
          "[extensions]\nalice = 2026-12-03T23:59:00+00:00"),
)
TABLE_NAMES = {table.name: table for table in TABLES}


def _number(value: Any, where: str, integer: bool = False) -> int | float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if integer and not (ok and isinstance(value, int) and value >= 0):
        raise SettingsError(f"{where} must be a whole number 0 or more, got {value!r}")
    if not ok or not math.isfinite(value) or value < 0:
        raise SettingsError(f"{where} must be a number 0 or more, got {value!r}")
    return value


def _moment(value: Any, where: str) -> datetime:
    if not isinstance(value, datetime):
        raise SettingsError(f"{where} must be a date-time such as 2026-12-01T23:59:00+00:00, "
                            f"got {value!r}")
    if value.tzinfo is None:
        raise SettingsError(f"{where} must give its UTC offset (2026-12-01T23:59:00+00:00, "
                            f"not {value.isoformat()})")
    return value


def _table(name: str, value: Any, where: Path) -> dict:
    """Table ``name`` of grader.toml, its values checked (names of checks and parts are checked
    by ``grader.batch.policy``, which knows the checks)."""
    if not isinstance(value, dict):
        raise SettingsError(f"{where}: {name} must be a table ([{name}]), got {value!r}")
    kind = TABLE_NAMES[name].entries
    if kind == "number":  # whole points: the maximum is a whole number everywhere it shows
        return {k: _number(v, f"{where}: {name}.{k}", integer=True) for k, v in value.items()}
    if kind == "datetime":
        return {k: _moment(v, f"{where}: {name}.{k}") for k, v in value.items()}
    if kind == "weights":
        checked = {}
        for check, weights in value.items():
            if not isinstance(weights, dict):
                raise SettingsError(f"{where}: parts.{check} must be a table "
                                    f"([parts.{check}]), got {weights!r}")
            checked[check] = {k: _number(v, f"{where}: parts.{check}.{k}")
                              for k, v in weights.items()}
            if checked[check] and sum(checked[check].values()) <= 0:
                raise SettingsError(f"{where}: parts.{check}: the weights sum to 0")
        return checked
    unknown = sorted(set(value) - set(LATE_KEYS))
    if unknown:
        raise SettingsError(f"{where}: unknown late setting(s) {', '.join(unknown)}; known: "
                            f"{', '.join(LATE_KEYS)}")
    late: dict[str, Any] = {}
    for key, item in value.items():
        what = f"{where}: late.{key}"
        late[key] = (_moment(item, what) if LATE_KEYS[key][0] == "datetime"
                     else _number(item, what, integer=LATE_KEYS[key][0] == "integer"))
    if late.get("penalty_per_day", 0) > 100:
        raise SettingsError(f"{where}: late.penalty_per_day is a percent, at most 100, got "
                            f"{late['penalty_per_day']!r}")
    if "deadline" not in late and late:
        raise SettingsError(f"{where}: [late] needs a deadline")
    return late


def _toml_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


def _toml_key(key: str) -> str:
    """A TOML key: bare when it can be, else quoted (a student's name with a space or a dot)."""
    if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Variable:
    """One environment variable that changes what the project does.

    read_by: where it is read (a module or a script); switch: any non-empty value turns it on
    (read with ``switch``), else it carries a value.
    """

    name: str
    read_by: str
    meaning: str
    switch: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("VG_NO_SANDBOX", "grader.sandbox (the judge)",
             "any non-empty value: never use bubblewrap (the plain-subprocess fallback)",
             switch=True),
    Variable("VG_NO_TEMPLATE", "grader.sandbox (the judge)",
             "any non-empty value: one bubblewrap sandbox per worker, no worker template",
             switch=True),
    Variable("VG_GRADING_SEED", "grader.public.notebook (the notebook's hidden tests)",
             f"integer: the seed of the hidden tests' inputs; unset or empty: {DEFAULT_SEED}, "
             "the grader's default seed"),
    Variable("VG_QUICK", "the notebook's experiment cells",
             '"1": the experiments at toy sizes, "0": full size; unset: toy sizes under '
             "nbgrader (NBGRADER_EXECUTION set), else full size"),
    Variable("VG_TIMEOUT", "course/templates/gradescope/run_grader.py (Gradescope)",
             "seconds the whole grader run may take before it is killed and scored 0; unset: "
             "grader.toml's submission_seconds plus 240"),
    Variable("AUTOGRADER_ROOT", "course/templates/gradescope/run_autograder, setup.sh",
             "the folder used instead of /autograder (tests)"),
    Variable("VG_PYTHON", "course/templates/gradescope/setup.sh",
             "the interpreter the autograder's venv is built from, tried before python3.1x"),
    Variable("VG_SKIP_SYSTEM_PACKAGES", "course/templates/gradescope/setup.sh",
             "any non-empty value: never call apt-get (tests)", switch=True),
    Variable("VG_FUZZ_SCALE", "tests/helpers.py (`make fuzz`)",
             "integer: every generated-input test runs that many times more cases; unset: 1"),
    Variable("VG_SELECTION_FILE", "tests/conftest.py (tests/test_fast_suite.py)",
             "a path: a pytest run writes the test ids it collected there (tests)"),
)
# Every environment variable that changes behaviour, with what it does.
ENVIRONMENT = {variable.name: variable.meaning for variable in VARIABLES}
_SWITCHES = frozenset(variable.name for variable in VARIABLES if variable.switch)


def switch(name: str) -> bool:
    """Whether the environment switch ``name`` (a switch of VARIABLES) is set (non-empty)."""
    if name not in _SWITCHES:
        raise KeyError(f"{name} is not a documented environment switch")
    return bool(os.environ.get(name))


def _checked(key: Key, value: Any, where: Path) -> int | float:
    """``value`` of ``key`` as its kind, or SettingsError naming the file and the key."""
    # bool is an int to Python, never to an instructor; "5" is a string in TOML.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if key.kind is int and not (number and isinstance(value, int)):
        raise SettingsError(f"{where}: {key.name} must be a whole number, got {value!r}")
    if not number or not math.isfinite(value):
        raise SettingsError(f"{where}: {key.name} must be a number, got {value!r}")
    if (value <= 0) if key.limit else (value < 0):
        bound = "greater than 0" if key.limit else "0 or more"
        raise SettingsError(f"{where}: {key.name} must be {bound}, got {value!r}")
    if key.least is not None and value < key.least[0]:
        raise SettingsError(f"{where}: {key.name} must be at least {key.least[0]} "
                            f"({key.least[1]}), got {value!r}")
    if key.most is not None and value > key.most[0]:
        raise SettingsError(f"{where}: {key.name} must be at most {key.most[0]} "
                            f"({key.most[1]}), got {value!r}")
    return key.kind(value)


@dataclass(frozen=True)
class Settings:
    """The instructor's settings, as grading uses them.

    values: the grader.toml keys that were set (by the file, or by ``with_seed``), by name;
    every other key takes its default (``Key.default``). source: the file read, if any.
    """

    values: dict[str, int | float] = field(default_factory=dict)
    source: Path | None = None
    # The tables that were set ([points], [parts], [late], [extensions]), checked, by name.
    tables: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None, folder: Path = Path(".")) -> Settings:
        """Read ``path``; without one, ``folder``/grader.toml if it exists, else the defaults.

        Raises SettingsError when ``path`` is missing, is not TOML, or holds an unknown key or a
        value of the wrong type.
        """
        candidate = Path(path) if path is not None else Path(folder) / CONFIG_NAME
        if not candidate.is_file():
            if path is not None:
                raise SettingsError(f"config file {path} not found")
            return cls()
        try:
            with open(candidate, "rb") as handle:
                loaded = tomllib.load(handle)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"{candidate}: cannot be read as TOML: {error}") from None
        unknown = sorted(set(loaded) - set(KEYS) - set(TABLE_NAMES))
        if unknown:
            raise SettingsError(f"{candidate}: unknown setting(s) {', '.join(unknown)}; "
                                f"known: {', '.join([*KEYS, *TABLE_NAMES])}")
        values = {name: _checked(KEYS[name], loaded[name], candidate)
                  for name in KEYS if name in loaded}
        tables = {name: _table(name, loaded[name], candidate)
                  for name in TABLE_NAMES if name in loaded}
        return cls(values, candidate, tables)

    def with_seed(self, seed: int | None) -> Settings:
        """These settings with ``seed`` instead of the file's (``--seed``); None keeps them.
        Raises SettingsError for a seed grader.toml could not hold either."""
        if seed is None:
            return self
        checked = _checked(KEYS["seed"], seed, Path("--seed"))
        return dataclasses.replace(self, values=self.values | {"seed": checked})

    def get(self, name: str) -> int | float:
        """The value of key ``name``: as set, else its default."""
        return self.values[name] if name in self.values else KEYS[name].default()

    @property
    def seed(self) -> int:
        """The grading seed (hidden inputs)."""
        return int(self.get("seed"))

    def limits(self) -> Limits:
        """The workers' resource limits: the sandbox's defaults, with the keys set here."""
        changes = {KEYS[name].limit: value * KEYS[name].scale
                   for name, value in self.values.items() if KEYS[name].limit}
        return Limits(**changes)

    def toml(self, header: str = "") -> str:
        """grader.toml's text for these settings: ``header`` as comment lines, then the seed
        and every key that was set, in schema order (``Settings.load`` reads it back equal)."""
        lines = [f"# {line}".rstrip() for line in header.splitlines()]
        lines += [f"{key.name} = {self.get(key.name)!r}" for key in GRADER_TOML
                  if key.name == "seed" or key.name in self.values]
        for table in TABLES:  # the points policy goes along (the Gradescope autograder)
            content = self.tables.get(table.name)
            if not content:
                continue
            if table.entries == "weights":
                for check, weights in content.items():
                    lines += ["", f"[parts.{_toml_key(check)}]"]
                    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in weights.items()]
            else:
                lines += ["", f"[{table.name}]"]
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in content.items()]
        return "\n".join(lines) + "\n"


def document() -> str:
    """docs/settings.md: the table of grader.toml keys and the table of environment variables,
    generated from GRADER_TOML and VARIABLES."""
    kinds = {int: "integer", float: "number"}
    lines = [
        "# Settings",
        "",
        "Generated from `grader/settings.py` by `python -m grader.settings docs/settings.md`;",
        "a test keeps this page and the code equal.",
        "",
        f"## `{CONFIG_NAME}`",
        "",
        f"The instructor's grading settings. `python -m grader grade` reads `./{CONFIG_NAME}` "
        "(or `--config FILE`),",
        f"`python -m course gradescope` the repository's `{CONFIG_NAME}` (or `--config FILE`) "
        "and writes it into the",
        "autograder. An unknown key, a value of the wrong type or a file that is not TOML "
        "is refused before",
        "anything is graded. `--seed` replaces `seed`.",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| `{key.name}` | {kinds[key.kind]} | {key.default()!r} | {key.meaning} |"
              for key in GRADER_TOML]
    lines += [
        "",
        "### The points policy",
        "",
        "Tables of the same file. Check and part names are those of the score table "
        "(an unknown one is refused",
        "before anything is graded). `python -m grader grade` applies `[points]` and "
        "`[parts]` to every score it",
        "records (a changed policy grades again); `[late]` and `[extensions]` are applied "
        "to the totals of every",
        "export (the gradebook keeps each submission's time), so they change without "
        "grading again.",
        "",
        "| table | meaning | example |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `[{t.name}]` | {t.meaning} | `{t.example.replace(chr(10), '; ')}` |"
              for t in TABLES]
    lines += [
        "",
        "## Environment variables",
        "",
        "Every environment variable that changes what the project does. A switch is on for "
        "any non-empty value.",
        "",
        "| variable | read by | meaning |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{v.name}` | {v.read_by} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = document()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
