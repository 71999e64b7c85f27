"""What a class folder holds is found as an instructor's export lays it out, and nothing in it is
dropped unseen: suffixes in any case, one folder per student holding only the notebook, a stray
scratch module beside a complete ``exercises/``, and files that are no submission at all."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.batch.classroom import say_left_out
from grader.batch.identity import IdentityClash, expand, is_one_submission, submission_name
from grader.batch.run import grade_submission
from grader.batch.submissions import prepare
from grader.student.loader import NOTEBOOK_MODULE

REPO = Path(__file__).resolve().parent.parent
CORRECT = REPO / "examples" / "correct"
NOTEBOOK = REPO / "notebook" / "vanishing_gradients.ipynb"
MODULES = ("activations.py", "layers.py", "network.py", "gradient_check.py")


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in MODULES:
            archive.write(CORRECT / name, f"exercises/{name}")
    return buffer.getvalue()


def _prepared_files(path: Path) -> set[str]:
    prepared = prepare(path)
    try:
        return {p.name for p in prepared.folder.iterdir()}
    finally:
        prepared.cleanup()


@pytest.mark.parametrize("zip_suffix", [".zip", ".ZIP", ".Zip"])
@pytest.mark.parametrize("notebook_suffix", [".ipynb", ".IPYNB", ".Ipynb"])
def test_submission_suffixes_count_in_any_case(tmp_path, zip_suffix, notebook_suffix):
    (tmp_path / f"erin{zip_suffix}").write_bytes(_zip_bytes())
    shutil.copy(NOTEBOOK, tmp_path / f"fred{notebook_suffix}")
    found = expand([tmp_path])
    assert [submission_name(p) for p in found] == ["erin", "fred"]
    assert _prepared_files(tmp_path / f"erin{zip_suffix}") == set(MODULES)
    assert _prepared_files(tmp_path / f"fred{notebook_suffix}") == {f"{NOTEBOOK_MODULE}.py"}


def test_one_name_in_two_cases_of_suffix_is_one_identity(tmp_path):
    (tmp_path / "alice.zip").write_bytes(_zip_bytes())
    (tmp_path / "alice.ZIP").write_bytes(_zip_bytes())
    with pytest.raises(IdentityClash):
        expand([tmp_path])


@pytest.mark.parametrize("others", [[], ["README.txt"], ["notes.md", "grades.csv"]])
def test_what_is_no_submission_is_named_on_the_terminal(tmp_path, capsys, others):
    for name in ["gina.tar.gz", "hal.rar", *others]:
        (tmp_path / name).write_bytes(b"x")
    for hidden in (".DS_Store", "._erin.zip", "__MACOSX"):
        (tmp_path / hidden).write_bytes(b"x")
    (tmp_path / "erin").mkdir()
    say_left_out([tmp_path])
    listed = ", ".join(sorted(["gina.tar.gz", "hal.rar", *others]))
    assert capsys.readouterr().err == (f"left out of {tmp_path}, not a folder, .zip or .ipynb: "
                                       f"{listed}\n")


def test_a_folder_per_student_holding_only_the_notebook(tmp_path):
    for student in ("alice", "bob"):
        (tmp_path / student).mkdir()
        shutil.copy(NOTEBOOK, tmp_path / student / "vanishing_gradients.ipynb")
    found = expand([tmp_path])
    assert [submission_name(p) for p in found] == ["alice", "bob"]
    assert [submission_name(p) for p in expand([tmp_path / "alice", tmp_path / "bob"])] == [
        "alice", "bob"]
    assert is_one_submission(tmp_path / "alice") and not is_one_submission(tmp_path)
    assert _prepared_files(tmp_path / "alice") == {f"{NOTEBOOK_MODULE}.py"}
    result = grade_submission(tmp_path / "alice", seed=5, measure=False)
    assert (result.name, result.score, result.error) == ("alice", 50, None)


@pytest.mark.parametrize("named", ["my_work.ipynb", "vanishing_gradients (1).ipynb"])
def test_a_student_folder_with_one_notebook_of_any_name_is_that_notebook(tmp_path, named):
    (tmp_path / "alice").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "alice" / named)
    assert _prepared_files(tmp_path / "alice") == {f"{NOTEBOOK_MODULE}.py"}


def test_two_notebooks_in_a_student_folder_are_not_guessed_between(tmp_path):
    (tmp_path / "alice").mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        shutil.copy(NOTEBOOK, tmp_path / "alice" / name)
    with pytest.raises(Exception, match="no exercise modules"):
        prepare(tmp_path / "alice")


@pytest.mark.parametrize("stray", [("layers.py",), ("layers.py", "network.py"), ("scratch.py",)])
def test_a_stray_module_beside_a_complete_exercises_folder_does_not_hide_it(tmp_path, stray):
    shutil.copytree(CORRECT, tmp_path / "dora" / "exercises")
    for name in stray:
        (tmp_path / "dora" / name).write_text("x = 1\n")
    assert _prepared_files(tmp_path / "dora") >= set(MODULES)
    prepared = prepare(tmp_path / "dora")
    try:
        assert (prepared.folder / "layers.py").read_bytes() == (CORRECT / "layers.py").read_bytes()
    finally:
        prepared.cleanup()
