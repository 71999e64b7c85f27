"""Reading submissions: only the student's own regular files, within caps, one-line refusals.

Each case states the exact verdict: the files prepared, the note, or the refusal's message. The
generated cases (malformed zips and notebooks) are in tests/test_fuzz_readers.py.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader.batch import run as batch
from grader.batch.run import grade_submission
from grader.batch.submissions import (
    MAX_AST_DEPTH,
    MAX_FOLDER_ENTRIES,
    MAX_JSON_DEPTH,
    MAX_JSON_TOKENS,
    MAX_MEMBER_BYTES,
    MAX_NOTEBOOK_BYTES,
    MAX_NOTEBOOK_CELLS,
    MAX_SOURCE_BYTES,
    MAX_UNPACKED_BYTES,
    MAX_ZIP_FILE_BYTES,
    MAX_ZIP_MEMBERS,
    one_line,
    prepare,
    source_problem,
)
from grader.checking.trial import REGISTRY
from grader.student.loader import NOTEBOOK_MODULE, SubmissionError

REPO = Path(__file__).resolve().parent.parent
CORRECT = REPO / "examples" / "correct"
SOLUTIONS = REPO / "solutions"
INSTRUCTOR_NOTEBOOK = REPO / "notebook" / "vanishing_gradients.ipynb"
MODULE_FILES = ("activations.py", "gradient_check.py", "layers.py", "network.py")
TOTAL = sum(c.points for c in REGISTRY.values())
ONLY = "only the student's own regular files and folders are graded"


def refusal(path: Path) -> str:
    """The message prepare() refuses ``path`` with (failing if it prepares it)."""
    with pytest.raises(SubmissionError) as caught:
        prepare(path).cleanup()
    message = str(caught.value)
    assert "\n" not in message and message.isprintable()
    return message


def prepared_files(path: Path) -> tuple[dict[str, bytes], list[str]]:
    prepared = prepare(path)
    try:
        return ({p.name: p.read_bytes() for p in prepared.folder.iterdir()},
                list(prepared.notes))
    finally:
        prepared.cleanup()


def correct_folder(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in MODULE_FILES:
        (target / name).write_bytes((CORRECT / name).read_bytes())
    return target


def zip_of(path: Path, members: dict[str, bytes], modes: dict[str, int] | None = None,
           method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if modes and name in modes:
                info.create_system = 3
                info.external_attr = modes[name] << 16
            archive.writestr(info, data)
    return path


def correct_members(prefix: str = "bob/exercises/") -> dict[str, bytes]:
    return {prefix + name: (CORRECT / name).read_bytes() for name in MODULE_FILES}


def notebook_json(sources: list[object], **cell_fields: object) -> dict:
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [],
              "execution_count": None, **cell_fields} for s in sources]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def short_tmp() -> Path:
    # An AF_UNIX socket's path must fit in 108 bytes: pytest's tmp_path may not.
    return Path(tempfile.mkdtemp(prefix="vg-t-", dir="/tmp"))


# ---------------------------------------------------------------------------------------------
# Links and special files


def test_a_correct_folder_is_copied_whole(tmp_path):
    files, notes = prepared_files(correct_folder(tmp_path / "alice"))
    assert files == {n: (CORRECT / n).read_bytes() for n in MODULE_FILES}
    assert notes == []


def test_exercises_linked_to_the_reference_is_refused(tmp_path):
    alice = tmp_path / "alice"
    alice.mkdir()
    (alice / "exercises").symlink_to(SOLUTIONS)
    assert refusal(alice) == f"alice/exercises is a symbolic link: {ONLY}"


def test_a_notebook_linked_to_the_instructor_notebook_is_refused(tmp_path):
    (tmp_path / "alice.ipynb").symlink_to(INSTRUCTOR_NOTEBOOK)
    assert refusal(tmp_path / "alice.ipynb") == f"alice.ipynb is a symbolic link: {ONLY}"


@pytest.mark.parametrize("target", [SOLUTIONS, CORRECT, Path("/dev/zero"), Path("/nonexistent")])
def test_a_submission_that_is_itself_a_link_is_refused(tmp_path, target):
    for name in ("alice", "alice.zip", "alice.ipynb"):
        (tmp_path / name).symlink_to(target)
        assert refusal(tmp_path / name) == f"{name} is a symbolic link: {ONLY}"


@pytest.mark.parametrize("module", MODULE_FILES)
@pytest.mark.parametrize("target", [SOLUTIONS / "layers.py", Path("/dev/zero"),
                                    Path("/nonexistent")])
def test_an_exercise_module_that_is_a_link_refuses_the_submission(tmp_path, module, target):
    alice = correct_folder(tmp_path / "alice")
    (alice / module).unlink()
    (alice / module).symlink_to(target)
    assert refusal(alice) == f"alice/{module} is a symbolic link: {ONLY}"


def test_modules_that_are_all_links_under_exercises_are_refused(tmp_path):
    exercises = tmp_path / "alice" / "exercises"
    exercises.mkdir(parents=True)
    for name in MODULE_FILES:
        (exercises / name).symlink_to(SOLUTIONS / name)
    assert refusal(tmp_path / "alice") == (
        f"alice/exercises/activations.py is a symbolic link: {ONLY}")


def test_the_one_nested_folder_being_a_link_is_refused(tmp_path):
    outer = tmp_path / "alice"
    outer.mkdir()
    (outer / "work").symlink_to(SOLUTIONS)
    assert refusal(outer) == f"alice/work is a symbolic link: {ONLY}"


def test_an_extra_linked_helper_is_skipped_with_a_note_and_costs_only_itself(tmp_path):
    alice = correct_folder(tmp_path / "alice")
    (alice / "helpers.py").symlink_to(SOLUTIONS / "layers.py")
    (alice / "data").symlink_to("/dev/zero")
    files, notes = prepared_files(alice)
    assert set(files) == set(MODULE_FILES)  # the link is not copied, so nothing can import it
    assert notes == [f"ignored data: it is a symbolic link, and {ONLY}",
                     f"ignored helpers.py: it is a symbolic link, and {ONLY}"]


@pytest.mark.parametrize("name", ["alice.ipynb", "alice.zip", "alice"])
def test_a_fifo_submission_is_refused_without_blocking(tmp_path, name):
    os.mkfifo(tmp_path / name)  # opening it for reading would wait for a writer forever
    assert refusal(tmp_path / name) == f"{name} is a FIFO: {ONLY}"


@pytest.mark.parametrize("module", ["layers.py", "helper.py"])
def test_a_fifo_beside_the_modules(tmp_path, module):
    alice = correct_folder(tmp_path / "alice")
    (alice / module).unlink(missing_ok=True)
    os.mkfifo(alice / module)
    if module in MODULE_FILES:
        assert refusal(alice) == f"alice/{module} is a FIFO: {ONLY}"
    else:
        files, notes = prepared_files(alice)
        assert set(files) == set(MODULE_FILES)
        assert notes == [f"ignored {module}: it is a FIFO, and {ONLY}"]


def test_a_fifo_as_exercises_is_refused(tmp_path):
    (tmp_path / "alice").mkdir()
    os.mkfifo(tmp_path / "alice" / "exercises")
    assert refusal(tmp_path / "alice") == f"alice/exercises is a FIFO: {ONLY}"


def test_a_socket_is_refused():
    root = short_tmp()
    try:
        for name in ("s.ipynb", "layers.py"):
            where = root / name if name.endswith(".ipynb") else correct_folder(root / "a") / name
            where.unlink(missing_ok=True)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(str(where))
                shown = "s.ipynb" if name == "s.ipynb" else "a/layers.py"
                assert refusal(where if name == "s.ipynb" else root / "a") == (
                    f"{shown} is a socket: {ONLY}")
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)


def test_a_device_is_refused(tmp_path):
    try:
        os.mknod(tmp_path / "z.ipynb", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    except PermissionError:
        pytest.skip("creating a device node needs root")
    assert refusal(tmp_path / "z.ipynb") == f"z.ipynb is a device: {ONLY}"


def test_a_missing_path_is_refused(tmp_path):
    assert refusal(tmp_path / "nobody") == f"{tmp_path / 'nobody'} does not exist"


def test_an_other_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert refusal(tmp_path / "notes.txt") == "notes.txt is not a folder, a .zip or an .ipynb"


def test_a_folder_of_too_many_entries_is_refused(tmp_path):
    alice = correct_folder(tmp_path / "alice")
    for i in range(MAX_FOLDER_ENTRIES):
        (alice / f"f{i}").touch()
    assert refusal(alice) == f"alice holds more than {MAX_FOLDER_ENTRIES} entries"


# ---------------------------------------------------------------------------------------------
# Python source caps


def test_a_module_over_the_byte_cap_is_skipped_with_a_note(tmp_path):
    alice = correct_folder(tmp_path / "alice")
    (alice / "layers.py").write_bytes(b"#" * (MAX_SOURCE_BYTES + 1))
    files, notes = prepared_files(alice)
    assert set(files) == set(MODULE_FILES) - {"layers.py"}
    assert notes == [f"ignored layers.py: larger than {MAX_SOURCE_BYTES} bytes"]


DEEP_SOURCES = {  # each nests far past MAX_AST_DEPTH without brackets the tokenizer would count
    "unary": "x = " + "-" * 5000 + "1\n",
    "not": "x = " + "not " * 5000 + "1\n",
    "sum": "x = 1" + " + 1" * 5000 + "\n",
    "power": "x = 2" + " ** 1" * 5000 + "\n",
    "attribute": "x = a" + ".b" * 5000 + "\n",
    "call": "x = f" + "()" * 5000 + "\n",
    "subscript": "x = a" + "[0]" * 5000 + "\n",
    "ternary": "x = " + "1 if 1 else " * 2000 + "1\n",
    "lambda": "x = " + "lambda: " * 2000 + "1\n",
    "sum of 450": "x = 1" + " + 1" * 450 + "\n",
}


@pytest.mark.parametrize("kind", sorted(DEEP_SOURCES))
def test_deeply_nested_source_is_refused_before_compiling(tmp_path, kind):
    source = DEEP_SOURCES[kind].encode()
    problem = source_problem(source)
    assert problem is not None
    assert problem.startswith(("nested too deeply to compile", "nested ")), problem
    assert f"{MAX_AST_DEPTH}" in problem
    alice = correct_folder(tmp_path / "alice")
    (alice / "network.py").write_bytes(source)
    files, notes = prepared_files(alice)
    assert set(files) == set(MODULE_FILES) - {"network.py"}
    assert notes == [f"ignored network.py: {problem}"]


@pytest.mark.parametrize("source", [b"def f(:\n", b"x = 1\x00\n", b"# coding: nope\nx = 1\n",
                                    b"x = '\xff'\n", b"(" * 300 + b")" * 300])
def test_a_syntax_error_is_left_to_the_worker_to_report(source):
    assert source_problem(source) is None


def test_the_reference_and_the_instructor_notebook_code_pass_the_source_caps():
    for path in [*SOLUTIONS.glob("*.py"), *CORRECT.glob("*.py")]:
        assert source_problem(path.read_bytes()) is None, path
    notebook = json.loads(INSTRUCTOR_NOTEBOOK.read_text())
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert len(code.encode()) * 4 < MAX_SOURCE_BYTES  # a margin of 4x over the whole notebook
    files, notes = prepared_files(INSTRUCTOR_NOTEBOOK)
    assert set(files) == {f"{NOTEBOOK_MODULE}.py"}


# ---------------------------------------------------------------------------------------------
# Notebooks


def write_notebook(path: Path, notebook: object) -> Path:
    path.write_text(json.dumps(notebook))
    return path


NOTEBOOK_SHAPES = {  # each crashed prepare() with something other than SubmissionError before
    "metadata a list": notebook_json(["x = 1"], metadata=[1, 2]),
    "metadata a string": notebook_json(["x = 1"], metadata="nbgrader"),
    "nbgrader a list": notebook_json(["x = 1"], metadata={"nbgrader": ["grade"]}),
    "source of numbers": notebook_json([[1, 2, 3]]),
    "source a number": notebook_json([12]),
    "cells a number": {"cells": 3},
    "cells null": {"cells": None},
    "a list": [1, 2],
    "a string": "cells",
}


@pytest.mark.parametrize("shape", sorted(NOTEBOOK_SHAPES))
def test_a_notebook_of_the_wrong_shape_is_a_one_line_refusal_or_a_module(tmp_path, shape):
    path = write_notebook(tmp_path / "alice.ipynb", NOTEBOOK_SHAPES[shape])
    try:
        files, _ = prepared_files(path)
    except SubmissionError as error:
        message = str(error)
        assert message.startswith("alice.ipynb") and "\n" not in message
    else:
        assert set(files) == {f"{NOTEBOOK_MODULE}.py"}


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000, f"its JSON nests deeper than {MAX_JSON_DEPTH} levels"),
    ('{"cells": [], "m": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
     f"its JSON nests deeper than {MAX_JSON_DEPTH} levels"),
    ('{"cells": [' + "0," * MAX_JSON_TOKENS + "0]}",
     f"it holds more than {MAX_JSON_TOKENS} JSON values"),
    ('{"cells": [}', "JSONDecodeError: Expecting value: line 1 column 12 (char 11)"),
    ('{"n": ' + "9" * 5000 + "}", "ValueError: Exceeds the limit (4300 digits) for integer "
     "string conversion: value has 5000 digits; use sys.set_int_max_str_digits() to increase "
     "the limit"),
])
def test_json_beyond_the_caps_is_refused_before_parsing(tmp_path, text, message):
    (tmp_path / "a.ipynb").write_text(text)
    assert refusal(tmp_path / "a.ipynb") == f"a.ipynb is not a readable notebook: {message}"


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    source = "x = " + repr("[" * 5000 + "{" * 5000 + '\\"' + "[" * 500) + "\n"
    path = write_notebook(tmp_path / "a.ipynb", notebook_json([source]))
    files, _ = prepared_files(path)
    assert set(files) == {f"{NOTEBOOK_MODULE}.py"}


def test_a_notebook_not_in_utf8_is_refused(tmp_path):
    (tmp_path / "a.ipynb").write_bytes(json.dumps(notebook_json(["x = 'é'"])).encode("utf-16"))
    assert refusal(tmp_path / "a.ipynb").startswith(
        "a.ipynb is not a readable notebook: UnicodeDecodeError")


def test_a_notebook_over_its_caps_is_refused(tmp_path):
    (tmp_path / "a.ipynb").write_bytes(b" " * (MAX_NOTEBOOK_BYTES + 1))
    assert refusal(tmp_path / "a.ipynb") == f"a.ipynb is larger than {MAX_NOTEBOOK_BYTES} bytes"
    write_notebook(tmp_path / "b.ipynb", notebook_json(["x = 1"] * (MAX_NOTEBOOK_CELLS + 1)))
    assert refusal(tmp_path / "b.ipynb") == f"b.ipynb holds more than {MAX_NOTEBOOK_CELLS} cells"
    write_notebook(tmp_path / "c.ipynb", notebook_json(["#" * MAX_SOURCE_BYTES, "x = 1"]))
    assert refusal(tmp_path / "c.ipynb") == (
        f"c.ipynb: its code cells hold more than {MAX_SOURCE_BYTES} bytes")


@pytest.mark.parametrize("kind", ["unary", "sum", "call", "ternary"])
def test_a_deeply_nested_cell_is_left_to_the_worker(tmp_path, kind):
    # The judge does not parse a notebook's cells: the worker compiles each one, and a cell
    # too deep to compile is skipped there with a note, as a kernel fails only that cell.
    path = write_notebook(tmp_path / "a.ipynb", notebook_json([DEEP_SOURCES[kind]]))
    files, notes = prepared_files(path)
    assert set(files) == {f"{NOTEBOOK_MODULE}.py"} and notes == []


def test_a_deeply_nested_cell_costs_only_itself(tmp_path):
    notebook = json.loads(INSTRUCTOR_NOTEBOOK.read_text())
    notebook["cells"].insert(3, {"cell_type": "code", "metadata": {}, "outputs": [],
                                 "execution_count": None, "source": DEEP_SOURCES["call"]})
    path = tmp_path / "deep.ipynb"
    path.write_text(json.dumps(notebook))
    result = grade_submission(path, seed=5, measure=False)
    assert (result.score, result.max_score, result.error) == (50, 50, None)
    assert result.notes == ['cell 4 ("x = f()()()()()()()()()()()()()()()()()…") was not run: '
                            'it cannot be read as Python (RecursionError)']


# ---------------------------------------------------------------------------------------------
# Zips


def test_a_zip_of_a_folder_is_unpacked(tmp_path):
    archive = zip_of(tmp_path / "bob.zip", {**correct_members(), "bob/README.md": b"hi",
                                            "__MACOSX/bob/._layers.py": b"\0\5\26\7"})
    files, notes = prepared_files(archive)
    assert files == {n: (CORRECT / n).read_bytes() for n in MODULE_FILES} and notes == []


@pytest.mark.parametrize("member", ["bob/exercises/layers.py", "bob/exercises"])
def test_a_zip_member_flagged_as_a_link_where_the_grader_reads_is_refused(tmp_path, member):
    members = correct_members()
    if member.endswith(".py"):
        members[member] = b"../../solutions/layers.py"  # a link's data is its target
    else:
        members = {"bob/exercises": str(SOLUTIONS).encode()}
    archive = zip_of(tmp_path / "bob.zip", members, {member: stat.S_IFLNK | 0o777})
    assert refusal(archive) == f"bob.zip/{member} is a symbolic link: {ONLY}"


def test_a_zip_member_flagged_as_a_link_beside_the_modules_is_skipped(tmp_path):
    members = {**correct_members(), "bob/exercises/helpers.py": b"/work/solutions/layers.py"}
    archive = zip_of(tmp_path / "bob.zip", members,
                     {"bob/exercises/helpers.py": stat.S_IFLNK | 0o777})
    files, notes = prepared_files(archive)
    assert set(files) == set(MODULE_FILES)
    assert notes == [f"ignored helpers.py: it is a symbolic link, and {ONLY}"]


@pytest.mark.parametrize("mode, kind", [(stat.S_IFIFO, "a FIFO"), (stat.S_IFCHR, "a device"),
                                        (stat.S_IFBLK, "a device"), (stat.S_IFSOCK, "a socket")])
def test_a_zip_member_flagged_as_a_special_file_is_refused(tmp_path, mode, kind):
    archive = zip_of(tmp_path / "bob.zip", {**correct_members(), "bob/x": b""},
                     {"bob/x": mode | 0o644})
    assert refusal(archive) == f"bob.zip: member bob/x is {kind}: {ONLY}"


def _patch_zip(path: Path, central: int, local: int, fmt: str, value: int) -> None:
    """Write ``value`` at offset ``central`` of every central-directory header and ``local``
    of every local header (field offsets from the zip specification)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x01\x02", central), (b"PK\x03\x04", local)):
        at = data.find(signature)
        while at >= 0:
            struct.pack_into(fmt, data, at + offset, value)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def test_an_encrypted_member_is_refused(tmp_path):
    archive = zip_of(tmp_path / "bob.zip", correct_members())
    _patch_zip(archive, 8, 6, "<H", 0x1)  # general-purpose flag bit 0: encrypted
    assert refusal(archive) == ("bob.zip: member bob/exercises/activations.py is encrypted: "
                                "hand in an unencrypted zip")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 9, 99, 0xFFFF])
