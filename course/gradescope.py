"""``python -m course gradescope [--out DIR]``: build the Gradescope autograder, ``autograder.zip``.

How it scales: Gradescope builds one image from the zip (``setup.sh`` runs once, as root, on
Ubuntu 22.04) and then grades every submission in a fresh container of its own, running
``run_autograder`` there. A class of any size is therefore spread over Gradescope's machines, one
submission per container (half a CPU each, so the grader runs with ``--workers 1``); nothing here
has to coordinate machines.

The zip's root (files, no enclosing folder):

``setup.sh``
    installs Python 3.11+ and bubblewrap if missing, a venv with the runtime dependencies, and the
    grader wheel into ``<root>/vg/lib``, a folder *outside* the venv (see below).
``run_autograder``
    executable; grades ``<root>/submission`` into ``<root>/results/results.json``, always writing
    one (score 0 and an explanation if the grader cannot run). ``AUTOGRADER_ROOT`` replaces
    ``/autograder`` for tests.
``run_grader.py``
    what ``run_autograder`` runs: picks what to grade from file names only, runs
    ``python -m grader grade SUBMISSION --results ... --config grader.toml``, and writes the
    score-0 results.json when that fails.
``grader.toml``
    the grading seed, limits and ``[points]``/``[parts]``; not ``[late]`` or ``[extensions]``,
    which Gradescope's run never applies (the build says so: set the late policy in
    Gradescope). It stays in the autograder's source folder, which students never
    see, and is passed to the grader with ``--config``: the seed is in no wheel and no release.
    The build refuses to run without an explicit seed (``--seed N`` or grader.toml's ``seed``):
    a silent default would be a seed written in the source code, known to anyone who reads it.
``gradescope.json``
    how results.json is shown: the visibility of the graded tests, whose inputs come from the
    hidden seed (``--hidden-visibility``, default ``after_due_date``), and the output format
    (``simple_format``: the feedback is plain text with line breaks, which Markdown would mangle,
    ``x * W`` turning italic). ``run_grader.py`` also grades the submission on the public inputs
    (the seed of the student's self-check) and adds those checks as ``visible`` tests worth no
    points, so students see at once what their self-check would say.
``requirements.txt``
    the wheel's runtime dependencies and everything they need, pinned (``==``) to the versions
    installed where the autograder was built and its tests ran, so the image cannot drift
    between builds.
``README.md``
    for the instructor: the autograder's maximum is 50 points; the written answers (6 points)
    are graded by hand in a separate manually graded question.
``vanishing_gradients-*.whl``
    built from this project with ``pip wheel --no-deps``: the grader, ``grader/data/*.npz`` and the
    reference ``solutions`` package the judge compares against.

Student code runs only in the grader's workers: under bubblewrap where the container allows user
namespaces, otherwise in the grader's hardened subprocess fallback (``grader.sandbox``), which
results.json's output then reports.

Why the wheel is not installed into the venv: bubblewrap shows student code the interpreter's
whole prefix (the venv) read-only, so reference solutions installed there could simply be
imported by a submission. Installed with ``pip install --target`` beside the venv, they are
outside the sandbox's view; only the judge, started with that folder on ``PYTHONPATH``, sees them.
"""

from __future__ import annotations

import argparse
import dataclasses
import email.parser
import fnmatch
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.checking.judge import PUBLIC_SEED
from grader.settings import CONFIG_NAME, Settings, SettingsError

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates" / "gradescope"
ZIP_NAME = "autograder.zip"
# Files of the zip root that Gradescope (or run_autograder) executes.
EXECUTABLES = ("setup.sh", "run_autograder")
SCRIPTS = ("setup.sh", "run_autograder", "run_grader.py")
# What the judge cannot work without, checked in the built wheel.
REQUIRED_IN_WHEEL = ("grader/__init__.py", "grader/cli.py", "grader/inside/worker.py",
                     "grader/data/public_expected.npz", "solutions/__init__.py")
# Gradescope's visibilities of a test (its autograder specification).
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
HIDDEN_VISIBILITY = "after_due_date"
# Plain text with its line breaks kept: the feedback is not Markdown (see the module docstring).
OUTPUT_FORMAT = "simple_format"
OPTIONS_NAME = "gradescope.json"  # read by run_grader.py
WRITTEN_POINTS = 6  # the three written questions, graded by hand
NO_SEED = ("no grading seed: pass --seed N (make gradescope SEED=N) or set seed = N in "
           "grader.toml; the build never falls back to the seed in the source code")


class BuildError(Exception):
    """The autograder cannot be built as asked (bad config, incomplete wheel)."""


def _package_dirs(repo: Path) -> list[Path]:
    """Top-level packages that pyproject's ``packages.find`` includes, as folders."""
    with open(repo / "pyproject.toml", "rb") as handle:
        find = tomllib.load(handle)["tool"]["setuptools"]["packages"]["find"]
    patterns = find.get("include", ["*"])
    return [path for path in sorted(repo.iterdir())
            if path.is_dir() and (path / "__init__.py").is_file()
            and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)]


