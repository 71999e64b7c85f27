"""The containment layers one by one: deadlines, kills, process caps, filters, views, folders.

Each test builds a "probe" submission: the reference solution whose ``sigmoid`` is replaced by a
function that tries something and returns what happened as numbers, and drives it through a
``WorkerStudent`` (the judge's side of a worker). Layers that sit outside the system-call filter
are tested with the filter turned off (``Limits(seccomp=False)``), so each one is shown to hold
on its own.
"""

from __future__ import annotations

import errno
import os
import shutil
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grader.inside import confine
from grader.sandbox import cgroups
from grader.sandbox.launch import root_isolation_works
from grader.sandbox.processes import kill_tree
from grader.sandbox.remote import WorkerStudent
from grader.sandbox.template import TEMPLATES, TemplateChild
from grader.sandbox.view import WORKER_MODULES, bubblewrap_works
from grader.spec.profile import Limits
from grader.student.loader import reference_functions

REPO = Path(__file__).resolve().parent.parent
MODULES = ("activations", "layers", "network", "gradient_check")
MODES = [pytest.param("bubblewrap", id="bubblewrap",
                      marks=pytest.mark.skipif(not bubblewrap_works(),
                                               reason="bubblewrap is not usable here")),
         pytest.param("subprocess", id="subprocess")]
QUICK = Limits(call_seconds=2, submission_seconds=30)


def probe_submission(folder: Path, body: str, module: str = "activations",
                     marker: str | None = None) -> Path:
    """The reference modules, with ``body`` appended to ``module`` (its definitions win).

    marker: a process name the worker takes on importing ``module`` (children inherit it).
    """
    folder.mkdir(parents=True)
    for name in MODULES:
        shutil.copyfile(REPO / "solutions" / f"{name}.py", folder / f"{name}.py")
    text = textwrap.dedent(body)
    if marker is not None:
        text = NAME_ME.format(marker=marker) + text
    with open(folder / f"{module}.py", "a", encoding="utf-8") as target:
        target.write("\n\n" + text)
    return folder


def run_probe(folder: Path, mode: str, limits: Limits = QUICK) -> np.ndarray:
    with WorkerStudent(folder, limits=limits, sandbox=(mode == "bubblewrap")) as worker:
        reply = worker.call("sigmoid", np.zeros(1))
        assert worker.mode == mode
    assert reply.error is None and reply.bad_output is None, reply
    return reply.value


def text_of(values: np.ndarray) -> str:
    return bytes(int(v) for v in values).decode()