def test_compression_other_than_deflate_is_refused(tmp_path, method):
    archive = zip_of(tmp_path / "bob.zip", correct_members())
    _patch_zip(archive, 10, 8, "<H", method)
    assert refusal(archive) == (f"bob.zip: member bob/exercises/activations.py uses compression "
                                f"method {method}: only stored and deflate members are unpacked")


def test_a_corrupt_deflate_stream_is_refused(tmp_path):
    archive = zip_of(tmp_path / "bob.zip", correct_members())
    data = bytearray(archive.read_bytes())
    start = 30 + len("bob/exercises/activations.py")  # the first member's compressed data
    data[start:start + 40] = b"\xff" * 40
    archive.write_bytes(bytes(data))
    message = refusal(archive)
    assert message.startswith("bob.zip: member bob/exercises/activations.py cannot be unpacked "
                              "(error: Error -3 while decompressing data"), message


def test_a_truncated_zip_is_refused(tmp_path):
    archive = zip_of(tmp_path / "bob.zip", correct_members())
    archive.write_bytes(archive.read_bytes()[:-30])
    assert refusal(archive) == ("bob.zip is not a valid zip file (BadZipFile: File is not a zip "
                                "file)")


def test_a_member_over_its_cap_is_skipped_and_a_bomb_is_refused(tmp_path):
    members = {**correct_members(), "bob/exercises/big.py": b"#" * (MAX_MEMBER_BYTES + 1)}
    files, notes = prepared_files(zip_of(tmp_path / "a.zip", members))
    assert set(files) == set(MODULE_FILES)
    assert notes == [f"ignored bob/exercises/big.py: larger than {MAX_MEMBER_BYTES} bytes"]
    count = MAX_UNPACKED_BYTES // MAX_MEMBER_BYTES + 1
    bomb = {f"bob/m{i}.py": b"#" * MAX_MEMBER_BYTES for i in range(count)}
    archive = zip_of(tmp_path / "b.zip", bomb)
    assert archive.stat().st_size < 100_000  # 20 MiB of comments deflate to almost nothing
    assert refusal(archive) == (f"b.zip: member bob/m{count - 1}.py unpacks to more than "
                                f"{MAX_UNPACKED_BYTES} bytes")


