"""The one settings object: grader.toml's schema, its table, the environment variables, and who
reads them (the CLI, the Gradescope build, the release, Gradescope's run_grader.py).

grader.toml documents are generated: every key with values of every TOML type, unknown keys,
broken TOML. Each is read by ``Settings.load`` and must give either the value back or the exact
one-line refusal; the CLI and the Gradescope build must say the same.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course import gradescope, release
from grader import settings as grader_settings
from grader.batch.gradebook import Gradebook
from grader.batch.results import SubmissionResult
from grader.checking.judge import CheckResult
from grader.cli import main
from grader.settings import (
    CONFIG_NAME,
    DEFAULT_SEED,
    ENVIRONMENT,
    GRADER_TOML,
    KEYS,
    MIN_MEMORY_MB,
    TABLE_NAMES,
    VARIABLES,
    Settings,
    SettingsError,
    document,
    switch,
)
from grader.spec.profile import Limits
from tests.helpers import scaled

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PROFILE = settings(derandomize=True, deadline=None, max_examples=scaled(60),
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


def toml_value(value: object) -> str:
    """``value`` as a TOML literal (the test writes its own: no TOML writer is installed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for these characters
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    raise TypeError(value)


def write(path: Path, values: dict[str, object]) -> Path:
    path.write_text("".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in values.items()),
                    encoding="utf-8")
    return path


def refusal(key: str, value: object, where: Path) -> str | None:
    """The message Settings.load must give for ``key = value``, or None when it is valid."""
    kind = KEYS[key]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind.kind is int and not (number and isinstance(value, int)):
        return f"{where}: {key} must be a whole number, got {value!r}"
    if not number or not math.isfinite(value):
        return f"{where}: {key} must be a number, got {value!r}"
    if kind.limit and value <= 0:
        return f"{where}: {key} must be greater than 0, got {value!r}"
    if not kind.limit and value < 0:
        return f"{where}: {key} must be 0 or more, got {value!r}"
    if kind.least is not None and value < kind.least[0]:
        return f"{where}: {key} must be at least {kind.least[0]} ({kind.least[1]}), got {value!r}"
    if kind.most is not None and value > kind.most[0]:
        return f"{where}: {key} must be at most {kind.most[0]} ({kind.most[1]}), got {value!r}"
    return None


SMALL_INTS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(2**63, 2**70),
                       st.integers(0, 1024))
ANY_VALUE = st.one_of(
    SMALL_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=8),
    st.lists(st.integers(0, 9), max_size=3),
)
VALID = {
    "seed": st.integers(0, 2**63 - 1),
    "call_seconds": st.one_of(st.integers(1, 10**6),
                              st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False)),
    "submission_seconds": st.one_of(st.integers(1, 10**6),
                                    st.floats(1e-3, 1e6, allow_nan=False,
                                              allow_infinity=False)),
    "memory_mb": st.integers(MIN_MEMORY_MB, 1 << 20),
}


# --- the schema, its table, the environment -----------------------------------------------------

def test_the_documented_table_is_the_schema():
    """docs/settings.md is generated from the schema; regenerate with
    ``python -m grader.settings docs/settings.md``."""
    assert (REPO / "docs" / "settings.md").read_text(encoding="utf-8") == document()
    text = document()
    for key in GRADER_TOML:
        assert f"| `{key.name}` | " in text
        assert f"| {key.default()!r} |" in text
    for variable in VARIABLES:
        assert f"| `{variable.name}` | {variable.read_by} | {variable.meaning} |" in text


def test_every_key_has_a_reader_and_a_default_from_its_owner():
    assert set(VALID) == set(KEYS)  # this test's strategies cover the schema
    defaults = Limits()
    assert KEYS["seed"].default() == DEFAULT_SEED != 0  # never the public seed
    for key in GRADER_TOML:
        if key.limit:  # a limit's default is the sandbox's, defined there once
            assert key.default() * key.scale == getattr(defaults, key.limit)
    assert Settings().limits() == defaults and Settings().seed == DEFAULT_SEED


@pytest.mark.parametrize("key", [k.name for k in GRADER_TOML if k.limit])
def test_each_limit_key_sets_exactly_its_limit(key):
    value = 3 if KEYS[key].kind is int else 2.5
    limits = Settings({key: value}).limits()
    changed = {name for name in Limits.__dataclass_fields__
               if getattr(limits, name) != getattr(Limits(), name)}
    assert changed == {KEYS[key].limit}
    assert getattr(limits, KEYS[key].limit) == value * KEYS[key].scale


