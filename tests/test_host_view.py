"""The sandbox shows nothing of the host: no host path, no user name, no uid of the judge.

``tests/hostile/reveal_host.py`` gathers everything a worker can see (every /proc entry's
cmdline, environ, mountinfo, maps and uid_map; sys.path; every module's ``__file__`` and code
paths; the environment; ids, passwd and the login; sysconfig; tracebacks; open descriptors and
what they hold; the working folder; .pth files; package metadata; folder listings). Two ways:

* a probe: the same gatherer returns everything as data (nothing is cut), channel by channel,
  and each channel is searched for every host string, in each sandbox mode: template workers,
  one bubblewrap sandbox per worker (``VG_NO_TEMPLATE``) and, for what it hides, the fallback;
* end to end: the entry is graded by the CLI; its error text reaches the feedback (the test
  checks that it does), and no host string appears in the feedback, results.json, the CSV, or
  the gradebook's feedback and notes.

Host strings: the checkout, the virtual environment (as given and resolved), the interpreter's
prefixes and real path, $HOME, the user's name, the judge's uid (when it is neither 0 nor
65534: 0 is no hint, 65534 is the sandbox's own), the host name, and the run's temporary folders
(``vg-run-``, ``vg-stage-``, ``vg-bytecode-``, ``vg-submission-``, ``vg-worker-``).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.sandbox.remote import WorkerStudent
from grader.sandbox.view import bubblewrap_works
from grader.spec.profile import Limits
from tests.hostile.build import build_hostile, load_hostiles
from tests.strategies import generated

REPO = Path(__file__).resolve().parent.parent
ENTRY = {h.slug: h for h in load_hostiles()}["reveal_host"]
QUICK = Limits(call_seconds=10, submission_seconds=60)
TEMPORARY = ("vg-run-", "vg-stage-", "vg-bytecode-", "vg-submission-", "vg-worker-")
# The probe: the entry's gatherer, returning all it saw as (compressed) data.
AS_DATA = """

def sigmoid(z):
    return np.frombuffer(zlib.compress(json.dumps(_gather()).encode()), dtype=np.uint8).copy()


