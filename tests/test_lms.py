"""LMS bulk downloads: generated Canvas and Moodle download trees (names with accents,
underscores and digits, LATE_, resubmissions, several files per student, noise) are read into
exactly one submission per student, the newest upload graded and said so; the layout is
detected; staging copies what will be graded (grader/batch/lms.py)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.batch.identity import BatchRefused
from grader.batch.lms import (
    canvas_parse,
    detect_layout,
    discover,
    moodle_parse,
    read_canvas,
    read_moodle,
    stage,
)
from grader.batch.roster import Candidate, Student, match
from tests.strategies import generated

MODULE_FILES = ["activations.py", "layers.py", "network.py", "gradient_check.py"]
# Canvas writes the sortable name lower-cased without punctuation: letters (accents too),
# digits and "_" stay.
CANVAS_NAMES = st.text(alphabet=st.sampled_from(list(string.ascii_lowercase + "éüñøß_0123456789")),
                       min_size=1, max_size=10).filter(lambda n: not n.startswith(("_", ".")))
# Moodle writes the full name as it is: spaces, capitals, accents, "_" and digits.
MOODLE_NAMES = st.text(alphabet=st.sampled_from(list(string.ascii_letters + " éÜñ'-_0123456789")),
                       min_size=1, max_size=12).filter(
    lambda n: n.strip() == n and n and not n.startswith(("_", ".", "-")))


@st.composite
def canvas_class(draw, plain_names: bool = False):
    """A Canvas download: {file name: content} and, per identity, what must be graded
    ({original name: content}, late, user id, how many notes)."""
    names = st.text(alphabet=st.sampled_from(list(string.ascii_lowercase + "éü_")), min_size=1,
                    max_size=8).filter(lambda n: not n.startswith("_")) if plain_names \
        else CANVAS_NAMES
    count = draw(st.integers(1, 6))
    people = draw(st.lists(names, min_size=count, max_size=count))
    files: dict[str, bytes] = {}
    expected: dict[str, dict] = {}
    for number, name in enumerate(people):
        user, submission = str(100000 + number * 7), 900000 + number * 11
        late = draw(st.booleans())
        prefix = f"{name}_{'LATE_' if late else ''}{user}_{submission}_"
        kind = draw(st.sampled_from(["modules", "zip", "notebook"]))
        originals = (draw(st.lists(st.sampled_from(MODULE_FILES), min_size=1, max_size=4,
                                   unique=True)) if kind == "modules"
                     else ["work.zip"] if kind == "zip" else ["vanishing_gradients.ipynb"])
        graded, notes = {}, 0
        for original in originals:
            uploads = draw(st.integers(1, 3))
            stem, suffix = original.rsplit(".", 1)
            for n in range(uploads):
                shown = original if n == 0 else f"{stem}-{n}.{suffix}"
                content = f"# {name} {user} {original} upload {n}\n".encode()
                files[prefix + shown] = content
                graded[original] = content
            notes += uploads - 1
        if draw(st.booleans()):  # not code: neither graded nor a student
            files[prefix + "screenshot.png"] = b"\x89PNG"
        if draw(st.booleans()):  # a file from an older submission of the same student
            files[f"{name}_{user}_{submission - 1}_scratch.py"] = b"# old\n"
            notes += 1
        expected[f"{name}_{user}"] = {"files": graded, "late": late, "user": user,
                                      "notes": notes}
    files["grades_export.txt"] = b"noise"
    return files, expected


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return folder


def _staged_files(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {path.suffix: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def _expected_staged(graded: dict[str, bytes]) -> dict[str, bytes]:
    if len(graded) == 1:
        [(original, content)] = graded.items()
        if original.endswith((".zip", ".ipynb")):
            return {"." + original.rsplit(".", 1)[1]: content}
    return dict(graded)


def _check_canvas(tmp_path: Path, files: dict[str, bytes], expected: dict[str, dict],
                  known: set[str]) -> None:
    folder = _write(tmp_path / "download", files)
    assert detect_layout(folder) == "canvas"
    found, left_out = read_canvas(folder, known)
    assert left_out == ["grades_export.txt"]
    assert sorted(f.identity for f in found) == sorted(expected)  # exactly one per student
    for item in found:
        want = expected[item.identity]
        assert (item.layout, item.late, item.lms_user) == ("canvas", want["late"], want["user"])
        assert len(item.notes) == want["notes"], item.notes
        assert all("newest upload" in n or "older submission" in n for n in item.notes)
        staged = stage(item, tmp_path / "staged")
        assert staged.name.startswith(item.identity)
        assert _staged_files(staged) == _expected_staged(want["files"])


@generated(40)
@given(canvas_class())
def test_a_generated_canvas_download_is_one_submission_per_student(tmp_path_factory, case):
    files, expected = case
    known = {e["user"] for e in expected.values()}  # the roster's user ids
    _check_canvas(tmp_path_factory.mktemp("canvas"), files, expected, known)


@generated(30)
@given(canvas_class(plain_names=True))
def test_without_a_roster_names_without_digits_are_read_the_same(tmp_path_factory, case):
    files, expected = case
    _check_canvas(tmp_path_factory.mktemp("canvas"), files, expected, set())


@pytest.mark.parametrize(("filename", "known", "reading"), [
    ("smithbob_340934_208490284_activations.py", (),
     ("smithbob", None, "340934", "activations.py")),
    ("smithbob_LATE_340934_208490284_layers-2.py", (), ("smithbob", "LATE", "340934",
                                                        "layers-2.py")),
    # a name with "_<digits>": the file of the assignment decides, then the roster
    ("jo_3_340934_208490284_activations.py", (), ("jo_3", None, "340934", "activations.py")),
    ("jo_3_340934_208490284_work.zip", ("340934",), ("jo_3", None, "340934", "work.zip")),
    ("jo_3_340934_208490284_work.zip", (), ("jo", None, "3", "208490284_work.zip")),
    ("de_la_cruz_ana_12_34_hw_1_2.zip", (), ("de_la_cruz_ana", None, "12", "hw_1_2.zip")),
])
def test_canvas_names_are_read_as_documented(filename, known, reading):
    parsed = canvas_parse(filename, known)
    assert (parsed["name"], parsed["late"], parsed["user"], parsed["file"]) == reading


@st.composite
def moodle_class(draw):
    count = draw(st.integers(1, 6))
    people = draw(st.lists(MOODLE_NAMES, min_size=count, max_size=count))
    in_folders = draw(st.booleans())
    files: dict[str, bytes] = {}
    expected: dict[str, dict[str, bytes]] = {}
    for number, name in enumerate(people):
        participant = str(5000 + number)
        kind = draw(st.sampled_from(["modules", "zip", "notebook", "exercises"]))
        originals = (draw(st.lists(st.sampled_from(MODULE_FILES), min_size=1, max_size=4,
                                   unique=True)) if kind in ("modules", "exercises")
                     else ["work.zip"] if kind == "zip" else ["vanishing_gradients.ipynb"])
        if kind == "exercises" and not in_folders:
            kind = "modules"  # the flat download has no folders
        graded = {}
        for original in originals:
            inner = f"exercises/{original}" if kind == "exercises" else original
            content = f"# {name} {original}\n".encode()
            where = (f"{name}_{participant}_assignsubmission_file_/{inner}" if in_folders
                     else f"{name}_{participant}_assignsubmission_file_{inner}")
            files[where] = content
            graded[inner] = content
        if draw(st.booleans()):
            files[f"{name}_{participant}_assignsubmission_onlinetext_onlinetext.html"] = b"<p>"
        expected[f"{name}_{participant}"] = graded
    return files, expected


@generated(40)
@given(moodle_class())
def test_a_generated_moodle_download_is_one_submission_per_student(tmp_path_factory, case):
    files, expected = case
    tmp_path = tmp_path_factory.mktemp("moodle")
    folder = _write(tmp_path / "download", files)
    assert detect_layout(folder) == "moodle"
    found, left_out = read_moodle(folder)
    assert left_out == []
    assert sorted(f.identity for f in found) == sorted(expected)
    for item in found:
        assert item.lms_user == item.identity.rsplit("_", 1)[1]
        staged = stage(item, tmp_path / "staged")
        assert _staged_files(staged) == _expected_staged(expected[item.identity])


@pytest.mark.parametrize(("name", "reading"), [
    ("Ana María López_12345_assignsubmission_file_activations.py",
     ("Ana María López", "12345", "submission", "file", "activations.py")),
    ("Bob_2_12345_assignsubmission_file_", ("Bob_2", "12345", "submission", "file", "")),
    ("Bob_12345_assignsubmission_onlinetext_onlinetext.html",
     ("Bob", "12345", "submission", "onlinetext", "onlinetext.html")),
])
def test_moodle_names_are_read_as_documented(name, reading):
    parsed = moodle_parse(name)
    assert (parsed["name"], parsed["user"], parsed["kind"], parsed["plugin"],
            parsed["file"]) == reading


def test_a_folder_class_is_detected_as_folders_and_read_by_expand(tmp_path):
    for student in ("alice", "bob_1_2_x"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "activations.py").write_text("X = 1\n")
    (tmp_path / "class" / "carol_1_2_work.zip").write_bytes(b"PK")  # one zip named like Canvas
    assert detect_layout(tmp_path / "class") == "folders"
    found, left_out = discover([tmp_path / "class"])
    assert sorted(f.identity for f in found) == ["alice", "bob_1_2_x", "carol_1_2_work"]
    assert {f.layout for f in found} == {"folders"} and left_out == []


def test_unknown_submissions_and_absent_students_of_a_download_are_listed(tmp_path):
    folder = _write(tmp_path / "dl", {
        "smithbob_1001_5001_activations.py": b"A = 1\n",
        "jonesann_1002_5002_activations.py": b"A = 2\n",
    })
    found, _ = discover([folder], "canvas", {"1001"})
    matching = match([Student("S1", "Bob Smith", submission="1001"),
                      Student("S9", "Nobody", submission="1009")],
                     [Candidate(f.identity, tuple(f.names), f.lms_user) for f in found])
    assert matching.by_student == {"S1": "smithbob_1001"}
    assert matching.unknown == ["jonesann_1002"]
    assert [s.id for s in matching.no_submission] == ["S9"]


def test_two_downloads_with_one_student_are_refused(tmp_path):
    one = _write(tmp_path / "a", {"bob_1_2_activations.py": b""})
    two = _write(tmp_path / "b", {"bob_1_3_layers.py": b""})
    with pytest.raises(BatchRefused, match="would share the gradebook row bob_1"):
        discover([one, two], "canvas")


def test_a_file_over_its_cap_is_left_out_with_a_note(tmp_path):
    from grader.batch.submissions import MAX_SOURCE_BYTES

    folder = _write(tmp_path / "dl", {
        "bob_1_2_activations.py": b"#" * (MAX_SOURCE_BYTES + 1),
        "bob_1_2_layers.py": b"L = 1\n",
    })
    [item] = read_canvas(folder)[0]
    staged = stage(item, tmp_path / "staged")
    assert _staged_files(staged) == {"layers.py": b"L = 1\n"}
    assert item.notes == [f"bob_1: bob_1_2_activations.py is larger than {MAX_SOURCE_BYTES} bytes; "
                          "left out"]


def test_a_zipped_download_is_refused_with_what_to_do(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as archive:
        archive.writestr("smithbob_1001_5001_activations.py", "A = 1\n")
        archive.writestr("jonesann_LATE_1002_5002_work.zip", "PK")
    with pytest.raises(BatchRefused) as caught:
        discover([tmp_path / "submissions.zip"])
    assert str(caught.value).endswith("submissions.zip is a Canvas bulk download: unzip it and "
                                      "grade the folder it unpacks to")
    with zipfile.ZipFile(tmp_path / "alice.zip", "w") as archive:  # one student's zip
        archive.writestr("activations.py", "A = 1\n")
    assert [f.identity for f in discover([tmp_path / "alice.zip"])[0]] == ["alice"]
