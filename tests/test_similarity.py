"""Similarity across a class (grader/batch/similarity.py): copies are found, honest work is not.

The honest class is every correct variant of the corpus (each the reference with its own take
on some functions) and examples/correct (written in another style throughout). Near-copies are
made here, never stored: names renamed, top-level functions reordered, comments rewritten, in
two styles (rewritten through ``ast``, or edited as text keeping the layout), for every honest
submission at once. The transformations are also generated (hypothesis) on single submissions.
"""

from __future__ import annotations

import ast
import builtins
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.batch import similarity as sim
from grader.batch.similarity import MIN_SHARED, Pair, compare_class, similarity
from tests.corpus.build import build_submission, load_entries

REPO = Path(__file__).resolve().parent.parent
MODULE_NAMES = ("activations", "layers", "network", "gradient_check")
INSTRUCTOR_NOTEBOOK = REPO / "notebook" / "vanishing_gradients.ipynb"
KEEP = set(dir(builtins)) | {"np", "math", "self"}


# --- near-copies ---------------------------------------------------------------------------


class _Renamer(ast.NodeTransformer):
    """Renames every argument and local variable of each function (``fresh`` makes names)."""

    def __init__(self, fresh):
        self.fresh, self.names = fresh, {}

    def _name(self, name: str) -> str:
        if name in KEEP:
            return name
        return self.names.setdefault(name, self.fresh(name))

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._name(node.arg)
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if isinstance(node.ctx, ast.Store) or node.id in self.names:
            node.id = self._name(node.id)
        return node


def copy_via_ast(text: str, rng: random.Random) -> str:
    """Locals renamed, top-level functions shuffled, old comments gone, new ones added."""
    tree = ast.parse(text)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    for function in functions:
        _Renamer(lambda n: f"{n[::-1]}_{rng.randrange(1000)}").visit(function)
    rng.shuffle(functions)
    tree.body = [n for n in tree.body if not isinstance(n, ast.FunctionDef)] + functions
    lines = []
    for line in ast.unparse(tree).splitlines():
        lines.append(line)
        if line.strip().startswith(("return", "for ")) and rng.random() < 0.7:
            indent = line[:len(line) - len(line.lstrip())]
            if line.strip().startswith("for "):
                indent += "    "
            lines.append(f"{indent}# note to self {rng.randrange(100)}: this works now")
    return "\n".join(lines) + "\n"


def copy_as_text(text: str, rng: random.Random) -> str:
    """The same edits by hand: assigned names renamed in place, comments reworded, the
    functions (blocks starting at ``def``) in reverse order, the layout kept."""
    names = set(re.findall(r"^\s*(\w+)\s*=", text, re.M)) | set(re.findall(r"for (\w+) in", text))
    for name in sorted(names - KEEP):
        text = re.sub(rf"\b{name}\b", f"my_{name}", text)
    text = re.sub(r"#[^\n]*", lambda m: f"# reworded {rng.randrange(100)}", text)
    head, *functions = re.split(r"\n(?=def )", text)
    return "\n".join([head, *reversed(functions)]) + "\n"


def plant(source: Path, target: Path, style, seed: int) -> Path:
    rng = random.Random(seed)
    target.mkdir(parents=True)
    for name in MODULE_NAMES:
        text = (source / f"{name}.py").read_text(encoding="utf-8")
        (target / f"{name}.py").write_text(style(text, rng), encoding="utf-8")
    return target


# --- the class -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("honest")
    found = {e.slug: build_submission(e, root / e.slug) for e in load_entries("correct")}
    found["examples_correct"] = Path(shutil.copytree(REPO / "examples" / "correct",
                                                     root / "examples_correct"))
    return found


@pytest.fixture(scope="module")
def planted(honest, tmp_path_factory):
    """The honest class plus a near-copy of each of its submissions (both styles, alternating),
    compared once with threshold 0 (every pair sharing anything)."""
    root = tmp_path_factory.mktemp("planted")
    copies = {}
    for number, (name, path) in enumerate(sorted(honest.items())):
        style = (copy_via_ast, copy_as_text)[number % 2]
        copies[f"copy_of_{name}"] = plant(path, root / f"copy_of_{name}", style, number)
    paths = [*honest.values(), *copies.values()]
    result = compare_class(paths, 0.0, min_shared=0)
    return copies, result


def _pair(result, a: str, b: str) -> Pair | None:
    found = [p for p in result.pairs if {p.a, p.b} == {a, b}]
    return found[0] if found else None


def _flagged(pairs, threshold=sim.DEFAULT_THRESHOLD) -> set[frozenset[str]]:
    return {frozenset((p.a, p.b)) for p in pairs
            if p.score >= threshold and p.shared >= MIN_SHARED}


