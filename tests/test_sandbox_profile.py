"""The sandbox profile (``grader.spec.profile``) is what the mechanism enforces, the worker's view
is its packages, and the environment switches do what ``settings.ENVIRONMENT`` says.

* the seccomp program, run by a small classic-BPF interpreter on generated system calls, gives
  exactly the verdict the profile's tables state (denied, unavailable, conditional, allowed);
* the bubblewrap command line binds every file of the worker's packages and no other file of
  the grader, sets exactly the profile's environment, and the worker's packages import nothing
  else of the grader (by their source, and by importing them with the rest made unimportable);
* ``VG_NO_SANDBOX`` and ``VG_NO_TEMPLATE`` (any non-empty value) turn bubblewrap and the template
  off, seen in the mode a worker reports and the results' sandbox field and note;
* a ``Templates`` owner starts, replaces, refuses and closes its template.
"""

from __future__ import annotations

import ast
import marshal
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grader
from grader.batch.run import grade_submission, sandbox_description
from grader.inside import confine
from grader.sandbox import view
from grader.sandbox.launch import start_worker, stop_worker
from grader.sandbox.remote import WorkerStudent
from grader.sandbox.template import TEMPLATES, TemplateChild, Templates
from grader.settings import ENVIRONMENT
from grader.spec import profile
from grader.spec.profile import Limits

REPO = Path(__file__).resolve().parent.parent
GRADER = Path(grader.__file__).resolve().parent
MODULES = ("activations", "layers", "network", "gradient_check")
QUICK = Limits(call_seconds=5, submission_seconds=60)
NEEDS_BWRAP = pytest.mark.skipif(not view.bubblewrap_works(), reason="bubblewrap is not usable")
# Values an instructor might set: every non-empty one turns the switch on.
ON_VALUES = ["1", "yes", "true", "0", "no", " "]


