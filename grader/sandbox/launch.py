"""Start a worker process with limits enforced from outside it, and end it completely.

Layers, outermost first (each one is there because the ones inside it can fail):

* **bubblewrap** (Linux, when ``bwrap`` works): no network, own PID/IPC/UTS/user/cgroup namespaces,
  uid 65534 inside, a cleared environment, a size-limited private ``/tmp``, and a read-only view
  holding only the interpreter, its libraries, the few grader modules the worker needs and the
  submission, all at neutral paths (``sandbox_view``: /opt/vg/python, /opt/vg/venv,
  /opt/vg/grader, /submission), so that no host path (checkout, venv, interpreter's home,
  temporary folders) shows in ``sys.path``, ``__file__``, tracebacks or the environment. The
  reference solutions, the hidden checks (``checking/checks.py``), the gradebook and any results
  path are simply not there. bwrap reads its options from a descriptor (``bubblewrap_popen``),
  so its command line names no host path either. Killing bwrap ends the PID namespace and all
  in it.
* **the worker template** (with bubblewrap and the seccomp filter): rather than one bubblewrap
  sandbox and one interpreter per worker, each judge process keeps one sandbox whose interpreter
  has numpy loaded (``inside/zygote.py``, see ``Template``) and forks the workers. A forked worker
  gets a user and mount namespace of its own, in which ``/submission`` is only its submission
  and ``/tmp`` a fresh size-limited tmpfs, and no capability (``isolate_template_child``); then
  its rlimits and the filter, as any worker. Starting an interpreter and numpy was most of what a
  worker cost.
* **fallback** (no bubblewrap): a plain subprocess, started in a fresh private working folder that
  the judge deletes afterwards (``TMPDIR`` and ``HOME`` point there). When the judge is root the
  worker also gets, if the kernel allows it: its own network namespace (no network), its own mount
  namespace in which every mount is read-only except a size-limited tmpfs working folder and the
  solutions folder is covered, and uid 65534 keeping only CAP_DAC_READ_SEARCH (the interpreter may
  live in root's 0700 home; reading is all the capability allows, not writing or signalling).
* **cgroup v1 pids** (when the judge may create one): caps the number of tasks of the worker and
  everything it starts, and lets the judge find and kill all of them, even setsid daemons whose
  parent died. Created beside the judge's own cgroup, removed when the worker ends.
* **rlimits** (every mode): address space, CPU seconds, file size, open files, no core dumps, and
  process count (enforced by the kernel only for a non-root uid).
* **Landlock** (Linux 5.13+, installed by the worker itself, see ``install_landlock``): files
  can be opened for reading only beneath the sandbox's own folders, never under /proc, whose
  mountinfo (bind mounts name their host source), cmdline, environ and uid_map would tell about
  the host; in the fallback, only beneath the interpreter's folders, the submission and the
  working folder.
* **seccomp** (x86-64 Linux, installed by the worker itself before any student code runs, see
  ``install_seccomp``): no new processes or programs, no sockets, no signals to other processes,
  no ptrace, no changing limits, no namespace or mount tricks.

The judge enforces wall-clock limits (``sandbox.remote``) and ends a worker with ``stop_worker``:
SIGKILL to every task of its cgroup, its process group and its known descendants. Every process
started here dies with the one that started it (parent-death signal, ``--die-with-parent``);
the CLI's pool processes too (``tie_to_parent``), and a run's temporary files live in one
folder per run that the next run removes if its owner died (``claim_run_folder``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import itertools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.settings import switch
from grader.spec.wire import WireError, receive, send

GRADER_DIR = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = GRADER_DIR.parent / "solutions"
NOBODY = 65534

# The grader modules the worker imports; nothing else of the grader (checks, judge, gradebook)
# is shown to student code under bubblewrap.
WORKER_MODULES = ("__init__.py", "settings.py", "spec/__init__.py", "spec/api.py",
                  "spec/functions.py", "spec/protocol.py", "spec/wire.py", "student/__init__.py",
                  "student/loader.py", "sandbox/__init__.py", "sandbox/launch.py",
                  "inside/__init__.py", "inside/worker.py", "inside/zygote.py")

_CGROUP_ROOT = Path("/sys/fs/cgroup/pids")
_CGROUP_PREFIX = "vg-worker-"
_counter = itertools.count()


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker. Wall-clock limits are enforced by the judge (remote.py).

    memory_bytes: address space of each worker process (RLIMIT_AS).
    cpu_seconds: CPU time of each worker process (RLIMIT_CPU; the wall clock usually ends first).
    file_bytes: largest file the worker may write (RLIMIT_FSIZE).
    open_files: open file descriptors (RLIMIT_NOFILE).
    processes: tasks (processes and threads) of the worker and everything it starts (pids cgroup;
        RLIMIT_NPROC when the worker runs as a non-root uid).
    call_seconds: wall clock of one call, and of importing one student module.
    submission_seconds: wall clock of all workers of one submission together.
    stdout_bytes: printed output kept from one call.
    tmp_bytes: size of the worker's private temporary space (bubblewrap's /tmp, or the tmpfs
        working folder of a hardened fallback; it is memory, so it is kept small).
    tmp_files: files and folders that space may hold (where the worker mounts it itself: a
        worker from the template, a hardened fallback; bwrap 0.8 has no such option).
    seccomp: install the system-call filter in the worker (turned off only to test the layers
        outside it).
    """

    memory_bytes: int = 1 << 30
    cpu_seconds: int = 60
    file_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 16
    call_seconds: float = 10.0
    submission_seconds: float = 120.0
    stdout_bytes: int = 64 << 10
    tmp_bytes: int = 64 << 20
    tmp_files: int = 4096
    seccomp: bool = True