def test_a_member_whose_header_understates_its_size_is_refused(tmp_path):
    archive = zip_of(tmp_path / "bob.zip", correct_members())
    _patch_zip(archive, 24, 22, "<I", 10)  # uncompressed size: 10 bytes
    message = refusal(archive)
    assert message.startswith("bob.zip: member bob/exercises/activations.py cannot be unpacked "
                              "(BadZipFile: Bad CRC-32"), message


def test_too_many_members_or_bytes_are_refused(tmp_path):
    many = {f"m{i}.txt": b"" for i in range(MAX_ZIP_MEMBERS + 1)}
    assert refusal(zip_of(tmp_path / "a.zip", many)) == (
        f"a.zip holds more than {MAX_ZIP_MEMBERS} members")
    (tmp_path / "b.zip").write_bytes(b"\0" * (MAX_ZIP_FILE_BYTES + 1))
    assert refusal(tmp_path / "b.zip") == f"b.zip is larger than {MAX_ZIP_FILE_BYTES} bytes"


@pytest.mark.parametrize("name", ["/etc/layers.py", "../layers.py", "bob/../../layers.py",
                                  "C:/layers.py", "bob\\..\\..\\layers.py"])
def test_a_member_leaving_the_archive_is_refused(tmp_path, name):
    archive = zip_of(tmp_path / "bob.zip", {**correct_members(), name: b"x = 1\n"})
    assert refusal(archive) == f"bob.zip: member {name} has a path outside the archive"


