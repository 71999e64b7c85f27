"""Killing ``python -m grader grade`` kills everything it started, and leaves nothing behind.

A real batch (seven submissions, three of them slow: their ``sigmoid`` sleeps) is started in a
session of its own and, once a submission is in the gradebook and a worker template and a
worker exist, is sent SIGKILL, SIGTERM or SIGINT (to its whole process group, as Ctrl-C in a
terminal would). Then:

* no process it started survives: neither one of the descendants seen just before the signal
  (pool processes, the multiprocessing resource tracker, bwrap, templates, workers), nor any
  process carrying the run's marker in its environment, nor a worker of the slow submissions;
* SIGTERM and SIGINT end it with 143 and 130 and a line saying how many submissions were
  recorded and how many not; the gradebook holds exactly those, each one complete;
* its temporary folder is gone (SIGTERM, SIGINT), or is removed by the next run (SIGKILL),
  along with the pids cgroups of its dead processes; the next run resumes the gradebook.

The clean-up at the start of a run is also tested on its own: a folder is removed only when its
owner (pid and start time) is gone, never a live run's.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.sandbox import runs
from grader.sandbox.cgroups import CGROUP_PREFIX
from grader.sandbox.runs import RUN_PREFIX, remove_stale_run_folders
from grader.sandbox.view import bubblewrap_works

REPO = Path(__file__).resolve().parent.parent
MODULES = ("activations", "layers", "network", "gradient_check")
SLOW = """

import ctypes as _ctypes
import time as _time

_ctypes.CDLL(None).prctl(15, b"{marker}", 0, 0, 0)  # PR_SET_NAME: findable from the host
_reference_sigmoid = sigmoid


def sigmoid(z):
    _time.sleep(0.4)
    return _reference_sigmoid(z)
"""
CLASS_SIZE = 7
SLOW_ONES = ("s2", "s4", "s6")
EXPECTED_CODE = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 143, signal.SIGINT: 130}
SUMMARY = re.compile(r"interrupted by (SIG[A-Z]+): (\d+) submission\(s\) recorded in the "
                     r"gradebook, (\d+) not graded")


def _make_class(folder: Path, marker: str) -> Path:
    for index in range(1, CLASS_SIZE + 1):
        target = folder / f"s{index}"
        target.mkdir(parents=True)
        for module in MODULES:
            shutil.copyfile(REPO / "solutions" / f"{module}.py", target / f"{module}.py")
        if target.name in SLOW_ONES:
            with open(target / "activations.py", "a", encoding="utf-8") as handle:
                handle.write(SLOW.format(marker=marker))
    return folder


# --- processes -----------------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[0], fields[19]


def _processes() -> dict[int, tuple[int, str, str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


def _descendants(root: int) -> dict[int, str]:
    """Every living descendant of ``root``: pid -> start time."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = {}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found[child] = table[child][2]
                stack.append(child)
    return found


def _alive(pid: int, start: str | None = None) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] not in ("Z", "X") and (start is None or stat[2] == start)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _marked(token: str) -> list[int]:
    """Living processes whose environment carries the run's marker."""
    found = []
    for pid in _processes():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if token.encode() in environ and _alive(pid):
            found.append(pid)
    return found