@functools.cache
def bubblewrap_works() -> bool:
    """True when bwrap exists and can create the namespaces we need here."""
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


def _numpy_libs() -> list[Path]:
    """numpy's site-packages may sit outside the prefixes (e.g. a user install)."""
    import numpy

    return [Path(numpy.__file__).resolve().parent.parent]


@functools.cache
def _judge_folder() -> Path:
    """This judge process's own folder: the worker modules' bytecode and the generated files of
    the sandbox's view. Removed at exit (and, after a crash, with its run's folder by the next
    run, see ``remove_stale_run_folders``)."""
    import multiprocessing.util

    folder = Path(tempfile.mkdtemp(prefix="vg-bytecode-"))
    # Runs at exit in the main process and in multiprocessing's workers alike (which end with
    # os._exit: an atexit hook would never run there).
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=0)
    return folder


@functools.cache
def _worker_bytecode() -> Path | None:
    """The worker's own modules compiled once per judge process (a worker cannot write them:
    its view is read-only), which saves every worker start their compilation."""
    import importlib.util
    import py_compile

    folder = _judge_folder() / "bytecode"
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


# --- what the sandbox shows: the interpreter at neutral paths -----------------------------------

# Inside bubblewrap, nothing has the path it has on the host: the interpreter's installation is
# at /opt/vg/python, a virtual environment's packages at /opt/vg/venv, the worker modules at
# /opt/vg/grader, the submission at /submission. Host paths (the checkout, the venv, the
# interpreter's home, the judge's temporary folders) would tell student code where to look
# for the reference and who runs the judge.
SANDBOX_PYTHON = "/opt/vg/python"
SANDBOX_VENV = "/opt/vg/venv"
SANDBOX_GRADER = "/opt/vg/grader"
# Files of a site-packages folder that name host paths (editable installs, local wheels); a
# worker sees them empty.
_LEAKY_NAMES = ("*.pth", "*.egg-link", "__editable__*", "*.dist-info/direct_url.json")


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
    """Files of a site-packages folder that exist to point at host paths: ``.pth`` files (paths
    or code run at start-up, e.g. an editable install's finder), editable-install finders and
    links, and pip's record of where a local package came from."""
    found = []
    for pattern in _LEAKY_NAMES:
        found += [p for p in folder.glob(pattern) if p.is_file() and not p.is_symlink()]
    return sorted(set(found))


@functools.cache
def sandbox_view() -> SandboxView:
    """The interpreter, its standard library and its packages, at neutral paths (computed once
    per judge process; generated files go into the judge's own folder)."""
    folder = _judge_folder()
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
        # Of the installation's programs only the interpreter; its headers, build files and
        # pkg-config data name the host prefix.
        base_bin = f"{SANDBOX_PYTHON}/bin"
        executable = f"{base_bin}/{real.name if real.is_relative_to(base) else 'python3'}"
        args.extend(["--tmpfs", base_bin])
        bind(real, executable)
        args.extend(["--remount-ro", base_bin])
        for sub in ("include", "share", "lib/pkgconfig",
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
                    names[value] = "/opt/vg/python-build"
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
    for path in _numpy_libs():
        if view.translate(path) is None:
            bind(path, str(path))
    return SandboxView(tuple(binds), tuple(args), executable, tuple(env))


def bubblewrap_command(submission: Path, limits: Limits | None = None,
                       template: bool = False) -> list[str]:
    """The bwrap command line (without the worker's own arguments) for ``submission``.

    template: for the worker template, whose workers may need an empty folder to hold the old
    /tmp while they mount their own (see ``isolate_template_child``); the template is PID 1 of
    its sandbox's PID namespace (no bubblewrap process runs in there)."""
    limits = limits or Limits()
    view = sandbox_view()
    command = [
        shutil.which("bwrap") or "bwrap",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin",
        "--proc", "/proc", "--dev", "/dev",
        # /tmp is RAM: without --size a student could fill the machine's memory through it.
        "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
    ]
    for extra in ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf",
                  "/etc/ld.so.conf.d"):
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
    bytecode = _worker_bytecode()
    if bytecode is not None:
        for cache in sorted(bytecode.rglob("__pycache__")):
            command += ["--ro-bind", str(cache),
                        f"{SANDBOX_GRADER}/{cache.relative_to(bytecode).as_posix()}"]
    if template:
        command += ["--dir", _HOLDING, "--as-pid-1"]
    command += [
        "--ro-bind", str(submission), "/submission",
        # bwrap's own root and /dev are unlimited tmpfs mounts: make them read-only so /tmp
        # (limited above) is the only writable place.
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--chdir", "/tmp",
        "--unshare-all", "--hostname", "vg-sandbox", "--die-with-parent", "--new-session",
        "--cap-drop", "ALL",
        "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
        "--setenv", "MPLBACKEND", "Agg", "--setenv", "LANG", "C.UTF-8",
    ]
    for name, value in view.env:
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


