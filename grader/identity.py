"""Who a submission is: its name, and the submissions a command line names."""

from __future__ import annotations

from pathlib import Path

from .api import MODULES


def submission_name(path: Path) -> str:
    path = Path(path)
    return path.stem if path.suffix in (".zip", ".ipynb") else path.name


def holds_modules(root: Path) -> Path | None:
    for candidate in (root, root / "exercises"):
        if any((candidate / f"{m}.py").is_file() for m in MODULES):
            return candidate
    return None


def expand(paths: list[Path]) -> list[Path]:
    """Submissions named on the command line: a folder of submission folders is a batch."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            if holds_modules(path) is not None:
                found.append(path)
                continue
            children = sorted(p for p in path.iterdir()
                              if not p.name.startswith((".", "_"))
                              and (p.is_dir() or p.suffix in (".zip", ".ipynb")))
            found.extend(children)
        else:
            found.append(path)
    return found
