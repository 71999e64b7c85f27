"""Which submissions of a class share more of their own code than honest work does.

    python -m grader similar CLASS... [--threshold 0.8] [--out pairs.csv]

The matching is copydetect's (winnowed k-gram fingerprints of the token stream, in which every
name is ``V``, every function name ``F`` and every string ``S``, so renamed variables and
rewritten docstrings change nothing). What this module adds is *what counts as a student's
own code*, because most of what a submission holds is not:

1. **The same reading as the grader.** A submission is read by ``submissions.prepare`` (the
   bounded readers: no link followed, caps on every size; nothing is imported or run). A
   notebook counts with the code cells ``student.notebook_cells`` runs as the student's; the
   course's cells (tests, demos, given cells) are not the student's.
2. **A canonical text.** Each module or cell is parsed and unparsed (``ast``): comments go,
   layout and quoting become one style. Code that does not parse is compared as written.
3. **Units.** Every top-level function or class (and each run of other top-level statements)
   is fingerprinted on its own: no k-gram spans two units, so functions in another order match
   exactly as well as in the same order, and a match names the functions it lies in.
4. **Given code is not the student's** (``given_code``): the stubs in ``exercises/`` and the
   notebook's code as released (signatures, docstrings, setup, tests' visible part).
5. **The reference solution is not evidence between two students** (``reference_code``):
   code as the reference writes it is the obvious way (``1 / (1 + np.exp(-z))``) or came from
   one place for both; either way it does not say one student copied the other. How much of
   each submission's own code is the reference's is reported apart
   (``Submission.reference_share``: a leak of the solution shows there).
6. **Code a large part of the class shares is not evidence** (MOSS's rule, with its default
   floor of 10 programs): a fingerprint found in more than ``common_share`` of the
   submissions, and in at least ``MIN_COMMON`` of them, counts as given. It only acts in
   classes of 20 or more, and never hides a group of copies smaller than that share.

Only k-grams lying wholly in a student's own code count: a k-gram overlapping given, reference
or common code (the first line of a body after a given docstring) would match between any two
students.
A pair's ``score`` is the larger of the two shares of own code found in the other submission
(copying part of a classmate's work and adding much of one's own still shows); a pair is
listed when it reaches the threshold and shares at least ``MIN_SHARED`` characters of own
token text (about two lines: two students writing the same one-liner is chance, not copying).

Measured on the test corpus (tests/test_similarity.py: its 20 honest submissions and a
near-copy of each, names renamed, functions reordered, comments rewritten): honest pairs score
0.47 at most (sharing 27 characters), near-copies 0.93-1.0; a copy of a submission whose own
code is one line (relu_grad as a boolean mask, the rest the reference's) shares
nothing that counts, and is not listed.
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from grader.batch.identity import csv_cell, submission_name, visible
from grader.batch.submissions import MAX_SOURCE_BYTES, one_line, prepare
from grader.spec.api import MODULES
from grader.student.loader import NOTEBOOK_MODULE, SOLUTIONS_DIR, SubmissionError

# copydetect's default noise threshold: the shortest match (in characters of the filtered
# token text, where a name is one character) that counts. The guarantee threshold is the same,
# so every k-gram is kept (window 1): Python's hash() of a string changes with each process,
# and winnowing would pick other k-grams, and give other scores, on every run.
K = 25
DEFAULT_THRESHOLD = 0.8
COMMON_SHARE = 0.5
MIN_COMMON = 10  # MOSS's default: a small class's shared code is always shown
MIN_SHARED = 2 * K
MAX_CODE_CHARS = MAX_SOURCE_BYTES  # one submission's code, compared (the reference: ~12 KB)
LARGE_CLASS = 20  # from this many submissions on, the command shows a progress bar
MAX_MATCHES = 5  # unit pairs named per pair

PROJECT_DIR = SOLUTIONS_DIR.parent
# Units are joined by this character: it survives copydetect's filter as itself and cannot
# occur in unparsed Python outside strings (which become S); raw text has it replaced.
_SEP = "$"
_SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
_HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


@dataclass(frozen=True)
class Match:
    """Where two submissions share code: a unit of each (``layers.dense_backward``, ``cell 12:
    relu``) and the characters of token text they share there."""

    a: str
    b: str
    chars: int


@dataclass(frozen=True)
class Pair:
    """Two submissions (by identity, ``a`` < ``b``) sharing own code.

    score: max(share_a, share_b); share_a: the fraction of a's own code found in b (0..1);
    shared: characters of a's own token text found in b; matched: the units holding the most
    shared code, largest first."""

    a: str
    b: str
    score: float
    share_a: float
    share_b: float
    shared: int
    matched: tuple[Match, ...]

    def where(self) -> str:
        """The matched units as one line: ``relu ~ relu, layers.dense_forward ~ cell 4: ...``."""
        return "; ".join(f"{m.a} ~ {m.b}" if m.a != m.b else m.a for m in self.matched)


@dataclass(frozen=True)
class Skipped:
    """A submission that was not compared, and why (one line)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Submission:
    """One compared submission: own_chars, the characters of its own token text (not given,
    not the reference's, not common); reference_share, the fraction of the code it wrote (not
    given) that is the reference solution's, 0..1 (close to 1: a copy of the solution)."""

    name: str
    own_chars: int
    reference_share: float


