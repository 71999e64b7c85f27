"""The notebook's entry point: ``from grader.notebook_tests import check`` in its setup cell.

Kept at this path so that every notebook ever handed out keeps working; the test cells' logic
lives in ``grader.public.notebook``.
"""

from grader.public.notebook import check

__all__ = ["check"]