def test_no_honest_pair_is_flagged(honest):
    result = compare_class(list(honest.values()), 0.0, min_shared=0)
    assert result.compared == len(honest) == len(load_entries("correct")) + 1
    assert result.skipped == ()
    assert _flagged(result.pairs) == set()
    # Not just under the line: no honest pair comes near it.
    assert max(p.score for p in result.pairs) < 0.6


def test_every_near_copy_is_found_with_its_original_and_nothing_else(honest, planted):
    copies, result = planted
    flagged = _flagged(result.pairs)
    expected = set()
    for name in honest:
        pair = _pair(result, name, f"copy_of_{name}")
        small = pair is None or pair.shared < MIN_SHARED
        if small:
            # A variant whose own code is a line or two (relu_grad as a boolean mask): too
            # little to tell a copy from chance, and the detector says nothing.
            assert name.startswith("act_relu_grad_"), (name, pair)
            continue
        expected.add(frozenset((name, f"copy_of_{name}")))
        assert pair.score >= sim.DEFAULT_THRESHOLD, pair
        assert pair.matched and all(m.chars > 0 for m in pair.matched)
    assert flagged == expected
    assert len(expected) >= len(honest) - 2


def test_a_match_names_the_functions_it_lies_in(honest, planted):
    _, result = planted
    pair = _pair(result, "dense_einsum", "copy_of_dense_einsum")
    units = {m.a for m in pair.matched} | {m.b for m in pair.matched}
    assert units <= {"layers.dense_forward", "layers.dense_backward"}
    assert "layers.dense_backward" in units
    whole = _pair(result, "examples_correct", "copy_of_examples_correct")
    assert whole.score > 0.9 and whole.shared > 1000
    assert len(whole.matched) == sim.MAX_MATCHES


def test_stub_only_submissions_share_nothing(honest, tmp_path):
    stubs = []
    for name in ("ann", "ben", "cat"):
        shutil.copytree(REPO / "exercises", tmp_path / name)
        stubs.append(tmp_path / name)
    (tmp_path / "cat" / "activations.py").write_text(
        "# my notes\n" + (REPO / "exercises" / "activations.py").read_text(), encoding="utf-8")
    result = compare_class([*stubs, *list(honest.values())[:3]], 0.0, min_shared=0)
    assert result.compared == 6 and result.skipped == ()
    assert not [p for p in result.pairs if {p.a, p.b} & {"ann", "ben", "cat"}]


def test_a_pair_is_never_hidden_as_common_code_however_small_the_class(honest, tmp_path):
    original = honest["examples_correct"]
    copy_dir = plant(original, tmp_path / "copy", copy_as_text, 1)
    pairs = similarity([original, copy_dir])
    assert [(p.a, p.b) for p in pairs] == [("copy", "examples_correct")]
    assert pairs[0].score > 0.9


def test_three_copies_are_each_flagged_even_as_most_of_a_small_class(honest, tmp_path):
    original = honest["layers_namedtuple_caches"]
    copies = [plant(original, tmp_path / f"c{i}", copy_via_ast, i) for i in range(2)]
    expected = {("c0", "c1"), ("c0", "layers_namedtuple_caches"),
                ("c1", "layers_namedtuple_caches")}
    others = [honest[n] for n in ("dense_einsum", "losses_logsumexp", "numgrad_nditer",
                                  "examples_correct")]
    assert {(p.a, p.b) for p in similarity([original, *copies, *others])} == expected
    # Three of four: under MOSS's floor of 10 programs nothing counts as common code.
    assert {(p.a, p.b) for p in similarity([original, *copies, others[0]])} == expected


def test_code_most_of_a_large_class_shares_is_not_evidence(honest, tmp_path, monkeypatch):
    # The rule itself, with its floor lowered to fit a small class: what three of four share
    # counts as common, and no pair is listed; under the share, every pair is.
    monkeypatch.setattr(sim, "MIN_COMMON", 3)
    original = honest["layers_namedtuple_caches"]
    copies = [plant(original, tmp_path / f"c{i}", copy_via_ast, i) for i in range(2)]
    assert similarity([original, *copies, honest["dense_einsum"]]) == []
    others = [honest[n] for n in ("dense_einsum", "losses_logsumexp", "numgrad_nditer")]
    assert len(similarity([original, *copies, *others])) == 3