# --- Linux system calls through ctypes (no dependency beyond the C library) ---------------------

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MOUNT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC,
                "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21,
                "strictatime": 1 << 24}
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_KEEPCAPS, _PR_CAPBSET_DROP = 1, 4, 8, 24
_PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE = 38, 47, 2
_CAP_DAC_READ_SEARCH = 2
_CAP_VERSION_3 = 0x20080522


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _unescape(path: str) -> str:
    """Mount points in /proc/self/mountinfo escape space, tab, newline and backslash in octal."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        path = path.replace(code, chr(int(code[1:], 8)))
    return path


def _isolate_as_root(libc: ctypes.CDLL, workdir: Path, tmp_bytes: int, tmp_files: int) -> None:
    """In the child, before exec: no network, a read-only filesystem but for a tmpfs working
    folder, the solutions covered, then uid 65534 with only CAP_DAC_READ_SEARCH."""
    _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET), "unshare")
    # Private propagation first, or our mounts would appear in the judge's namespace.
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        mounts = [line.split() for line in mountinfo]
    for fields in mounts:
        target = _unescape(fields[4]).encode()
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
        for option in fields[5].split(","):
            flags |= _MOUNT_FLAGS.get(option, 0)
        # Some pseudo-filesystems refuse; everything the worker could write to does not.
        libc.mount(None, target, None, flags, None)
    options = f"size={tmp_bytes},nr_inodes={tmp_files},mode=0700,uid={NOBODY},gid={NOBODY}"\
        .encode()
    _check(libc.mount(b"tmpfs", str(workdir).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                      options), "working folder")
    if SOLUTIONS_DIR.is_dir():
        _check(libc.mount(b"tmpfs", str(SOLUTIONS_DIR).encode(), b"tmpfs",
                          _MS_RDONLY | _MS_NOSUID | _MS_NODEV, b"size=4096,mode=0"),
               "cover the solutions")
    os.chdir(workdir)
    # Capabilities: keep only CAP_DAC_READ_SEARCH across setuid and exec (ambient), so the
    # interpreter can be reached wherever it lives, and nothing that writes, signals or mounts.
    for cap in range(64):
        if cap != _CAP_DAC_READ_SEARCH and libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    _check(libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "keep capabilities")
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    bit = 1 << _CAP_DAC_READ_SEARCH
    data = (_CapData * 2)(_CapData(bit, bit, bit), _CapData(0, 0, 0))
    _check(libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data), "capset")
    _check(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, _CAP_DAC_READ_SEARCH, 0, 0),
           "ambient capability")


_CLONE_NEWUSER = 0x10000000
_MNT_DETACH = 2
_HOLDING = "/opt/vg/held-tmp"
# statvfs flags -> the mount flags a remount must repeat (locked in a user namespace).
_STATVFS_TO_MOUNT = {os.ST_NOSUID: _MS_NOSUID, os.ST_NODEV: _MS_NODEV, os.ST_NOEXEC: _MS_NOEXEC,
                     os.ST_NOATIME: 1024, os.ST_NODIRATIME: 2048, os.ST_RELATIME: 1 << 21}


def isolate_template_child(folder: str, tmp_bytes: int, tmp_files: int = 4096,
                           keep: tuple[str, ...] = ()) -> None:
    """In a child of the worker template (inside bubblewrap), before any student code: a user
    and mount namespace of its own in which ``/submission`` shows only ``folder`` (read-only) and
    ``/tmp`` is a fresh tmpfs of ``tmp_bytes`` and ``tmp_files`` inodes; then it gives up every
    capability.

    keep: folders under /tmp of the template's view (an interpreter installed there) that stay
    visible, read-only, in the fresh /tmp, with whatever covers them (hidden grader files).
    """
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as mapping:
            mapping.write(text)
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    locked = os.statvfs("/submission").f_flag
    flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
    for statvfs_flag, mount_flag in _STATVFS_TO_MOUNT.items():
        if locked & statvfs_flag:
            flags |= mount_flag
    _check(libc.mount(folder.encode(), b"/submission", None, _MS_BIND | _MS_REC, None),
           "bind the submission")
    _check(libc.mount(None, b"/submission", None, flags, None), "submission read-only")
    if keep:  # the old /tmp with everything mounted in it, until the kept folders are back
        _check(libc.mount(b"/tmp", _HOLDING.encode(), None, _MS_BIND | _MS_REC, None), "hold")
    options = f"size={tmp_bytes},nr_inodes={tmp_files},mode=0700".encode()
    _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "/tmp")
    if keep:
        for path in keep:
            held = _HOLDING + path[len("/tmp"):]
            os.makedirs(path, exist_ok=True)
            _check(libc.mount(held.encode(), path.encode(), None, _MS_BIND | _MS_REC, None),
                   f"keep {path}")
            _check(libc.mount(None, path.encode(), None, flags, None), f"{path} read-only")
        _check(libc.umount2(_HOLDING.encode(), _MNT_DETACH), "release the old /tmp")
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    data = (_CapData * 2)(_CapData(0, 0, 0), _CapData(0, 0, 0))
    _check(libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data), "capset")


@dataclass
class _ChildSetup:
    """What runs in the child between fork and exec (``preexec_fn``)."""

    limits: Limits
    cgroup: Path | None = None
    isolate_workdir: Path | None = None

    def __call__(self) -> None:
        libc = _libc()
        if self.cgroup is not None:
            # Join before anything else runs, so every later task is counted and findable.
            try:
                (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass
        if self.isolate_workdir is not None:
            _isolate_as_root(libc, self.isolate_workdir, self.limits.tmp_bytes,
                             self.limits.tmp_files)
        _set_rlimits(self.limits)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        # After any uid change (which clears it): die if the judge dies.
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _set_rlimits(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() != 0:  # NPROC is per real uid and ignored for root
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


@functools.cache
def root_isolation_works() -> bool:
    """True when the judge is root and a fallback worker can be isolated (see the module doc).

    Probed once: in a container without CAP_SYS_ADMIN the namespaces are refused, and the
    fallback then runs with the judge's own privileges (reported in the notes).
    """
    if sys.platform != "linux" or os.getuid() != 0:
        return False
    workdir = Path(tempfile.mkdtemp(prefix="vg-probe-"))
    try:
        probe = subprocess.run(
            [sys.executable, "-I", "-c", "import os, numpy; open('probe', 'w').write('1'); "
             "assert os.getuid() == 65534"],
            preexec_fn=_ChildSetup(Limits(), None, workdir), cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60,
        )
        return probe.returncode == 0 and not any(workdir.iterdir())
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        _remove_tree(workdir)


# --- cgroup v1 pids ------------------------------------------------------------------------------

def _own_cgroup(controller: str) -> str | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def _make_cgroup(limits: Limits, name: str | None = None) -> Path | None:
    """A fresh pids cgroup beside the judge's own, or None where we may not create one.

    name: what follows the judge's pid in the folder's name (default: a counter)."""
    own = _own_cgroup("pids")
    if own is None or not (_CGROUP_ROOT / "cgroup.procs").exists():
        return None
    parent = _CGROUP_ROOT / own.lstrip("/")
    _remove_stale_cgroups(parent)
    path = parent / f"{_CGROUP_PREFIX}{os.getpid()}-{name or next(_counter)}"
    try:
        path.mkdir()
    except OSError:
        return None
    try:
        (path / "pids.max").write_text(str(limits.processes))
    except OSError:
        _remove_cgroup(path)
        return None
    return path


@functools.cache
def pids_cgroup_works() -> bool:
    """True when the judge may create pids cgroups for its workers (probed once)."""
    probe = _make_cgroup(Limits())
    if probe is None:
        return False
    _remove_cgroup(probe)
    return True


def _remove_stale_cgroups(parent: Path, wait: bool = True) -> None:
    """Empty cgroups left by judges that died without cleaning up (their pid is gone).

    wait: keep killing and retrying until each is gone (a few seconds at most); else one kill
    and one try each (killed tasks stay in their cgroup until their parent, often init, reaps
    them: a later run removes the cgroup)."""
    try:
        entries = list(parent.glob(f"{_CGROUP_PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        try:
            owner = int(entry.name[len(_CGROUP_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            if wait:
                _empty_cgroup(entry)
                _remove_cgroup(entry)
                continue
            for pid in _cgroup_pids(entry):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                entry.rmdir()
            except OSError:
                pass


def _cgroup_pids(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _empty_cgroup(path: Path, seconds: float = 3.0) -> None:
    """SIGKILL every task of the cgroup until none is left (a task may fork while we kill)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = _cgroup_pids(path)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)


