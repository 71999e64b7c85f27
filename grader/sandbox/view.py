"""What a worker sees under bubblewrap, built from ``grader.spec.profile``: the interpreter and
the worker's packages at neutral paths, and the bwrap command line that shows them.

Computed once per judge process (``sandbox_view``, ``worker_bytecode``); generated files (the
rewritten ``pyvenv.cfg`` and sysconfig data, the bytecode, an empty file) go into the judge's
own folder (``judge_folder``). See ``grader/sandbox/__init__.py`` for the whole containment.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grader
from grader.inside.confine import numpy_folders
from grader.settings import switch
from grader.spec.profile import (
    HOLDING,
    HOSTNAME,
    INSTALLATION_COVERED,
    LEAKY_NAMES,
    NOBODY,
    SANDBOX_BUILD,
    SANDBOX_ENV,
    SANDBOX_GRADER,
    SANDBOX_PYTHON,
    SANDBOX_SUBMISSION,
    SANDBOX_VENV,
    SYSTEM_BINDS,
    SYSTEM_FILES,
    SYSTEM_LINKS,
    WORKER_PACKAGES,
    Limits,
)
from grader.student.loader import SOLUTIONS_DIR

GRADER_DIR = Path(grader.__file__).resolve().parent


def _worker_modules(root: Path = GRADER_DIR) -> tuple[str, ...]:
    """The grader's files the worker sees, relative to the package (posix paths, sorted): its
    ``__init__.py`` and every ``.py`` file of the ``profile.WORKER_PACKAGES``, found in their
    folders (never a hand list: a new module of ``spec`` is there without anyone listing it)."""
    found = ["__init__.py"]
    for package in WORKER_PACKAGES:
        found += [path.relative_to(root).as_posix() for path in (root / package).rglob("*.py")
                  if "__pycache__" not in path.parts]
    return tuple(sorted(found))


# Files, not folders, are bound: a package's folder on the host may also hold bytecode compiled
# under its host path, or stray files, which the worker must not read.
WORKER_MODULES = _worker_modules()


@functools.cache
def bubblewrap_works() -> bool:
    """True when bwrap exists and can create the namespaces we need here (and the instructor
    did not turn it off with ``VG_NO_SANDBOX``)."""
    bwrap = shutil.which("bwrap")
    if not bwrap or sys.platform != "linux" or switch("VG_NO_SANDBOX"):
        return False
    try:
        probe = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "--die-with-parent",
             "--uid", str(NOBODY), "--gid", str(NOBODY), "true"],
            capture_output=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.cache
def judge_folder() -> Path:
    """This judge process's own folder: the worker modules' bytecode and the generated files of
    the sandbox's view. Removed at exit (and, after a crash, with its run's folder by the next
    run, see ``runs.remove_stale_run_folders``)."""
    import multiprocessing.util

    folder = Path(tempfile.mkdtemp(prefix="vg-bytecode-"))
    # Runs at exit in the main process and in multiprocessing's workers alike (which end with
    # os._exit: an atexit hook would never run there).
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=0)
    return folder


@functools.cache
def worker_bytecode() -> Path | None:
    """The worker's own modules compiled once per judge process into a ``__pycache__`` per
    package folder (a worker cannot write them: its view is read-only), which saves every
    worker start their compilation. None when they cannot be compiled."""
    import importlib.util
    import py_compile

    folder = judge_folder() / "bytecode"
    try:
        for name in WORKER_MODULES:
            target = Path(importlib.util.cache_from_source(str(GRADER_DIR / name))).name
            cache = folder / Path(name).parent / "__pycache__"
            cache.mkdir(parents=True, exist_ok=True)
            # Compiled under the sandbox's name: code objects show no host path.
            py_compile.compile(str(GRADER_DIR / name), cfile=str(cache / target),
                               dfile=f"{SANDBOX_GRADER}/{name}", doraise=True)
    except (OSError, py_compile.PyCompileError):
        return None
    return folder


@dataclass(frozen=True)
class SandboxView:
    """How the interpreter appears inside bubblewrap.

    binds: (host path, sandbox path) pairs bound read-only (what ``translate`` maps).
    arguments: the bubblewrap options that build this view, in order: the binds, empty
        read-only folders over what must not be seen, empty files over files of site-packages
        that name host paths, the virtual environment's link to the interpreter.
    executable: the interpreter's path inside.
    env: variables the interpreter needs to start (LD_LIBRARY_PATH for a shared libpython); the
        worker removes them from its environment before any student code.
    """

    binds: tuple[tuple[str, str], ...]
    arguments: tuple[str, ...]
    executable: str
    env: tuple[tuple[str, str], ...]

    def translate(self, host: Path) -> Path | None:
        """Where ``host`` appears inside (None where it does not)."""
        host = Path(host)
        best: tuple[int, Path] | None = None
        for source, target in self.binds:
            if host.is_relative_to(source) and (best is None or len(source) > best[0]):
                best = (len(source), Path(target) / host.relative_to(source))
        if best is None and host.is_relative_to("/usr"):
            return host
        return None if best is None else best[1]


def _leaky_files(folder: Path) -> list[Path]:
    """Files of a site-packages folder that exist to point at host paths (``LEAKY_NAMES``):
    ``.pth`` files (paths or code run at start-up, e.g. an editable install's finder),
    editable-install finders and links, and pip's record of where a local package came from."""
    found = []
    for pattern in LEAKY_NAMES:
        found += [p for p in folder.glob(pattern) if p.is_file() and not p.is_symlink()]
    return sorted(set(found))


@functools.cache
def sandbox_view() -> SandboxView:
    """The interpreter, its standard library and its packages, at neutral paths (computed once
    per judge process; generated files go into the judge's own folder)."""
    folder = judge_folder()
    empty = folder / "empty"
    empty.write_bytes(b"")
    binds: list[tuple[str, str]] = []
    args: list[str] = []

    def bind(source: Path | str, target: str) -> None:
        binds.append((str(source), target))
        args.extend(["--ro-bind", str(source), target])

    def cover(target: str) -> None:
        args.extend(["--tmpfs", target, "--remount-ro", target])

    def blank_leaks(host: Path, target: str) -> None:
        for path in _leaky_files(host):
            args.extend(["--ro-bind", str(empty), f"{target}/{path.relative_to(host)}"])

    env: list[tuple[str, str]] = []
    real = Path(sys.executable).resolve()
    base = Path(sys.base_prefix).resolve()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if base.is_relative_to("/usr"):
        executable = str(real)
        base_bin = str(real.parent)
    else:
        bind(base, SANDBOX_PYTHON)
        # Of the installation's programs only the interpreter.
        base_bin = f"{SANDBOX_PYTHON}/bin"
        executable = f"{base_bin}/{real.name if real.is_relative_to(base) else 'python3'}"
        args.extend(["--tmpfs", base_bin])
        bind(real, executable)
        args.extend(["--remount-ro", base_bin])
        for sub in (*INSTALLATION_COVERED,
                    *[str(p.relative_to(base)) for p in (base / "lib" / version).glob("config-*")]):
            if (base / sub).is_dir():
                cover(f"{SANDBOX_PYTHON}/{sub}")
        data = base / "lib" / version / f"{sysconfig._get_sysconfigdata_name()}.py"
        if data.is_file():  # sysconfig's build-time variables name the prefix
            text = data.read_text(encoding="utf-8")
            names = {sys.base_prefix: SANDBOX_PYTHON, str(base): SANDBOX_PYTHON}
            for key in ("abs_builddir", "abs_srcdir", "srcdir"):  # where it was compiled
                value = sysconfig.get_config_var(key)
                if isinstance(value, str) and value.startswith("/") and len(value) > 1:
                    names[value] = SANDBOX_BUILD
            for old in sorted(names, key=len, reverse=True):
                text = text.replace(old, names[old])
            (folder / data.name).write_text(text, encoding="utf-8")
            bind(folder / data.name, f"{SANDBOX_PYTHON}/lib/{version}/{data.name}")
        libdir = sysconfig.get_config_var("LIBDIR")
        if sysconfig.get_config_var("Py_ENABLE_SHARED") and libdir \
                and Path(libdir).resolve().is_relative_to(base):
            # The interpreter finds libpython through a run path naming the host prefix.
            env.append(("LD_LIBRARY_PATH", str(Path(SANDBOX_PYTHON) /
                                                Path(libdir).resolve().relative_to(base))))
    site = sorted({Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")})
    if Path(sys.prefix).resolve() != base:  # a virtual environment: rebuilt at /opt/vg/venv
        system = "false"
        try:
            for line in (Path(sys.prefix) / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "include-system-site-packages":
                    system = value.strip()
        except OSError:
            pass
        (folder / "pyvenv.cfg").write_text(
            f"home = {base_bin}\ninclude-system-site-packages = {system}\n"
            f"version = {'.'.join(map(str, sys.version_info[:3]))}\n", encoding="utf-8")
        bind(folder / "pyvenv.cfg", f"{SANDBOX_VENV}/pyvenv.cfg")
        args.extend(["--dir", f"{SANDBOX_VENV}/bin",
                     "--symlink", executable, f"{SANDBOX_VENV}/bin/python"])
        executable = f"{SANDBOX_VENV}/bin/python"
        prefix = Path(sys.prefix).resolve()
        for path in site:
            if path.is_dir() and path.is_relative_to(prefix):
                target = f"{SANDBOX_VENV}/{path.relative_to(prefix)}"
                bind(path, target)
                blank_leaks(path, target)
    elif not base.is_relative_to("/usr"):
        for path in site:
            if path.is_dir() and path.is_relative_to(base):
                blank_leaks(path, f"{SANDBOX_PYTHON}/{path.relative_to(base)}")
    view = SandboxView(tuple(binds), tuple(args), executable, tuple(env))
    # numpy outside the installation (a user install): shown where it is on the host.
    for path in numpy_folders():
        if view.translate(path) is None:
            bind(path, str(path))
    return SandboxView(tuple(binds), tuple(args), executable, tuple(env))


def bubblewrap_command(submission: Path, limits: Limits | None = None,
                       template: bool = False) -> list[str]:
    """The bwrap command line (without the worker's own arguments) for ``submission``.

    template: for the worker template, whose workers may need an empty folder to hold the old
    /tmp while they mount their own (see ``confine.isolate_template_child``); the template is
    PID 1 of its sandbox's PID namespace (no bubblewrap process runs in there)."""
    limits = limits or Limits()
    view = sandbox_view()
    command = [shutil.which("bwrap") or "bwrap"]
    for path in SYSTEM_BINDS:
        command += ["--ro-bind", path, path]
    for link, path in SYSTEM_LINKS:
        command += ["--symlink", link, path]
    command += [
        "--proc", "/proc", "--dev", "/dev",
        # /tmp is RAM: without --size a student could fill the machine's memory through it.
        "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
    ]
    for extra in SYSTEM_FILES:
        if Path(extra).exists():
            command += ["--ro-bind", extra, extra]
    command += list(view.arguments)
    # A grader installed as a wheel lives in site-packages, inside a folder bound above: cover
    # the reference solutions and the judge's own package there (the worker gets its modules at
    # /opt/vg/grader), as the fallback covers the solutions.
    for hidden in (SOLUTIONS_DIR, GRADER_DIR):
        inside = view.translate(hidden) if hidden.is_dir() else None
        if inside is not None:
            command += ["--tmpfs", str(inside), "--remount-ro", str(inside)]
    for name in WORKER_MODULES:
        command += ["--ro-bind", str(GRADER_DIR / name), f"{SANDBOX_GRADER}/{name}"]
    bytecode = worker_bytecode()
    if bytecode is not None:
        for cache in sorted(bytecode.rglob("__pycache__")):
            command += ["--ro-bind", str(cache),
                        f"{SANDBOX_GRADER}/{cache.relative_to(bytecode).as_posix()}"]
    if template:
        command += ["--dir", HOLDING, "--as-pid-1"]
    command += [
        "--ro-bind", str(submission), SANDBOX_SUBMISSION,
        # bwrap's own root and /dev are unlimited tmpfs mounts: make them read-only so /tmp
        # (limited above) is the only writable place.
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--chdir", "/tmp",
        "--unshare-all", "--hostname", HOSTNAME, "--die-with-parent", "--new-session",
        "--cap-drop", "ALL",
        "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--clearenv",
    ]
    for name, value in (*SANDBOX_ENV, *view.env):
        command += ["--setenv", name, value]
    return command


def bubblewrap_popen(options: list[str], program: list[str], pass_fds: tuple[int, ...],
                     preexec_fn: Any) -> subprocess.Popen:
    """Run ``program`` (neutral paths only) under bwrap with ``options`` (``bubblewrap_command``)
    read from a memory file (``--args``): bwrap's process is PID 1 of a classic worker's
    sandbox, and its command line, readable there, would list every host path it binds."""
    fd = os.memfd_create("vg-bwrap-args", 0)
    try:
        os.write(fd, b"".join(a.encode() + b"\0" for a in options[1:]))
        os.lseek(fd, 0, os.SEEK_SET)
        return subprocess.Popen(
            [options[0], "--args", str(fd), *program], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(*pass_fds, fd),
            # Not the judge's environment: bwrap's own process becomes PID 1 of the sandbox,
            # and its /proc/1/environ is readable from inside (--clearenv only cleans the
            # worker's).
            env={"PATH": "/usr/bin:/bin"}, cwd="/", start_new_session=True,
            preexec_fn=preexec_fn)
    finally:
        os.close(fd)


def clear_caches() -> None:
    """Forget the view, the bytecode and the judge's folder (a run's folder, which held them, is
    being deleted; the next worker computes them afresh)."""
    judge_folder.cache_clear()
    worker_bytecode.cache_clear()
    sandbox_view.cache_clear()
