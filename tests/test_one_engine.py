"""The grader, the self-check and the notebook's test cells are three paths through one blame
engine (``grader.checking.judge.grade``): on the same code, with the same expected values and
seed, they give every check the same verdict, score, feedback and notes.

Submissions are generated: the reference with one or two faults, each a corpus bug (a real
misconception of one function) or a degenerate function (zeros, a constant, its input handed
back, NotImplementedError...), so that stand-ins, "fix that first" notes, "not graded on its
own" and refusals of a lesson without the student's own net all occur. The notebook's namespace
holds the same modules' code, cell after cell, so its functions are the grader's, line for line.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.checking.judge import (
    GRADER_WORDS,
    NOTEBOOK_WORDS,
    PUBLIC_SEED,
    CheckResult,
    Words,
    blame_note,
    checks_for,
    grade,
)
from grader.checking.trial import REGISTRY, LiveExpected, RecordedExpected, upstream
from grader.public import notebook as notebook_tests
from grader.public.engine import RECORDED, in_process_student_factory, self_check
from grader.spec.api import FUNCTIONS, MODULE_OF
from grader.student.loader import reference_functions
from tests.corpus.build import MODULES, SOLUTIONS_DIR, apply_entry, load_entries
from tests.corpus.degenerate import degenerate_function_source
from tests.helpers import GRADING_SEED, scaled

REFERENCE = reference_functions()
# Code that draws from state outside its arguments (numpy's global generator; "noise", whose
# generator is module state) gives other numbers, not other verdicts, when a notebook runs a
# check's upstream checks again in each cell: left out, since everything said is compared.
_STATEFUL = {"init_np_random_global"}
BUGS = {entry.slug: entry for entry in load_entries("bug") if entry.slug not in _STATEFUL}
DEGENERATE_KINDS = ("zeros", "ones", "constant", "identity", "passthrough", "fixed_noise",
                    "not_implemented")
# The checks no other check builds on: a cell for each of them runs every check once.
SINKS = [name for name in REGISTRY if not any(name in upstream(other) for other in REGISTRY)]


def _faults_of(function: str):
    """A corpus bug of ``function`` (when the corpus has one) or a degenerate ``function``."""
    bugs = sorted(slug for slug, entry in BUGS.items()
                  if REGISTRY[entry.blames[0]].tags[0] == function)
    degenerate = st.sampled_from(DEGENERATE_KINDS).map(lambda kind: ("degenerate",
                                                                      (kind, function)))
    if not bugs:
        return degenerate
    return st.one_of(st.sampled_from(bugs).map(lambda slug: ("bug", slug)), degenerate)


@st.composite
def _submission_faults(draw):
    """One or two faults on distinct functions, chosen so that stand-ins meet: a check, a fault
    in one of its functions and, maybe, one in another function it runs or builds on. At most
    one fault is degenerate (a degenerate prelude holds module-level settings, which one
    notebook namespace cannot hold twice)."""
    check = REGISTRY[draw(st.sampled_from(list(REGISTRY)))]
    first = draw(st.sampled_from(check.tags))
    chosen = [draw(_faults_of(first))]
    near = sorted(({f for d in upstream(check.name) for f in REGISTRY[d].tags}
                   | set(check.tags)) - {first})
    if near and draw(st.booleans()):
        second = draw(_faults_of(draw(st.sampled_from(near))))
        if chosen[0][0] == "bug" or second[0] == "bug":
            chosen.append(second)
    return chosen


def build(dest: Path, chosen) -> Path:
    """The reference modules with the chosen faults applied, in a fresh folder."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    sources = {m: (SOLUTIONS_DIR / f"{m}.py").read_text(encoding="utf-8") for m in MODULES}
    for kind, what in chosen:
        if kind == "bug":
            entry = BUGS[what]
            sources[entry.module] = apply_entry(entry, sources[entry.module])
    for kind, what in chosen:
        if kind == "degenerate":
            degenerate, function = what
            module = MODULE_OF[function]
            sources[module] += "\n\n" + degenerate_function_source(function, degenerate)
    for module, source in sources.items():
        (dest / f"{module}.py").write_text(source, encoding="utf-8")
    (dest / "__init__.py").write_text("", encoding="utf-8")
    return dest