def _remove_cgroup(path: Path) -> None:
    for _ in range(200):  # rmdir fails while the last killed tasks are still exiting
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


# --- starting and stopping -----------------------------------------------------------------------

@dataclass
class Started:
    """A running worker: the process (bwrap or python), the judge's pipe ends, and what to clean.

    mode: "bubblewrap" or "subprocess". cgroup: its pids cgroup, if any. workdir: the fallback's
    private working folder on the judge's side (deleted by ``stop_worker``). notes: what the
    containment could not do this time (reported to the instructor).
    """

    process: subprocess.Popen | TemplateChild
    to_worker: int
    from_worker: int
    mode: str
    cgroup: Path | None = None
    workdir: Path | None = None
    notes: list[str] = field(default_factory=list)


# --- the worker template ------------------------------------------------------------------------

class TemplateError(Exception):
    """The worker template could not start, or stopped answering (it is then discarded)."""


class TemplateChild:
    """A worker forked by the template, seen from the judge: ``poll``, ``wait`` and ``kill``
    like a ``subprocess.Popen`` (its pid lives in the sandbox's PID namespace, not ours)."""

    def __init__(self, template: Template, child: int, stage: Path):
        self.template = template
        self.child = child
        self.stage = stage
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self._status(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._status(3600.0 if timeout is None else timeout)
        if code is None:
            raise subprocess.TimeoutExpired("worker", timeout or 0)
        return code

    def _status(self, wait: float) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = self.template.ask("status", {"child": self.child,
                                                               "wait": wait}, wait + 5)
            except TemplateError:
                self.returncode = -signal.SIGKILL  # the template took all its children along
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the worker's process group and reap it; if the template cannot, end the
        template's whole sandbox (and with it every process in it)."""
        if self.returncode is not None:
            return
        try:
            code = self.template.ask("kill", {"child": self.child}, 10.0)
        except TemplateError:
            code = None
        if code is None:
            self.template.close()
            code = -signal.SIGKILL
        self.returncode = code


class Template:
    """The judge's side of the worker template (``grader/inside/zygote.py``): one bubblewrap sandbox
    per judge process, holding an interpreter with numpy loaded that forks each worker.

    Submissions are copied into a staging folder, bound read-only at ``/submission`` in the
    sandbox; each child sees only its own sub-folder there (see ``isolate_template_child``).
    """

    def __init__(self, start_seconds: float = 60.0):
        self.owner = os.getpid()
        self.closed = False
        self._ids = itertools.count()
        self.stage = Path(tempfile.mkdtemp(prefix="vg-stage-"))
        # The template's own limits only bound what its children may set for themselves.
        own = Limits(memory_bytes=1 << 40, cpu_seconds=1 << 30, file_bytes=1 << 30,
                     open_files=1024, processes=64)
        self.cgroup = _make_cgroup(own, "template")
        ours, theirs = socket.socketpair()
        self.control = ours
        program = [sandbox_view().executable, "-I", f"{SANDBOX_GRADER}/inside/zygote.py",
                   str(theirs.fileno()), json.dumps(_kept_under_tmp())]
        try:
            self.process = bubblewrap_popen(bubblewrap_command(self.stage, own, template=True),
                                            program, (theirs.fileno(),),
                                            _ChildSetup(own, self.cgroup))
        except (OSError, subprocess.SubprocessError) as error:
            self._release()
            raise TemplateError(f"the worker template could not be started: {error}") from None
        finally:
            theirs.close()
        try:
            ready = receive(self.control.fileno(), time.monotonic() + start_seconds)
        except WireError as error:
            self.close()
            raise TemplateError(f"the worker template did not start: {error}") from None
        body = ready.get("body")
        isolation = body.get("isolation") if type(body) is dict else "no answer"
        if ready.get("op") != "ready" or isolation is not None:
            self.close()
            raise TemplateError(f"workers cannot isolate themselves here: {isolation}")

    def spawn(self, submission: Path, options: dict, limits: Limits) -> Started:
        """Fork a fresh worker for ``submission`` (a copy of it goes into the staging folder)."""
        child = next(self._ids)
        folder = self.stage / str(child)
        shutil.copytree(submission, folder, symlinks=True)
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        body = {"child": child, "folder": str(child), "options": options,
                "limits": dataclasses.asdict(limits)}
        try:
            self.ask("spawn", body, 10.0, fds=(request_read, reply_write))
        except BaseException:
            for fd in (request_write, reply_read):
                os.close(fd)
            _remove_tree(folder)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        return Started(TemplateChild(self, child, folder), request_write, reply_read,
                       "bubblewrap")

    def ask(self, op: str, body: dict, seconds: float, fds: tuple[int, ...] = ()) -> Any:
        """One request to the template and its answer (the template is trusted: it never runs
        student code, but it may have died)."""
        if self.closed:
            raise TemplateError("the worker template was stopped")
        deadline = time.monotonic() + seconds
        try:
            socket.send_fds(self.control, [b"R"], list(fds))
            send(self.control.fileno(), {"op": op, "body": body}, deadline)
            answer = receive(self.control.fileno(), deadline)
        except (OSError, WireError) as error:
            self.close()
            raise TemplateError(f"the worker template stopped answering: {error}") from None
        body = answer.get("body")
        if type(body) is not dict or "error" in body:
            self.close()
            raise TemplateError(f"the worker template refused {op}: {body}")
        return body.get("code")

    def alive(self) -> bool:
        return not self.closed and self.process.poll() is None

    def close(self) -> None:
        """End the template's sandbox and every worker in it; delete the staging folder."""
        if self.closed or self.owner != os.getpid():
            return
        self.closed = True
        if self.cgroup is not None:
            _empty_cgroup(self.cgroup)
        kill_tree(self.process)
        self._release()

    def _release(self) -> None:
        self.control.close()
        _cleanup(self.cgroup, self.stage)


_template: Template | None = None
_template_refused: str | None = None


def template_usable(limits: Limits) -> bool:
    """Workers come from the template when bubblewrap runs them with the system-call filter
    (which keeps a forked worker from starting processes of its own)."""
    return (limits.seccomp and seccomp_supported() and _template_refused is None
            and not switch("VG_NO_TEMPLATE"))


def _kept_under_tmp() -> list[str]:
    """Folders the sandbox shows under /tmp (only numpy installed outside the interpreter's
    folders under the host's /tmp: the interpreter itself is at /opt/vg): a forked worker
    mounts its own /tmp and must bring these back."""
    kept: list[Path] = []
    for _, inside in sorted(sandbox_view().binds, key=lambda b: len(Path(b[1]).parts)):
        root = Path(inside)
        if root.is_relative_to("/tmp") and root != Path("/tmp") \
                and not any(root.is_relative_to(k) for k in kept):
            kept.append(root)
    return [str(k) for k in kept]


def refuse_template(reason: str) -> None:
    """Stop using the template in this process (a worker it forked could not set itself up)."""
    global _template, _template_refused
    _template_refused = reason
    if _template is not None:
        _template.close()
        _template = None


def _get_template() -> Template | None:
    global _template, _template_refused
    if _template is not None and (_template.owner != os.getpid() or not _template.alive()):
        _template.close()
        _template = None
    if _template is None and _template_refused is None:
        try:
            _template = Template()
        except TemplateError as error:
            _template_refused = str(error)
            return None
        import multiprocessing.util

        # Runs at exit in the main process and in multiprocessing's workers alike.
        multiprocessing.util.Finalize(None, _template.close, exitpriority=0)
    return _template


def start_worker(submission: Path, overrides: list[str], limits: Limits,
                 sandbox: bool | None = None, exclude: dict[str, str] | None = None) -> Started:
    """Start one worker for ``submission``; returns the process and the judge's pipe ends.

    overrides: API names the worker replaces by stand-ins that call back to the judge.
    exclude: student modules not to import (module name -> the reason shown to the student).
    """
    submission = Path(submission).resolve()
    use_bwrap = bubblewrap_works() if sandbox is None else sandbox
    settings = {"overrides": sorted(overrides), "exclude": dict(exclude or {}),
                "seccomp": limits.seccomp}
    if use_bwrap and template_usable(limits):
        template = _get_template()
        if template is not None:
            try:
                return template.spawn(submission, settings, limits)
            except TemplateError:
                pass  # a new worker the classic way; the next one gets a new template
    options = json.dumps(settings)
    notes: list[str] = []
    workdir: Path | None = None
    setup = _ChildSetup(limits, _make_cgroup(limits))
    if setup.cgroup is None:
        notes.append("no pids cgroup could be created: process count relies on seccomp, "
                     "rlimits and the time limit")
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    try:
        if use_bwrap:
            program = [sandbox_view().executable, "-I", f"{SANDBOX_GRADER}/inside/worker.py",
                       str(request_read), str(reply_write), "/submission", options]
            process = bubblewrap_popen(bubblewrap_command(submission, limits), program,
                                       (request_read, reply_write), setup)
            mode = "bubblewrap"
        else:
            workdir = Path(tempfile.mkdtemp(prefix="vg-worker-"))
            if root_isolation_works():
                setup.isolate_workdir = workdir
            elif os.getuid() == 0:
                notes.append("the fallback worker could not be isolated (namespaces refused): "
                             "it ran as root with rlimits and seccomp only")
            command = [sys.executable, "-I", str(GRADER_DIR / "inside" / "worker.py"),
                       str(request_read), str(reply_write), str(submission), options]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
                   "LANG": "C.UTF-8"}
            mode = "subprocess"
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(request_read, reply_write), env=env,
                cwd=str(workdir), start_new_session=True, preexec_fn=setup,
            )
    except BaseException:
        for fd in (request_write, reply_read):
            os.close(fd)
        _cleanup(setup.cgroup, workdir)
        raise
    finally:
        os.close(request_read)
        os.close(reply_write)
    return Started(process, request_write, reply_read, mode, setup.cgroup, workdir, notes)