def test_duplicated_member_names_are_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(tmp_path / "bob.zip", "w") as handle:
            for name, data in correct_members().items():
                handle.writestr(name, data)
            handle.writestr("bob/exercises/layers.py", b"x = 1\n")
    assert refusal(tmp_path / "bob.zip") == (
        "bob.zip holds two members named bob/exercises/layers.py")


def test_odd_member_names_are_shown_on_one_line(tmp_path):
    archive = zip_of(tmp_path / "bob.zip", {"bob/\x1b[31mred\nline/layers.py": b"x = 1\n",
                                            "bob/x": b""}, {"bob/x": stat.S_IFIFO})
    message = refusal(archive)
    assert message == f"bob.zip: member bob/x is a FIFO: {ONLY}"
    assert one_line("a\nb\x1b[0m") == "a\\nb\\x1b[0m"


# ---------------------------------------------------------------------------------------------
# grade_submission never raises for a submission


def test_grade_submission_records_a_refusal_as_a_zero_with_the_reason(tmp_path):
    (tmp_path / "alice.ipynb").symlink_to(INSTRUCTOR_NOTEBOOK)
    result = grade_submission(tmp_path / "alice.ipynb")
    reason = f"the submission could not be read: alice.ipynb is a symbolic link: {ONLY}"
    assert (result.score, result.max_score, result.error) == (0, TOTAL, reason)
    assert len(result.checks) == len(REGISTRY)
    assert all(c.score == 0 and not c.passed and c.feedback == reason for c in result.checks)


