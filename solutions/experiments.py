"""The lesson's experiments, run on the functions of this package:

    python -m exercises.experiments [--quick] [--out DIR]
        [--only flow|dial|speed|training|saturation]

The experiments live in the package ``lesson`` (given code, the same for everyone; see
``python -m lesson --help``); this file only says whose functions they run on: the functions of
the package it sits in.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    """Run the experiments on this package (``argv`` as for ``python -m lesson``, without
    ``--on``); returns {figure name: PNG path}."""
    from lesson.cli import main as run_lesson
    from lesson.implementation import Implementation

    package = __package__ or "exercises"
    return run_lesson(argv, Implementation.load(package), f"python -m {package}.experiments")


if __name__ == "__main__":
    from lesson.cli import run
    from lesson.implementation import Implementation

    package = __package__ or "exercises"
    sys.exit(run(None, Implementation.load(package), f"python -m {package}.experiments"))
