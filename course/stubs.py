"""Turn the reference solutions into student stubs.

Every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block becomes a ``raise NotImplementedError``
that names the function and the self-check command; everything else (docstrings with shapes,
formulas and hints, imports, given code) is kept as written.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"

BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
DEF = re.compile(r"^\s*def (?P<name>\w+)\(")
SELF_CHECK = "python -m pytest grader/selfcheck.py"

HEADER = (
    "# Your workspace: replace each `raise NotImplementedError(...)` with your code.\n"
    f"# Self-check: {SELF_CHECK}   (add -k NAME for one function)\n"
    "# (Generated from solutions/ by `python -m course stubs`.)\n"
)

PACKAGE_DOC = '''"""Your implementation: activations, layers, network and gradient_check.

Self-check with ``python -m pytest grader/selfcheck.py``; run the experiments on your own code
with ``python -m exercises.experiments``.
"""

import sys
from pathlib import Path

# The modules here may import one another in the flat style too (``from layers import f``).
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))
'''


class StubError(Exception):
    """The solution source has unbalanced or misplaced markers."""


def make_stub(source: str, filename: str = "<source>") -> str:
    """The student version of one solution module's source text."""
    out: list[str] = []
    function = None
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        if match := DEF.match(line):
            function = match["name"]
        if match := BEGIN.match(line):
            if inside:
                raise StubError(f"{filename}:{number}: nested BEGIN SOLUTION")
            if function is None:
                raise StubError(f"{filename}:{number}: BEGIN SOLUTION outside a function")
            inside = True
            indent = match["indent"]
            out.append(f"{indent}# YOUR CODE HERE\n")
            out.append(f'{indent}raise NotImplementedError("{function}: not implemented yet")\n')
            continue
        if END.match(line):
            if not inside:
                raise StubError(f"{filename}:{number}: END SOLUTION without BEGIN")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise StubError(f"{filename}: BEGIN SOLUTION never ended")
    return "".join(out)


def render(solutions: Path = SOLUTIONS) -> dict[str, str]:
    """File name -> text of every file of ``exercises/``."""
    files = {"__init__.py": PACKAGE_DOC}
    for path in sorted(solutions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text()
        files[path.name] = HEADER + make_stub(text, str(path)) if "BEGIN SOLUTION" in text else (
            text
        )
    return files


def write(target: Path = EXERCISES, solutions: Path = SOLUTIONS) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(solutions).items():
        path = target / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def drift(target: Path = EXERCISES, solutions: Path = SOLUTIONS) -> list[str]:
    """Names of the files in ``target`` that differ from what ``solutions`` generates."""
    expected = render(solutions)
    stale = [name for name, text in expected.items()
             if not (target / name).is_file() or (target / name).read_text() != text]
    extra = [p.name for p in target.glob("*.py") if p.name not in expected]
    return sorted(stale + extra)


def register(commands) -> None:
    parser = commands.add_parser("stubs", help="regenerate exercises/ from solutions/")
    parser.add_argument("--check", action="store_true",
                        help="only report files that differ; exit 1 if any")
    parser.set_defaults(run=_run)


def _run(args) -> int:
    if args.check:
        stale = drift()
        for name in stale:
            print(f"exercises/{name} differs from what solutions/ generates")
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(REPO)}")
    return 0
