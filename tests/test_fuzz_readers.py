"""Generated malformed zips, notebooks, modules and folder trees: prepare() returns a submission
or refuses it with a one-line message, never anything else, within a time bound; and no byte it
prepares was read through a link.

``make test`` runs 1,310 generated cases (about 15 s on one core); ``make fuzz`` sets
VG_FUZZ_SCALE to run many times more. Hypothesis is derandomized: the same cases run every time.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from grader.batch.submissions import (
    MAX_AST_DEPTH,
    MAX_JSON_TOKENS,
    MAX_MEMBER_BYTES,
    MAX_NOTEBOOK_BYTES,
    MAX_NOTEBOOK_CELLS,
    MAX_SOURCE_BYTES,
    MAX_UNPACKED_BYTES,
    MAX_ZIP_FILE_BYTES,
    Prepared,
    prepare,
    source_problem,
)
from grader.student.loader import SubmissionError
from tests.strategies import SLOW_INPUTS, generated, json_values, unicode_text

CORRECT = Path(__file__).resolve().parent.parent / "examples" / "correct"
MODULES = {p.name: p.read_bytes() for p in sorted(CORRECT.glob("*.py"))}
CASE_SECONDS = 5.0  # one prepare(); the slowest generated case takes well under 1 s
SLOWEST: dict[str, float] = {}


def fuzz(examples: int) -> settings:
    """The shared settings, with the health checks these large generated inputs trip off."""
    return generated(examples, suppress=SLOW_INPUTS)


@pytest.fixture(scope="module")
def scratch():
    """A private temporary folder: prepare()'s own folders must all be gone after each case."""
    root = Path(tempfile.mkdtemp(prefix="vg-fuzz-"))
    before, tempfile.tempdir = tempfile.tempdir, str(root / "tmp")
    (root / "tmp").mkdir()
    yield root
    tempfile.tempdir = before
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() or path.is_symlink() else path.rmdir()
    root.rmdir()
    print(f"\nslowest prepare() per kind: {SLOWEST}")


def outcome(path: Path, kind: str, scratch: Path) -> str:
    """prepare(path), checked: a clean Prepared, or a one-line SubmissionError; nothing left."""
    started = time.perf_counter()
    try:
        prepared = prepare(path)
    except SubmissionError as error:
        message = str(error)
        assert message and message.isprintable() and len(message) <= 600, message
        verdict = "refused"
    else:
        try:
            assert isinstance(prepared, Prepared)
            files = list(prepared.folder.iterdir())
            for file in files:
                assert file.is_file() and not file.is_symlink() and file.suffix == ".py"
                assert file.stat().st_size <= MAX_SOURCE_BYTES
            assert all(note.isprintable() for note in prepared.notes), prepared.notes
        finally:
            prepared.cleanup()
        verdict = "prepared"
    elapsed = time.perf_counter() - started
    SLOWEST[kind] = round(max(SLOWEST.get(kind, 0.0), elapsed), 3)
    assert elapsed < CASE_SECONDS
    assert not any((scratch / "tmp").iterdir()), "prepare() left a temporary folder"
    return verdict


# ---------------------------------------------------------------------------------------------
# Python sources: realistic, broken and pathologically nested

NESTERS = ["({})", "[{}]", "-{}", "not {}", "{} + 1", "1 ** {}", "{}.a", "{}()", "{}[0]",
           "(1 if {} else 2)", "lambda: {}", "f({})", "{{1: {}}}", "await {}", "{} if 1 else 0"]


@st.composite
def nested_source(draw) -> str:
    expression = "x"
    for _ in range(draw(st.integers(0, 40))):  # a mixture of nestings, each repeated
        shape = draw(st.sampled_from(NESTERS))
        for _ in range(draw(st.sampled_from([1, 2, 10, 50, 150, 400, 1200]))):
            expression = shape.format(expression)
            if len(expression) > 60_000:
                break
    return f"def f():\n    return {expression}\n"


