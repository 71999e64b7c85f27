"""What a worker process does to itself: limits, namespaces, Landlock, seccomp (mechanism only).

The policy it applies (``Limits``, the denied system calls, what may be read) is data in
``grader.spec.profile``; where each layer sits in the whole containment, see
``grader/sandbox/__init__.py``. Everything here acts on the calling process, through the C
library by ``ctypes`` (no dependency beyond it). Callers:

* the worker (``inside.worker``): ``install_landlock(readable_roots(...))`` and
  ``install_seccomp()``, after its own imports and before any student code;
* a child of the worker template (``inside.zygote``): ``isolate_template_child`` and
  ``set_rlimits`` right after the fork;
* the judge's child between fork and exec (``sandbox.launch``): ``set_rlimits``, and
  ``isolate_as_root`` for a root judge's hardened fallback.

Imports only ``grader.spec`` (it runs inside the sandbox).
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import struct
import sys
from pathlib import Path

from grader.spec.profile import (
    CONDITIONAL_X86_64,
    DENIED_X86_64,
    FALLBACK_READABLE,
    HOLDING,
    NOBODY,
    SANDBOX_GRADER,
    SANDBOX_SUBMISSION,
    UNAVAILABLE_X86_64,
    UNREADABLE_TOP,
    Limits,
)

_GRADER_DIR = Path(__file__).resolve().parents[1]

# --- Linux constants and the C library ---

_CLONE_NEWNS, _CLONE_NEWNET, _CLONE_NEWUSER = 0x00020000, 0x40000000, 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_MOUNT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC,
                "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21,
                "strictatime": 1 << 24}
# statvfs flags -> the mount flags a remount must repeat (locked in a user namespace).
_STATVFS_TO_MOUNT = {os.ST_NOSUID: _MS_NOSUID, os.ST_NODEV: _MS_NODEV, os.ST_NOEXEC: _MS_NOEXEC,
                     os.ST_NOATIME: 1024, os.ST_NODIRATIME: 2048, os.ST_RELATIME: 1 << 21}
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


def die_with_parent() -> None:
    """The kernel sends this process SIGKILL when its parent ends (cleared by a uid change, so
    set it after any)."""
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def make_undumpable() -> None:
    """No process of the same uid may open this one's /proc/PID/mem, fd or environ."""
    _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def no_new_privileges() -> None:
    """Nothing this process executes can gain privileges (setuid bits, file capabilities)."""
    _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def set_rlimits(limits: Limits) -> None:
    """Address space, CPU seconds, file size, open files, no core dumps; process count for a
    non-root uid (RLIMIT_NPROC is per real uid and ignored for root)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


# --- namespaces ---

def _unescape(path: str) -> str:
    """Mount points in /proc/self/mountinfo escape space, tab, newline and backslash in octal."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        path = path.replace(code, chr(int(code[1:], 8)))
    return path


def isolate_as_root(workdir: Path, tmp_bytes: int, tmp_files: int,
                    covered: tuple[Path, ...] = ()) -> None:
    """A root judge's fallback worker, in the child before exec: no network, a read-only
    filesystem but for a tmpfs working folder ``workdir``, the folders ``covered`` (the
    solutions) hidden under an empty mount, then uid 65534 keeping only CAP_DAC_READ_SEARCH."""
    libc = _libc()
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
    for folder in covered:
        if folder.is_dir():
            _check(libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs",
                              _MS_RDONLY | _MS_NOSUID | _MS_NODEV, b"size=4096,mode=0"),
                   f"cover {folder.name}")
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
    submission = SANDBOX_SUBMISSION.encode()
    locked = os.statvfs(SANDBOX_SUBMISSION).f_flag
    flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
    for statvfs_flag, mount_flag in _STATVFS_TO_MOUNT.items():
        if locked & statvfs_flag:
            flags |= mount_flag
    _check(libc.mount(folder.encode(), submission, None, _MS_BIND | _MS_REC, None),
           "bind the submission")
    _check(libc.mount(None, submission, None, flags, None), "submission read-only")
    if keep:  # the old /tmp with everything mounted in it, until the kept folders are back
        _check(libc.mount(b"/tmp", HOLDING.encode(), None, _MS_BIND | _MS_REC, None), "hold")
    options = f"size={tmp_bytes},nr_inodes={tmp_files},mode=0700".encode()
    _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "/tmp")
    if keep:
        for path in keep:
            held = HOLDING + path[len("/tmp"):]
            os.makedirs(path, exist_ok=True)
            _check(libc.mount(held.encode(), path.encode(), None, _MS_BIND | _MS_REC, None),
                   f"keep {path}")
            _check(libc.mount(None, path.encode(), None, flags, None), f"{path} read-only")
        _check(libc.umount2(HOLDING.encode(), _MNT_DETACH), "release the old /tmp")
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    data = (_CapData * 2)(_CapData(0, 0, 0), _CapData(0, 0, 0))
    _check(libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data), "capset")


# --- Landlock ---

_NR_LANDLOCK_CREATE_RULESET, _NR_LANDLOCK_ADD_RULE, _NR_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_ACCESS_FS_READ_FILE = 1 << 2
_LANDLOCK_RULE_PATH_BENEATH = 1


class _LandlockRulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _LandlockPathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def numpy_folders() -> list[Path]:
    """The site-packages folder holding numpy (it may sit outside the interpreter's prefixes,
    e.g. a user install)."""
    import numpy

    return [Path(numpy.__file__).resolve().parent.parent]


def readable_roots(submission: str) -> list[str]:
    """Where the worker may open files for reading once student code runs (policy:
    ``profile.UNREADABLE_TOP`` and ``profile.FALLBACK_READABLE``).

    In bubblewrap's view (this module at /opt/vg/grader) that is every top-level folder but
    /proc and /sys. In the fallback's host view: the interpreter's folders (not the checkout),
    the submission, the private working folder and the system's libraries.
    """
    if _GRADER_DIR == Path(SANDBOX_GRADER):
        return [f"/{name}" for name in sorted(os.listdir("/")) if name not in UNREADABLE_TOP]
    checkout = _GRADER_DIR.parent
    roots = {str(Path(p).resolve()) for p in sys.path if p and Path(p).is_dir()}
    roots = {r for r in roots if Path(r) != checkout and not Path(r).is_relative_to(_GRADER_DIR)}
    roots |= {submission, os.getcwd(), *FALLBACK_READABLE}
    roots |= {str(p) for p in numpy_folders()}
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


# --- seccomp: a classic-BPF program assembled from the profile's table ---

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC = 1, 1
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR_SECCOMP_X86_64 = 317


def seccomp_program(own_pid: int) -> bytes:
    """The filter for a process whose pid is ``own_pid``, as the bytes of ``sock_filter[]``
    (8 bytes per instruction): the profile's ``DENIED_X86_64`` answer EPERM,
    ``UNAVAILABLE_X86_64`` ENOSYS, ``CONDITIONAL_X86_64`` are allowed when their condition holds
    (clone: CLONE_THREAD set; kill: its own pid or 0; tgkill: its own pid; prlimit64: no new
    limit), any other call is allowed; a foreign architecture or the x32 ABI is denied.
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
    for number in sorted(DENIED_X86_64.values()):
        emit(_JEQ, number, "deny", None)
    for number in sorted(UNAVAILABLE_X86_64.values()):
        emit(_JEQ, number, "enosys", None)
    for name in ("clone", "kill", "tgkill", "prlimit64"):
        emit(_JEQ, CONDITIONAL_X86_64[name][0], name, None)
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
    label("prlimit64")
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
    code = seccomp_program(os.getpid())
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
