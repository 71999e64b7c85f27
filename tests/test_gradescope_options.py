"""The Gradescope build's choices, without building an image: an explicit seed or a one-line
refusal, requirements pinned to what is installed here, and how results.json is shown (the
visibility of every test, the output format) as ``run_grader.py`` rewrites it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from course import gradescope
from grader.checking.judge import PUBLIC_SEED

REPO = Path(__file__).resolve().parent.parent
NO_SEED = ("no grading seed: pass --seed N (make gradescope SEED=N) or set seed = N in "
           "grader.toml; the build never falls back to the seed in the source code")
_spec = importlib.util.spec_from_file_location(
    "run_grader_template", REPO / "course" / "templates" / "gradescope" / "run_grader.py")
run_grader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_grader)


# --- the seed ----------------------------------------------------------------------------------

def test_no_seed_anywhere_is_refused_in_one_line(tmp_path):
    # tmp_path as the repository: no grader.toml there, no --seed.
    with pytest.raises(gradescope.BuildError) as refused:
        gradescope.grading_config(None, None, repo=tmp_path)
    assert str(refused.value) == NO_SEED
    config = tmp_path / "limits.toml"
    config.write_text("call_seconds = 5\n")  # a config without a seed is no seed either
    with pytest.raises(gradescope.BuildError) as refused:
        gradescope.grading_config(config, None, repo=tmp_path)
    assert str(refused.value) == NO_SEED


def test_the_command_refuses_before_building_anything(tmp_path):
    done = subprocess.run([sys.executable, "-m", "course", "gradescope", "--out",
                           str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 1
    assert done.stderr == f"error: {NO_SEED}\n"
    assert not (tmp_path / "out").exists()


@settings(max_examples=20, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(1, 2**63 - 1), in_file=st.booleans())
def test_an_explicit_seed_is_used_and_named_by_where_it_came_from(seed, in_file):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        if in_file:
            (repo / "grader.toml").write_text(f"seed = {seed}\n")
        chosen, origin = gradescope.grading_config(None, None if in_file else seed, repo=repo)
        assert chosen.seed == seed
        assert origin == (str(repo / "grader.toml") if in_file else "--seed")


def test_the_public_seed_is_refused(tmp_path):
    with pytest.raises(gradescope.BuildError) as refused:
        gradescope.grading_config(None, PUBLIC_SEED, repo=tmp_path)
    assert str(refused.value) == (
        f"the grading seed from --seed is {PUBLIC_SEED}, the public seed whose inputs students "
        "see in the self-check: choose another")


def test_the_makefile_passes_the_seed_it_is_given():
    # --no-print-directory: under `make check` this make is a sub-make, which would say so.
    done = subprocess.run(["make", "--no-print-directory", "-n", "gradescope", "SEED=31337"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1].endswith(
        "-m course gradescope --out out/gradescope --seed 31337")


# --- pinned requirements -------------------------------------------------------------------------

def test_requirements_are_pinned_to_the_installed_versions_with_everything_they_need():
    wanted = ["numpy>=2.0", "matplotlib>=3.8", "pytest>=8", "rich>=13"]
    pins = gradescope.pinned_requirements(wanted)
    found = dict(pin.split("==") for pin in pins)
    assert pins == sorted(pins)
    for name, version in found.items():
        assert version == importlib.metadata.version(name), name
    # Closed: every unconditional requirement of a pinned package is pinned too.
    for name in found:
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                assert canonicalize_name(requirement.name) in found, (name, text)
    assert {"numpy", "matplotlib", "pytest", "rich", "pillow", "pygments"} <= set(found)
    assert not any(extra in found for extra in ("ipywidgets", "colorama"))  # extras, markers


def test_a_requirement_that_is_not_installed_cannot_be_pinned():
    with pytest.raises(gradescope.BuildError) as refused:
        gradescope.pinned_requirements(["surely-not-installed-package-x7"])
    assert str(refused.value) == (
        "surely-not-installed-package-x7 (needed by the grader wheel) is not installed here, so "
        "its version cannot be pinned: run `make install`")


# --- how results.json is shown -----------------------------------------------------------------

def _results(names: list[str], passed: list[bool]) -> dict:
    return {"score": sum(2 for p in passed if p), "execution_time": 1.0, "output": "Score.",
            "tests": [{"name": f"{n} (2 pts)", "score": 2 if p else 0, "max_score": 2,
                       "status": "passed" if p else "failed", "output": f"{n} says",
                       "visibility": "visible", "tags": [n]}
                      for n, p in zip(names, passed, strict=True)]}


@pytest.mark.parametrize("visibility", gradescope.VISIBILITIES)
def test_graded_tests_take_the_builds_visibility_and_public_ones_stay_visible(visibility):
    graded = _results(["sigmoid", "relu"], [True, False])
    public = _results(["sigmoid", "relu"], [False, True])
    shown = run_grader.shown_as(json.loads(json.dumps(graded)),
                                {"hidden_visibility": visibility,
                                 "output_format": "simple_format"}, public)
    assert [(t["name"], t["visibility"], t["score"], t["max_score"], t["status"])
            for t in shown["tests"]] == [
        ("sigmoid (2 pts)", visibility, 2, 2, "passed"),
        ("relu (2 pts)", visibility, 0, 2, "failed"),
        ("public inputs: sigmoid (2 pts)", "visible", 0, 0, "failed"),
        ("public inputs: relu (2 pts)", "visible", 0, 0, "passed"),
    ]
    assert shown["score"] == 2  # the public tests add nothing to the score
    assert shown["output_format"] == shown["test_output_format"] == "simple_format"
    assert {t["output_format"] for t in shown["tests"]} == {"simple_format"}
    assert shown["tests"][2]["tags"] == ["sigmoid", "public"]


def test_without_the_public_run_the_student_is_told():
    shown = run_grader.shown_as(_results(["sigmoid"], [True]), run_grader.DEFAULT_OPTIONS, None)
    assert [t["visibility"] for t in shown["tests"]] == ["after_due_date"]
    assert shown["output"] == ("Score.\nThe checks on the public inputs (what the self-check "
                               "runs) could not be shown this time.")


def test_the_options_file_and_its_defaults(tmp_path):
    assert run_grader.read_options(tmp_path) == {"hidden_visibility": "after_due_date",
                                                 "output_format": "simple_format"}
    (tmp_path / "gradescope.json").write_text('{"hidden_visibility": "hidden", "other": 1}')
    assert run_grader.read_options(tmp_path) == {"hidden_visibility": "hidden",
                                                 "output_format": "simple_format"}
    assert gradescope.OPTIONS_NAME == run_grader.OPTIONS_NAME
    assert gradescope.HIDDEN_VISIBILITY == run_grader.DEFAULT_OPTIONS["hidden_visibility"]
    assert gradescope.OUTPUT_FORMAT == run_grader.DEFAULT_OPTIONS["output_format"]


def test_an_unknown_visibility_is_refused(tmp_path):
    with pytest.raises(gradescope.BuildError) as refused:
        gradescope.build_autograder(tmp_path, seed=5, repo=tmp_path, hidden_visibility="later")
    assert str(refused.value) == ("hidden visibility 'later' is not one of Gradescope's: hidden, "
                                  "after_due_date, after_published, visible")


def test_the_zip_readme_keeps_50_autograded_and_asks_for_a_6_point_manual_question():
    text = " ".join(gradescope.instructor_readme(50).split())  # as it reads, not as wrapped
    assert "**Autograder points: 50.** Set the assignment's autograder to 50 points." in text
    assert "Add a separate, manually graded question worth 6 points" in text
    assert "the course total is then 56 points" in text


def test_the_last_resort_results_of_run_autograder_use_the_same_format():
    text = (REPO / "course" / "templates" / "gradescope" / "run_autograder").read_text()
    last_resort = json.loads(text.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0])
    assert last_resort["output_format"] == last_resort["test_output_format"] == \
        gradescope.OUTPUT_FORMAT
    assert (last_resort["score"], last_resort["tests"]) == (0, [])


# --- the late policy is Gradescope's ----------------------------------------------------------

_TABLES = {
    "points": "[points]\nsigmoid = 3\n",
    "late": "[late]\ndeadline = 2026-12-01T23:59:00+00:00\npenalty_per_day = 10\n",
    "extensions": "[extensions]\nalice = 2026-12-03T23:59:00+00:00\n",
}


@pytest.mark.parametrize("tables", [
    [n for i, n in enumerate(_TABLES) if mask >> i & 1] for mask in range(2 ** len(_TABLES))])
def test_late_and_extensions_stay_out_of_the_zips_config_and_the_build_says_so(tmp_path, tables):
    """Every combination of tables: [late]/[extensions] are left out of the zip's grader.toml,
    with the one line naming them; [points] and the seed go along unchanged."""
    config = tmp_path / "grader.toml"
    config.write_text("seed = 12345\n" + "".join(_TABLES[n] for n in tables))
    chosen, _ = gradescope.grading_config(config, None, repo=tmp_path)
    shipped, said = gradescope.gradescope_settings(chosen)
    dropped = [n for n in ("late", "extensions") if n in tables]
    if dropped:
        assert said == [f"{gradescope.NOT_APPLIED} ("
                        + " and ".join(f"[{n}]" for n in dropped)
                        + " left out of the zip's grader.toml)"]
        assert said[0].startswith("[late] is not applied on Gradescope: set the assignment's "
                                  "late policy in Gradescope")
    else:
        assert said == []
    (tmp_path / "zip.toml").write_text(gradescope.config_text(shipped))
    read = gradescope.Settings.load(tmp_path / "zip.toml")
    assert set(read.tables) == {n for n in tables if n == "points"}
    assert read.seed == 12345
    assert read.tables.get("points") == chosen.tables.get("points")
