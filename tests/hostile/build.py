"""Build hostile submissions: the reference solution with one hostile behaviour spliced in.

A hostile entry is one file ``tests/hostile/<slug>.py`` starting with a header of comment lines::

    # module: layers
    # attack: calls os._exit(0) while layers.py is being imported
    # expect: score 18 of 50; failed: dense_forward dense_backward ...
    # fallback: yes

A value too long for one line continues on the next lines, indented by three spaces or more
after the ``#``. ``module`` is the student module the entry patches (activations, layers, network or
gradient_check). ``attack`` says in one line what the submission does. ``expect`` is the exact
verdict the judge must reach: the score and the full set of failed checks (``failed: none`` when
every check must pass). ``fallback`` says whether the verdict also holds when grading without
bubblewrap: ``yes``; ``seccomp`` (only where the worker's system-call filter works, x86-64 Linux,
or the judge is root and isolates the fallback worker); ``root`` (only with that root isolation);
or ``no``. Every value but ``yes`` is followed by ``: reason``.

The body is spliced like a corpus entry (``tests/corpus/build.py``): a top-level function whose
name is a function of the reference module replaces it, anything else is appended. After the body,
sections introduced by a line ``# === file: NAME ===`` are shipped verbatim as extra files of the
submission (a conftest.py, a .pth, ...), to check that they are never used.

Tokens ``@@NAME@@`` in the text are replaced when building, so each test run can point the attacks
at its own targets: ``VG_MARKER`` (a process name every worker of this submission takes, to find
survivors), ``VG_WATCH`` (a folder that must not change), ``VG_SENTINEL`` (a file that must
survive), ``VG_RESULTS`` (a results path the attacker tries to forge) and ``VG_PORT`` (a loopback
port where nothing may connect).
"""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.corpus.build import MODULES, SOLUTIONS_DIR, Entry, apply_entry

HOSTILE_DIR = Path(__file__).resolve().parent
TOKENS = ("VG_MARKER", "VG_WATCH", "VG_SENTINEL", "VG_RESULTS", "VG_PORT")
_HEADER_LINE = re.compile(r"^#\s*([a-z]+)\s*:\s*(.*?)\s*$")
_CONTINUATION = re.compile(r"^#\s{3,}(\S.*)$")  # an indented line continues the key above
_FILE_LINE = re.compile(r"^# === file: ([A-Za-z0-9_.\-]+) ===\s*$")
_EXPECT = re.compile(r"^score (\d+) of (\d+); failed: (none|[a-z_ ]+)$")
_TOKEN = re.compile(r"@@([A-Z_]+)@@")


class HostileError(ValueError):
    """A hostile entry is malformed."""


@dataclass(frozen=True)
class Expected:
    """The exact verdict: score, maximum and the set of failed check names."""

    score: int
    max_score: int
    failed: frozenset[str]

    def __str__(self) -> str:
        failed = " ".join(sorted(self.failed)) or "none"
        return f"score {self.score} of {self.max_score}; failed: {failed}"


@dataclass(frozen=True)
class Hostile:
    slug: str
    module: str
    attack: str
    expect: Expected
    fallback: str  # "yes", "seccomp", "root" or "no"
    fallback_reason: str
    path: Path

    @property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


def parse_expected(text: str) -> Expected:
    match = _EXPECT.match(text)
    if match is None:
        raise HostileError(f"expect must read 'score N of M; failed: a b c', got {text!r}")
    failed = match.group(3)
    names = frozenset() if failed == "none" else frozenset(failed.split())
    return Expected(int(match.group(1)), int(match.group(2)), names)