# Where environment variables are read: every folder of the project but the tests' (whose
# hostile submissions name variables of their own) and the generated docs, plus the tests'
# shared modules (`make fuzz` drives tests/helpers.py) and the Makefile.
NOT_SCANNED = {"tests", "docs", "out", "build", "dist"}
SCANNED = [*(p for p in sorted(REPO.iterdir()) if p.is_dir() and not p.name.startswith(".")
             and p.name not in NOT_SCANNED),
           *(p for p in sorted((REPO / "tests").glob("*.py")) if not p.name.startswith("test_")),
           REPO / "Makefile"]
VARIABLE_NAME = re.compile(r"\bVG_[A-Z0-9_]+\b")


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for root in SCANNED:
        found = [root] if root.is_file() else sorted(root.rglob("*"))
        files += [p for p in found if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in {".npz", ".png", ".pyc"}]
    return files


def test_every_environment_variable_read_is_documented():
    """Any VG_ name in the project's code (read directly, through a constant such as
    ``SEED_VARIABLE``, or by a shell script) is in the table; and every variable in the table
    is read somewhere, so the table cannot go stale either way."""
    seen: dict[str, set[str]] = {}
    for path in _scanned_files():
        if path == Path(grader_settings.__file__):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in VARIABLE_NAME.findall(text):
            seen.setdefault(name, set()).add(str(path.relative_to(REPO)))
    undocumented = {name: where for name, where in seen.items() if name not in ENVIRONMENT}
    assert not undocumented, f"add these to grader/settings.py VARIABLES: {undocumented}"
    read = set(seen) | {"AUTOGRADER_ROOT"}
    assert "AUTOGRADER_ROOT" in (REPO / "course/templates/gradescope/run_autograder").read_text()
    assert set(ENVIRONMENT) <= read, set(ENVIRONMENT) - read


def test_switch_knows_only_the_documented_switches(monkeypatch):
    for name in ("VG_NO_SANDBOX", "VG_NO_TEMPLATE"):
        monkeypatch.delenv(name, raising=False)
        assert switch(name) is False
        monkeypatch.setenv(name, "")
        assert switch(name) is False  # empty is off
        monkeypatch.setenv(name, "0")
        assert switch(name) is True  # any non-empty value is on, "0" too (as documented)
    for name in ("VG_GRADING_SEED", "VG_TIMEOUT", "VG_NOT_A_SWITCH"):
        with pytest.raises(KeyError, match="not a documented environment switch"):
            switch(name)


@pytest.mark.parametrize("value, expected", [(None, DEFAULT_SEED), ("", DEFAULT_SEED),
                                             ("12345", 12345), ("0", 0)])
def test_vg_grading_seed_is_the_hidden_tests_seed(monkeypatch, value, expected):
    from grader.public import notebook

    if value is None:
        monkeypatch.delenv("VG_GRADING_SEED", raising=False)
    else:
        monkeypatch.setenv("VG_GRADING_SEED", value)
    assert notebook.hidden_seed() == expected


