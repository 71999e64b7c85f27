"""Import a student's submission, whatever import style its modules use.

A submission is a folder holding ``activations.py``, ``layers.py``, ``network.py`` and
``gradient_check.py`` (at its top or in an ``exercises/`` subfolder). Student modules may import
one another as ``from exercises.layers import f``, ``from .layers import f`` or
``from layers import f``; all three must reach the *same* module object, or a stand-in for a
broken function would reach one copy and miss the other. So the folder is loaded as a fresh
package, and both ``exercises.X`` and the bare ``X`` are routed to that package's ``X``. The same
holds for helper modules of the student's own (``from utils import f``), as long as their name is
not one of the standard library's or of a module already imported (numpy stays numpy).

``overrides`` replaces named functions by other callables right after their module runs, before
any later module imports them: this is how a dependent function is graded with the reference in
place of a broken one.

``exclude`` names modules that must not run at all (the judge saw them end or hang the worker
while importing): their functions are missing with the judge's reason, and a module importing
one gets an ImportError. ``on_import(event, module)`` is told "importing" just before a student
module runs and "imported" when it finished (or failed), so a worker can report which module was
running if the process dies.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import itertools
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.spec.api import FUNCTIONS, MODULES

_counter = itertools.count()


class SubmissionError(Exception):
    """The submission cannot be loaded at all (missing folder or modules)."""


def find_module_dir(path: Path) -> Path:
    """Return the folder that holds the exercise modules: ``path`` or ``path/exercises``."""
    path = Path(path)
    if not path.is_dir():
        raise SubmissionError(f"{path} is not a folder")
    for candidate in (path, path / "exercises"):
        if any((candidate / f"{module}.py").is_file()
               for module in (*MODULES, NOTEBOOK_MODULE)):
            return candidate
    raise SubmissionError(
        f"no exercise modules in {path}: expected {', '.join(m + '.py' for m in MODULES)}"
    )


class _AliasLoader(importlib.abc.Loader):
    """Makes ``import layers`` return the already-created package module ``<pkg>.layers``."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


NOTEBOOK_MODULE = "notebook_code"  # one module holding every function of a notebook submission
# A list of texts a loaded module may hold for the feedback (the notebook module says there which
# cells it skipped or which raised); read as plain strings, never trusted for anything else.
NOTES_NAME = "__grader_notes__"


ImportHook = Callable[[str, str], None]


@dataclass
class _Package:
    """One loaded submission as the router sees it."""

    folder: Path
    overrides: Mapping[str, Callable]
    exclude: Mapping[str, str] = field(default_factory=dict)
    on_import: ImportHook | None = None


class _OverridingLoader(importlib.abc.Loader):
    """Runs a student module, then puts the stand-ins in place before anyone imports from it."""

    def __init__(self, inner, package: _Package):
        self.inner = inner
        self.package = package

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        short = module.__name__.rsplit(".", 1)[-1]
        hook = self.package.on_import
        if hook is not None:
            hook("importing", short)
        try:
            self.inner.exec_module(module)
        finally:
            if hook is not None:
                hook("imported", short)
        if short == NOTEBOOK_MODULE:
            names = FUNCTIONS
        elif short in MODULES:
            names = MODULES[short]
        else:  # a helper module of the student's: the API functions it holds are stood in too
            names = tuple(n for n in FUNCTIONS if callable(vars(module).get(n)))
        replaced = {}
        for name in names:
            if name in self.package.overrides:
                replaced[id(getattr(module, name, None))] = self.package.overrides[name]
                setattr(module, name, self.package.overrides[name])
        _replace_in_tables(vars(module), replaced)


def _replace_in_tables(namespace: dict, replaced: dict[int, Callable]) -> None:
    """Stand-ins also replace the student's functions inside module-level tables, such as
    ``ACTIVATIONS = {"tanh": (tanh, tanh_grad)}``, which were filled before the swap (in a
    notebook, everything lives in one module, so the table is built before any stand-in)."""
    if not replaced:
        return

    def swap(value):
        if callable(value) and id(value) in replaced:
            return replaced[id(value)]
        if type(value) is tuple:
            return tuple(swap(item) for item in value)
        if type(value) is list:
            return [swap(item) for item in value]
        return value

    for key, value in list(namespace.items()):
        if type(value) is dict:
            for inner_key, inner_value in list(value.items()):
                value[inner_key] = swap(inner_value)
        elif type(value) in (tuple, list) and not key.startswith("__"):
            namespace[key] = swap(value)


class _ExcludedLoader(importlib.abc.Loader):
    """Stands for a module the judge excluded: importing it fails without running it."""

    def __init__(self, short: str, reason: str):
        self.short = short
        self.reason = reason

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError(f"{self.short}.py was not loaded: {self.reason}")


class _Router(importlib.abc.MetaPathFinder):
    """Serves each loaded submission; routes ``exercises.X`` and bare ``X`` to the latest."""

    def __init__(self):
        self.packages: dict[str, _Package] = {}
        self.current: str | None = None
        self.helpers: set[str] = set()  # bare names routed to a submission's own helper module

    def find_spec(self, fullname, path=None, target=None):
        head, _, tail = fullname.partition(".")
        if tail and "." not in tail and head in self.packages:
            package = self.packages[head]
            file = package.folder / f"{tail}.py"
            if not file.is_file():
                return None
            if tail in package.exclude:
                return importlib.util.spec_from_loader(
                    fullname, _ExcludedLoader(tail, package.exclude[tail]))
            spec = importlib.util.spec_from_file_location(fullname, file)
            spec.loader = _OverridingLoader(spec.loader, package)
            return spec
        if self.current is None:
            return None
        folder = self.packages[self.current].folder
        short = tail if head == "exercises" and "." not in tail else (fullname if not tail else "")
        if short in MODULES:
            if (folder / f"{short}.py").is_file():
                target = short
            elif (folder / f"{NOTEBOOK_MODULE}.py").is_file():
                target = NOTEBOOK_MODULE
            else:
                return None
            return importlib.util.spec_from_loader(
                fullname, _AliasLoader(f"{self.current}.{target}")
            )
        if not tail and _helper_name(fullname) and (folder / f"{fullname}.py").is_file():
            # A helper module of the student's own (``from utils import f``), as Python finds it
            # when the submission's folder is the working directory.
            self.helpers.add(fullname)
            return importlib.util.spec_from_loader(
                fullname, _AliasLoader(f"{self.current}.{fullname}"))
        return None