def reference_submission(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in MODULES:
        shutil.copyfile(REPO / "solutions" / f"{name}.py", folder / f"{name}.py")
    return folder


# --- seccomp: the program means what the profile's tables say ----------------------------------

_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = _ERRNO | 1, _ERRNO | 38
_X86_64, _X32_BIT, _CLONE_THREAD = 0xC000003E, 0x40000000, 0x00010000


def run_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...]) -> int:
    """Run a classic-BPF seccomp program (the instructions the assembler emits: LD|W|ABS,
    JEQ/JGE/JSET with a constant, RET) on one ``seccomp_data``; returns the action."""
    data = struct.pack("<iIQ6Q", nr - (1 << 32) if nr >= 1 << 31 else nr, arch, 0, *args)
    accumulator, pc = 0, 0
    count = len(program) // 8
    while pc < count:
        code, true, false, k = struct.unpack_from("=HBBI", program, 8 * pc)
        pc += 1
        if code == 0x20:
            accumulator = struct.unpack_from("<I", data, k)[0]
        elif code in (0x15, 0x35, 0x45):
            taken = {0x15: accumulator == k, 0x35: accumulator >= k,
                     0x45: bool(accumulator & k)}[code]
            pc += true if taken else false
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF instruction {code:#x}")
    raise AssertionError("the program ran off its end")


def expected_action(nr: int, arch: int, args: tuple[int, ...], pid: int) -> int:
    """The profile's verdict, read from its tables alone."""
    if arch != _X86_64 or nr >= _X32_BIT:
        return _EPERM
    if nr in profile.DENIED_X86_64.values():
        return _EPERM
    if nr in profile.UNAVAILABLE_X86_64.values():
        return _ENOSYS
    low = args[0] & 0xFFFFFFFF
    rules = {"clone": args[0] & _CLONE_THREAD != 0, "kill": low in (pid, 0),
             "tgkill": low == pid, "prlimit64": args[2] == 0}
    for name, (number, _) in profile.CONDITIONAL_X86_64.items():
        if nr == number:
            return _ALLOW if rules[name] else _EPERM
    return _ALLOW


def test_the_profile_tables_name_each_call_once():
    tables = [profile.DENIED_X86_64, profile.UNAVAILABLE_X86_64,
              {n: v[0] for n, v in profile.CONDITIONAL_X86_64.items()}]
    names = [n for t in tables for n in t]
    numbers = [v for t in tables for v in t.values()]
    assert len(set(names)) == len(names) and len(set(numbers)) == len(numbers)


_PID = 4242
_KNOWN = sorted({*profile.DENIED_X86_64.values(), *profile.UNAVAILABLE_X86_64.values(),
                 *(v[0] for v in profile.CONDITIONAL_X86_64.values())})
_ARG = st.one_of(st.sampled_from([0, _PID, _PID + (1 << 32), _CLONE_THREAD, _CLONE_THREAD | 0x11,
                                  0x11, (1 << 64) - 1, (1 << 32) - _PID]),
                 st.integers(0, (1 << 64) - 1))


@settings(max_examples=600, derandomize=True, deadline=None)
@given(nr=st.one_of(st.sampled_from(_KNOWN), st.integers(0, 600), st.integers(0, (1 << 32) - 1)),
       arch=st.one_of(st.just(_X86_64), st.sampled_from([0x40000003, 0xC00000B7]),
                      st.integers(0, (1 << 32) - 1)),
       args=st.tuples(*[_ARG] * 6))
def test_the_seccomp_program_gives_the_profiles_verdict_on_any_call(nr, arch, args):
    program = confine.seccomp_program(_PID)
    assert run_bpf(program, nr, arch, args) == expected_action(nr, arch, args, _PID)


_EDGES = [0, 1, _PID, _PID + (1 << 32), (1 << 32) - _PID, (1 << 64) - _PID, _CLONE_THREAD,
          _CLONE_THREAD | 0x11, 0x11, 1 << 32, (1 << 64) - 1]


@pytest.mark.parametrize("name", sorted(profile.CONDITIONAL_X86_64))
def test_each_conditional_call_is_allowed_exactly_under_its_condition(name):
    """Every edge value in the first and third arguments (where the conditions look)."""
    program = confine.seccomp_program(_PID)
    number = profile.CONDITIONAL_X86_64[name][0]
    verdicts = set()
    for first in _EDGES:
        for third in _EDGES:
            args = (first, 7, third, 0, 0, 0)
            verdict = run_bpf(program, number, _X86_64, args)
            assert verdict == expected_action(number, _X86_64, args, _PID), (first, third)
            verdicts.add(verdict)
    assert verdicts == {_ALLOW, _EPERM}  # the condition decides, both ways


@pytest.mark.parametrize("name", sorted(profile.DENIED_X86_64))
def test_every_denied_call_is_denied_whatever_its_arguments(name):
    program = confine.seccomp_program(_PID)
    for args in [(0,) * 6, (_PID, 0, 0, 0, 0, 0), ((1 << 64) - 1,) * 6]:
        assert run_bpf(program, profile.DENIED_X86_64[name], _X86_64, args) == _EPERM


# --- the view: the worker's packages, nothing else of the grader -------------------------------

def _bound_grader_files(command: list[str]) -> dict[str, str]:
    """sandbox path -> host path of every file bound under /opt/vg/grader."""
    bound = {}
    for index, option in enumerate(command):
        if option == "--ro-bind" and command[index + 2].startswith(profile.SANDBOX_GRADER + "/"):
            bound[command[index + 2]] = command[index + 1]
    return bound


def _all_grader_files() -> list[str]:
    return sorted(p.relative_to(GRADER).as_posix() for p in GRADER.rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_worker_modules_are_the_packages_found_in_their_folders():
    expected = ["__init__.py"] + [f for f in _all_grader_files()
                                  if f.split("/")[0] in profile.WORKER_PACKAGES]
    assert list(view.WORKER_MODULES) == sorted(expected)
    assert {"inside/worker.py", "inside/zygote.py", "inside/confine.py",
            "spec/profile.py"} <= set(view.WORKER_MODULES)


_PACKAGES = ("spec", "student", "inside", "checking", "sandbox", "batch", "public")


@settings(max_examples=40, derandomize=True, deadline=None)
@given(layout=st.lists(st.tuples(st.sampled_from(_PACKAGES + ("",)),
                                 st.sampled_from(["", "sub/", "__pycache__/"]),
                                 st.text("abcxyz_", min_size=1, max_size=6),
                                 st.sampled_from([".py", ".pyc", ".txt"])), max_size=12))
def test_a_module_is_shown_by_the_package_it_is_in_not_by_a_list(layout, tmp_path_factory):
    root = tmp_path_factory.mktemp("grader")
    (root / "__init__.py").write_text("")
    expected = {"__init__.py"}
    for package, sub, stem, suffix in layout:
        path = root / package / sub / f"{stem}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        shown = package in profile.WORKER_PACKAGES and suffix == ".py" and "__pycache__" not in sub
        if shown:
            expected.add(path.relative_to(root).as_posix())
    assert set(view._worker_modules(root)) == expected


@pytest.mark.parametrize("template", [False, True], ids=["worker", "template"])
def test_the_view_binds_each_file_of_the_worker_packages_and_no_other_grader_file(template,
                                                                                  tmp_path):
    bound = _bound_grader_files(view.bubblewrap_command(tmp_path, template=template))
    files = {k: v for k, v in bound.items() if k.endswith(".py")}
    for name in _all_grader_files():  # enumerate the whole grader: shown iff in the profile
        shown = name == "__init__.py" or name.split("/")[0] in profile.WORKER_PACKAGES
        target = f"{profile.SANDBOX_GRADER}/{name}"
        assert (target in files) == shown, name
        if shown:
            assert Path(files[target]) == GRADER / name
    caches = {k for k in bound if not k.endswith(".py")}
    assert caches <= {f"{profile.SANDBOX_GRADER}/{p}/__pycache__"
                      for p in ("", *profile.WORKER_PACKAGES)} | {
        f"{profile.SANDBOX_GRADER}/__pycache__"}


def test_the_views_environment_is_the_profiles(tmp_path):
    command = view.bubblewrap_command(tmp_path)
    pairs = [(command[i + 1], command[i + 2]) for i, o in enumerate(command) if o == "--setenv"]
    assert pairs == [*profile.SANDBOX_ENV, *view.sandbox_view().env]
    assert command[command.index("--hostname") + 1] == profile.HOSTNAME
    assert command[command.index("--uid") + 1] == str(profile.NOBODY)
    assert "--clearenv" in command and command.index("--clearenv") < command.index("--setenv")


def test_the_worker_bytecode_is_compiled_per_package_under_the_sandbox_name():
    folder = view.worker_bytecode()
    assert folder is not None
    caches = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("__pycache__"))
    assert caches == ["__pycache__"] + [f"{p}/__pycache__" for p in sorted(
        profile.WORKER_PACKAGES)]
    compiled = sorted(folder.rglob("*.pyc"))
    assert len(compiled) == len(view.WORKER_MODULES)
    for path in compiled:
        code = marshal.loads(path.read_bytes()[16:])
        assert code.co_filename.startswith(profile.SANDBOX_GRADER + "/"), code.co_filename


_MAY_IMPORT = {"inside": {"spec", "student", "inside"}, "student": {"spec", "student"},
               "spec": {"spec"}}


def _grader_imports(path: Path) -> list[str]:
    """The grader sub-packages a module imports anywhere in it (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "grader" else \
                [f"grader.{alias.name}" for alias in node.names]
        found += [n.split(".")[1] for n in names if n.startswith("grader.")]
    return found


@pytest.mark.parametrize("name", [m for m in view.WORKER_MODULES if "/" in m])
def test_the_worker_packages_import_only_what_the_worker_is_shown(name):
    package = name.split("/")[0]
    assert set(_grader_imports(GRADER / name)) <= _MAY_IMPORT[package]


def test_the_worker_and_template_import_with_the_rest_of_the_grader_unimportable():
    code = (
        "import sys, importlib.abc\n"
        "ALLOWED = {'grader', 'grader.spec', 'grader.student', 'grader.inside'}\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith('grader.') and '.'.join(name.split('.')[:2]) not in ALLOWED:\n"
        "            raise ImportError('not in the worker view: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import grader.inside.worker, grader.inside.zygote\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('grader'))))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = done.stdout.split()
    assert "grader.inside.confine" in loaded and "grader.spec.profile" in loaded
    assert {m.split(".")[1] for m in loaded if "." in m} <= {"spec", "student", "inside"}


# --- the environment switches ---------------------------------------------------------------------

@pytest.fixture
def fresh_probe():
    """``bubblewrap_works`` is probed once per process: probe afresh, and again afterwards."""
    view.bubblewrap_works.cache_clear()
    yield
    view.bubblewrap_works.cache_clear()


def test_the_switches_are_documented():
    assert {"VG_NO_SANDBOX", "VG_NO_TEMPLATE"} <= set(ENVIRONMENT)


@pytest.mark.usefixtures("fresh_probe")
@pytest.mark.parametrize("value", ON_VALUES)
def test_vg_no_sandbox_turns_bubblewrap_off(value, monkeypatch):
    monkeypatch.setenv("VG_NO_SANDBOX", value)
    assert view.bubblewrap_works() is False
    assert sandbox_description(None) == ("a plain subprocess with rlimits (bubblewrap was "
                                         "turned off (VG_NO_SANDBOX is set)): weaker isolation, "
                                         "see the notes in the results")


@pytest.mark.usefixtures("fresh_probe")
def test_an_empty_vg_no_sandbox_is_unset(monkeypatch):
    monkeypatch.delenv("VG_NO_SANDBOX", raising=False)
    unset = view.bubblewrap_works()
    view.bubblewrap_works.cache_clear()
    monkeypatch.setenv("VG_NO_SANDBOX", "")
    assert view.bubblewrap_works() is unset


@NEEDS_BWRAP
@pytest.mark.usefixtures("fresh_probe")
def test_under_vg_no_sandbox_workers_and_results_say_subprocess(monkeypatch, tmp_path):
    folder = reference_submission(tmp_path / "s")
    monkeypatch.setenv("VG_NO_SANDBOX", "1")
    with WorkerStudent(folder, limits=QUICK) as worker:
        assert worker.call("relu", np.array([-1.0, 2.0])).value.tolist() == [0.0, 2.0]
        assert worker.mode == "subprocess"
    result = grade_submission(folder, seed=0, measure=False)
    assert (result.score, result.max_score) == (50, 50)
    assert result.sandbox == "subprocess"
    assert ("bubblewrap was turned off (VG_NO_SANDBOX is set): student code ran in a plain "
            "subprocess with resource limits (and, when the grader runs as root, its own network "
            "namespace, a read-only view and an unprivileged uid)") in result.notes
    asked = grade_submission(folder, seed=0, sandbox=False, measure=False)
    assert asked.notes[-1].startswith("bubblewrap was turned off (--no-sandbox): student code")
    monkeypatch.delenv("VG_NO_SANDBOX")
    view.bubblewrap_works.cache_clear()
    with WorkerStudent(folder, limits=QUICK) as worker:
        assert worker.call("relu", np.array([2.0])).error is None
        assert worker.mode == "bubblewrap"


@pytest.mark.parametrize("value", ON_VALUES)
def test_vg_no_template_turns_the_template_off(value, monkeypatch):
    owner = Templates()
    monkeypatch.delenv("VG_NO_TEMPLATE", raising=False)
    available = owner.usable(QUICK)
    assert available == confine.seccomp_supported()
    monkeypatch.setenv("VG_NO_TEMPLATE", value)
    assert owner.usable(QUICK) is False
    monkeypatch.setenv("VG_NO_TEMPLATE", "")
    assert owner.usable(QUICK) is available


@NEEDS_BWRAP
def test_under_vg_no_template_each_worker_is_a_sandbox_of_its_own(monkeypatch, tmp_path):
    if not TEMPLATES.usable(QUICK) or TEMPLATES.get() is None:
        pytest.skip(f"the worker template cannot run here: {TEMPLATES.refused}")
    folder = reference_submission(tmp_path / "s")
    monkeypatch.setenv("VG_NO_TEMPLATE", "1")
    started = start_worker(folder, [], QUICK, sandbox=True)
    try:
        assert started.mode == "bubblewrap"
        assert isinstance(started.process, subprocess.Popen)
    finally:
        stop_worker(started)
    monkeypatch.delenv("VG_NO_TEMPLATE")
    started = start_worker(folder, [], QUICK, sandbox=True)
    try:
        assert started.mode == "bubblewrap"
        assert isinstance(started.process, TemplateChild)
        assert started.process.template is TEMPLATES.current
    finally:
        stop_worker(started)


# --- the owner of a process's template ------------------------------------------------------------

@NEEDS_BWRAP
def test_a_templates_owner_starts_replaces_refuses_and_closes_its_template(tmp_path):
    owner = Templates()
    if not owner.usable(QUICK) or owner.get() is None:
        pytest.skip(f"the worker template cannot run here: {owner.refused}")
    first = owner.current
    assert owner.get() is first  # kept while alive
    started = start_worker(reference_submission(tmp_path / "s"), [], QUICK, sandbox=True,
                           templates=owner)
    assert isinstance(started.process, TemplateChild) and started.process.template is first
    stop_worker(started)
    assert not started.process.stage.exists()
    owner.close()
    assert owner.current is None and first.closed
    assert first.process.poll() is not None and not first.stage.exists()
    second = owner.get()
    assert second is not None and second is not first and second.alive()
    owner.refuse("a worker could not set itself up")
    assert owner.refused == "a worker could not set itself up"
    assert owner.current is None and second.closed and second.process.poll() is not None
    assert owner.usable(QUICK) is False and owner.get() is None
    assert TEMPLATES is not owner and TEMPLATES.refused is None  # the process's own is untouched