def stop_worker(started: Started) -> None:
    """End the worker and everything it started, then delete what it left behind."""
    if isinstance(started.process, TemplateChild):
        started.process.kill()
        _remove_tree(started.process.stage)
        return
    if started.cgroup is not None:
        _empty_cgroup(started.cgroup)
    kill_tree(started.process)
    _cleanup(started.cgroup, started.workdir)


def _cleanup(cgroup: Path | None, workdir: Path | None) -> None:
    if cgroup is not None:
        _empty_cgroup(cgroup)
        _remove_cgroup(cgroup)
    if workdir is not None:
        _remove_tree(workdir)


def _remove_tree(path: Path) -> None:
    """Delete a folder the worker wrote into, whatever permissions it set on its content."""

    def make_writable_and_retry(function, name, _excinfo):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
            function(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable_and_retry)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the worker's process group and every descendant still known to /proc."""
    pids = _descendants(process.pid) | {process.pid}
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


# --- the life of a run: its temporary folder, its processes tied to the CLI ---------------------

RUN_PREFIX = "vg-run-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), which with
    the pid names a process uniquely; None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _run_owner_alive(name: str) -> bool:
    """Whether the run that made folder ``name`` (vg-run-PID-START) is still running."""
    pid, _, start = name[len(RUN_PREFIX):].partition("-")
    try:
        return _start_time(int(pid)) == start
    except ValueError:
        return True  # not one of ours: leave it alone


