"""Peak memory of a worker process while the full check set runs (goal: <= 150 MiB).

Reads VmHWM (peak resident set) of every process in the worker's tree from /proc just before
the worker is closed.

    python bench/worker_memory.py
"""

import os
import statistics
import sys
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO))

from grader.checking.judge import grade  # noqa: E402
from grader.checking.trial import LiveExpected  # noqa: E402
from grader.sandbox.remote import WorkerStudent  # noqa: E402
from grader.student.loader import reference_functions  # noqa: E402


def tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(sandbox: bool | None) -> float:
    reference = reference_functions()
    peaks = []
    workers = []

    def make(overrides):
        worker = WorkerStudent(REPO / "examples" / "correct", {}, sandbox=sandbox)
        workers.append(worker)
        return worker

    grade(make, LiveExpected(reference), 1, reference)
    for worker in workers:
        started = worker._started
        if started is not None:
            # A worker forked by the template has no pid of ours: measure the template's whole
            # sandbox (the template and its workers; a worker's peak includes what it shares).
            template = getattr(started.process, "template", None)
            root = template.process.pid if template is not None else started.process.pid
            peaks.append(max(peak_kib(pid) for pid in tree(root)) / 1024)
        worker.close()
    return max(peaks)


def main() -> None:
    for label, sandbox, template in (("bubblewrap, forked by the template", None, True),
                                     ("bubblewrap, one interpreter per worker", None, False),
                                     ("plain subprocess", False, False)):
        if template:
            os.environ.pop("VG_NO_TEMPLATE", None)
        else:
            os.environ["VG_NO_TEMPLATE"] = "1"
        values = [measure(sandbox) for _ in range(3)]
        print(f"worker peak RSS, {label}: median {statistics.median(values):.1f} MiB "
              f"(runs: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