def build_wheel(target: Path, repo: Path = REPO) -> Path:
    """Build this project's wheel into ``target`` with ``pip wheel --no-deps``.

    It is built from a staged copy (pyproject, readme, the packages), not the work tree: setuptools
    writes ``build/`` and ``*.egg-info`` beside the sources, and others edit the tree meanwhile.
    """
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vg-wheel-") as temporary:
        stage = Path(temporary) / "project"
        stage.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (repo / name).is_file():
                shutil.copy2(repo / name, stage / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for package in _package_dirs(repo):
            shutil.copytree(package, stage / package.name, ignore=ignore)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
             "--disable-pip-version-check", "--wheel-dir", str(Path(temporary) / "dist"),
             str(stage)],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise BuildError(f"pip wheel failed:\n{done.stdout}\n{done.stderr}")
        wheels = list((Path(temporary) / "dist").glob("*.whl"))
        if len(wheels) != 1:
            raise BuildError(f"pip wheel made {len(wheels)} wheels, expected 1")
        return Path(shutil.copy2(wheels[0], target / wheels[0].name))


def check_wheel(wheel: Path, modules: tuple[str, ...] | None = None) -> list[str]:
    """Raise BuildError unless the wheel holds the grader, its data and every reference module."""
    if modules is None:
        from grader.spec.api import MODULES

        modules = tuple(MODULES)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    needed = [*REQUIRED_IN_WHEEL, *(f"solutions/{name}.py" for name in modules)]
    missing = [name for name in needed if name not in names]
    if missing:
        raise BuildError(
            f"{wheel.name} lacks {', '.join(missing)}: the judge needs the reference and the "
            "recorded data. pyproject.toml must list 'solutions*' in "
            "[tool.setuptools.packages.find] include and ship grader/data/*.npz as package data")
    return sorted(names)


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's unconditional runtime requirements (``Requires-Dist`` without extras)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(metadata).decode("utf-8"))
    return [r for r in message.get_all("Requires-Dist", []) if "extra ==" not in r]


def pinned_requirements(requirements: list[str]) -> list[str]:
    """``name==version`` for each of ``requirements`` (PEP 508 strings) and, recursively, for
    everything they need, at the versions installed here (``importlib.metadata``), sorted by
    name. Requirements whose markers do not hold here (another platform, an extra) are left
    out. Raises BuildError for one that is not installed: its version could not be pinned."""
    pins: dict[str, str] = {}
    queue = [Requirement(r) for r in requirements]
    while queue:
        requirement = queue.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in pins:
            continue
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            raise BuildError(f"{requirement.name} (needed by the grader wheel) is not installed "
                             "here, so its version cannot be pinned: run `make install`") from None
        pins[name] = distribution.version
        queue += [Requirement(r) for r in distribution.requires or []]
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def grading_config(config: Path | None = None, seed: int | None = None,
                   repo: Path = REPO) -> tuple[Settings, str]:
    """The settings for grader.toml and where the seed came from.

    Order: ``seed`` if given; else the config file's (``config``, or the instructor's
    ``<repo>/grader.toml`` when it exists, as the grader's CLI reads it when run from the repo).
    With neither, BuildError (``NO_SEED``): the grader's default seed is in its source code. The
    file is read by ``grader.settings.Settings.load``, the grader's own reader: a key the grader
    would refuse stops the build. The public seed is refused too: students see its inputs.
    """
    try:
        settings = Settings.load(config, folder=repo)
        origin = f"{settings.source}" if "seed" in settings.values else ""
        if seed is not None:
            settings, origin = settings.with_seed(seed), "--seed"
    except SettingsError as error:
        raise BuildError(str(error)) from None
    if "seed" not in settings.values:
        raise BuildError(NO_SEED)
    if settings.seed == PUBLIC_SEED:
        raise BuildError(f"the grading seed from {origin} is {PUBLIC_SEED}, the public seed whose "
                         "inputs students see in the self-check: choose another")
    return settings, origin


def instructor_readme(total: int) -> str:
    """README.md of the zip: what the autograder scores, and what is left to do by hand."""
    return f"""# Vanishing gradients: the Gradescope autograder

Upload `autograder.zip` as the autograder of a Programming Assignment (base image Ubuntu 22.04).

* **Autograder points: {total}.** Set the assignment's autograder to {total} points. Each graded
  check's inputs come from the seed in `grader.toml` (hidden); those tests are shown to students
  as `gradescope.json` says (`hidden_visibility`). The same checks on the public inputs, what the
  student's self-check runs, are shown at once and are worth no points.
* **Written answers: {WRITTEN_POINTS} points, graded by hand.** The three written questions (the
  notebook's written-answer cells, or `answers.md` for students working in the modules) are not
  autograded. Add a separate, manually graded question worth {WRITTEN_POINTS} points to the
  assignment (Edit Outline, a question beside the autograder) and grade the answers there; the
  course total is then {total + WRITTEN_POINTS} points.
"""