@dataclass(frozen=True)
class Similarity:
    """The result for a class: the pairs at or above the threshold (highest score first), the
    submissions skipped (with why) and those compared (in the order given)."""

    pairs: tuple[Pair, ...]
    skipped: tuple[Skipped, ...]
    submissions: tuple[Submission, ...]

    @property
    def compared(self) -> int:
        return len(self.submissions)


@dataclass
class Code:
    """One submission's code: units (label, canonical text), joined by _SEP."""

    name: str
    labels: list[str]
    texts: list[str]

    @property
    def document(self) -> str:
        return _SEP.join(self.texts)


# ---------------------------------------------------------------------------------------------
# Reading code (never importing or running it)


def _units(text: str, where: str) -> Iterator[tuple[str, str]]:
    """The units of one module or cell as (label, canonical text); ``where`` prefixes labels
    of code outside functions (``layers``, ``cell 7``)."""
    try:
        tree = ast.parse(text)
        pieces = [(node, ast.unparse(node)) for node in tree.body]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # Compared as written (copydetect tokenises it all the same), as one unit.
        if text.strip():
            yield where, text.replace(_SEP, " ")
        return
    loose: list[str] = []
    for node, code in pieces:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if loose:
                yield where, "\n".join(loose)
                loose = []
            yield f"{where}.{node.name}" if not where.startswith("cell") else \
                f"{where}: {node.name}", code
        else:
            loose.append(code)
    if loose:
        yield where, "\n".join(loose)


def _notebook_cells(module: str) -> list[tuple[int, str]]:
    """The student's cells (number, source) of a module made by ``notebook_source``: its call
    of the cell runner holds the cells as a literal list of (number, title, kind, source,
    notes), read here with ``ast.literal_eval`` (which evaluates nothing)."""
    for node in ast.walk(ast.parse(module)):
        if isinstance(node, ast.Call) and len(node.args) > 1 \
                and isinstance(node.args[1], ast.List):
            cells = ast.literal_eval(node.args[1])
            return [(number, source) for number, _title, kind, source, _notes in cells
                    if kind == "student" and isinstance(source, str)]
    return []


def _module_order(path: Path) -> tuple[int, str]:
    # The exercise modules in the API's order, then any helper module by name.
    order = list(MODULES)
    return (order.index(path.stem) if path.stem in order else len(order), path.name)


def read_code(path: Path) -> Code:
    """A submission's code as units, read with the grader's bounded readers.

    Raises SubmissionError (one line) for what cannot be read or is too large to compare."""
    prepared = prepare(Path(path))
    try:
        labels: list[str] = []
        texts: list[str] = []
        size = 0
        for module in sorted(prepared.folder.glob("*.py"), key=_module_order):
            source = module.read_bytes().decode("utf-8", "replace")
            size += len(source)
            if size > MAX_CODE_CHARS:
                raise SubmissionError(f"its code is larger than the {MAX_CODE_CHARS} "
                                      f"characters compared")
            if module.stem == NOTEBOOK_MODULE:
                parts = [(f"cell {n}", text) for n, text in _notebook_cells(source)]
            else:
                parts = [(module.stem, source)]
            for where, text in parts:
                for label, unit in _units(text, where):
                    labels.append(label)
                    texts.append(unit)
        return Code(prepared.name, labels, texts)
    finally:
        prepared.cleanup()


