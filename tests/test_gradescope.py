"""The Gradescope autograder, built, installed and run as Gradescope would.

The zip is unpacked into a simulated ``/autograder`` in a temporary folder (``source/``,
``submission/``, ``results/``); its own ``setup.sh`` installs the grader into a fresh venv there
(the apt step is skipped: ``VG_SKIP_SYSTEM_PACKAGES``), and ``run_autograder`` grades one
submission per run with ``AUTOGRADER_ROOT`` pointing at that folder. Times are printed (``-s``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader.checking import checks  # noqa: F401 - registers the checks, so REGISTRY is full
from grader.checking.trial import REGISTRY
from grader.spec.api import MODULES

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TOTAL = sum(c.points for c in REGISTRY.values())
SEED = 918273645  # distinctive, so a leak into anything a student sees would be found
BUGGY_FAILS = {"sigmoid_grad", "dense_backward", "mse_loss", "mlp_forward", "numerical_gradient"}
ZIP_ROOT = {"setup.sh", "run_autograder", "run_grader.py", "grader.toml", "gradescope.json",
            "requirements.txt", "README.md"}
PUBLIC = "public inputs: "
INSTALL_LIMIT = 60.0  # seconds: setup.sh's venv and pip part must stay well under a minute
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def _environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "VG_TIMEOUT")}
    env["AUTOGRADER_ROOT"] = str(root)
    return env


def _unzip(archive: Path, target: Path) -> None:
    """Unpack keeping each entry's Unix mode, as Gradescope's unzip does."""
    with zipfile.ZipFile(archive) as handle:
        for info in handle.infolist():
            path = Path(handle.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "course", "gradescope", "--out", str(out),
                           "--seed", str(SEED)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    print(f"\n[time] python -m course gradescope: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(SEED) not in done.stdout  # the build names where the seed came from, not the seed
    return out / "autograder.zip"


@pytest.fixture(scope="module")
def installed(tmp_path_factory, autograder) -> Path:
    """A simulated /autograder after Gradescope's image build: source unpacked, setup.sh run."""
    root = tmp_path_factory.mktemp("autograder")
    for name in ("source", "submission", "results"):
        (root / name).mkdir()
    _unzip(autograder, root / "source")
    env = _environment(root) | {"VG_SKIP_SYSTEM_PACKAGES": "1", "VG_PYTHON": sys.executable}
    started = time.monotonic()
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    print(f"\n[time] setup.sh (fresh venv + pip install, offline mirror): {seconds:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert seconds < INSTALL_LIMIT
    return root


def run_autograder(root: Path, label: str, files: dict[str, bytes] | None = None,
                   folder: Path | None = None, into: str = "") -> tuple[dict, str]:
    """Put a submission in place, run run_autograder; returns results.json and its stdout."""
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    (submission / into).mkdir(parents=True)
    for path in sorted(folder.glob("*.py")) if folder else []:
        shutil.copyfile(path, submission / into / path.name)
    for name, data in (files or {}).items():
        (submission / into / name).write_bytes(data)
    started = time.monotonic()
    done = subprocess.run([str(root / "source" / "run_autograder")], env=_environment(root),
                          cwd=root, capture_output=True, text=True, timeout=600)
    print(f"\n[time] run_autograder ({label}): {time.monotonic() - started:.2f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    results = root / "results" / "results.json"
    text = results.read_text()
    assert str(SEED) not in text
    return validate(json.loads(text)), done.stdout


def validate(data: dict) -> dict:
    """Check results.json against Gradescope's fields as this grader fills them."""
    assert {"score", "execution_time", "output", "tests"} <= set(data)
    assert isinstance(data["score"], int | float) and data["score"] >= 0
    assert isinstance(data["execution_time"], int | float) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output"]
    assert isinstance(data["tests"], list)
    assert data["output_format"] == data["test_output_format"] == "simple_format"
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility", "tags",
                "output_format"} <= set(test)
        assert isinstance(test["name"], str) and test["name"]
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert test["output_format"] == "simple_format"
        if test["name"].startswith(PUBLIC):
            # The self-check's inputs: shown at once, worth nothing (the status says it all).
            assert (test["score"], test["max_score"], test["visibility"]) == (0, 0, "visible")
            assert "public" in test["tags"]
        else:
            assert (test["status"] == "passed") == (test["score"] == test["max_score"])
        assert isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
        assert isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])
    if data["tests"]:
        assert data["score"] == sum(t["score"] for t in data["tests"])
        assert sum(t["max_score"] for t in data["tests"]) == TOTAL
    return data