def remove_stale_run_folders(base: Path | None = None) -> list[Path]:
    """Delete the run folders (and pids cgroups) that runs which died left behind; a live run's
    folder is never touched. Returns the folders removed."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.glob(f"{RUN_PREFIX}*"))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink() and not _run_owner_alive(entry.name):
            _remove_tree(entry)
            removed.append(entry)
    remove_stale_cgroups()
    return removed


def claim_run_folder() -> Path:
    """Make this run's folder, ``vg-run-PID-START`` in the system's temporary folder, after
    removing those of dead runs, and send every temporary file of this process and of the
    processes it starts (TMPDIR is inherited) into it. A run killed by SIGKILL cannot clean up:
    the next run removes its folder (its owner is gone)."""
    base = Path(tempfile.gettempdir())
    remove_stale_run_folders(base)
    folder = base / f"{RUN_PREFIX}{os.getpid()}-{_start_time(os.getpid()) or 0}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    return folder


def release_run_folder(folder: Path, previous_tmpdir: str | None) -> None:
    """End this process's worker template and delete the run's folder (see ``claim_run_folder``)."""
    close_template()
    tempfile.tempdir = None
    if previous_tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous_tmpdir
    _judge_folder.cache_clear()
    _worker_bytecode.cache_clear()
    sandbox_view.cache_clear()
    _remove_tree(folder)


def tie_to_parent(parent: int) -> None:
    """For a process of the CLI's pool (its ``initializer``): die with the CLI, even by SIGKILL
    (the kernel sends SIGKILL when the parent ends), and leave SIGINT and SIGTERM to it, which
    finishes the gradebook's transaction and ends the pool itself."""
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def remove_stale_cgroups() -> None:
    """Kill the tasks of, and remove, pids cgroups whose judge died (killed pool processes),
    without waiting for any (a run's start must not wait on init reaping someone's tasks)."""
    own = _own_cgroup("pids")
    if own is not None and (_CGROUP_ROOT / "cgroup.procs").exists():
        _remove_stale_cgroups(_CGROUP_ROOT / own.lstrip("/"), wait=False)