def _without_blocks(text: str, blocks: Sequence[tuple[str, str]]) -> str:
    """``text`` without the lines between each (begin, end) marker pair, markers included."""
    kept, inside = [], False
    for line in text.split("\n"):
        stripped = line.strip()
        if any(stripped == begin for begin, _ in blocks):
            inside = True
        elif any(stripped == end for _, end in blocks):
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def reference_code(solutions: Path = SOLUTIONS_DIR) -> list[str]:
    """The reference solution's modules (read as text in the judge, never imported); [] when
    this installation has no ``solutions/``."""
    return [p.read_text(encoding="utf-8") for p in sorted(Path(solutions).glob("*.py"))]


def given_code(project: Path = PROJECT_DIR) -> list[str]:
    """The code every student was given: the stubs in ``exercises/`` and the code cells of the
    assignment notebook as released (solution bodies and hidden tests left out, as the release
    leaves them out). Missing files give nothing (a note on stderr)."""
    texts: list[str] = []
    exercises = project / "exercises"
    stubs = sorted(exercises.glob("*.py")) if exercises.is_dir() else []
    texts.extend(p.read_text(encoding="utf-8") for p in stubs)
    notebook = project / "notebook" / "vanishing_gradients.ipynb"
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        cells = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = source if isinstance(source, str) else "".join(source)
            texts.append(_without_blocks(text, (_SOLUTION, _HIDDEN)))
    if not stubs or not cells:
        print(f"note: the given code is incomplete (exercises/ or {notebook.name} missing in "
              f"{project}): code students were given may count as theirs", file=sys.stderr)
    return texts


# ---------------------------------------------------------------------------------------------
# Fingerprints of own code


@dataclass
class _Prints:
    """A submission's own fingerprints: hash -> positions in the filtered token text, and
    which unit each position lies in."""

    name: str
    labels: list[str]
    fingerprint: object  # copydetect.detector.CodeFingerprint, its hashes reduced to own code
    separators: np.ndarray  # positions of _SEP in the filtered text

    def unit(self, position: int) -> str:
        return self.labels[int(np.searchsorted(self.separators, position))]


def _fingerprint(document: str):
    from copydetect.detector import CodeFingerprint

    # fp= gives the text (the file name is only a label); the lexer is named, not guessed.
    return CodeFingerprint("submission.py", K, 1, language="python", fp=io.StringIO(document))


def _reference_share(fingerprint, given: frozenset[int], reference: frozenset[int]) -> float:
    """The fraction of the k-grams of ``fingerprint`` that are not given and are the
    reference's (before ``_keep_own`` reduces it); k-grams spanning two units do not count."""
    separators = np.frombuffer(fingerprint.filtered_code.encode("utf-32-le"), np.uint32) \
        == ord(_SEP)
    crossing = np.concatenate([[0], np.cumsum(separators)])
    written = copied = 0
    for value, positions in fingerprint.hash_idx.items():
        if value in given:
            continue
        inside = sum(1 for p in positions if crossing[p + K] == crossing[p])
        written += inside
        copied += inside if value in reference else 0
    return round(copied / written, 4) if written else 0.0


def _keep_own(fingerprint, excluded: set[int] | frozenset[int]) -> np.ndarray:
    """Reduce ``fingerprint`` to the k-grams lying wholly in own code: not excluded, and not
    overlapping an excluded k-gram or a unit separator. Returns the separators' positions."""
    from copydetect.utils import get_token_coverage

    code = fingerprint.filtered_code
    masked = np.zeros(len(code) + 1, dtype=bool)
    separators = np.array([i for i, c in enumerate(code) if c == _SEP], dtype=np.int64)
    masked[separators] = True
    for value, positions in fingerprint.hash_idx.items():
        if value in excluded:
            for position in positions:
                masked[position:position + K] = True
    covered = np.concatenate([[0], np.cumsum(masked)])
    own: dict[int, list[int]] = {}
    for value, positions in fingerprint.hash_idx.items():
        if value in excluded:
            continue
        kept = [p for p in positions if covered[p + K] == covered[p]]
        if kept:
            own[value] = kept
    fingerprint.hash_idx = own
    fingerprint.hashes = set(own)
    fingerprint.token_coverage = get_token_coverage(own, K, len(code))
    return separators


