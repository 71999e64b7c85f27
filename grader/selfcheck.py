"""Self-check: one test per exercise function, with its points.

    python -m pytest grader/selfcheck.py                  # checks exercises/
    python -m pytest grader/selfcheck.py -k sigmoid_grad  # one function
    python -m pytest grader/selfcheck.py --submission DIR # another folder

A failure says which function, on which input, expected vs got, the error measure and a hint.
A test whose function builds on one that fails its own test is skipped, "not checked yet: needs
X, which fails its own check": without the reference solutions nothing can stand in for X, so
the self-check cannot tell whether this function is right; fix X first. A test that passes with
a note (relu_grad returning booleans: right values, but return floats) shows the note in the
score table at the end. The instructor's grading runs these same checks with other random inputs.
"""

import pytest

from grader.checking import checks  # noqa: F401 - registers the check definitions
from grader.checking.trial import REGISTRY


@pytest.mark.parametrize("name", list(REGISTRY),
                         ids=[f"{name} ({c.points} pts)" for name, c in REGISTRY.items()])
def test_exercise(name, self_check_results, request):
    result = self_check_results[name]
    request.node.user_properties.append(("points", (result.score, result.max_score)))
    if result.waiting:
        # Neither pass nor fail: the grader would judge it with the reference standing in.
        pytest.skip(f"{name}: {result.feedback}")
    if not result.passed:
        unit = "point" if result.max_score == 1 else "points"
        lines = [f"{name} ({result.max_score} {unit}): {result.title}", result.feedback]
        if result.diagnosis:
            lines.append(f"  diagnosis: {result.diagnosis}")
        lines += [f"  note: {note}" for note in result.notes]
        pytest.fail("\n".join(lines), pytrace=False)