@pytest.mark.parametrize("error", [TypeError("a\nb"), RecursionError("deep"), MemoryError(),
                                   KeyError("k"), zipfile.BadZipFile("x")])
def test_a_reader_bug_is_a_one_line_zero_not_an_exception(tmp_path, monkeypatch, capsys, error):
    def broken(path):
        raise error

    monkeypatch.setattr(batch, "prepare", broken)
    result = grade_submission(correct_folder(tmp_path / "alice"))
    assert result.score == 0 and result.error is not None and "\n" not in result.error
    assert result.error.startswith(("internal grader error while reading the submission "
                                    f"({type(error).__name__}", "the submission could not"))
    assert all(c.feedback == result.error for c in result.checks)


# ---------------------------------------------------------------------------------------------
# A class folder with broken submissions, through the command line


def _broken_class(root: Path) -> dict[str, str]:
    """A class folder: examples/correct and one broken submission per kind, with the reason
    each broken one must be recorded with."""
    root.mkdir()
    correct_folder(root / "correct")
    (root / "linked").mkdir()
    (root / "linked" / "exercises").symlink_to(SOLUTIONS)
    (root / "instructor.ipynb").symlink_to(INSTRUCTOR_NOTEBOOK)
    (root / "zero.ipynb").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo.ipynb")
    (root / "deep.ipynb").write_text("[" * 5000)
    archive = zip_of(root / "corrupt.zip", correct_members())
    _patch_zip(archive, 10, 8, "<H", 99)
    read = "the submission could not be read: "
    return {
        "linked": f"{read}linked/exercises is a symbolic link: {ONLY}",
        "instructor": f"{read}instructor.ipynb is a symbolic link: {ONLY}",
        "zero": f"{read}zero.ipynb is a symbolic link: {ONLY}",
        "fifo": f"{read}fifo.ipynb is a FIFO: {ONLY}",
        "deep": f"{read}deep.ipynb is not a readable notebook: its JSON nests deeper than "
                f"{MAX_JSON_DEPTH} levels",
        "corrupt": f"{read}corrupt.zip: member bob/exercises/activations.py uses compression "
                   "method 99: only stored and deflate members are unpacked",
    }