def _run_grader_module():
    path = REPO / "course" / "templates" / "gradescope" / "run_grader.py"
    spec = importlib.util.spec_from_file_location("vg_run_grader_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vg_timeout_replaces_the_gradescope_budget(monkeypatch, tmp_path):
    """VG_TIMEOUT is the whole run's limit; unset, it is grader.toml's submission_seconds (read
    as the grader reads it) plus the start-up room, or the default budget."""
    run_grader = _run_grader_module()
    extra = run_grader.EXTRA_SECONDS
    config = write(tmp_path / CONFIG_NAME, {"seed": 5, "submission_seconds": 50})
    monkeypatch.setenv("VG_TIMEOUT", "33.5")
    assert run_grader.grading_timeout(config) == 33.5
    monkeypatch.setenv("VG_TIMEOUT", "")
    assert run_grader.grading_timeout(config) == 50 + extra
    monkeypatch.delenv("VG_TIMEOUT")
    assert run_grader.grading_timeout(config) == 50 + extra
    assert run_grader.grading_timeout(tmp_path / "absent.toml") == \
        Limits().submission_seconds + extra
    assert run_grader.grading_timeout(write(tmp_path / "bad.toml", {"seed": "x"})) == \
        run_grader.FALLBACK_SUBMISSION_SECONDS + extra


# --- reading grader.toml ------------------------------------------------------------------------

@PROFILE
@given(st.fixed_dictionaries({}, optional=VALID))
def test_valid_files_are_read_back_exactly(tmp_path_factory, values):
    folder = tmp_path_factory.mktemp("valid")
    loaded = Settings.load(write(folder / CONFIG_NAME, values))
    expected = {k: float(v) if KEYS[k].kind is float else v for k, v in values.items()}
    assert loaded.values == expected
    assert loaded.seed == values.get("seed", DEFAULT_SEED)
    # What the Gradescope build writes reads back the same (with the seed always written).
    again = folder / "again.toml"
    again.write_text(loaded.toml("header"), encoding="utf-8")
    assert Settings.load(again).values == expected | {"seed": loaded.seed}
    # Found in the folder without --config as well.
    assert Settings.load(folder=folder).values == expected


@PROFILE
@given(st.sampled_from(sorted(KEYS)), ANY_VALUE)
def test_every_value_is_read_or_refused_with_its_message(tmp_path_factory, key, value):
    path = write(tmp_path_factory.mktemp("value") / CONFIG_NAME, {key: value})
    expected = refusal(key, value, path)
    if expected is None:
        assert Settings.load(path).values == {key: KEYS[key].kind(value)}
    else:
        with pytest.raises(SettingsError) as refused:
            Settings.load(path)
        assert str(refused.value) == expected


@PROFILE
@given(st.dictionaries(st.text(st.characters(codec="ascii", categories=["L", "N"]),
                               min_size=1, max_size=12).filter(
                                   lambda k: k not in KEYS and k not in TABLE_NAMES),
                       st.integers(0, 9), min_size=1, max_size=3),
       st.fixed_dictionaries({}, optional=VALID))
def test_unknown_keys_are_refused_by_name(tmp_path_factory, unknown, valid):
    path = write(tmp_path_factory.mktemp("unknown") / CONFIG_NAME, valid | unknown)
    with pytest.raises(SettingsError) as refused:
        Settings.load(path)
    assert str(refused.value) == (f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; "
                                  "known: seed, call_seconds, submission_seconds, memory_mb, "
                                  "points, parts, late, extensions")


@pytest.mark.parametrize("text", ["seed = ", "seed = 1\nseed = 2\n", "[seed\n", "seed = 0x\n",
                                  "\xff\xfe = 1\n"])
def test_a_file_that_is_not_toml_is_refused(tmp_path, text):
    path = tmp_path / CONFIG_NAME
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(SettingsError, match=r"^" + re.escape(f"{path}: cannot be read as TOML: ")):
        Settings.load(path)


def test_a_missing_file_is_refused_only_when_named(tmp_path):
    with pytest.raises(SettingsError) as refused:
        Settings.load(tmp_path / "nope.toml")
    assert str(refused.value) == f"config file {tmp_path / 'nope.toml'} not found"
    assert Settings.load(folder=tmp_path) == Settings()


def test_the_seed_option_replaces_the_files_seed(tmp_path):
    loaded = Settings.load(write(tmp_path / CONFIG_NAME, {"seed": 5, "memory_mb": 640}))
    assert loaded.with_seed(None) is loaded
    moved = loaded.with_seed(9)
    assert (moved.seed, moved.values, loaded.seed) == (9, {"seed": 9, "memory_mb": 640}, 5)


# --- the readers: the CLI, the Gradescope build, the release ------------------------------------

BROKEN = {"unknown key": {"seed": 1, "sed": 2}, "wrong type": {"seed": "not a number"},
          "negative limit": {"call_seconds": -1}, "float seed": {"seed": 1.5}}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_cli_refuses_a_broken_config_before_grading(tmp_path, capsys, case):
    path = write(tmp_path / CONFIG_NAME, BROKEN[case])
    with pytest.raises(SettingsError) as expected:
        Settings.load(path)
    status = main(["grade", str(EXAMPLES / "correct"), "--config", str(path)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == f"error: {expected.value}\n"
    assert captured.out == ""  # nothing graded


def test_the_cli_refuses_a_missing_config(tmp_path, capsys):
    status = main(["grade", str(EXAMPLES / "correct"), "--config", str(tmp_path / "x.toml")])
    assert (status, capsys.readouterr().err) == (2, f"error: config file {tmp_path / 'x.toml'} "
                                                    "not found\n")


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_gradescope_build_refuses_what_the_grader_refuses(tmp_path, case):
    path = write(tmp_path / CONFIG_NAME, BROKEN[case])
    with pytest.raises(SettingsError) as expected:
        Settings.load(path)
    with pytest.raises(gradescope.BuildError) as refused:
        gradescope.grading_config(path, repo=tmp_path)
    assert str(refused.value) == str(expected.value)


def test_the_gradescope_build_writes_what_the_grader_reads(tmp_path):
    write(tmp_path / CONFIG_NAME, {"seed": 41, "memory_mb": 512})
    chosen, origin = gradescope.grading_config(repo=tmp_path)
    assert origin == str(tmp_path / CONFIG_NAME)
    written = tmp_path / "written.toml"
    written.write_text(gradescope.config_text(chosen), encoding="utf-8")
    assert Settings.load(written) == Settings({"seed": 41, "memory_mb": 512}, written)
    chosen, origin = gradescope.grading_config(seed=7, repo=tmp_path)
    assert (chosen.seed, origin) == (7, "--seed")
    # No seed anywhere: refused (#12), never the default seed written in the source code.
    with pytest.raises(gradescope.BuildError, match="^no grading seed: pass --seed N"):
        gradescope.grading_config(repo=tmp_path / "empty")


def test_the_release_looks_for_the_seeds_the_grader_uses(tmp_path):
    assert release.grading_seeds(tmp_path) == {DEFAULT_SEED}
    write(tmp_path / CONFIG_NAME, {"seed": 4242})
    assert release.grading_seeds(tmp_path) == {DEFAULT_SEED, 4242}
    write(tmp_path / CONFIG_NAME, {"seed": 4242, "typo": 1})
    with pytest.raises(release.ReleaseError, match="unknown setting"):
        release.grading_seeds(tmp_path)  # never release without looking for the real seed


# --- no cycles: what each command loads ---------------------------------------------------------

def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((REPO / "grader" / "batch").glob("*.py")),
                         ids=lambda p: p.name)
def test_no_batch_module_imports_the_cli(path):
    assert not {m for m in _imports(path) if m == "grader.cli" or m.startswith("grader.cli.")}


@pytest.mark.parametrize("name", ["gradebook", "report", "results", "identity", "shards"])
def test_the_record_keeping_modules_need_no_judge(name):
    imported = _imports(REPO / "grader" / "batch" / f"{name}.py")
    assert not {m for m in imported if m.startswith(("grader.batch.run", "grader.sandbox",
                                                    "grader.inside", "grader.cli"))}


def _book(path: Path) -> Path:
    check = CheckResult("sigmoid", "Sigmoid", 3, 3, True, feedback="ok")
    with Gradebook(path) as book:
        book.record(SubmissionResult("alice", "alice", "h", 1, "0", 3, 3, [check], "none", 0.1))
    return path


LOADED = ("import sys, json\n"
          "from grader.cli import main\n"
          "status = main(sys.argv[1:])\n"
          "print(json.dumps([status, sorted(m for m in sys.modules if m.startswith('grader'))]))\n")


@pytest.mark.parametrize("command", ["export", "merge"])
def test_export_and_merge_never_load_the_sandbox_or_the_judge(tmp_path, command):
    book = _book(tmp_path / "book.sqlite")
    argv = (["export", str(book), "--csv", str(tmp_path / "grades.csv")] if command == "export"
            else ["merge", str(tmp_path / "all.sqlite"), str(book)])
    done = subprocess.run([sys.executable, "-c", LOADED, *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    status, modules = json.loads(done.stdout.splitlines()[-1])
    assert status == 0
    heavy = [m for m in modules if m.startswith(("grader.sandbox", "grader.inside",
                                                "grader.batch.run", "grader.batch.pool",
                                                "grader.batch.classroom"))]
    assert heavy == []
    if command == "export":
        assert (tmp_path / "grades.csv").read_text().splitlines()[1] == "alice,3,3,3,"


@pytest.mark.parametrize("seed", [-1, -(2**70), 2**63, 2**100])
def test_a_seed_out_of_range_is_refused_before_anything_is_graded(tmp_path, capsys, seed):
    gradebook = tmp_path / "class.sqlite"
    assert main(["grade", str(REPO / "examples" / "correct"), "--seed", str(seed),
                 "--gradebook", str(gradebook)]) == 2
    bound = "must be 0 or more" if seed < 0 else (
        "must be at most 9223372036854775807 (the gradebook stores it as a 64-bit integer)")
    assert capsys.readouterr().err == f"error: --seed: seed {bound}, got {seed}\n"
    assert not gradebook.exists()


def test_a_worker_too_small_to_start_is_refused_not_blamed_on_students(tmp_path):
    for mb in (1, 50, 100, MIN_MEMORY_MB - 1):
        path = write(tmp_path / CONFIG_NAME, {"memory_mb": mb})
        with pytest.raises(SettingsError, match=f"memory_mb must be at least {MIN_MEMORY_MB}"):
            Settings.load(path)
    path = write(tmp_path / CONFIG_NAME, {"memory_mb": MIN_MEMORY_MB})
    limits = Settings.load(path).limits()
    from grader.batch.run import grade_submission

    result = grade_submission(REPO / "examples" / "correct", limits=limits, measure=False)
    assert (result.score, result.error) == (50, None)