def close_template() -> None:
    """End this process's worker template now (it would be at exit)."""
    global _template
    if _template is not None:
        _template.close()
        _template = None


# --- Landlock (installed by the worker on itself) ------------------------------------------------

_NR_LANDLOCK_CREATE_RULESET, _NR_LANDLOCK_ADD_RULE, _NR_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_ACCESS_FS_READ_FILE = 1 << 2
_LANDLOCK_RULE_PATH_BENEATH = 1


class _LandlockRulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _LandlockPathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def readable_roots(submission: str) -> list[str]:
    """Where the worker may open files for reading once student code runs.

    In bubblewrap's view (the worker's modules at /opt/vg/grader) that is everything but /proc
    and /sys: every mount there is a bind whose host source path /proc/self/mountinfo would
    show, and /proc/*/cmdline, environ and uid_map would tell more about the host. In the
    fallback's host view: the interpreter's folders (not the checkout), the submission, the
    private working folder and the system's libraries.
    """
    if Path(__file__).resolve().parents[1] == Path(SANDBOX_GRADER):
        return [f"/{name}" for name in sorted(os.listdir("/")) if name not in ("proc", "sys")]
    checkout = GRADER_DIR.parent
    roots = {str(Path(p).resolve()) for p in sys.path if p and Path(p).is_dir()}
    roots = {r for r in roots if Path(r) != checkout and not Path(r).is_relative_to(GRADER_DIR)}
    roots |= {submission, os.getcwd(), "/usr", "/lib", "/lib64", "/bin", "/dev",
              "/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"}
    roots |= {str(p) for p in _numpy_libs()}
    return sorted(r for r in roots if os.path.exists(r))


