"""The README's commands work when copied into a fresh shell: every line of its ```bash blocks
is run here, in a copy of the repository whose ``.venv`` is this one (as after `make install`),
with an environment as bare as a new login's (``env -i``: HOME, a system PATH, a UTF-8 locale),
except `make` lines, which CI itself runs. A section's ``source``/``export`` lines apply to the
commands after them, as they would in the reader's shell; the instructor section also runs as
one script, top to bottom."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
# A new login's PATH: no virtual environment, nothing of this project.
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"
SHELL_STATE = ("source ", ". ", "export ")
INSTRUCTORS = "For instructors"


def sections() -> dict[str, list[str]]:
    """{second-level heading: the command lines of its ```bash blocks, in order}."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^## ", README.read_text(), flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        lines = []
        for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S):
            for line in block.splitlines():
                command = line.split("  #")[0].strip()
                if command and not command.startswith("make "):
                    lines.append(command)
        if lines:
            found[title.strip()] = lines
    return found


def readme_commands() -> list[tuple[str, str]]:
    """(the shell state a reader has set up by then, the command), for every command but the
    instructor section's, which build on one another and run as one script (below)."""
    commands = []
    for title, lines in sections().items():
        if title == INSTRUCTORS:
            continue
        state: list[str] = []
        for line in lines:
            if line.startswith(SHELL_STATE):
                state.append(line)
            else:
                commands.append(("; ".join(state), line))
    return commands


def bare_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": BARE_PATH, "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("readme") / "repo"
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(
        ".venv", ".git", "out", "__pycache__", ".pytest_cache", ".ruff_cache"))
    # As after `make install`: the project's environment in .venv.
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


def test_readme_has_commands_for_students_and_instructors():
    commands = [command for lines in sections().values() for command in lines]
    assert any("grader/selfcheck.py" in c for c in commands)
    assert any(c.startswith("python -m grader grade") for c in commands)
    for command in ("export", "written", "manual", "override", "report", "similar", "prune"):
        assert any(c.startswith(f"python -m grader {command}") for c in commands), command
    # Every section that runs the project's Python says how to reach its environment first.
    for title, lines in sections().items():
        first = next((i for i, line in enumerate(lines) if line.startswith("python")), None)
        if first is not None:
            assert any(line.startswith(SHELL_STATE[:2]) and ".venv/bin/activate" in line
                       for line in lines[:first]), title


# Sorted so the self-check commands run on the stubs before the experiments fill them in.
@pytest.mark.slow
@pytest.mark.parametrize(("state", "command"),
                         sorted(readme_commands(), key=lambda c: "experiments" in c[1]),
                         ids=[c for _, c in sorted(readme_commands(),
                                                   key=lambda c: "experiments" in c[1])])
def test_readme_command_runs(state, command, checkout, tmp_path):
    if "exercises.experiments" in command:  # a student runs it once their code is done
        for module in (REPO / "examples" / "correct").glob("*.py"):
            shutil.copy(module, checkout / "exercises" / module.name)
    shlex.split(command)  # one command a shell can parse
    done = subprocess.run(["bash", "-c", f"{state + '; ' if state else ''}{command}"],
                          cwd=checkout, env=bare_env(tmp_path / "home"), capture_output=True,
                          text=True, timeout=300)
    if "grader/selfcheck.py" in command:
        # The stubs in a fresh checkout fail the self-check: that is its job.
        assert done.returncode in (0, 1), done.stderr
        assert "self-check score" in done.stdout
    else:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_the_instructor_section_runs_as_one_script(checkout, tmp_path):
    lines = sections()[INSTRUCTORS]
    script = "\n".join(["set -euo pipefail", *lines])
    done = subprocess.run(["bash", "-x", "-c", script], cwd=checkout,
                          env=bare_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