def _survivors(seen: dict[int, str], token: str, marker: str, seconds: float = 4.0) -> list:
    deadline = time.monotonic() + seconds
    while True:
        left = [f"{pid} {_cmdline(pid)[:80]!r}" for pid, start in seen.items()
                if _alive(pid, start)]
        left += [f"{pid} marked" for pid in _marked(token)]
        left += [f"{pid} worker" for pid in _processes() if _comm(pid) == marker and _alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# --- the gradebook -------------------------------------------------------------------------------

def _recorded(book: Path) -> int:
    if not book.exists():
        return 0
    try:
        with sqlite3.connect(book, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    except sqlite3.Error:
        return 0


def _assert_consistent(book: Path) -> int:
    """Every submission of the gradebook is complete: its checks add up to its score and to the
    full 50 points. Returns how many there are."""
    with sqlite3.connect(book) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT name, score, max_score FROM submissions").fetchall()
        for name, score, max_score in rows:
            got, possible, count = db.execute(
                "SELECT SUM(score), SUM(max_score), COUNT(*) FROM results WHERE submission = ?",
                (name,)).fetchone()
            assert count > 0 and (got, possible) == (score, max_score) and max_score == 50, name
            assert score == 50, name  # every submission of the class is correct, if slow
    return len(rows)


# --- the run -------------------------------------------------------------------------------------

def _start(paths: list[Path], book: Path, tmp: Path, token: str, extra: tuple = (),
           workers: int = 2) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp), VG_LIFECYCLE_RUN=token)
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", *map(str, paths), "--gradebook", str(book),
         "--workers", str(workers), *extra],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_until_busy(cli: subprocess.Popen, book: Path, marker: str, templates: bool,
                     seconds: float = 60.0) -> dict[int, str]:
    """Wait until a submission is recorded and a worker of a slow one (and a template) runs;
    returns the CLI's descendants at that moment."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert cli.poll() is None, cli.communicate()
        seen = _descendants(cli.pid)
        worker = any(_comm(pid) == marker for pid in seen)
        template = any("zygote.py" in _cmdline(pid) for pid in seen)
        if worker and (template or not templates) and _recorded(book) >= 1:
            return _descendants(cli.pid)
        time.sleep(0.05)
    cli.kill()
    raise AssertionError(f"the batch never got busy: {cli.communicate()}")


def _wait_until_reaped(seen: dict[int, str], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    def alive(pid: int, start: str) -> bool:
        stat = _stat(pid)  # read once: the process may end between two reads
        return stat is not None and stat[2] == start

    while any(alive(pid, start) for pid, start in seen.items()):
        if time.monotonic() > deadline:
            pytest.fail("init did not reap the killed processes")
        time.sleep(0.05)


def _folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir())


def _stale_cgroups(pids: set[int]) -> list[str]:
    root = Path("/sys/fs/cgroup/pids")
    if not root.exists():
        return []
    return [str(p) for p in root.rglob(f"{CGROUP_PREFIX}*")
            if p.name[len(CGROUP_PREFIX):].split("-")[0] in {str(x) for x in pids}]


_BWRAP = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap is not usable here")
CASES = [pytest.param(sig, "bubblewrap", 2, id=f"{sig.name}-bubblewrap", marks=_BWRAP)
         for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)]
CASES += [pytest.param(signal.SIGKILL, "subprocess", 2, id="SIGKILL-subprocess"),
          # One judge, in the CLI's own process: its template and workers are its children.
          pytest.param(signal.SIGKILL, "bubblewrap", 1, id="SIGKILL-bubblewrap-sequential",
                       marks=_BWRAP),
          pytest.param(signal.SIGTERM, "bubblewrap", 1, id="SIGTERM-bubblewrap-sequential",
                       marks=_BWRAP)]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "mode", "workers"), CASES)
def test_a_killed_batch_leaves_no_process_and_no_folder(signum, mode, workers, tmp_path):
    token, marker = "vglife" + secrets.token_hex(6), "vgslow" + secrets.token_hex(4)
    klass = _make_class(tmp_path / "class", marker)
    book, tmp = tmp_path / "book.sqlite", tmp_path / "tmp"
    tmp.mkdir()
    extra = ("--no-sandbox",) if mode == "subprocess" else ()
    cli = _start([klass], book, tmp, token, extra, workers)
    seen = _wait_until_busy(cli, book, marker, templates=(mode == "bubblewrap"))
    assert _folders(tmp) == [f"{RUN_PREFIX}{cli.pid}-{_stat(cli.pid)[2]}"]
    if signum == signal.SIGINT:
        os.killpg(cli.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    else:
        os.kill(cli.pid, signum)
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == EXPECTED_CODE[signum], stderr[-2000:]
    assert _survivors(seen, token, marker) == [], "processes outlived the CLI"
    recorded = _assert_consistent(book)
    assert 1 <= recorded < CLASS_SIZE
    if signum == signal.SIGKILL:
        assert [n for n in _folders(tmp) if n.startswith(RUN_PREFIX)] != []
    else:
        found = SUMMARY.findall(stderr)
        assert found == [(signum.name, str(recorded), str(CLASS_SIZE - recorded))], stderr
        assert _folders(tmp) == [], "the run's temporary folder outlived it"
    # Dead processes stay in their pids cgroup until reaped, by init here (their parents are
    # dead): only then can a cgroup be removed.
    _wait_until_reaped(seen)
    # The next run removes what a dead run left, and resumes the gradebook: the first
    # submission is either recorded already (skipped) or graded now.
    again = _start([klass / "s1"], book, tmp, token, extra)
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr[-2000:]
    assert _folders(tmp) == []
    assert _stale_cgroups(set(seen)) == []
    assert _assert_consistent(book) >= recorded


# --- the clean-up at the start of a run, case by case -------------------------------------------

def _own_start() -> str:
    return _stat(os.getpid())[2]


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _folder_cases() -> list:
    """(name maker, kind, kept?): which folders the start-of-run clean-up may remove."""
    return [
        pytest.param(lambda: f"{RUN_PREFIX}{os.getpid()}-{_own_start()}", "dir", True,
                     id="live run"),
        pytest.param(lambda: f"{RUN_PREFIX}{os.getpid()}-1", "dir", False,
                     id="pid reused by another process"),
        pytest.param(lambda: f"{RUN_PREFIX}{_dead_pid()}-1", "dir", False, id="dead run"),
        pytest.param(lambda: f"{RUN_PREFIX}{_dead_pid()}-{_own_start()}", "dir", False,
                     id="dead run, same start tick"),
        pytest.param(lambda: f"{RUN_PREFIX}notapid-1", "dir", True, id="not ours"),
        pytest.param(lambda: f"{RUN_PREFIX}{_dead_pid()}-1", "file", True, id="a file"),
        pytest.param(lambda: f"{RUN_PREFIX}{_dead_pid()}-1", "symlink", True, id="a link"),
        pytest.param(lambda: f"vg-stage-{_dead_pid()}", "dir", True, id="another prefix"),
    ]


@pytest.mark.parametrize(("make_name", "kind", "kept"), _folder_cases())
def test_start_of_run_clean_up_removes_only_dead_runs_folders(make_name, kind, kept, tmp_path):
    base = tmp_path / "tmp"
    base.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("must survive")
    path = base / make_name()
    if kind == "dir":
        (path / "vg-stage-x" / "sub").mkdir(parents=True)
        (path / "vg-stage-x" / "sub" / "f.py").write_text("x")
        os.chmod(path / "vg-stage-x" / "sub", 0o500)  # as a worker may leave it
    elif kind == "file":
        path.write_text("x")
    else:
        path.symlink_to(outside, target_is_directory=True)
    removed = remove_stale_run_folders(base)
    assert (os.path.lexists(path)) == kept
    assert removed == ([] if kept else [path])
    assert (outside / "precious").read_text() == "must survive"


def test_a_run_claims_its_folder_and_points_temporary_files_there(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    folder = runs.claim_run_folder()
    try:
        assert folder.parent == tmp_path
        assert folder.name == f"{RUN_PREFIX}{os.getpid()}-{_own_start()}"
        assert os.environ["TMPDIR"] == str(folder)
        assert Path(tempfile.mkdtemp(prefix="vg-submission-")).parent == folder
    finally:
        runs.release_run_folder(folder, str(tmp_path))
    assert not folder.exists()
    assert os.environ["TMPDIR"] == str(tmp_path)


# --- a signal during the gradebook's transaction waits for it -----------------------------------

def test_a_signal_during_recording_waits_for_the_transaction(tmp_path):
    from grader.batch.pool import Interrupted as _Interrupted
    from grader.batch.pool import Run as _Run

    run = _Run()
    previous = signal.signal(signal.SIGUSR1, run.on_signal)
    db = sqlite3.connect(tmp_path / "book.sqlite")
    db.execute("CREATE TABLE rows (n INTEGER)")
    try:
        run.begin_recording()
        with db:  # the signal arrives in the middle of a transaction: it must not break it
            db.execute("INSERT INTO rows VALUES (1)")
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(0.01)  # the handler runs here, and must not raise
            db.execute("INSERT INTO rows VALUES (2)")
        with pytest.raises(_Interrupted) as stopped:
            run.end_recording()
        assert stopped.value.signum == signal.SIGUSR1
        # Outside a transaction the signal interrupts at once.
        with pytest.raises(_Interrupted):
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert db.execute("SELECT n FROM rows ORDER BY n").fetchall() == [(1,), (2,)]
    db.close()


def test_pool_processes_are_tied_to_their_parent():
    """``tie_to_parent`` in a child: the kernel kills it when its parent ends, and it ignores
    SIGINT and SIGTERM (the CLI handles those and ends the pool itself)."""
    code = ("import os, signal, sys, time\n"
            "from grader.sandbox.runs import tie_to_parent\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    tie_to_parent(os.getppid())\n"
            "    os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGINT)\n"
            "    print(os.getpid(), flush=True)\n"
            "    time.sleep(60)\n"
            "    os._exit(0)\n"
            "time.sleep(0.5)\n"
            "os._exit(0)  # the parent ends; the child must follow\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=30)
    child = int(done.stdout.split()[0])  # it survived its own SIGTERM and SIGINT
    deadline = time.monotonic() + 3
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child)


_POOL_JOB = """
import os, sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path


def job(_):
    from grader.sandbox import view
    return str(view.judge_folder())


if __name__ == "__main__":
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        print(" ".join(sorted(set(pool.map(job, range(4))))))
"""


def test_a_judge_in_a_pool_process_removes_its_folder_at_exit(tmp_path):
    """Pool processes end with os._exit (no atexit hooks): their judge folder must still go,
    also outside a CLI run's folder."""
    script = tmp_path / "pool_job.py"
    script.write_text(_POOL_JOB)
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO),
                                                          TMPDIR=str(tmp_path)))
    assert done.returncode == 0, done.stderr[-2000:]
    folders = done.stdout.split()
    assert folders and all(Path(f).parent == tmp_path for f in folders)
    assert [f for f in folders if Path(f).exists()] == []