def test_the_reference_solution_is_no_evidence_but_is_reported(honest, tmp_path, capsys):
    from grader.cli import main

    for name in ("rex", "ria"):  # two students handing in the reference solution itself
        shutil.copytree(REPO / "solutions", tmp_path / name)
    paths = [tmp_path / "rex", tmp_path / "ria", honest["examples_correct"], REPO / "exercises"]
    result = compare_class(paths, 0.0, min_shared=0)
    assert result.pairs == ()
    shares = {m.name: m.reference_share for m in result.submissions}
    own = {m.name: m.own_chars for m in result.submissions}
    assert shares["rex"] == shares["ria"] == 1.0 and own["rex"] == own["ria"] == 0
    assert shares["exercises"] == 0.0 and own["exercises"] == 0
    assert shares["examples_correct"] < 0.1 and own["examples_correct"] > 1000
    assert main(["similar", *map(str, paths)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0 pair(s) of 4 submissions at or above 0.8")
    assert out[1].startswith("2 submission(s) whose code is mostly the reference solution's")
    assert out[2:] == [" 1.00  rex", " 1.00  ria"]


# --- notebooks ---------------------------------------------------------------------------------


def _notebook_from(folder: Path, tmp_path: Path, name: str) -> Path:
    """The released notebook with each solution cell holding ``folder``'s function."""
    from course.notebook import student_version

    functions = {}
    for module in MODULE_NAMES:
        text = (folder / f"{module}.py").read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = ast.get_source_segment(text, node)
    notebook = student_version(json.loads(INSTRUCTOR_NOTEBOOK.read_text(encoding="utf-8")))
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code" and meta["grade_id"] in functions:
            cell["source"] = functions[meta["grade_id"]]
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def test_a_notebook_copy_of_a_folder_is_found_and_the_notebooks_given_cells_do_not_count(
        honest, tmp_path):
    from course.notebook import student_version

    copied = _notebook_from(honest["examples_correct"], tmp_path, "nina")
    blank = json.dumps(student_version(json.loads(INSTRUCTOR_NOTEBOOK.read_text())))
    (tmp_path / "olga.ipynb").write_text(blank, encoding="utf-8")
    (tmp_path / "pete.ipynb").write_text(blank, encoding="utf-8")
    paths = [*honest.values(), copied, tmp_path / "olga.ipynb", tmp_path / "pete.ipynb"]
    result = compare_class(paths)
    assert result.skipped == ()
    assert [(p.a, p.b) for p in result.pairs] == [("examples_correct", "nina")]
    assert result.pairs[0].score > 0.9
    assert any(m.b.startswith("cell ") for m in result.pairs[0].matched)


# --- what cannot be read -----------------------------------------------------------------------


def test_unreadable_and_hostile_submissions_are_skipped_with_a_reason(honest, tmp_path):
    (tmp_path / "link").symlink_to(honest["dense_einsum"])
    os.mkfifo(tmp_path / "fifo.ipynb")
    (tmp_path / "junk.ipynb").write_text("{not json", encoding="utf-8")
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "layers.py").write_text("x = " + "(" * 1000 + ")" * 1000 + "\n")
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "network.py").write_bytes(b"\xff\xfe\x00def f(:\n\x00\x00")
    (tmp_path / "none").mkdir()
    paths = [honest["dense_einsum"], *(tmp_path / n for n in
                                       ("link", "fifo.ipynb", "junk.ipynb", "deep", "binary",
                                        "none"))]
    result = compare_class(paths, 0.0, min_shared=0)
    reasons = {s.name: s.reason for s in result.skipped}
    assert set(reasons) == {"link", "fifo", "junk", "none"}
    assert reasons["link"].startswith("link is a symbolic link")
    assert reasons["fifo"].startswith("fifo.ipynb is a FIFO")
    assert reasons["junk"].startswith("junk.ipynb is not a readable notebook")
    assert reasons["none"].startswith("no exercise modules")
    assert all("\n" not in r for r in reasons.values())
    # Read but holding nothing: 'deep' (its module over the depth cap is ignored by prepare)
    # and 'binary' (compared as text) are compared and share nothing.
    assert result.compared == 3 and result.pairs == ()


def test_hostile_submissions_are_read_never_run(honest, tmp_path):
    from tests.hostile.build import TOKENS, build_hostile, load_hostiles

    sentinel = tmp_path / "sentinel"
    context = {token: str(tmp_path / token.lower()) for token in TOKENS}
    context.update(VG_SENTINEL=str(sentinel), VG_PORT="9")
    sentinel.write_text("still here")
    paths = [build_hostile(h, tmp_path / h.slug, context) for h in load_hostiles()]
    result = compare_class([*paths, *list(honest.values())[:4]], progress=True)
    # Each is the reference with one attack spliced in: read as text, nothing ran (the
    # sentinel a deleting attack targets is still there), and none is skipped or paired.
    assert result.compared == len(paths) + 4 and result.skipped == ()
    assert result.pairs == ()
    assert sentinel.read_text() == "still here"


def test_a_zipped_copy_is_found(honest, tmp_path):
    import zipfile

    copied = plant(honest["examples_correct"], tmp_path / "zed", copy_as_text, 5)
    with zipfile.ZipFile(tmp_path / "zed.zip", "w") as archive:
        for path in sorted(copied.iterdir()):
            archive.write(path, f"zed/{path.name}")
    shutil.rmtree(copied)
    pairs = similarity([*list(honest.values())[:5], honest["examples_correct"],
                        tmp_path / "zed.zip"])
    assert [(p.a, p.b) for p in pairs] == [("examples_correct", "zed")]


