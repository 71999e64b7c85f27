"""Hostile submissions: the judge reaches the exact verdict, and nothing escapes the worker.

Every entry of ``tests/hostile/`` is graded with ``grade_submission`` under bubblewrap and, where
its header allows, in the fallback (plain subprocess). For each one the test asserts:

* the exact verdict of the entry's ``expect`` line (score and the set of failed checks): the
  hostile part earns nothing and every honest part keeps its points;
* grading returned normally and within the submission's time budget (plus start-up slack);
* no process of the submission survives (every worker renames itself to a unique marker, which
  its children inherit; zombies waiting for init to reap them are dead and do not count);
* nothing changed outside the worker's temporary space: a watched folder with a sentinel file, the
  results path the attack aims at, /tmp, /var/tmp and /dev/shm, and the submission's own folder;
* no connection reached a TCP listener on 127.0.0.1.

Entries marked ``fallback: no`` are skipped in the fallback (only bubblewrap stops them),
``fallback: root`` ones unless the judge is root and can isolate the fallback worker, and
``fallback: seccomp`` ones unless the system-call filter works here (or root isolation does); the
reason is the entry's own header text.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.batch.run import SubmissionResult, grade_submission
from grader.inside.confine import seccomp_supported
from grader.sandbox.launch import root_isolation_works
from grader.sandbox.view import bubblewrap_works
from grader.spec.profile import Limits
from tests.hostile.build import Expected, Hostile, build_hostile, load_hostiles

REPO = Path(__file__).resolve().parent.parent
SEED = 20261129
LIMITS = Limits(call_seconds=2, submission_seconds=20, memory_bytes=1 << 30)
# Interpreter start-up and the last kill come on top of the submission's own budget.
SLACK_SECONDS = 15
HOSTILES = load_hostiles()
BY_SLUG = {h.slug: h for h in HOSTILES}
SECRET_NAME = "VG_INSTRUCTOR_SECRET"


def _skip_reason(hostile: Hostile, mode: str) -> str | None:
    if mode == "bubblewrap":
        return None if bubblewrap_works() else "bubblewrap is not usable on this machine"
    if hostile.fallback == "no":
        return f"only bubblewrap stops this: {hostile.fallback_reason}"
    if hostile.fallback == "root" and not root_isolation_works():
        return f"needs a root judge that can isolate the fallback: {hostile.fallback_reason}"
    if hostile.fallback == "seccomp" and not (seccomp_supported() or root_isolation_works()):
        return f"needs the seccomp filter or root isolation: {hostile.fallback_reason}"
    return None


# Slow (`make test` only): each attack's plain-subprocess twin, and the attacks that wait out a
# deadline or fill memory (2.5 s each); `make check` runs every other attack, in bubblewrap.
WAITING = {"loop_plain", "loop_catches_baseexception", "loop_ignores_signals", "sigstop_self",
           "slow_import", "memory_hog"}
CASES = [pytest.param(h, mode, id=f"{h.slug}-{mode}", marks=[pytest.mark.slow]
                      if mode == "subprocess" or h.slug in WAITING else [])
         for h in HOSTILES for mode in ("bubblewrap", "subprocess")]


# --- the world around the judge ------------------------------------------------------------------

def _fingerprint(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder`` with its size, mtime and content hash."""
    found: dict[str, tuple] = {}
    if not folder.exists():
        return found
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(folder))] = (stat.st_mode, stat.st_size, stat.st_mtime_ns,
                                                digest)
    return found