@functools.lru_cache(maxsize=4)
def _given_hashes(given: tuple[str, ...]) -> frozenset[int]:
    # Cached: the notebook's given code is most of the text fingerprinted for a small class.
    units = [unit for text in given for _, unit in _units(text, "given")]
    return frozenset(_fingerprint(_SEP.join(units)).hashes) if units else frozenset()


# ---------------------------------------------------------------------------------------------
# The class


class _Quiet:
    def __call__(self, description: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


class _Bar(_Quiet):
    def __init__(self, bar) -> None:
        self.bar, self.task = bar, None

    def __call__(self, description: str, total: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(description, total=total)

    def advance(self) -> None:
        self.bar.advance(self.task)


@contextmanager
def _progress(show: bool) -> Iterator[_Quiet]:
    """A rich progress bar on stderr that disappears when done: yields ``step``, where
    ``step(description, total)`` starts a step and ``step.advance()`` counts one unit."""
    if not show:
        yield _Quiet()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("  {task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        yield _Bar(bar)


def compare_class(paths: Sequence[Path], threshold: float = DEFAULT_THRESHOLD, *,
                  given: Sequence[str] | None = None, reference: Sequence[str] | None = None,
                  common_share: float = COMMON_SHARE,
                  min_shared: int = MIN_SHARED, progress: bool = False) -> Similarity:
    """Compare every pair of the submissions at ``paths`` (each a folder, .zip or .ipynb; no
    class folders here: see ``expand``) and keep the pairs scoring at least ``threshold``.

    given: texts of the code students were given (default ``given_code()``); reference: the
    reference solution's modules (default ``reference_code()``); common_share:
    fingerprints in more than this fraction of the submissions (and in at least MIN_COMMON)
    count as given (1.0 turns this off); min_shared: the fewest characters of own token text a
    listed pair shares. A submission that cannot be read is skipped with its reason."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    given_hashes = _given_hashes(tuple(given_code() if given is None else given))
    reference_hashes = _given_hashes(tuple(reference_code() if reference is None
                                           else reference)) - given_hashes
    codes: list[Code] = []
    skipped: list[Skipped] = []
    with _progress(progress) as step:
        step("reading", len(paths))
        for path in paths:
            try:
                codes.append(read_code(path))
            except SubmissionError as error:
                skipped.append(Skipped(submission_name(path), one_line(error)))
            except (OSError, UnicodeError, ValueError, RecursionError, MemoryError) as error:
                skipped.append(Skipped(submission_name(path), one_line(
                    f"could not be read ({type(error).__name__}: {error})")))
            step.advance()
        prints: list[_Prints] = []
        raw = []
        step("fingerprinting", len(codes))
        for code in codes:
            raw.append(_fingerprint(code.document))
            step.advance()
        known = given_hashes | reference_hashes
        counts = Counter(h for fingerprint in raw for h in fingerprint.hashes - known)
        common = {h for h, c in counts.items()
                  if c > common_share * len(raw) and c >= MIN_COMMON}
        excluded = known | common
        members = []
        for code, fingerprint in zip(codes, raw, strict=True):
            share = _reference_share(fingerprint, given_hashes, reference_hashes)
            separators = _keep_own(fingerprint, excluded)
            prints.append(_Prints(code.name, code.labels, fingerprint, separators))
            members.append(Submission(code.name, int(fingerprint.token_coverage), share))
        candidates = _candidates(prints)
        step("comparing", len(candidates))
        pairs = []
        for i, j in candidates:
            pair = _compare(prints[i], prints[j])
            if pair.score >= threshold and pair.shared >= min_shared:
                pairs.append(pair)
            step.advance()
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return Similarity(tuple(pairs), tuple(skipped), tuple(members))


def similarity(paths: Sequence[Path], threshold: float = DEFAULT_THRESHOLD,
               **options) -> list[Pair]:
    """The pairs of ``paths`` scoring at least ``threshold`` (``compare_class``'s pairs; its
    keyword options apply)."""
    return list(compare_class(paths, threshold, **options).pairs)


def _candidates(prints: list[_Prints]) -> list[tuple[int, int]]:
    """The pairs sharing at least one own fingerprint (the others score 0)."""
    holders: dict[int, list[int]] = defaultdict(list)
    for index, item in enumerate(prints):
        for value in item.fingerprint.hashes:
            holders[value].append(index)
    found: set[tuple[int, int]] = set()
    for indices in holders.values():
        found.update(combinations(indices, 2))
    return sorted(found)


def _compare(first: _Prints, second: _Prints) -> Pair:
    from copydetect.detector import compare_files

    if first.name > second.name:
        first, second = second, first
    overlap, (share_a, share_b), _ = compare_files(first.fingerprint, second.fingerprint)
    places: Counter[tuple[str, str]] = Counter()
    a_idx, b_idx = first.fingerprint.hash_idx, second.fingerprint.hash_idx
    for value in first.fingerprint.hashes & second.fingerprint.hashes:
        where_b = second.unit(b_idx[value][0])
        for position in a_idx[value]:
            places[(first.unit(position), where_b)] += 1
    matched = tuple(Match(a, b, n) for (a, b), n in places.most_common(MAX_MATCHES))
    share_a, share_b = float(min(share_a, 1.0)), float(min(share_b, 1.0))
    return Pair(first.name, second.name, round(max(share_a, share_b), 4), round(share_a, 4),
                round(share_b, 4), int(overlap), matched)


# ---------------------------------------------------------------------------------------------
# Command line (``python -m grader similar``)

CSV_COLUMNS = ("a", "b", "score", "share_a", "share_b", "shared_chars", "matched")


def write_csv(pairs: Sequence[Pair], path: Path) -> Path:
    """The pairs as CSV (one row each, CSV_COLUMNS); names are made safe for spreadsheets."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for p in pairs:
            writer.writerow([csv_cell(p.a), csv_cell(p.b), f"{p.score:.3f}", f"{p.share_a:.3f}",
                             f"{p.share_b:.3f}", p.shared, csv_cell(p.where())])
    return path


def _submissions(paths: list[Path], where: Path) -> list[Path]:
    """One path per student: a folder of submissions as it is, an unpacked Canvas or Moodle
    download staged into ``where``, one folder per student (``batch.lms``), as grading reads
    them."""
    from grader.batch.lms import discover, stage

    found, _ = discover(paths)
    return [stage(item, where) for item in found]


def run(paths: Sequence[Path], threshold: float = DEFAULT_THRESHOLD,
        out: Path | None = None) -> int:
    """``similar``: print the pairs at or above ``threshold`` (and write them to ``out``)."""
    from grader.batch.identity import BatchRefused

    absent = [os.fsdecode(p) for p in paths if not Path(p).exists()]
    if absent:
        print(f"error: no such file or folder: {', '.join(map(visible, absent))}",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vg-similar-") as staging:
        try:
            found = _submissions(list(paths), Path(staging))
        except BatchRefused as refusal:
            print(f"error: {visible(str(refusal), keep=chr(10))}", file=sys.stderr)
            return 2
        return _compare_and_say(found, threshold, out)


def _compare_and_say(found: list[Path], threshold: float, out: Path | None) -> int:
    try:
        import copydetect  # noqa: F401 - the course extra's; say so before reading a class
    except ModuleNotFoundError:
        print("error: copydetect is not installed; it comes with the project's course extra: "
              "pip install -e '.[course]' (make install does this)", file=sys.stderr)
        return 2
    try:
        result = compare_class(found, threshold, progress=len(found) >= LARGE_CLASS)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for item in result.skipped:
        print(f"skipped {visible(item.name)}: {visible(item.reason)}", file=sys.stderr)
    print(f"{len(result.pairs)} pair(s) of {result.compared} submissions at or above "
          f"{threshold:g} (own code only: the given code, the reference solution's and code "
          f"much of the class shares do not count)")
    for p in result.pairs:
        print(f"{p.score:5.2f}  {visible(p.a)}  {visible(p.b)}  ({p.shared} characters "
              f"shared: {visible(p.where())})")
    solution = [m for m in result.submissions if m.reference_share >= threshold]
    if solution:
        print(f"{len(solution)} submission(s) whose code is mostly the reference solution's "
              f"(at or above {threshold:g}): it may have leaked, or the functions are short")
        for m in solution:
            print(f"{m.reference_share:5.2f}  {visible(m.name)}")
    if out is not None:
        print(f"wrote {write_csv(result.pairs, out)}")
    return 0