def failed(data: dict, public: bool = False) -> set[str]:
    """The checks failed on the hidden inputs (or, with ``public``, on the public ones)."""
    return {t["name"].removeprefix(PUBLIC).split()[0] for t in data["tests"]
            if t["status"] == "failed" and t["name"].startswith(PUBLIC) == public}


def visibilities(data: dict) -> dict[str, str]:
    return {t["name"]: t["visibility"] for t in data["tests"]}


def test_zip_root_holds_the_scripts_config_and_wheel(autograder):
    with zipfile.ZipFile(autograder) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        wheels = [name for name in infos if name.endswith(".whl")]
        assert set(infos) == ZIP_ROOT | set(wheels) and len(wheels) == 1
        for name in ("setup.sh", "run_autograder"):
            assert archive.read(name).startswith(b"#!")
            assert (infos[name].external_attr >> 16) & 0o111 == 0o111, f"{name} not executable"
        assert tomllib.loads(archive.read("grader.toml").decode())["seed"] == SEED
        requirements = archive.read("requirements.txt").decode()
        pins = dict(line.split("==") for line in requirements.splitlines()
                    if line and not line.startswith("#"))
        assert {"numpy", "matplotlib", "rich"} <= set(pins)
        assert all(version == importlib.metadata.version(name) for name, version in pins.items())
        assert json.loads(archive.read("gradescope.json")) == {
            "hidden_visibility": "after_due_date", "output_format": "simple_format"}
        assert "manually graded question worth 6 points" in " ".join(
            archive.read("README.md").decode().split())
        wheel_path = Path(archive.extract(wheels[0], autograder.parent / "unpacked"))
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())
        assert "grader/data/public_expected.npz" in names
        assert {f"solutions/{module}.py" for module in MODULES} <= names
        # The seed lives only in grader.toml, never in the installed package.
        assert not any(str(SEED).encode() in wheel.read(name) for name in names)


def test_setup_installs_the_grader_outside_a_fresh_venv(installed):
    venv = installed / "vg" / "venv"
    config = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in config
    python = str(venv / "bin" / "python")
    lib = installed / "vg" / "lib"
    probe = ("import grader, solutions, numpy; print(grader.__file__); print(solutions.__file__)")
    done = subprocess.run([python, "-P", "-c", probe], env=_environment(installed) | {
        "PYTHONPATH": str(lib)}, capture_output=True, text=True, cwd=installed)
    assert done.returncode == 0, done.stderr
    assert all(Path(line).is_relative_to(lib) for line in done.stdout.split())
    # The venv alone (what the sandbox shows student code) has numpy but not the reference.
    alone = subprocess.run([python, "-I", "-c", "import numpy\nimport solutions"],
                           capture_output=True, text=True, cwd=installed)
    assert "No module named 'solutions'" in alone.stderr


def test_correct_sample_earns_full_marks(installed):
    data, stdout = run_autograder(installed, "correct", folder=EXAMPLES / "correct")
    assert data["score"] == TOTAL
    assert failed(data) == set() and failed(data, public=True) == set()
    # Every check twice: graded on the hidden inputs (shown after the due date), and on the
    # public inputs (shown at once, no points).
    names = [f"{c.name} ({c.points} pts)" for c in REGISTRY.values()]
    assert visibilities(data) == {**{n: "after_due_date" for n in names},
                                  **{PUBLIC + n: "visible" for n in names}}
    assert "grading" in stdout  # the grader's log reaches Gradescope's instructor-only stdout


def test_buggy_sample_fails_exactly_its_five_checks(installed):
    # Uploaded as a zip of the exercises folder: Gradescope unpacks it, keeping the folder.
    data, _ = run_autograder(installed, "buggy", folder=EXAMPLES / "buggy", into="exercises")
    assert failed(data) == BUGGY_FAILS == failed(data, public=True)
    # Partial credit: dense_backward keeps dx and dW (3 of 4), mse_loss its value (1 of 2).
    kept = {"dense_backward": 3, "mse_loss": 1}
    lost = sum(REGISTRY[name].points - kept.get(name, 0) for name in BUGGY_FAILS)
    assert data["score"] == TOTAL - lost == 40