def _helper_name(name: str) -> bool:
    """A bare module name that may be a student's helper: not the standard library's, not one
    already imported (numpy and the grader's own modules stay theirs)."""
    return (name.isidentifier() and name not in sys.stdlib_module_names
            and name not in sys.modules and name != NOTEBOOK_MODULE)


# One per process, as the import system it joins is: installed in ``sys.meta_path`` by the first
# ``load_submission`` and kept until the process ends (each submission is a package of its own
# in it, so nothing of an earlier submission is found by a later one).
_ROUTER = _Router()


class Submission:
    """The loaded API functions of one submission: ``submission.functions["sigmoid"]``.

    ``missing`` maps each API function that could not be found to the reason (module absent,
    import failed, name not defined).
    """

    def __init__(self, functions: dict[str, Callable], missing: dict[str, str], package: str,
                 notes: list[str] | None = None):
        self.functions = functions
        self.missing = missing
        self.package = package
        self.notes = notes or []

    def __getattr__(self, name: str) -> Callable:
        try:
            return self.functions[name]
        except KeyError:
            raise AttributeError(name) from None


def load_submission(path: Path, overrides: Mapping[str, Callable] | None = None, *,
                    exclude: Mapping[str, str] | None = None,
                    on_import: ImportHook | None = None) -> Submission:
    """Import a submission folder as a fresh package and collect its API functions.

    path: the submission folder. overrides: API name -> callable put in place of the student's.
    exclude: module name -> reason; those modules are not run (see the module docstring).
    on_import: called as ``on_import("importing" | "imported", module)`` around each module run.
    Import errors do not raise: the functions of a module that fails to import are reported in
    ``Submission.missing`` with the error, so the rest can still be graded. Texts a module
    leaves in ``NOTES_NAME`` are collected in ``Submission.notes``.
    """
    folder = find_module_dir(Path(path)).resolve()
    overrides = dict(overrides or {})
    exclude = {str(k): str(v) for k, v in (exclude or {}).items()}
    package = f"_submission_{next(_counter)}"
    package_module = types.ModuleType(package)
    package_module.__path__ = [str(folder)]
    package_module.__package__ = package
    package_module.__spec__ = importlib.machinery.ModuleSpec(package, None, is_package=True)
    sys.modules[package] = package_module

    # Earlier loads (in this process) leave aliases behind; this submission's must win.
    for name in [*MODULES, "exercises", *_ROUTER.helpers]:
        sys.modules.pop(name, None)
    _ROUTER.helpers.clear()
    for name in [m for m in sys.modules if m.startswith("exercises.")]:
        sys.modules.pop(name, None)
    sys.modules["exercises"] = package_module

    _ROUTER.packages[package] = _Package(folder, overrides, exclude, on_import)
    _ROUTER.current = package
    if _ROUTER not in sys.meta_path:
        sys.meta_path.insert(0, _ROUTER)
    functions: dict[str, Callable] = {}
    missing: dict[str, str] = {}
    notes: list[str] = []
    notebook = (folder / f"{NOTEBOOK_MODULE}.py").is_file()
    for module_name, names in MODULES.items():
        if notebook:
            module_name = NOTEBOOK_MODULE
        if not (folder / f"{module_name}.py").is_file():
            for name in names:
                missing[name] = f"{module_name}.py is missing"
            continue
        if module_name in exclude:
            for name in names:
                missing[name] = exclude[module_name]
            continue
        try:
            module = importlib.import_module(f"{package}.{module_name}")
        except BaseException as error:  # noqa: BLE001 - a student's import may raise anything
            reason = f"importing {module_name}.py raised {type(error).__name__}: {error}"
            for name in names:
                missing[name] = reason
            continue
        for name in names:
            function = getattr(module, name, None)
            if callable(function):
                functions[name] = function
            else:
                missing[name] = f"{module_name}.py defines no function {name}"
        said = vars(module).get(NOTES_NAME)
        if type(said) is list:  # a notebook's module is met once per group of names: no repeats
            notes.extend(text[:300] for text in said[:50]
                         if type(text) is str and text[:300] not in notes)
    return Submission(functions, missing, package, notes)


SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


def reference_functions(solutions_dir: Path = SOLUTIONS_DIR) -> dict[str, Callable]:
    """The reference implementation, imported as the package ``solutions`` from its folder."""
    if "solutions" not in sys.modules:
        init = Path(solutions_dir) / "__init__.py"
        if not init.is_file():
            raise SubmissionError(f"the reference solutions are not at {solutions_dir}")
        spec = importlib.util.spec_from_file_location(
            "solutions", init, submodule_search_locations=[str(solutions_dir)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["solutions"] = module
        spec.loader.exec_module(module)
    functions = {}
    for module_name, names in MODULES.items():
        module = importlib.import_module(f"solutions.{module_name}")
        for name in names:
            functions[name] = getattr(module, name)
    return functions
