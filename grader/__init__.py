"""The grader: check definitions, the judge that scores them, and the student self-check.

One set of checks (``grader.checking.checks``) serves both the student's self-check (direct
calls, expected values read from recorded data) and instructor grading (expected values from
the reference).
"""

__version__ = "0.1.0"