def parse_hostile(path: Path) -> Hostile:
    """Read one entry and validate its header."""
    fields: dict[str, str] = {}
    last: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        continued = _CONTINUATION.match(line)
        if continued and last is not None:
            fields[last] += " " + continued.group(1).strip()
            continue
        match = _HEADER_LINE.match(line)
        last = None
        if match is None:
            continue  # a plain comment
        key, value = match.groups()
        if key not in ("module", "attack", "expect", "fallback"):
            raise HostileError(f"{path.name}: unknown header key {key!r}")
        fields[key] = value
        last = key
    missing = {"module", "attack", "expect", "fallback"} - set(fields)
    if missing:
        raise HostileError(f"{path.name}: header lacks {sorted(missing)}")
    if fields["module"] not in MODULES:
        raise HostileError(f"{path.name}: unknown module {fields['module']!r}")
    mode, _, reason = fields["fallback"].partition(":")
    mode = mode.strip()
    if mode not in ("yes", "seccomp", "root", "no") or (mode != "yes" and not reason.strip()):
        raise HostileError(f"{path.name}: fallback must be 'yes' or one of seccomp, root, no "
                           "followed by ': why'")
    unknown = set(_TOKEN.findall(path.read_text(encoding="utf-8"))) - set(TOKENS)
    if unknown:
        raise HostileError(f"{path.name}: unknown tokens {sorted(unknown)}")
    return Hostile(path.stem, fields["module"], fields["attack"],
                   parse_expected(fields["expect"]), mode, reason.strip(), path)


def load_hostiles(folder: Path = HOSTILE_DIR) -> list[Hostile]:
    """Every entry of the folder, sorted by slug."""
    return [parse_hostile(p) for p in sorted(folder.glob("*.py"))
            if p.name not in ("build.py", "__init__.py")]


def _split_files(text: str) -> tuple[str, dict[str, str]]:
    """The spliced part of an entry, and its extra files by name."""
    lines = text.splitlines(keepends=True)
    body: list[str] = []
    files: dict[str, list[str]] = {}
    current = body
    for line in lines:
        match = _FILE_LINE.match(line.rstrip("\n"))
        if match:
            current = files.setdefault(match.group(1), [])
            continue
        current.append(line)
    return "".join(body), {name: "".join(content) for name, content in files.items()}


def _substitute(text: str, context: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in context:
            raise HostileError(f"no value for token {name}")
        return context[name]

    return _TOKEN.sub(replace, text)


# Every worker that imports the hostile module renames itself to the marker (children inherit
# the name), so a test can find any process of this submission that survived grading.
_MARK = '''import ctypes as _vg_ctypes

try:
    _vg_ctypes.CDLL(None).prctl(15, b"@@VG_MARKER@@", 0, 0, 0)  # PR_SET_NAME
except Exception:  # noqa: BLE001
    pass

'''


def build_hostile(hostile: Hostile, dest: Path, context: dict[str, str]) -> Path:
    """Write the submission folder ``dest``: the reference with ``hostile`` applied.

    context: a value for each token (see the module docstring). Returns ``dest``.
    """
    body, files = _split_files(_substitute(hostile.source, context))
    header = f"# module: {hostile.module}\n# why: {hostile.attack}\n"
    with tempfile.TemporaryDirectory() as scratch:
        # The corpus splicer reads its own header format; hand it a translated copy.
        entry_path = Path(scratch) / f"{hostile.slug}.py"
        entry_path.write_text(header + _strip_header(body), encoding="utf-8")
        corpus_entry = Entry(hostile.slug, "bug", hostile.module, (), hostile.attack, False,
                             entry_path)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for module in MODULES:
            shutil.copyfile(SOLUTIONS_DIR / f"{module}.py", dest / f"{module}.py")
        target = dest / f"{hostile.module}.py"
        patched = apply_entry(corpus_entry, target.read_text(encoding="utf-8"))
    patched = _substitute(_MARK, context) + patched
    ast.parse(patched)
    target.write_text(patched, encoding="utf-8")
    for name, content in files.items():
        (Path(dest) / name).write_text(content, encoding="utf-8")
    return Path(dest)


def _strip_header(text: str) -> str:
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines) and lines[index].startswith("#"):
        index += 1
    return "".join(lines[index:])


__all__ = ["Expected", "Hostile", "HostileError", "TOKENS", "build_hostile", "load_hostiles",
           "parse_expected", "parse_hostile"]
