"""Shared helpers for the benchmarks: repeated timing with medians, and where things are."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def time_command(command: list[str], runs: int, cwd: Path = REPO) -> list[float]:
    """Wall-clock seconds of each run of ``command`` (output discarded; must exit 0)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def summary(label: str, times: list[float]) -> str:
    return (f"{label}: median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs)")
