"""The check definitions, one module per exercise module plus the lesson's checks.

Each check generates its inputs from ``t.rng`` (seeded: the public seed in the self-check, the
instructor's hidden seed when grading) plus fixed edge cases, calls the student's code through
``t.call`` and compares with ``t.expect`` or with finite differences the judge computes itself.
The same definitions run in the grader (through a worker), the self-check and the notebook's
test cells (direct calls).

Importing this package registers every check in ``grader.checking.trial.REGISTRY``. The import
order below is the grading order: a check is registered after everything it builds on.
"""

# The order of these imports is the order of grading, of reports and of gradebook columns: a
# module's checks come after those they build on.
# isort: off
from grader.checking.checks import activations
from grader.checking.checks import layers
from grader.checking.checks import network
from grader.checking.checks import gradient_check
from grader.checking.checks import lesson
# isort: on

__all__ = ["activations", "gradient_check", "layers", "lesson", "network"]
