"""Run every benchmark in turn (``make bench``). Each prints medians of repeated runs."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("selfcheck.py", "grade_one.py", "worker_memory.py", "batch.py",
               "vs_nbgrader.py", "experiments.py", "demo.py"):
    if (HERE / script).is_file():
        print(f"== {script} ==", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=False)