def living(marker: str) -> list[int]:
    """Processes (not zombies) named ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == marker:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX":
                    found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def wait_until_gone(marker: str, seconds: float = 1.5) -> list[int]:
    deadline = time.monotonic() + seconds
    while living(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return living(marker)


NAME_ME = """
import ctypes as _ctypes
_ctypes.CDLL(None).prctl(15, b"{marker}", 0, 0, 0)
"""


@pytest.mark.parametrize("mode", MODES)
def test_mode_is_reported(mode, tmp_path):
    folder = probe_submission(tmp_path / "p", "")
    with WorkerStudent(folder, limits=QUICK, sandbox=(mode == "bubblewrap")) as worker:
        assert worker.mode == "not started"
        assert worker.call("relu", np.array([-1.0, 2.0])).value.tolist() == [0.0, 2.0]
        assert worker.mode == mode


@pytest.mark.parametrize("mode", MODES)
def test_a_sleeping_call_is_killed_at_the_call_deadline_with_its_process_group(mode, tmp_path):
    marker = "vgsleep" + os.urandom(3).hex()
    folder = probe_submission(tmp_path / "p", marker=marker, body="""
        import os, time
        def sigmoid(z):
            for _ in range(3):
                if os.fork() == 0:  # children in the worker's process group, sleeping too
                    time.sleep(60)
                    os._exit(0)
            time.sleep(60)
        """)
    limits = Limits(call_seconds=1, submission_seconds=30, seccomp=False)
    with WorkerStudent(folder, limits=limits, sandbox=(mode == "bubblewrap")) as worker:
        assert worker.call("relu", np.zeros(2)).error is None  # started and answering
        process = worker._started.process
        started = time.monotonic()
        reply = worker.call("sigmoid", np.zeros(1))
        elapsed = time.monotonic() - started
        assert reply.error.startswith("TimeoutError: sigmoid did not return within 1 s")
        assert elapsed < 1 + 2.5
        assert process.poll() is not None  # killed and reaped
        again = time.monotonic()
        assert worker.call("sigmoid", np.zeros(1)).error == reply.error  # not called again
        assert time.monotonic() - again < 0.5
    assert wait_until_gone(marker) == []


def test_the_process_group_is_killed_even_without_a_cgroup(tmp_path, monkeypatch):
    """Fallback without the pids cgroup: killpg and the /proc descendants still end them all."""
    monkeypatch.setattr(cgroups, "make_cgroup", lambda limits: None)
    marker = "vgpgrp" + os.urandom(3).hex()
    folder = probe_submission(tmp_path / "p", marker=marker, body="""
        import os, time, numpy as np
        def sigmoid(z):
            for _ in range(4):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
            return np.zeros(1)
        """)
    limits = Limits(call_seconds=2, submission_seconds=30, seccomp=False)
    with WorkerStudent(folder, limits=limits, sandbox=False) as worker:
        assert worker.call("sigmoid", np.zeros(1)).error is None
        assert len(living(marker)) == 5
    assert wait_until_gone(marker) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_fork_storm_is_capped_by_the_pids_cgroup_and_fully_killed(mode, tmp_path):
    if not cgroups.pids_cgroup_works():
        pytest.skip("no pids cgroup can be created here (not root, or no cgroup v1 pids)")
    marker = "vgstorm" + os.urandom(3).hex()
    folder = probe_submission(tmp_path / "p", marker=marker, body="""
        import os, time, numpy as np
        def sigmoid(z):
            made = 0
            for _ in range(200):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    os.setsid()  # leave the process group: only the cgroup still holds it
                    time.sleep(60)
                    os._exit(0)
                made += 1
            return np.array([made], dtype=float)
        """)
    limits = Limits(call_seconds=5, submission_seconds=30, processes=12, seccomp=False)
    made = run_probe(folder, mode, limits)
    assert 0 < made[0] < limits.processes
    assert wait_until_gone(marker) == []
    assert not [p for p in Path("/sys/fs/cgroup/pids").rglob(f"vg-worker-{os.getpid()}-*")
                if not p.name.endswith("-template")]  # the template's lives with the judge


SECCOMP_PROBE = """
import errno, os, resource, socket, subprocess, threading, numpy as np
def _code(action):
    try:
        action()
    except OSError as error:
        return error.errno
    except ValueError:  # how Python reports EPERM from setrlimit
        return errno.EPERM
    return 0
def sigmoid(z):
    box = []
    thread = threading.Thread(target=lambda: box.append(1))
    thread.start()
    thread.join()
    return np.array([
        _code(lambda: os._exit(0) if os.fork() == 0 else None),
        _code(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
        _code(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
        _code(lambda: subprocess.run(["/bin/true"])),
        _code(lambda: os.kill(os.getppid(), 0)),
        _code(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8))),
        _code(lambda: os.kill(os.getpid(), 0)),
        len(box),
    ], dtype=float)