def test_notebook_submission_is_graded(installed):
    cells = ["import numpy as np"]
    for module in MODULES:
        text = (EXAMPLES / "correct" / f"{module}.py").read_text()
        cells.append("\n".join(line for line in text.splitlines()
                               if not line.startswith(("from exercises", "from layers"))))
    cells = [cell.replace("getattr(act, ", "globals().get(") for cell in cells]
    cells.append("raise RuntimeError('a notebook cell that must not run while grading')")
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None,
                           "outputs": [], "source": cell} for cell in cells]}
    data, _ = run_autograder(installed, "notebook",
                             files={"vanishing_gradients.ipynb": json.dumps(notebook).encode()})
    assert data["score"] == TOTAL


def test_finished_release_notebook_earns_full_marks(installed, tmp_path):
    """The student notebook of the release, with every exercise cell done, as uploaded."""
    if not (REPO / "course" / "notebook.py").is_file():
        pytest.skip("course/notebook.py does not exist yet: there is no release notebook")
    from course.notebook import NOTEBOOK, release_notebook

    released = json.loads(release_notebook(NOTEBOOK, tmp_path / "student.ipynb").read_text())
    solved = {c["id"]: c["source"] for c in json.loads(NOTEBOOK.read_text())["cells"]
              if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in released["cells"]:
        cell["source"] = solved.get(cell.get("id"), cell["source"])
    data, _ = run_autograder(installed, "finished release notebook",
                             files={"vanishing_gradients.ipynb": json.dumps(released).encode()})
    assert data["score"] == TOTAL, failed(data)


@pytest.mark.parametrize("label, files", [
    ("empty", {}),
    ("garbage", {"activations.py": b"\x00\xff\xfe not python", "notes.txt": b"hello",
                 "layers.py": b"def dense_forward(:\n"}),
    ("unrelated files", {"essay.txt": b"no code here", "picture.png": b"\x89PNG"}),
])
def test_empty_or_garbage_submission_scores_zero(installed, label, files):
    data, _ = run_autograder(installed, label, files=files)
    assert data["score"] == 0
    if label == "garbage":
        # Modules by name: the grader grades them, every check at 0, on both sets of inputs.
        assert len(data["tests"]) == 2 * len(REGISTRY)
        assert set(visibilities(data).values()) == {"after_due_date", "visible"}
    else:
        # Nothing to grade: one test per check at 0, each with the reason, shown at once.
        assert len(data["tests"]) == len(REGISTRY)
        assert set(visibilities(data).values()) == {"visible"}


def test_submission_cannot_reach_the_reference(installed):
    """Student code that imports the reference solutions finds nothing to import."""
    files = {f"{module}.py": (f"from solutions.{module} import *  # noqa\n").encode()
             for module in MODULES}
    data, _ = run_autograder(installed, "imports the reference", files=files)
    assert data["score"] == 0


def test_grader_crash_still_writes_results(installed, tmp_path):
    """A grader that cannot start (here: a broken grader.toml) gives score 0 and a reason."""
    root = tmp_path / "broken"
    shutil.copytree(installed / "source", root / "source")
    (root / "vg").symlink_to(installed / "vg")
    (root / "source" / "grader.toml").write_text('seed = "not a number"\n')
    shutil.copytree(EXAMPLES / "correct", root / "submission")
    done = subprocess.run([str(root / "source" / "run_autograder")], env=_environment(root),
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0
    data = validate(json.loads((root / "results" / "results.json").read_text()))
    assert data["score"] == 0
    assert "autograder failed" in data["output"]
    # The grader refuses the file in one line (grader.settings); internals go to the
    # instructors' stdout only.
    refusal = "grader.toml: seed must be a whole number, got 'not a number'"
    assert refusal not in data["output"] and "Traceback" not in data["output"]
    assert refusal in done.stdout


def test_missing_install_still_writes_results(tmp_path, autograder):
    """Without setup.sh's venv (the image build failed), run_autograder still answers."""
    root = tmp_path / "bare"
    _unzip(autograder, root / "source")
    shutil.copytree(EXAMPLES / "correct", root / "submission")
    done = subprocess.run([str(root / "source" / "run_autograder")], env=_environment(root),
                          cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    data = validate(json.loads((root / "results" / "results.json").read_text()))
    assert data["score"] == 0 and data["tests"] == []
    assert "setup.sh did not complete" in done.stdout