PYTHON = st.one_of(
    st.sampled_from([m.decode() for m in MODULES.values()]),
    st.sampled_from(["import numpy as np\n", "%matplotlib inline\n", "!pip install x\n",
                     "def broken(:\n    pass\n", "x = 1\x00\n", "s = '\ud800'\n",
                     "from __future__ import annotations\n", "\tif 1:\n  pass\n",
                     "@dataclass\nclass A:\n    x: int = 0\n", "ZERO = np.zeros(())\n",
                     "x = " + "(" * 250 + ")" * 250 + "\n", "# coding: nope\n",
                     "raise SystemExit\n", "def f():\n" + "    if 1:\n" * 30 + "pass\n",
                     "x = '" + "a" * 100_000 + "'\n", "\r\n".join(["a = 1"] * 100)]),
    nested_source(),
    st.text(max_size=80),
)


@fuzz(120)
@given(source=PYTHON, name=st.sampled_from(["layers.py", "helper.py"]))
def test_any_module_source_is_prepared_or_noted(scratch, source, name):
    folder = scratch / "alice"
    folder.mkdir(exist_ok=True)
    for module, text in MODULES.items():
        (folder / module).write_bytes(text)
    (folder / name).write_bytes(source.encode("utf-8", "surrogatepass"))
    problem = source_problem(source.encode("utf-8", "surrogatepass"))
    assert problem is None or problem.isprintable()
    assert outcome(folder, "module", scratch) == "prepared"


# ---------------------------------------------------------------------------------------------
# Notebooks: wrong types in every nbformat field, deep nesting, corrupt bytes

JSON = json_values(text_size=12, key_size=6, integers=st.integers(-2**70, 2**70), max_leaves=12)
DEEP = "__deep__"  # replaced, after json.dumps, by a deeply nested JSON text


def maybe(value) -> st.SearchStrategy:
    """Mostly the right type, else any JSON value or a deeply nested one."""
    return st.one_of(value, value, value, JSON, st.just(DEEP))


NBGRADER = st.fixed_dictionaries({}, optional={
    "grade": maybe(st.booleans()), "solution": maybe(st.booleans()), "locked": JSON,
    "grade_id": maybe(st.text(max_size=8)), "points": maybe(st.integers(0, 5)),
    "schema_version": JSON, "task": JSON})
CELL = st.fixed_dictionaries({}, optional={
    "cell_type": maybe(st.sampled_from(["code", "code", "markdown", "raw"])),
    "source": maybe(st.one_of(PYTHON, st.lists(PYTHON, max_size=3),
                              st.lists(st.one_of(PYTHON, JSON), max_size=3))),
    "metadata": maybe(st.fixed_dictionaries({}, optional={"nbgrader": maybe(NBGRADER),
                                                          "tags": JSON})),
    "outputs": maybe(st.lists(JSON, max_size=2)), "execution_count": JSON, "id": JSON,
    "attachments": JSON})
NOTEBOOK_DICT = st.fixed_dictionaries(
    {"cells": maybe(st.lists(maybe(CELL), max_size=6))},
    optional={"metadata": JSON, "nbformat": maybe(st.just(4)), "nbformat_minor": JSON})
NOTEBOOK = st.one_of(NOTEBOOK_DICT, NOTEBOOK_DICT, NOTEBOOK_DICT,
                     st.fixed_dictionaries({}, optional={"cells": JSON, "metadata": JSON}), JSON)


def deep_json(kind: str, depth: int) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    if kind == "dict":
        return '{"a": ' * depth + "1" + "}" * depth
    return "[" * depth  # unclosed