import zlib  # noqa: E402
"""
CONTEXT = {"VG_MARKER": "vgreveal"}
NEEDS_BWRAP = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap is not usable here")


def host_strings() -> dict[str, re.Pattern]:
    """What would tell student code about the host, each as a pattern to search for."""
    paths = {"checkout": [REPO, REPO.resolve()],
             "virtual environment": [Path(sys.prefix), Path(sys.prefix).resolve()],
             "interpreter prefix": [Path(sys.base_prefix), Path(sys.base_prefix).resolve(),
                                    Path(sys.exec_prefix).resolve()],
             "interpreter": [Path(sys.executable), Path(sys.executable).resolve()]}
    home = os.environ.get("HOME")
    if home and home not in ("/", "/tmp"):
        paths["home"] = [Path(home)]
    # A path, not the tail of another one ("/proc/1/root" is not $HOME /root).
    found = {f"{what} {path}": re.compile(r"(?<![A-Za-z0-9_.\-])" + re.escape(str(path))
                                          + r"(?![A-Za-z0-9_.\-])")
             for what, values in paths.items() for path in values
             if str(path) not in ("/", "/usr", "/usr/local")}
    name = pwd.getpwuid(os.getuid()).pw_name
    # A word, not a path's last part ("/proc/1/root" names no user).
    found[f"user {name}"] = re.compile(rf"(?<![A-Za-z0-9_\-/]){re.escape(name)}"
                                       rf"(?![A-Za-z0-9_\-])")
    if os.getuid() not in (0, 65534):
        found[f"uid {os.getuid()}"] = re.compile(rf"(?<!\d){os.getuid()}(?!\d)")
    host = socket.gethostname()
    if len(host) >= 4:
        found[f"host name {host}"] = re.compile(rf"(?<![A-Za-z0-9\-]){re.escape(host)}"
                                                rf"(?![A-Za-z0-9\-])")
    for prefix in TEMPORARY:
        found[f"temporary folder {prefix}"] = re.compile(re.escape(prefix))
    return found


def leaks(text: str) -> list[str]:
    return [what for what, pattern in host_strings().items() if pattern.search(text)]


def gather(folder: Path, sandbox: bool) -> dict[str, str]:
    with WorkerStudent(folder, limits=QUICK, sandbox=sandbox) as worker:
        reply = worker.call("sigmoid", np.zeros(1))
    assert reply.error is None and reply.bad_output is None, reply
    return json.loads(zlib.decompress(reply.value.astype(np.uint8).tobytes()))


@pytest.fixture
def probe(tmp_path) -> Path:
    folder = build_hostile(ENTRY, tmp_path / "probe", CONTEXT)
    with open(folder / "activations.py", "a", encoding="utf-8") as handle:
        handle.write(AS_DATA)
    return folder


def test_the_host_strings_are_found_where_they_are():
    """The search itself works: each host string is found in a text that holds it."""
    for what, pattern in host_strings().items():
        sample = what.split(" ", 1)[1] if not what.startswith("temporary") \
            else "/tmp/" + what.rsplit(" ", 1)[1] + "x"
        if what.startswith("user") or what.startswith("uid") or what.startswith("host"):
            sample = "x " + what.rsplit(" ", 1)[1] + " y"
        assert pattern.search(sample), what


@NEEDS_BWRAP
@pytest.mark.parametrize("template", [True, False], ids=["template", "one-sandbox-per-worker"])
def test_no_channel_shows_the_host_inside_bubblewrap(template, probe, monkeypatch):
    if not template:
        monkeypatch.setenv("VG_NO_TEMPLATE", "1")
    seen = gather(probe, sandbox=True)
    assert len(seen) > 60  # the gatherer ran through its channels
    leaked = {channel: leaks(text) for channel, text in seen.items() if leaks(text)}
    assert leaked == {}
    # What the worker does see: neutral paths only.
    path = eval(seen["sys.path"])  # noqa: S307 - our own repr of a list of str
    assert path[0] == "/opt/vg" and all(p.startswith(("/opt/vg/", "/usr/")) for p in path[1:])
    assert all(f in ("None", "") or f.startswith(("/opt/vg/", "/usr/", "/submission/"))
               for f in eval(seen["__file__"])), seen["__file__"]  # noqa: S307
    assert json.loads(json.dumps(seen["cwd"])) == "'/tmp'"
    for pid in ("self", "1"):
        for name in ("cmdline", "environ", "mountinfo", "maps", "uid_map"):
            assert seen[f"/proc/{pid}/{name}"].startswith("<PermissionError"), (pid, name)


def test_the_fallback_hides_proc_passwd_and_the_judges_environment(probe, monkeypatch):
    """Without bubblewrap (documented as weaker) the worker sees the interpreter's real paths
    and its private working folder, but no other process's command line or environment, no
    mount table, no /etc/passwd and nothing of the judge's environment."""
    monkeypatch.setenv("VG_INSTRUCTOR_SECRET", "do-not-leak-" + os.urandom(4).hex())
    seen = gather(probe, sandbox=False)
    hidden = {k: v for k, v in seen.items()
              if k.startswith("/proc/") and not k.endswith("->") or k == "/etc/passwd"}
    assert all(v.startswith("<PermissionError") for v in hidden.values()), \
        {k: v[:80] for k, v in hidden.items() if not v.startswith("<PermissionError")}
    assert os.environ["VG_INSTRUCTOR_SECRET"] not in json.dumps(seen)
    assert sorted(eval(seen["os.environ"])) == [  # noqa: S307
        "HOME", "LANG", "MPLBACKEND", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PATH",
        "TMPDIR"]


