"""``python -m lesson``: see ``lesson.cli``."""

import sys

from lesson.cli import run

sys.exit(run())
