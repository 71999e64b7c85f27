"""The public self-check's engine: grade a folder in this process against recorded answers.

It needs no ``solutions/``: expected values for the public seed's inputs are read from
``grader/data/public_expected.npz``; finite-difference and statistical checks run as they do when
grading. ``python -m grader record`` (instructors) regenerates that file from the reference.
"""

from __future__ import annotations

from pathlib import Path

from grader.checking.judge import PUBLIC_SEED, CheckResult, grade
from grader.checking.trial import LiveExpected, RecordedExpected
from grader.student.calling import InProcessStudent
from grader.student.loader import find_module_dir, load_submission, reference_functions

RECORDED = Path(__file__).resolve().parents[1] / "data" / "public_expected.npz"


def in_process_student_factory(path: Path):
    """make_student(overrides) for a submission folder, loaded fresh for each call."""
    folder = str(find_module_dir(Path(path)).resolve())

    def make(overrides):
        submission = load_submission(path, overrides)
        return InProcessStudent(submission.functions, submission.missing, (folder,))

    return make


def self_check(path: Path, recorded: Path = RECORDED) -> list[CheckResult]:
    """Grade ``path`` with the public seed and recorded answers (no reference needed)."""
    return grade(in_process_student_factory(path), RecordedExpected(recorded), PUBLIC_SEED)


def record(path: Path = RECORDED) -> Path:
    """Run the checks on the reference with the public seed and store every expected value."""
    reference = reference_functions()
    expected = LiveExpected(reference, record=True)
    grade(in_process_student_factory(Path(reference["sigmoid"].__code__.co_filename).parent),
          expected, PUBLIC_SEED)
    path.parent.mkdir(parents=True, exist_ok=True)
    expected.save(path)
    return path