def _grade_with_cli(submission: Path, out: Path, extra: tuple[str, ...], env: dict) -> str:
    command = [sys.executable, "-m", "grader", "grade", str(submission), "--results",
               str(out / "results.json"), "--feedback", str(out / "feedback"), "--gradebook",
               str(out / "book.sqlite"), "--csv", str(out / "grades.csv"), *extra]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    texts = [(out / "results.json").read_text(), (out / "grades.csv").read_text()]
    texts += [p.read_text() for p in (out / "feedback").glob("*.md")]
    with sqlite3.connect(out / "book.sqlite") as db:
        texts += [" ".join(map(str, row)) for row in db.execute(
            "SELECT feedback, diagnosis, tags FROM results")]
        texts += [" ".join(map(str, row)) for row in db.execute(
            "SELECT sandbox, error, notes FROM submissions")]
    return "\n".join(texts)


@NEEDS_BWRAP
@pytest.mark.parametrize("template", [True, False], ids=["template", "one-sandbox-per-worker"])
def test_graded_results_of_the_gatherer_name_nothing_of_the_host(template, tmp_path):
    # A neutral name: the judge's outputs name the submission itself, which is not a leak.
    submission = build_hostile(ENTRY, tmp_path / "submission", CONTEXT)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if not template:
        env["VG_NO_TEMPLATE"] = "1"
    out = tmp_path / "out"
    text = _grade_with_cli(submission, out, (), env)
    assert "VG-GATHERED /" in text  # the gathered text did reach the results
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == ENTRY.expect.score
    assert leaks(text.replace(str(submission), "<submission>")) == []


# --- the view itself: every path inside is neutral -----------------------------------------------

_DESTINATION = {"--ro-bind": 2, "--bind": 2, "--dev-bind": 2, "--symlink": 2, "--tmpfs": 1,
                "--dir": 1, "--remount-ro": 1, "--proc": 1, "--dev": 1, "--chdir": 1}
_NO_PATH = {"--size": 1, "--uid": 1, "--gid": 1, "--hostname": 1, "--setenv": 2}


def _inside_paths(command: list[str]) -> list[str]:
    """The sandbox-side path of every mount, link and folder a bwrap command line makes."""
    paths, index = [], 1
    while index < len(command):
        option = command[index]
        if option in _DESTINATION:
            count = _DESTINATION[option]
            paths.append(command[index + count])
            index += count + 1
        elif option in _NO_PATH:
            if option == "--setenv":
                paths.append(command[index + 2])  # a value the worker sees
            index += _NO_PATH[option] + 1
        else:
            index += 1
    return paths


@pytest.mark.parametrize("template", [True, False], ids=["template", "worker"])
def test_every_path_inside_the_sandbox_is_neutral(template, tmp_path):
    from grader.sandbox.view import bubblewrap_command, sandbox_view

    inside = _inside_paths(bubblewrap_command(tmp_path, template=template))
    inside += [sandbox_view().executable] + [v for _, v in sandbox_view().env]
    assert "/submission" in inside and "/opt/vg/grader/inside/worker.py" in inside
    assert [p for p in inside if leaks(p)] == []
    neutral = ("/opt/vg/", "/usr/", "/etc/", "/submission")
    others = {p for p in inside if p.startswith("/") and not p.startswith(neutral)}
    assert others <= {"/", "/lib", "/lib64", "/bin", "/proc", "/dev", "/tmp", "/usr", "/usr/bin",
                      "/opt/vg/held-tmp"}, others


@generated(200)
@given(parts=st.lists(st.text(alphabet="abcxyz_.-0123456789", min_size=1, max_size=8)
                      .filter(lambda s: s not in (".", "..")), max_size=4),
       which=st.integers(min_value=0, max_value=64))
def test_a_host_path_under_a_bound_folder_is_translated_to_a_neutral_one(parts, which):
    from grader.sandbox.view import sandbox_view

    view = sandbox_view()
    source, target = view.binds[which % len(view.binds)]
    host = Path(source).joinpath(*parts)
    inside = view.translate(host)
    assert inside is not None and not leaks(str(inside))
    assert str(inside).startswith(("/opt/vg", "/usr/"))
    assert inside.parts[-len(parts):] == tuple(parts) if parts else True