@pytest.mark.parametrize("kind", ["fifo", "linked"])
def test_results_json_of_a_refused_submission_holds_the_reason(tmp_path, kind):
    reasons = _broken_class(tmp_path / "class")
    path = tmp_path / "class" / ("fifo.ipynb" if kind == "fifo" else "linked")
    results = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--results",
                           str(results)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 0
    assert data["output"] == f"Score: 0 / {TOTAL}.\n{reasons[kind]}"
    assert len(data["tests"]) == len(REGISTRY)
    assert all(t["score"] == 0 and t["status"] == "failed" and reasons[kind] in t["output"]
               for t in data["tests"])


@pytest.mark.slow
def test_a_class_with_broken_submissions_is_graded_to_the_end_and_again(tmp_path):
    reasons = _broken_class(tmp_path / "class")
    book, csv_file, feedback = tmp_path / "book.sqlite", tmp_path / "g.csv", tmp_path / "fb"
    command = [sys.executable, "-m", "grader", "grade", str(tmp_path / "class"), "--gradebook",
               str(book), "--csv", str(csv_file), "--feedback", str(feedback)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for run in ("first", "again"):
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, (run, done.stderr)
        with sqlite3.connect(book) as db:
            rows = {name: (score, error) for name, score, error in
                    db.execute("SELECT name, score, error FROM submissions")}
            feedback_rows = dict(db.execute(
                "SELECT submission, MAX(feedback) FROM results GROUP BY submission"))
        assert rows == {"correct": (TOTAL, None), **{n: (0, r) for n, r in reasons.items()}}
        for name, reason in reasons.items():
            assert feedback_rows[name] == reason
            assert reason in (feedback / f"{name}.md").read_text()
        with open(csv_file, newline="") as handle:
            table = list(csv.reader(handle))
        assert table[0][-1] == "not_graded"
        scores = {row[0]: (row[1], row[2], row[-1]) for row in table[1:]}
        assert scores == {"correct": (str(TOTAL), str(TOTAL), ""),
                          **{n: ("0", str(TOTAL), r) for n, r in reasons.items()}}


def test_many_skipped_links_make_ten_notes_and_a_count(tmp_path):
    alice = correct_folder(tmp_path / "alice")
    for i in range(25):
        (alice / f"link{i:02}").symlink_to("/dev/zero")
    files, notes = prepared_files(alice)
    assert set(files) == set(MODULE_FILES)
    assert notes == [f"ignored link{i:02}: it is a symbolic link, and {ONLY}" for i in range(10)
                     ] + ["ignored 15 more links or special files"]