"""


@pytest.mark.skipif(not confine.seccomp_supported(), reason="the filter is for x86-64 Linux")
@pytest.mark.parametrize("mode", MODES)
def test_seccomp_stops_processes_programs_sockets_and_signals(mode, tmp_path):
    codes = run_probe(probe_submission(tmp_path / "p", SECCOMP_PROBE), mode).tolist()
    eperm = errno.EPERM
    assert codes == [eperm, eperm, eperm, eperm, eperm, eperm, 0, 1]


def test_the_seccomp_program_is_well_formed():
    program = confine.seccomp_program(4242)
    assert len(program) % 8 == 0 and len(program) // 8 < 256


@pytest.mark.parametrize("mode", MODES)
def test_worker_output_goes_to_dev_null_and_a_flood_does_not_block(mode, tmp_path):
    folder = probe_submission(tmp_path / "p", """
        import os, numpy as np
        def sigmoid(z):
            for _ in range(64):
                os.write(1, b"x" * (1 << 20))
                os.write(2, b"y" * (1 << 20))
            where = os.readlink("/proc/self/fd/1") + "|" + os.readlink("/proc/self/fd/2")
            return np.frombuffer(where.encode(), dtype=np.uint8).astype(float)
        """)
    assert text_of(run_probe(folder, mode)) == "/dev/null|/dev/null"


def test_fallback_worker_runs_in_a_private_folder_that_is_removed(tmp_path):
    folder = probe_submission(tmp_path / "p", """
        import os, tempfile, numpy as np
        def sigmoid(z):
            with open("scratch.txt", "w") as f:
                f.write("temporary")
            where = "|".join([os.getcwd(), tempfile.gettempdir(), os.environ["HOME"]])
            return np.frombuffer(where.encode(), dtype=np.uint8).astype(float)
        """)
    first = text_of(run_probe(folder, "subprocess")).split("|")
    second = text_of(run_probe(folder, "subprocess")).split("|")
    assert len(set(first)) == 1 and len(set(second)) == 1
    assert first[0] != second[0], "each worker gets a fresh folder"
    assert Path(first[0]).name.startswith("vg-worker-")
    assert not Path(first[0]).exists() and not Path(second[0]).exists()


@pytest.mark.skipif(not root_isolation_works(), reason="needs a root judge that can isolate")
def test_root_fallback_is_read_only_outside_its_tmpfs_and_drops_root(tmp_path):
    target = tmp_path / "outside.txt"
    folder = probe_submission(tmp_path / "p", f"""
        import os, numpy as np
        def _can_write(path):
            try:
                with open(path, "w") as f:
                    f.write("x")
                return 1.0
            except OSError:
                return 0.0
        def sigmoid(z):
            return np.array([os.getuid(), _can_write({str(target)!r}), _can_write("/tmp/vg-probe"),
                             _can_write("here.txt"), float(os.path.exists({str(REPO)!r} +
                             "/solutions/activations.py"))])
        """)
    assert run_probe(folder, "subprocess").tolist() == [65534, 0, 0, 1, 0]
    assert not target.exists()


@pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap is not usable here")
def test_bubblewrap_shows_only_what_the_worker_needs(tmp_path, monkeypatch):
    monkeypatch.setenv("VG_INSTRUCTOR_SECRET", "do-not-leak")
    folder = probe_submission(tmp_path / "p", f"""
        import os, numpy as np
        def _can_write(path):
            try:
                with open(path, "w") as f:
                    f.write("x")
                return "w"
            except OSError:
                return "-"
        def sigmoid(z):
            seen = [
                str(os.path.exists({str(REPO / "solutions")!r})),
                str(os.path.exists({str(REPO / "grader" / "checks.py")!r})),
                ",".join(sorted(os.path.relpath(os.path.join(d, n), "/opt/vg/grader")
                                    for d, _, names in os.walk("/opt/vg/grader")
                                    for n in names if n.endswith(".py"))),
                ",".join(sorted(os.environ)),
                str(os.getuid()),
                _can_write("/tmp/x") + _can_write("/x") + _can_write("/submission/x")
                + _can_write("/opt/vg/grader/x") + _can_write("/dev/x"),
            ]
            return np.frombuffer("|".join(seen).encode(), dtype=np.uint8).astype(float)
        """)
    seen = text_of(run_probe(folder, "bubblewrap")).split("|")
    assert seen[0] == "False" and seen[1] == "False"
    assert seen[2] == ",".join(sorted(WORKER_MODULES))
    assert seen[3].split(",") == ["HOME", "LANG", "MPLBACKEND", "OMP_NUM_THREADS",
                                  "OPENBLAS_NUM_THREADS", "PATH", "PWD", "TMPDIR"]
    assert seen[4] == "65534"
    assert seen[5] == "w----"


# Fill the private temporary space: big files up to its size, or empty files up to its inodes.
FILL = """
    import os, numpy as np
    def sigmoid(z):
        count, chunk = 0, b"z" * {chunk}
        for index in range({tries}):
            try:
                with open(f"fill-{{index}}", "wb") as f:
                    f.write(chunk)
                count += 1
            except OSError:
                break
        return np.array([count], dtype=float)
    """


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("what", ["bytes", "files"])
def test_private_temporary_space_is_limited(mode, what, tmp_path):
    if mode == "subprocess" and not root_isolation_works():
        pytest.skip("without root the fallback's folder is on disk: only the file size is capped")
    if what == "bytes":
        limits = Limits(call_seconds=10, submission_seconds=30, tmp_bytes=8 << 20)
        chunk, tries = 1 << 20, 64
    else:
        limits = Limits(call_seconds=10, submission_seconds=30, tmp_files=300)
        chunk, tries = 0, 5000
        if mode == "bubblewrap" and not TEMPLATES.usable(limits):
            pytest.skip("bwrap 0.8 cannot cap the inodes of its own /tmp (the template can)")
    folder = probe_submission(tmp_path / "p", FILL.format(chunk=chunk, tries=tries))
    count = run_probe(folder, mode, limits)[0]
    if what == "bytes":
        assert count * chunk <= limits.tmp_bytes
    else:
        assert 200 < count < limits.tmp_files


@pytest.mark.parametrize("mode", MODES)
def test_a_module_that_ends_the_worker_at_import_is_left_out_once(mode, tmp_path):
    folder = probe_submission(tmp_path / "p", "import os\nos._exit(7)\n", module="gradient_check")
    sandboxed = mode == "bubblewrap"
    with WorkerStudent(folder, limits=QUICK, sandbox=sandboxed) as first:
        reply = first.call("relative_error", np.zeros(2), np.ones(2))
        assert reply.missing == "importing gradient_check.py ended the process (exit status 7)"
        assert first.call("relu", np.array([-1.0, 1.0])).value.tolist() == [0.0, 1.0]
        assert first.starts == 2
    # A later worker for the same submission (a stand-in retry) does not try again.
    with WorkerStudent(folder, limits=QUICK, sandbox=sandboxed) as second:
        assert second.call("relu", np.array([3.0])).value.tolist() == [3.0]
        assert second.starts == 1
        assert second.call("numerical_gradient", None, np.zeros(2)).missing == reply.missing


def test_reference_stand_ins_refuse_arguments_far_larger_than_any_check(tmp_path):
    folder = probe_submission(tmp_path / "p", """
        def sigmoid_grad(z):
            return sigmoid(np.zeros((2000, 3)))
        """)
    stand_in = {"sigmoid": reference_functions()["sigmoid"]}
    with WorkerStudent(folder, stand_in, limits=QUICK, sandbox=False) as worker:
        reply = worker.call("sigmoid_grad", np.zeros(3))
    assert reply.error is not None and "too large for a reference stand-in" in reply.error


def test_the_submission_budget_ends_every_later_call(tmp_path):
    folder = probe_submission(tmp_path / "p", """
        import time
        def sigmoid(z):
            time.sleep(60)
        def tanh(z):
            time.sleep(60)
        """)
    limits = Limits(call_seconds=1.5, submission_seconds=2)
    with WorkerStudent(folder, limits=limits, sandbox=False) as worker:
        worker.call("sigmoid", np.zeros(1))
        started = time.monotonic()
        reply = worker.call("tanh", np.zeros(1))
        assert time.monotonic() - started < 1.5
        assert "used up" in (reply.error or "")


@pytest.mark.parametrize("mode", MODES)
def test_a_batch_of_calls_answers_each_in_order_like_single_calls(mode, tmp_path):
    folder = probe_submission(tmp_path / "p", "")
    inputs = [np.array([-1.0, 2.0]), np.array([3.0]), np.zeros((2, 2))]
    with WorkerStudent(folder, limits=QUICK, sandbox=(mode == "bubblewrap")) as worker:
        batch = worker.call_many("relu", [((z,), {}) for z in inputs])
        single = [worker.call("relu", z) for z in inputs]
    assert [r.value.tolist() for r in batch] == [r.value.tolist() for r in single]
    assert all(r.inputs_after is None for r in batch)  # no snapshot in a batch
    assert all(r.inputs_after is not None for r in single)


def test_a_call_that_hangs_inside_a_batch_times_out_on_its_own_clock(tmp_path):
    folder = probe_submission(tmp_path / "p", """
        import time
        def sigmoid(z):
            if z[0] > 1:
                time.sleep(60)
            return z * 0.5
        """)
    inputs = [np.array([0.0]), np.array([1.0]), np.array([2.0]), np.array([0.0])]
    limits = Limits(call_seconds=1, submission_seconds=30)
    with WorkerStudent(folder, limits=limits, sandbox=False) as worker:
        started = time.monotonic()
        replies = worker.call_many("sigmoid", [((z,), {}) for z in inputs])
        assert time.monotonic() - started < 1 + 2.5
        assert [r.value.tolist() for r in replies[:2]] == [[0.0], [0.5]]
        assert all(r.error.startswith("TimeoutError: sigmoid did not return within 1 s")
                   for r in replies[2:])
        assert worker.call("sigmoid", np.zeros(1)).error == replies[2].error  # not called again


# --- the worker template -------------------------------------------------------------------------

@pytest.fixture
def template():
    """The worker template of this process; skips where it cannot work (no bubblewrap, or no
    nested user namespaces: workers then come one sandbox each, as the other tests show)."""
    if not bubblewrap_works():
        pytest.skip("bubblewrap is not usable here")
    if not TEMPLATES.usable(QUICK) or TEMPLATES.get() is None:
        pytest.skip(f"the worker template cannot run here: {TEMPLATES.refused}")


@pytest.mark.usefixtures("template")
def test_workers_come_from_the_template_only_with_the_system_call_filter(tmp_path, monkeypatch):
    folder = probe_submission(tmp_path / "p", "")
    with WorkerStudent(folder, limits=QUICK, sandbox=True) as worker:
        assert worker.call("relu", np.ones(1)).error is None
        assert isinstance(worker._started.process, TemplateChild)
    unfiltered = Limits(call_seconds=2, submission_seconds=30, seccomp=False)
    with WorkerStudent(folder, limits=unfiltered, sandbox=True) as worker:
        assert worker.call("relu", np.ones(1)).error is None
        assert not isinstance(worker._started.process, TemplateChild)
    monkeypatch.setenv("VG_NO_TEMPLATE", "1")
    with WorkerStudent(folder, limits=QUICK, sandbox=True) as worker:
        assert worker.call("relu", np.ones(1)).error is None
        assert not isinstance(worker._started.process, TemplateChild)


SNOOP = """
    import os, numpy as np
    def _try(action):
        try:
            action()
            return "y"
        except OSError:
            return "n"
    def sigmoid(z):
        with open("/tmp/mine-" + {name!r}, "w") as f:
            f.write("x")
        parent = os.getppid()
        seen = [
            ",".join(sorted(os.listdir("/submission"))),
            ",".join(sorted(n for n in os.listdir("/tmp") if n.startswith("mine-"))),
            _try(lambda: open(f"/proc/{{parent}}/mem", "rb").read(1)),
            _try(lambda: open(f"/proc/{{parent}}/environ", "rb").read(1)),
            "".join(_try(lambda n=n: os.close(os.open(f"/proc/{{parent}}/fd/{{n}}", os.O_RDONLY)))
                    for n in range(6)),
            _try(lambda: os.kill(parent, 0)),
            str(np.random.randint(1 << 30)),
        ]
        return np.frombuffer("|".join(seen).encode(), dtype=np.uint8).astype(float)
    """


@pytest.mark.usefixtures("template")
def test_template_workers_see_neither_each_other_nor_the_template(tmp_path):
    first = probe_submission(tmp_path / "first", SNOOP.format(name="first"))
    second = probe_submission(tmp_path / "second", SNOOP.format(name="second"))
    (second / "only_in_second.txt").write_text("x")
    with WorkerStudent(first, limits=QUICK, sandbox=True) as a, \
            WorkerStudent(second, limits=QUICK, sandbox=True) as b:
        seen_a = text_of(a.call("sigmoid", np.zeros(1)).value).split("|")
        seen_b = text_of(b.call("sigmoid", np.zeros(1)).value).split("|")
        assert isinstance(a._started.process, TemplateChild)
        assert a._started.process.template is b._started.process.template  # alive together
    assert "only_in_second.txt" not in seen_a[0] and "only_in_second.txt" in seen_b[0]
    assert seen_a[1] == "mine-first" and seen_b[1] == "mine-second"  # a /tmp each
    # The template: no memory, environment, descriptors or signals.
    assert seen_a[2:6] == ["n", "n", "nnnnnn", "n"]
    assert seen_a[6] != seen_b[6]  # numpy's global generator is seeded afresh in each worker


@pytest.mark.usefixtures("template")
def test_a_dead_template_is_replaced_and_grading_goes_on(tmp_path):
    folder = probe_submission(tmp_path / "p", "")
    with WorkerStudent(folder, limits=QUICK, sandbox=True) as worker:
        assert worker.call("relu", np.ones(1)).error is None
        template = worker._started.process.template
        kill_tree(template.process)  # the template and its worker die together
        reply = worker.call("relu", np.ones(1))
        assert reply.error is not None and reply.error.startswith("WorkerError")
    with WorkerStudent(folder, limits=QUICK, sandbox=True) as worker:
        assert worker.call("relu", np.array([2.0])).value.tolist() == [2.0]
        assert worker._started.process.template is not template
    assert not template.stage.exists()


@pytest.mark.usefixtures("template")
def test_a_forged_set_up_failure_does_not_turn_the_template_off(tmp_path):
    folder = probe_submission(tmp_path / "p", """
        import os
        from grader.spec.wire import send
        for _fd in range(3, 64):  # the judge's pipe: say the import ended, then a set-up failure
            try:
                send(_fd, {"op": "imported", "body": {"module": "activations"}})
                send(_fd, {"op": "failed", "body": {"reason": "forged"}})
            except OSError:
                pass
        """)
    with WorkerStudent(folder, limits=QUICK, sandbox=True) as worker:
        reply = worker.call("relu", np.ones(1))
    # The forger is the module that was importing: left out, and the template stays on.
    assert reply.error is None
    assert reply.missing == ("importing activations.py wrote messages of its own to the "
                             "grader's channel")
    assert TEMPLATES.usable(QUICK)