@st.composite
def notebook_bytes(draw) -> bytes:
    text = json.dumps(draw(NOTEBOOK), allow_nan=True)
    deep = deep_json(draw(st.sampled_from(["list", "dict", "open"])),
                     draw(st.sampled_from([1, 5, 99, 100, 101, 500, 5000, 100_000])))
    text = text.replace(json.dumps(DEEP), deep)
    data = text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        data = draw(mutated(data))
    return data


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes flipped, overwritten or inserted."""
    at = draw(st.integers(0, max(0, len(data) - 1)))
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "prefix"]))
    if how == "truncate":
        return data[:at]
    if how == "flip" and data:
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    junk = draw(st.one_of(st.binary(min_size=1, max_size=16),
                          st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\\", b'"', b"[{",
                                           b"\x00", b"\xc3", b"NaN", b"1e999999", b"9" * 5000])))
    if how == "overwrite":
        return data[:at] + junk + data[at + len(junk):]
    if how == "prefix":
        return junk + data
    return data[:at] + junk + data[at:]


@fuzz(450)
@given(data=notebook_bytes())
def test_any_notebook_is_prepared_or_refused_in_one_line(scratch, data):
    path = scratch / "alice.ipynb"
    path.write_bytes(data)
    outcome(path, "notebook", scratch)


@fuzz(80)
@given(cells=st.lists(st.one_of(PYTHON, st.lists(PYTHON, max_size=3)), min_size=1, max_size=8))
def test_a_well_formed_notebook_of_any_code_is_prepared_or_refused(scratch, cells):
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": c,
                           "execution_count": None} for c in cells],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = scratch / "bob.ipynb"
    path.write_text(json.dumps(notebook))
    outcome(path, "notebook code", scratch)


# ---------------------------------------------------------------------------------------------
# Zips: odd names, link and special-file members, flags, methods, lying headers, corrupt bytes

MEMBER_NAMES = st.one_of(
    st.sampled_from([*MODULES, *(f"exercises/{m}" for m in MODULES),
                     *(f"bob/exercises/{m}" for m in MODULES), *(f"bob/{m}" for m in MODULES),
                     "exercises", "bob/exercises", "bob/", "exercises/", "helper.py",
                     "conftest.py", "x.pth", "__init__.py", "/etc/layers.py", "../layers.py",
                     "bob/../../layers.py", "C:/layers.py", "bob\\exercises\\layers.py",
                     "__MACOSX/bob/._layers.py", ".git/config", "a" * 300 + ".py",
                     "é/ü/layers.py", "x\x00y.py", "bob//exercises//layers.py", "./layers.py",
                     "layers.py/network.py", "bob/exercises/\x1b[31m.py", "", "."]),
    unicode_text(max_size=30))
MODES = st.sampled_from([None] * 5 + [stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777,
                                      stat.S_IFIFO | 0o644, stat.S_IFCHR | 0o644,
                                      stat.S_IFBLK | 0o644, stat.S_IFSOCK | 0o755,
                                      stat.S_IFDIR | 0o755, 0o170000, 0o777])
CONTENTS = st.one_of(st.sampled_from(list(MODULES.values())), st.binary(max_size=64),
                     PYTHON.map(lambda s: s.encode("utf-8", "surrogatepass")),
                     st.sampled_from([MAX_MEMBER_BYTES - 1, MAX_MEMBER_BYTES,
                                      MAX_MEMBER_BYTES + 1, 3 * MAX_MEMBER_BYTES])
                     .map(lambda n: b"#" * n))
# Header fields (offset in a central-directory header, in a local header, struct format).
FIELDS = {"flags": (8, 6, "<H"), "method": (10, 8, "<H"), "crc": (16, 14, "<I"),
          "compressed size": (20, 18, "<I"), "size": (24, 22, "<I"), "name length": (28, 26, "<H"),
          "extra length": (30, 28, "<H"), "external attributes": (38, None, "<I"),
          "local offset": (42, None, "<I")}
VALUES = {"<H": st.sampled_from([0, 1, 8, 9, 12, 14, 93, 99, 0x41, 0x800, 0x2001, 0xFFFF]),
          "<I": st.sampled_from([0, 1, 10, 0x7FFFFFFF, 0xFFFFFFFF, stat.S_IFLNK << 16,
                                 stat.S_IFIFO << 16, MAX_MEMBER_BYTES + 1])}


@st.composite
def zip_bytes(draw) -> bytes:
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
            warnings.simplefilter("ignore")  # duplicated names are one of the cases
            if draw(st.booleans()):  # a real submission, for the odd members to spoil or not
                prefix = draw(st.sampled_from(["", "exercises/", "bob/", "bob/exercises/"]))
                for name, text in MODULES.items():
                    archive.writestr(prefix + name, text, zipfile.ZIP_DEFLATED)
            for _ in range(draw(st.integers(0, 8))):
                info = zipfile.ZipInfo(draw(MEMBER_NAMES))
                info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED,
                                                           zipfile.ZIP_DEFLATED]))
                mode = draw(MODES)
                if mode is not None:
                    info.create_system, info.external_attr = 3, mode << 16
                if draw(st.sampled_from([False] * 7 + [True])):
                    info.flag_bits |= 0x1  # says encrypted; the data is not
                archive.writestr(info, draw(CONTENTS))
    except (ValueError, struct.error, UnicodeEncodeError, OSError):
        reject()
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):  # headers that lie
        central, local, fmt = FIELDS[draw(st.sampled_from(sorted(FIELDS)))]
        value = draw(VALUES[fmt])
        for signature, offset in ((b"PK\x01\x02", central), (b"PK\x03\x04", local)):
            at = data.find(signature)
            if offset is not None and at >= 0 and draw(st.booleans()):
                if at + offset + struct.calcsize(fmt) <= len(data):
                    struct.pack_into(fmt, data, at + offset, value)
    result = bytes(data)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        result = draw(mutated(result))
    return result


@fuzz(450)
@given(data=zip_bytes())
def test_any_zip_is_prepared_or_refused_in_one_line(scratch, data):
    path = scratch / "bob.zip"
    path.write_bytes(data)
    outcome(path, "zip", scratch)


def test_the_generators_reach_both_verdicts(scratch):
    """The generated cases are not all refusals: valid submissions come out of them too."""
    verdicts = {"notebook": set(), "zip": set()}

    @generated(60, suppress=tuple(HealthCheck))
    @given(notebook=notebook_bytes(), archive=zip_bytes())
    def collect(notebook, archive):
        (scratch / "n.ipynb").write_bytes(notebook)
        (scratch / "z.zip").write_bytes(archive)
        verdicts["notebook"].add(outcome(scratch / "n.ipynb", "notebook", scratch))
        verdicts["zip"].add(outcome(scratch / "z.zip", "zip", scratch))

    collect()
    assert verdicts == {"notebook": {"prepared", "refused"}, "zip": {"prepared", "refused"}}


def test_nesting_just_under_the_cap_is_kept_and_just_over_is_refused():
    def depth_of(source: str) -> int:
        import ast

        deepest, todo = 0, [(ast.parse(source), 1)]
        while todo:
            node, depth = todo.pop()
            deepest = max(deepest, depth)
            todo.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
        return deepest

    terms = MAX_AST_DEPTH - depth_of("x = 1 + 1") + 1  # each further "+ 1" nests one deeper
    under = "x = 1" + " + 1" * terms
    over = under + " + 1"
    assert depth_of(under) == MAX_AST_DEPTH and source_problem(under.encode()) is None
    assert source_problem(over.encode()) == (
        f"nested {MAX_AST_DEPTH + 1} levels deep (the limit is {MAX_AST_DEPTH})")


# ---------------------------------------------------------------------------------------------
# The costliest inputs within the caps: measured time and peak memory of prepare()


def _notebook_text(sources: list[str], **extra: object) -> bytes:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "source": s} for s in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, **extra}).encode()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(MAX_UNPACKED_BYTES // MAX_MEMBER_BYTES + 1):
            archive.writestr(f"bob/m{i}.py", b"#" * MAX_MEMBER_BYTES)
    return buffer.getvalue()


COSTLIEST = {  # name: (file name, bytes, the verdict's start)
    "notebook of short strings up to the byte cap": lambda: (
        "a.ipynb", b'{"cells": [], "x": ["' + b'abcdefghijklmn", "' * (
            (MAX_NOTEBOOK_BYTES - 64) // 18) + b'"]}', "prepared"),
    "notebook of numbers up to the value cap": lambda: (
        "a.ipynb", b'{"cells": [], "x": [' + b"0," * (MAX_JSON_TOKENS - 10) + b"0]}",
        "prepared"),
    "notebook of escaped quotes, unterminated": lambda: (
        "a.ipynb", b'"' + b'\\"' * (MAX_NOTEBOOK_BYTES // 2 - 8),
        "a.ipynb is not a readable notebook: JSONDecodeError: Unterminated string"),
    "a cell of calls up to the source cap": lambda: (
        "a.ipynb", _notebook_text(["f" + "()" * (MAX_SOURCE_BYTES // 2 - 8)]),
        "prepared"),  # the worker compiles cells, and skips this one
    "the most cells allowed": lambda: (
        "a.ipynb", _notebook_text(["def f():\n    return 1\n"] * MAX_NOTEBOOK_CELLS),
        "prepared"),
    "a zip that unpacks past the total cap": lambda: (
        "b.zip", _bomb(), "b.zip: member bob/m40.py unpacks to more than"),
    "a zip file of central-directory signatures": lambda: (
        "b.zip", b"PK\x01\x02" * (MAX_ZIP_FILE_BYTES // 4), "b.zip holds more than"),
}
SECONDS_BOUND, MEGABYTES_BOUND = 5.0, 300  # measured: at most ~1 s and ~185 MB (tracemalloc)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(COSTLIEST))
def test_the_costliest_inputs_stay_within_time_and_memory(scratch, case):
    import tracemalloc

    name, data, verdict = COSTLIEST[case]()
    path = scratch / name
    path.write_bytes(data)
    del data
    tracemalloc.start()
    started = time.perf_counter()
    try:
        prepare(path).cleanup()
        got = "prepared"
    except SubmissionError as error:
        got = str(error)
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"\n{case}: {seconds:.2f} s, peak {peak:.0f} MB")
    assert got.startswith(verdict), got
    assert seconds < SECONDS_BOUND and peak < MEGABYTES_BOUND


# ---------------------------------------------------------------------------------------------
# Folders of regular files, folders, links and FIFOs: nothing is ever read through a link

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
LINK_TARGETS = [SOLUTIONS, SOLUTIONS / "layers.py", SOLUTIONS.parent / "notebook",
                Path("/dev/zero"), Path("/nonexistent"), Path("."), Path("..")]
ENTRY_NAMES = st.sampled_from([*MODULES, "exercises", "work", "helper.py", "x.pth", ".hidden",
                               "__pycache__", "conftest.py", "notes.txt"])
ENTRY_KINDS = st.sampled_from(["module", "module", "module", "folder", "link", "fifo"])


@st.composite
def folder_tree(draw, depth: int = 0) -> dict:
    """{name: ("module", text) | ("link", target) | ("fifo", None) | ("folder", {...})}"""
    tree: dict = {}
    for _ in range(draw(st.integers(0, 7 if depth < 2 else 3))):
        name, kind = draw(ENTRY_NAMES), draw(ENTRY_KINDS)
        if kind == "folder" and depth < 3:
            tree[name] = ("folder", draw(folder_tree(depth + 1)))
        elif kind == "link":
            tree[name] = ("link", draw(st.sampled_from(LINK_TARGETS)))
        elif kind == "fifo":
            tree[name] = ("fifo", None)
        else:
            tree[name] = ("module", f"# the student's own file {draw(st.integers(0, 99))}\n")
    return tree


def build_tree(root: Path, tree: dict) -> set[bytes]:
    """Make ``tree`` under ``root``; the contents of the regular files written."""
    root.mkdir()
    written: set[bytes] = set()
    for name, (kind, value) in tree.items():
        if kind == "folder":
            written |= build_tree(root / name, value)
        elif kind == "link":
            (root / name).symlink_to(value)
        elif kind == "fifo":
            os.mkfifo(root / name)
        else:
            (root / name).write_text(value)
            written.add(value.encode())
    return written


@fuzz(150)
@given(tree=folder_tree())
def test_a_folder_never_yields_a_byte_read_through_a_link(scratch, tree):
    root = scratch / "trees" / "alice"
    if root.parent.exists():
        for path in sorted(root.parent.rglob("*"), key=lambda p: -len(p.parts)):
            path.unlink() if path.is_symlink() or not path.is_dir() else path.rmdir()
        root.parent.rmdir()
    root.parent.mkdir()
    written = build_tree(root, tree)
    started = time.perf_counter()
    try:
        prepared = prepare(root)
    except SubmissionError as error:
        assert str(error).isprintable()
    else:
        try:
            for file in prepared.folder.iterdir():
                assert file.read_bytes() in written  # the student's own bytes, nothing else
        finally:
            prepared.cleanup()
    assert time.perf_counter() - started < CASE_SECONDS
    assert not any((scratch / "tmp").iterdir())