def install_landlock(roots: list[str]) -> bool:
    """Allow the calling process (and its threads, and what it starts) to open files for reading
    only beneath ``roots``; False where the kernel has no Landlock. Listing folders, writing
    (bounded by the mounts) and everything else stay as they were."""
    if sys.platform != "linux":
        return False
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    attr = _LandlockRulesetAttr(_LANDLOCK_ACCESS_FS_READ_FILE)
    ruleset = libc.syscall(ctypes.c_long(_NR_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                           ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return False  # no Landlock here (ENOSYS, EOPNOTSUPP)
    try:
        for root in roots:
            try:
                fd = os.open(root, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = _LandlockPathBeneathAttr(_LANDLOCK_ACCESS_FS_READ_FILE, fd)
                libc.syscall(ctypes.c_long(_NR_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                             ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                             ctypes.c_uint32(0))
            finally:
                os.close(fd)
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        if libc.syscall(ctypes.c_long(_NR_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                        ctypes.c_uint32(0)) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock: {os.strerror(error)}")
    finally:
        os.close(ruleset)
    return True


# --- seccomp (installed by the worker on itself) -------------------------------------------------

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC = 1, 1
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR_SECCOMP_X86_64 = 317

# x86-64 system call numbers, denied with EPERM: new processes and programs, sockets, tracing
# other processes, changing limits or credentials' scope, namespaces, mounts, kernel interfaces
# an exercise never needs (io_uring can perform I/O that this filter would not see).
_DENIED_X86_64 = {
    "socket": 41, "fork": 57, "vfork": 58, "execve": 59, "tkill": 200, "ptrace": 101,
    "setrlimit": 160, "chroot": 161, "acct": 163, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171,
    "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "pivot_root": 155,
    "keyctl": 250, "add_key": 248, "request_key": 249, "unshare": 272, "perf_event_open": 298,
    "process_vm_readv": 310, "process_vm_writev": 311, "setns": 308, "finit_module": 313,
    "kexec_load": 246, "kexec_file_load": 320, "bpf": 321, "execveat": 322, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    # Signals and file descriptors of other processes by other routes than kill.
    "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424,
    "pidfd_open": 434, "pidfd_getfd": 438, "process_madvise": 440, "kcmp": 312,
    # With CAP_DAC_READ_SEARCH (hardened fallback) a file handle opens any inode of a
    # filesystem, also one a mount covers (the solutions).
    "name_to_handle_at": 303, "open_by_handle_at": 304,
    # The new mount API.
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
}
_NR_CLONE, _NR_CLONE3, _NR_KILL, _NR_TGKILL, _NR_PRLIMIT64 = 56, 435, 62, 234, 302


def _seccomp_program(own_pid: int) -> bytes:
    """A classic-BPF seccomp filter (see _DENIED_X86_64) as the bytes of ``sock_filter[]``.

    Allowed with conditions: clone only for threads (CLONE_THREAD); kill only to itself or its own
    process group; tgkill only within itself; prlimit64 only to read. clone3 answers ENOSYS so the
    C library falls back to clone, whose flags the filter can read. Any other architecture or the
    x32 ABI (a way around a filter written for x86-64 numbers) is refused.
    """
    program: list[list] = []  # [code, jump-if-true label, jump-if-false label, k]

    def emit(code: int, k: int, true: str | None = None, false: str | None = None) -> None:
        program.append([code, true, false, k])

    def label(name: str) -> None:
        program.append(["label", name])

    def arg_low(index: int) -> None:  # low 32 bits of argument `index` (little-endian)
        emit(_LD_ABS_W, 16 + 8 * index)

    emit(_LD_ABS_W, 4)  # seccomp_data.arch
    emit(_JEQ, _AUDIT_ARCH_X86_64, None, "deny")
    emit(_LD_ABS_W, 0)  # seccomp_data.nr
    emit(_JGE, _X32_SYSCALL_BIT, "deny", None)
    for number in sorted(_DENIED_X86_64.values()):
        emit(_JEQ, number, "deny", None)
    emit(_JEQ, _NR_CLONE3, "enosys", None)
    emit(_JEQ, _NR_CLONE, "clone", None)
    emit(_JEQ, _NR_KILL, "kill", None)
    emit(_JEQ, _NR_TGKILL, "tgkill", None)
    emit(_JEQ, _NR_PRLIMIT64, "prlimit", None)
    emit(_RET, _SECCOMP_RET_ALLOW)
    label("clone")
    arg_low(0)
    emit(_JSET, _CLONE_THREAD, "allow", "deny")
    label("kill")
    arg_low(0)  # the kernel reads pid_t, the low 32 bits
    emit(_JEQ, own_pid, "allow", None)
    emit(_JEQ, 0, "allow", "deny")
    label("tgkill")
    arg_low(0)
    emit(_JEQ, own_pid, "allow", "deny")
    label("prlimit")
    emit(_LD_ABS_W, 16 + 8 * 2)  # new_limit pointer, both halves must be NULL
    emit(_JEQ, 0, None, "deny")
    emit(_LD_ABS_W, 16 + 8 * 2 + 4)
    emit(_JEQ, 0, "allow", "deny")
    label("allow")
    emit(_RET, _SECCOMP_RET_ALLOW)
    label("deny")
    emit(_RET, _SECCOMP_RET_ERRNO | _EPERM)
    label("enosys")
    emit(_RET, _SECCOMP_RET_ERRNO | _ENOSYS)

    positions: dict[str, int] = {}
    instructions = []
    for item in program:
        if item[0] == "label":
            positions[item[1]] = len(instructions)
        else:
            instructions.append(item)
    packed = []
    for index, (code, true, false, k) in enumerate(instructions):
        packed.append(struct.pack("=HBBI", code, _jump(positions, true, index),
                                  _jump(positions, false, index), k & 0xFFFFFFFF))
    return b"".join(packed)


def _jump(positions: dict[str, int], target: str | None, index: int) -> int:
    """BPF jumps are relative to the next instruction and fit in one byte."""
    if target is None:
        return 0
    jump = positions[target] - index - 1
    if not 0 <= jump <= 255:
        raise ValueError("seccomp jump out of range")
    return jump


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_supported() -> bool:
    """The filter is written for x86-64 Linux system call numbers only."""
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


def install_seccomp() -> bool:
    """Install the filter on the calling process (all its threads); False if unsupported.

    Called by the worker after its own imports and before any student code. A filter cannot be
    removed or loosened afterwards, only made stricter.
    """
    if not seccomp_supported():
        return False
    libc = _libc()
    code = _seccomp_program(os.getpid())
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(_NR_SECCOMP_X86_64),
                          ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                          ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(fprog))
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"seccomp: {os.strerror(error) if result < 0 else 'thread sync'}")
    return True