def notebook_namespace(folder: Path) -> dict:
    """The folder's modules run one after another in one namespace, as a notebook's cells.

    Their imports of each other are dropped (blanked, so every line keeps its number) and each
    is compiled under its own file name: the notebook's functions are the submission's, and
    anything a check quotes from the student's code reads the same.
    """
    namespace: dict = {}
    for module in MODULES:
        path = folder / f"{module}.py"
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.parse("\n".join(lines)).body:
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                for number in range(node.lineno - 1, node.end_lineno):
                    lines[number] = ""
        exec(compile("\n".join(lines), str(path), "exec"), namespace)
    return namespace


def in_words(note: str, words: Words) -> str:
    """A grader note as it reads in ``words`` (the notebook's "tested"/"test")."""
    note = note.replace(f"{GRADER_WORDS.verb} with the reference",
                        f"{words.verb} with the reference")
    return re.sub(rf"\bown {GRADER_WORDS.noun}(s?)\b", rf"own {words.noun}\1", note)


def verdict(result: CheckResult, words: Words = GRADER_WORDS) -> tuple:
    """Everything a student is told about one check, notes (and the sentence of a check not
    checked yet) in ``words``."""
    feedback = in_words(result.feedback, words) if result.waiting else result.feedback
    return (result.name, result.passed, result.score, result.max_score, feedback,
            result.diagnosis, tuple(in_words(n, words) for n in result.notes),
            result.internal_error, result.waiting)


def cells(namespace: dict, expected, seed: int, reference) -> dict[str, CheckResult]:
    """What the notebook's cells say of every check: a cell for each sink runs the rest too,
    and each check must get one answer whichever cell ran it."""
    seen: dict[str, CheckResult] = {}
    for sink in SINKS:
        for name, result in notebook_tests.run_checks(sink, namespace, expected, seed,
                                                      reference).items():
            if name in seen:
                assert verdict(result, NOTEBOOK_WORDS) == verdict(seen[name], NOTEBOOK_WORDS)
            seen[name] = result
    assert list(seen) != [] and set(seen) == set(REGISTRY)
    return seen