# Tables Gradescope's run never applies: it grades one submission into results.json, and the
# late policy is Gradescope's own (the assignment's settings), applied to that score.
NOT_ON_GRADESCOPE = ("late", "extensions")
NOT_APPLIED = ("[late] is not applied on Gradescope: set the assignment's late policy in "
               "Gradescope")


def gradescope_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """``settings`` as the zip's grader.toml holds them: without ``[late]`` and
    ``[extensions]`` (``NOT_ON_GRADESCOPE``), so the file does not claim a policy nobody
    applies; and the lines to print (``NOT_APPLIED`` when either table was set)."""
    dropped = [name for name in NOT_ON_GRADESCOPE if settings.tables.get(name)]
    if not dropped:
        return settings, []
    kept = {name: table for name, table in settings.tables.items()
            if name not in NOT_ON_GRADESCOPE}
    left_out = " and ".join(f"[{name}]" for name in dropped)
    return (dataclasses.replace(settings, tables=kept),
            [f"{NOT_APPLIED} ({left_out} left out of the zip's {CONFIG_NAME})"])


def config_text(settings: Settings) -> str:
    """grader.toml's text: a comment saying what it is, then one ``key = value`` per setting."""
    return settings.toml("Grading settings for `python -m grader grade --config` (Gradescope "
                         "autograder\nonly; students never see this file). Written by "
                         "`python -m course gradescope`.")


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    # Unix mode in the high bits; Gradescope and unzip keep the executable bit from here.
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    archive.writestr(info, data)


def build_autograder(out: Path, seed: int | None = None, config: Path | None = None,
                     repo: Path = REPO, hidden_visibility: str = HIDDEN_VISIBILITY) -> Path:
    """Write ``out/autograder.zip`` (see the module docstring); returns its path.

    hidden_visibility: Gradescope's visibility of the graded (hidden-seed) tests, one of
    ``VISIBILITIES``. Raises BuildError without a seed (``grading_config``).
    """
    if hidden_visibility not in VISIBILITIES:
        raise BuildError(f"hidden visibility {hidden_visibility!r} is not one of Gradescope's: "
                         f"{', '.join(VISIBILITIES)}")
    out = Path(out)
    settings, origin = grading_config(config, seed, repo)
    settings, said = gradescope_settings(settings)
    for line in said:
        print(line)
    out.mkdir(parents=True, exist_ok=True)
    from grader.checking import checks  # noqa: F401 - registers the checks
    from grader.checking.trial import REGISTRY

    total = sum(c.points for c in REGISTRY.values())
    with tempfile.TemporaryDirectory(prefix="vg-autograder-") as temporary:
        wheel = build_wheel(Path(temporary), repo)
        check_wheel(wheel)
        requirements = pinned_requirements(wheel_requirements(wheel))
        options = {"hidden_visibility": hidden_visibility, "output_format": OUTPUT_FORMAT}
        path = out / ZIP_NAME
        partial = path.with_suffix(".zip.partial")  # never leave a half-written zip under the name
        with zipfile.ZipFile(partial, "w") as archive:
            for name in SCRIPTS:
                _add(archive, name, (TEMPLATES / name).read_bytes(), name in EXECUTABLES)
            _add(archive, CONFIG_NAME, config_text(settings).encode())
            _add(archive, OPTIONS_NAME, (json.dumps(options, indent=2) + "\n").encode())
            _add(archive, "requirements.txt",
                 ("# The grader wheel's runtime dependencies and theirs, pinned to the versions "
                  "installed\n# where this autograder was built (python -m course gradescope)."
                  "\n" + "".join(f"{r}\n" for r in requirements)).encode())
            _add(archive, "README.md", instructor_readme(total).encode())
            _add(archive, wheel.name, wheel.read_bytes())
        partial.replace(path)
    print(f"grading seed from {origin}")
    return path


def register(commands) -> None:
    """Add the ``gradescope`` sub-command to ``python -m course``."""
    parser = commands.add_parser("gradescope", help="build the Gradescope autograder zip",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/gradescope"),
                        help="folder for autograder.zip (default: out/gradescope)")
    parser.add_argument("--seed", type=int,
                        help="grading seed; required unless --config (or ./grader.toml) sets one")
    parser.add_argument("--hidden-visibility", choices=VISIBILITIES, default=HIDDEN_VISIBILITY,
                        help="Gradescope visibility of the graded (hidden-seed) tests "
                             f"(default: {HIDDEN_VISIBILITY}); the public-input tests are "
                             "always visible")
    parser.add_argument("--config", type=Path,
                        help=f"instructor settings (default: {CONFIG_NAME} in the repository, "
                             "if present)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        path = build_autograder(args.out, args.seed, args.config,
                                hidden_visibility=args.hidden_visibility)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as archive:
        listing = ", ".join(archive.namelist())
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB, {time.monotonic() - started:.1f} s): "
          f"{listing}")
    print("Upload it as the assignment's autograder on Gradescope (Ubuntu 22.04 base image).")
    return 0