def test_a_submission_too_large_to_compare_is_skipped(honest, tmp_path, monkeypatch):
    monkeypatch.setattr(sim, "MAX_CODE_CHARS", 2_000)
    result = compare_class([honest["dense_einsum"]])
    assert result.skipped == (sim.Skipped(
        "dense_einsum", "its code is larger than the 2000 characters compared"),)


# --- generated transformations -----------------------------------------------------------------


@settings(max_examples=10, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), style=st.sampled_from([copy_via_ast, copy_as_text]),
       name=st.sampled_from(["examples_correct", "layers_namedtuple_caches",
                             "network_whole_relative_import", "numgrad_nditer"]))
def test_renaming_reordering_and_comments_keep_a_copy_above_the_threshold(
        honest, tmp_path_factory, seed, style, name):
    root = tmp_path_factory.mktemp("generated")
    copied = plant(honest[name], root / "copy", style, seed)
    # With two other honest submissions, the reference code they share is common.
    others = [honest[n] for n in ("dense_einsum", "losses_logsumexp") if n != name]
    pairs = similarity([honest[name], copied, *others], 0.0, min_shared=0)
    pair = next(p for p in pairs if {p.a, p.b} == {name, "copy"})
    assert pair.score >= sim.DEFAULT_THRESHOLD, pair


def test_scores_do_not_depend_on_the_process(honest):
    # Python salts str hashes per process; with window 1 every k-gram is kept, so scores
    # come out the same in any process.
    paths = [honest[n] for n in ("examples_correct", "dense_einsum", "numgrad_nditer")]
    script = ("import sys; from pathlib import Path; from grader.batch.similarity import "
              "similarity; print([(p.a, p.b, p.score) for p in similarity("
              "[Path(a) for a in sys.argv[1:]], 0.0, min_shared=0)])")
    outputs = {subprocess.run([sys.executable, "-c", script, *map(str, paths)], cwd=REPO,
                              env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, check=True).stdout
               for seed in ("1", "2")}
    assert len(outputs) == 1 and "examples_correct" in outputs.pop()


# --- the command -------------------------------------------------------------------------------


def test_the_command_prints_the_pairs_and_writes_the_csv(honest, tmp_path, capsys):
    from grader.cli import main

    klass = tmp_path / "class"
    for name in ("examples_correct", "dense_einsum", "losses_logsumexp"):
        shutil.copytree(honest[name], klass / name)
    plant(honest["examples_correct"], klass / "=cmd", copy_as_text, 3)
    (klass / "notes.txt").write_text("not a submission")
    out = tmp_path / "pairs.csv"
    assert main(["similar", str(klass), "--threshold", "0.8", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].startswith("1 pair(s) of 4 submissions at or above 0.8")
    assert re.match(r" ?\d\.\d\d  =cmd  examples_correct  \(\d+ characters shared: ", lines[1])
    assert lines[-1] == f"wrote {out}"
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == list(sim.CSV_COLUMNS)
    assert rows[1][:2] == ["'=cmd", "examples_correct"] and len(rows) == 2
    assert main(["similar", str(tmp_path / "absent")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["similar", str(klass), "--threshold", "1.5"]) == 2


def test_the_command_says_how_to_install_copydetect(honest, monkeypatch, capsys):
    from grader.cli import main

    monkeypatch.setitem(sys.modules, "copydetect", None)  # as if not installed
    assert main(["similar", str(honest["dense_einsum"])]) == 2
    assert "copydetect is not installed" in capsys.readouterr().err


def test_the_progress_bar_changes_nothing_but_stderr(honest, capsys):
    paths = [honest[n] for n in ("examples_correct", "dense_einsum", "numgrad_nditer")]
    assert compare_class(paths, 0.0, progress=True) == compare_class(paths, 0.0)
    assert capsys.readouterr().out == ""


def test_given_code_covers_the_stubs_and_the_notebook(tmp_path):
    texts = sim.given_code()
    joined = "\n".join(texts)
    assert "raise NotImplementedError" in joined and "### BEGIN" not in joined
    assert len(texts) > len(list((REPO / "exercises").glob("*.py")))
    empty = sim.given_code(tmp_path)
    assert empty == []


def test_pair_text_is_one_line_for_hostile_names():
    pair = Pair("a\x1b[2J", "b", 0.9, 0.9, 0.5, 99, (sim.Match("relu", "relu", 40),
                                                  sim.Match("layers", "cell 3: f", 20)))
    assert pair.where() == "relu; layers ~ cell 3: f"

