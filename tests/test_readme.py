"""The README's commands work when copied: every line of its ```bash blocks is run here
(in a copy of the repository, with the project's environment first on PATH), except `make`
lines, which CI itself runs."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command and not command.startswith("make "):
                commands.append(command)
    return commands


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("readme") / "repo"
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(
        ".venv", ".git", "out", "__pycache__", ".pytest_cache", ".ruff_cache"))
    return target


def test_readme_has_commands_for_students_and_instructors():
    commands = readme_commands()
    assert any("grader/selfcheck.py" in c for c in commands)
    assert any(c.startswith("python -m grader grade") for c in commands)


# Sorted so the self-check commands run on the stubs before the experiments fill them in.
@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(readme_commands(), key=lambda c: "experiments" in c))
def test_readme_command_runs(command, checkout):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if "exercises.experiments" in command:  # a student runs it once their code is done
        for module in (REPO / "examples" / "correct").glob("*.py"):
            shutil.copy(module, checkout / "exercises" / module.name)
    done = subprocess.run(shlex.split(command), cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=300)
    if "grader/selfcheck.py" in command:
        # The stubs in a fresh checkout fail the self-check: that is its job.
        assert done.returncode in (0, 1), done.stderr
        assert "self-check score" in done.stdout
    else:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