def _stat_or_none(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


def _survivors(marker: str) -> list[str]:
    """Living processes named after the marker or carrying it on their command line."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in ("Z", "X"):
            continue  # dead, waiting for init to reap it
        if marker in comm or marker.encode() in cmdline:
            alive.append(f"{entry.name} {comm} state {state}")
    return alive


def _our_cgroups() -> list[str]:
    root = Path("/sys/fs/cgroup/pids")
    if not root.exists():
        return []
    # The worker template's group lives as long as the judge; each worker's must be gone.
    return [str(p) for p in root.rglob(f"vg-worker-{os.getpid()}-*")
            if not p.name.endswith("-template")]


@dataclass
class World:
    """Targets the attacks aim at, and what they must look like after grading."""

    root: Path
    marker: str
    listener: socket.socket

    @classmethod
    def create(cls, root: Path) -> World:
        watch = root / "watch"
        watch.mkdir()
        (watch / "sentinel.txt").write_text("the instructor's file: must survive grading\n")
        (watch / "notes").mkdir()
        (watch / "notes" / "gradebook.csv").write_text("student,score\n")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        return cls(root, "vgh" + secrets.token_hex(6), listener)

    @property
    def watch(self) -> Path:
        return self.root / "watch"

    @property
    def results(self) -> Path:
        return self.root / "out" / "results.json"

    @property
    def context(self) -> dict[str, str]:
        return {"VG_MARKER": self.marker, "VG_WATCH": str(self.watch),
                "VG_SENTINEL": str(self.watch / "sentinel.txt"), "VG_RESULTS": str(self.results),
                "VG_PORT": str(self.listener.getsockname()[1])}

    def snapshot(self, submission: Path) -> dict:
        return {"watch": _fingerprint(self.watch), "submission": _fingerprint(submission),
                "results": _stat_or_none(self.results),
                "tmp results": _stat_or_none(Path("/tmp/results.json")),
                "marked": self._marked_files()}

    def _marked_files(self) -> list[str]:
        found = []
        for folder in ("/tmp", "/var/tmp", "/dev/shm"):
            try:
                found += [str(p) for p in Path(folder).glob(f"*{self.marker}*")]
            except OSError:
                pass
        return sorted(found)

    def assert_untouched(self, before: dict, submission: Path) -> None:
        after = self.snapshot(submission)
        for key in before:
            assert after[key] == before[key], f"{key} changed during grading"
        assert after["marked"] == [], f"files left outside the sandbox: {after['marked']}"
        ready, _, _ = select.select([self.listener], [], [], 0)
        assert not ready, "a connection reached the loopback listener"

    def assert_no_survivors(self) -> None:
        deadline = time.monotonic() + 1.5
        while _survivors(self.marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _survivors(self.marker) == [], "processes of the submission outlived grading"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def world(tmp_path):
    made = World.create(tmp_path)
    yield made
    made.close()


def _verdict(result: SubmissionResult) -> Expected:
    return Expected(result.score, result.max_score,
                    frozenset(c.name for c in result.checks if not c.passed))


def _grade_in_world(hostile: Hostile, mode: str, world: World, tmp_path: Path,
                    monkeypatch) -> SubmissionResult:
    # Secrets the judge holds: they must never reach the worker.
    monkeypatch.setenv(SECRET_NAME, secrets.token_hex(16))
    monkeypatch.setenv("VG_RESULTS_PATH", str(world.results))
    submission = build_hostile(hostile, tmp_path / "submissions" / hostile.slug, world.context)
    before = world.snapshot(submission)
    started = time.monotonic()
    result = grade_submission(submission, seed=SEED, limits=LIMITS,
                              sandbox=(mode == "bubblewrap"))
    elapsed = time.monotonic() - started
    assert elapsed < LIMITS.submission_seconds + SLACK_SECONDS
    world.assert_untouched(before, submission)
    world.assert_no_survivors()
    assert _our_cgroups() == [], "the worker's pids cgroup was not removed"
    return result


# --- the tests -----------------------------------------------------------------------------------

def test_the_hostile_corpus_is_big_enough():
    assert len(HOSTILES) >= 22
    assert all(h.expect.max_score == 50 for h in HOSTILES)


@pytest.mark.parametrize(("hostile", "mode"), CASES)
def test_hostile_submission_gets_its_exact_verdict(hostile, mode, world, tmp_path, monkeypatch):
    reason = _skip_reason(hostile, mode)
    if reason:
        pytest.skip(reason)
    result = _grade_in_world(hostile, mode, world, tmp_path, monkeypatch)
    assert result.error is None
    assert result.sandbox == mode
    assert not [c.name for c in result.checks if c.internal_error]
    failures = {c.name: c.feedback[:300] for c in result.checks if not c.passed}
    assert _verdict(result) == hostile.expect, failures
    for check in result.checks:
        if not check.passed:
            assert check.feedback.strip(), check.name


_CHILD_JUDGE = """
import json, sys
from pathlib import Path
from grader.batch.run import grade_submission
from grader.spec.profile import Limits
limits = Limits(call_seconds=2, submission_seconds=20, memory_bytes=1 << 30)
out = []
for mode in sys.argv[3:]:
    r = grade_submission(Path(sys.argv[1]), seed=int(sys.argv[2]), limits=limits,
                         sandbox=(mode == "bubblewrap"))
    out.append([mode, r.score, sorted(c.name for c in r.checks if not c.passed)])
print(json.dumps(out))
"""


def test_secret_in_the_judges_own_environment_never_reaches_the_worker(world, tmp_path):
    """The judge runs in a child process whose *initial* environment holds the secret, so it is
    also in /proc/<judge>/environ; the entry answers wrongly if it finds it anywhere."""
    hostile = BY_SLUG["read_secret"]
    modes = [m for m in ("bubblewrap", "subprocess") if _skip_reason(hostile, m) is None]
    if not modes:
        pytest.skip("neither bubblewrap nor an isolated fallback is available")
    submission = build_hostile(hostile, tmp_path / "submission", world.context)
    env = dict(os.environ, **{SECRET_NAME: secrets.token_hex(16)})
    child = subprocess.run([sys.executable, "-c", _CHILD_JUDGE, str(submission), str(SEED), *modes],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    for mode, score, failed in json.loads(child.stdout.strip().splitlines()[-1]):
        assert (score, set(failed)) == (hostile.expect.score, set(hostile.expect.failed)), mode
    world.assert_no_survivors()


@pytest.mark.slow
def test_a_batch_of_hostile_and_honest_submissions_all_get_results(world, tmp_path):
    """Several submissions in a row, default sandbox choice: each one gets its own verdict."""
    slugs = ["exit_at_import_os", "loop_plain", "fork_storm", "pickle_payload", "ctypes_segfault"]
    folders = [(REPO / "solutions", Expected(50, 50, frozenset()))]
    for slug in slugs:
        folders.append((build_hostile(BY_SLUG[slug], tmp_path / slug, world.context),
                        BY_SLUG[slug].expect))
    folders.append((REPO / "solutions", Expected(50, 50, frozenset())))
    results = [grade_submission(folder, seed=SEED, limits=LIMITS) for folder, _ in folders]
    assert len(results) == len(folders)
    for (folder, expected), result in zip(folders, results, strict=True):
        assert result.error is None, folder
        assert _verdict(result) == expected, folder.name
    world.assert_no_survivors()
    assert _our_cgroups() == []