_GENERATED = settings(max_examples=scaled(30), derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@_GENERATED
@given(chosen=_submission_faults())
def test_the_grader_and_the_hidden_cells_agree_check_for_check(chosen, tmp_path):
    folder = build(tmp_path / "s", chosen)
    graded = grade(in_process_student_factory(folder), LiveExpected(REFERENCE), GRADING_SEED,
                   REFERENCE)
    assert not all(r.passed for r in graded), chosen  # every fault costs some check
    hidden = cells(notebook_namespace(folder), LiveExpected(REFERENCE), GRADING_SEED, REFERENCE)
    for result in graded:
        assert verdict(hidden[result.name]) == verdict(result, NOTEBOOK_WORDS), chosen


@pytest.mark.slow
@_GENERATED
@given(chosen=_submission_faults())
def test_the_self_check_the_visible_cells_and_the_grader_agree_without_the_reference(
        chosen, tmp_path):
    folder = build(tmp_path / "s", chosen)
    checked = self_check(folder)
    visible = cells(notebook_namespace(folder), RecordedExpected(RECORDED), PUBLIC_SEED, None)
    # The grader with the reference's live answers for the same inputs, and no stand-ins (its
    # feedback may name more misconceptions: the live reference lets it try every variant).
    graded = grade(in_process_student_factory(folder), LiveExpected(REFERENCE), PUBLIC_SEED)
    assert not all(r.passed for r in checked), chosen
    for mine, live in zip(checked, graded, strict=True):
        assert (mine.name, mine.passed, mine.score) == (live.name, live.passed, live.score), chosen
        assert verdict(visible[mine.name]) == verdict(mine, NOTEBOOK_WORDS), chosen


@pytest.mark.parametrize("slug", sorted(BUGS))
def test_a_cell_gives_the_graders_verdict_on_each_corpus_bug(slug, tmp_path):
    """Every corpus bug, the cell of each check it must fail run on its own (as a student runs
    one cell): it fails there with the grader's feedback and notes."""
    folder = build(tmp_path / "s", [("bug", slug)])
    graded = {r.name: r for r in grade(in_process_student_factory(folder),
                                       LiveExpected(REFERENCE), GRADING_SEED, REFERENCE)}
    namespace = notebook_namespace(folder)
    for name in BUGS[slug].blames:
        result = notebook_tests.run_checks(name, namespace, LiveExpected(REFERENCE),
                                           GRADING_SEED, REFERENCE)[name]
        assert not result.passed
        assert verdict(result) == verdict(graded[name], NOTEBOOK_WORDS)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_cell_runs_its_check_and_exactly_what_it_builds_on_in_grading_order(name):
    chosen = checks_for(name)
    assert [c.name for c in chosen] == [n for n in REGISTRY if n in upstream(name) | {name}]
    assert chosen[-1].name == name
    assert [c.name for c in checks_for(None)] == list(REGISTRY)


@settings(max_examples=scaled(60), derandomize=True, deadline=None, database=None)
@given(stand_ins=st.sets(st.sampled_from(FUNCTIONS), min_size=1, max_size=4),
       extra_failed=st.sets(st.sampled_from(FUNCTIONS), max_size=3))
def test_the_notes_say_the_same_in_the_notebooks_words(stand_ins, extra_failed):
    failed = (set(list(stand_ins)[:1]) | extra_failed)
    grader = blame_note(stand_ins, failed, GRADER_WORDS)
    notebook = blame_note(stand_ins, failed, NOTEBOOK_WORDS)
    assert notebook == in_words(grader, NOTEBOOK_WORDS)
    assert grader.startswith("graded with the reference ")
    assert notebook.startswith("tested with the reference ")
    assert "own test" in notebook and "own check" not in notebook


def test_the_reference_in_a_notebook_namespace_passes_every_cell(tmp_path):
    folder = build(tmp_path / "s", [])
    hidden = cells(notebook_namespace(folder), LiveExpected(REFERENCE), GRADING_SEED, REFERENCE)
    assert all(r.passed and r.score == r.max_score for r in hidden.values())
    assert sum(r.score for r in hidden.values()) == sum(c.points for c in REGISTRY.values())


def _bugs_of(function: str) -> list[str]:
    return sorted(slug for slug, entry in BUGS.items()
                  if REGISTRY[entry.blames[0]].tags[0] == function)


# The lesson checks with nothing of the student's left to grade: both functions named as the
# student's own (mlp_forward and mlp_backward) broken, with or without a broken init_params.
_NOTHING_LEFT = [[("bug", f), ("bug", b)] for f in _bugs_of("mlp_forward")
                 for b in _bugs_of("mlp_backward")]
_NOTHING_LEFT += [[*pair, ("bug", i)] for pair in _NOTHING_LEFT[:1]
                  for i in _bugs_of("init_params")]


@pytest.mark.parametrize("chosen", _NOTHING_LEFT, ids=lambda c: "+".join(s for _, s in c))
def test_a_lesson_cell_says_what_the_grader_says_with_nothing_of_the_students_left(
        chosen, tmp_path):
    folder = build(tmp_path / "s", chosen)
    graded = grade(in_process_student_factory(folder), LiveExpected(REFERENCE), GRADING_SEED,
                   REFERENCE)
    hidden = cells(notebook_namespace(folder), LiveExpected(REFERENCE), GRADING_SEED, REFERENCE)
    broken = ("init_params, " if len(chosen) == 3 else "") + "mlp_forward and mlp_backward"
    lessons = [r for r in graded if r.name.startswith("vanishing_")]
    assert len(lessons) == 2
    for lesson in lessons:
        assert lesson.substituted == ()  # no stand-in: it may pass only on the student's net
        if lesson.passed:  # a bug the lesson does not see (reversed order, an output layer)
            assert lesson.score == lesson.max_score and not lesson.notes[0].endswith("first")
            continue
        assert lesson.score == 0
        assert lesson.notes[0] == (f"{broken} failed their own check; this failure may come "
                                   "from there: fix that first")
        assert lesson.notes[1].startswith("not graded on its own: it ")
    for result in graded:
        assert verdict(hidden[result.name]) == verdict(result, NOTEBOOK_WORDS), chosen
