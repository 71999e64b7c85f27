"""The import contracts of pyproject.toml hold, and each one catches the imports it forbids.

The contracts (import-linter) are the project's boundaries: what ships to students never
imports the instructor's side, what runs in the sandbox imports only ``spec`` and ``student``,
the grader's packages are layers, no sibling modules import each other in a cycle, and nothing
imports the reference. The second half plants, one at a time, every import a contract forbids
(enumerated from the contracts themselves) into a copy of the tree and expects that contract to
break, naming the planted import: a contract that silently matches nothing would pass too.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONFIG = PROJECT["tool"]["importlinter"]
CONTRACTS = {contract["name"]: contract for contract in CONFIG["contracts"]}
LINT = Path(sys.executable).parent / "lint-imports"


def lint(folder: Path) -> tuple[int, str]:
    """lint-imports on ``folder``'s packages (they come first on the path) and pyproject.toml:
    (exit status, its report with every run of white space made one space)."""
    done = subprocess.run([str(LINT), "--no-cache"], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(folder)}, timeout=120)
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_the_contracts_hold():
    status, report = lint(REPO)
    assert status == 0, report
    for name in CONTRACTS:
        assert f"{name} KEPT" in report


def test_the_one_declared_exception_is_the_hidden_tests_seed():
    ignored = [i for contract in CONTRACTS.values() for i in contract.get("ignore_imports", [])]
    assert ignored == ["grader.public.notebook -> grader.settings"]


def _file_of(module: str, root: Path) -> Path:
    path = root.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _plants() -> list[tuple[str, str, str]]:
    """(contract name, importing module, imported module) for every import a contract forbids."""
    plants = []
    for name, contract in CONTRACTS.items():
        if contract["type"] == "forbidden":
            for source, target in itertools.product(contract["source_modules"],
                                                    contract["forbidden_modules"]):
                if not target.startswith(source + ".") and source.split(".")[0] != target:
                    plants.append((name, source, target))
        elif contract["type"] == "layers":
            for lower, higher in itertools.combinations(reversed(contract["layers"]), 2):
                plants.append((name, lower, higher))
        elif contract["type"] == "acyclic_siblings":
            # template imports processes (at run time); processes importing template closes a cycle.
            plants.append((name, "grader.sandbox.processes", "grader.sandbox.template"))
    return plants


PLANTS = _plants()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for package in CONFIG["root_packages"]:
        shutil.copytree(REPO / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copyfile(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_every_contract_has_imports_to_catch():
    assert {name for name, _, _ in PLANTS} == set(CONTRACTS)
    assert len(PLANTS) > 60


@pytest.mark.slow
@pytest.mark.parametrize(("contract", "source", "target"), PLANTS,
                         ids=[f"{s}->{t}" for _, s, t in PLANTS])
def test_a_forbidden_import_breaks_its_contract(tree, contract, source, target):
    path = _file_of(source, tree)
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original + f"\nimport {target}  # planted\n", encoding="utf-8")
        status, report = lint(tree)
    finally:
        path.write_text(original, encoding="utf-8")
    assert status != 0
    assert f"{contract} BROKEN" in report
    if CONTRACTS[contract]["type"] == "acyclic_siblings":  # the cycle, in the siblings' names
        parent, _, first = source.rpartition(".")
        second = target.rpartition(".")[2]
        assert f"No cycles are allowed in {parent}" in report
        assert f".{first} -> .{second}" in report or f".{second} -> .{first}" in report
    else:
        assert f"{source} -> {target}" in report
