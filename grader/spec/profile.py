"""The sandbox profile as data: what a worker may use, see and call. No code enforces anything here.

Policy lives in this module; the mechanism that applies it lives in two places, by which side of
the boundary runs it: ``grader.sandbox`` (the judge: the bubblewrap view, cgroups, the worker
template, starting and killing) and ``grader.inside.confine`` (the worker on itself: rlimits,
namespaces of a forked worker, Landlock, seccomp). The containment story, layer by layer, is told
once in ``grader/sandbox/__init__.py``.

Both sides import this module, so it imports nothing of the grader and holds only values.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- limits ---


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker. Wall-clock limits are enforced by the judge
    (``grader.sandbox.remote``); the others by the kernel (``grader.inside.confine.set_rlimits``,
    the pids cgroup, the size of the private /tmp).

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


# The worker template's own limits only bound what the workers it forks may set for themselves
# (each worker then sets its own ``Limits``).
TEMPLATE_LIMITS = Limits(memory_bytes=1 << 40, cpu_seconds=1 << 30, file_bytes=1 << 30,
                         open_files=1024, processes=64)

# --- who the worker is ---

NOBODY = 65534  # uid and gid of every worker (bubblewrap, or a root judge's hardened fallback)
HOSTNAME = "vg-sandbox"

# --- what the view shows, and where ---

# Inside bubblewrap nothing has the path it has on the host: host paths (the checkout, the venv,
# the interpreter's home, the judge's temporary folders) would tell student code where to look
# for the reference and who runs the judge.
SANDBOX_PYTHON = "/opt/vg/python"  # the interpreter's installation (when not under /usr)
SANDBOX_VENV = "/opt/vg/venv"  # a virtual environment, rebuilt around the interpreter
SANDBOX_GRADER = "/opt/vg/grader"  # the worker's packages of the grader
SANDBOX_SUBMISSION = "/submission"  # the submission, read-only
SANDBOX_BUILD = "/opt/vg/python-build"  # what sysconfig's record of the build folders becomes
# An empty folder a template's worker holds the old /tmp on while it mounts its own.
HOLDING = "/opt/vg/held-tmp"

# The grader as the worker sees it: the package's __init__.py and these sub-packages, every .py
# file of each (found in their folders), nothing else: not the checks, the judge, the gradebook,
# the settings or the solutions. ``inside`` imports only ``spec`` and ``student``.
WORKER_PACKAGES = ("spec", "student", "inside")

# The system, read-only: /usr (and the merged-/usr links), the dynamic loader's files, and
# /etc/alternatives (without it Debian's numpy finds no BLAS).
SYSTEM_BINDS = ("/usr",)
SYSTEM_LINKS = (("usr/lib", "/lib"), ("usr/lib64", "/lib64"), ("usr/bin", "/bin"))
SYSTEM_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")

# Parts of the interpreter's installation covered by an empty folder: its headers, build files
# and pkg-config data name the host prefix (``lib/pythonX.Y/config-*`` is added where present).
INSTALLATION_COVERED = ("include", "share", "lib/pkgconfig")
# Files of a site-packages folder that name host paths (editable installs, local wheels); a
# worker sees them empty.
LEAKY_NAMES = ("*.pth", "*.egg-link", "__editable__*", "*.dist-info/direct_url.json")

# --- the environment ---

# Set in every worker: one BLAS thread (the pids limit counts threads, and timings stay fair),
# plots without a display, a UTF-8 locale.
WORKER_ENV = (("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"), ("MPLBACKEND", "Agg"),
              ("LANG", "C.UTF-8"))
# Under bubblewrap the environment is cleared, then holds these (and, only while the interpreter
# starts, LD_LIBRARY_PATH for a shared libpython at a neutral path).
SANDBOX_ENV = (("PATH", "/usr/bin"), ("HOME", "/tmp"), ("TMPDIR", "/tmp"), *WORKER_ENV)
# The plain-subprocess fallback: HOME and TMPDIR are its private working folder.
FALLBACK_PATH = "/usr/bin:/bin"

# --- what the worker may read once student code runs (Landlock) ---

# In bubblewrap's view: everything at the top level but these. Every mount is a bind whose host
# source /proc/self/mountinfo would name, and /proc/*/cmdline, environ and uid_map say more.
UNREADABLE_TOP = ("proc", "sys")
# In the fallback's host view, besides the interpreter's folders, the submission and the
# working folder: the system's libraries and the loader's files.
FALLBACK_READABLE = ("/usr", "/lib", "/lib64", "/bin", "/dev", "/etc/ld.so.cache",
                     "/etc/alternatives", "/etc/localtime")

# --- system calls (seccomp, x86-64 numbers) ---

# Denied with EPERM: new processes and programs, sockets, tracing other processes, changing
# limits or credentials' scope, namespaces, mounts, kernel interfaces an exercise never needs
# (io_uring can perform I/O that a filter would not see).
DENIED_X86_64 = {
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
# Answered ENOSYS: the C library then falls back to clone, whose flags a filter can read.
UNAVAILABLE_X86_64 = {"clone3": 435}
# Allowed only under a condition (the filter reads the arguments):
CONDITIONAL_X86_64 = {
    "clone": (56, "threads only (CLONE_THREAD set)"),
    "kill": (62, "to itself or its own process group only"),
    "tgkill": (234, "within itself only"),
    "prlimit64": (302, "to read limits only (no new limit)"),
}
# Every other system call is allowed; any other architecture, and the x32 ABI (a way around a
# filter written for x86-64 numbers), is denied.
