"""Suite-wide set-up: the hypothesis profile, the slow tests' budget and what `make check` runs.

`make check` runs ruff and every test not marked ``slow`` (``pytest -m "not slow"``); `make test`
and CI run everything. A test is marked slow (``pytestmark = pytest.mark.slow`` at the top of
its file, ``@pytest.mark.slow`` on the test, ``marks=`` on a parameter) when alone it takes
more than ``FAST_SECONDS`` on a quiet 2-core machine, and only for a reason listed in ``SLOW``.
tests/test_fast_suite.py checks that `make check` leaves out exactly the tests marked slow and
that each of them is listed here; a fast test that grows past the budget is named at the end of
every run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest
from hypothesis import settings

from tests.strategies import PROFILE

# Before any test module is imported: settings objects built at import inherit from it.
settings.load_profile(PROFILE)

#: A test (or a parametrized family together, over 10 s) that takes longer than this alone is
#: marked slow (seconds, on a quiet 2-core machine). The times below are from such a machine
#: under light load (2026-12-01); `make check` must stay under 90 s.
FAST_SECONDS = 3.0

#: What is marked slow: a test file (every test in it) or one test's node id, and why.
SLOW: dict[str, str] = {
    "tests/test_nbgrader.py": "a real nbgrader course: generate, release, autograde (40 s)",
    "tests/test_notebook_corpus.py": "nbgrader autograde of the whole notebook corpus (110 s)",
    "tests/test_gradescope.py": "a fresh venv installs the Gradescope bundle, then grades (17 s)",
    "tests/test_notebook_cells.py::test_cells_end_as_ipython_leaves_them":
        "hundreds of cell sequences run in a real IPython shell (34 s)",
    "tests/test_submissions.py::test_a_class_with_broken_submissions_is_graded_to_the_end_and_again":
        "a whole class through the CLI, twice (12 s)",
    "tests/test_judge_bounds.py::test_a_correct_function_that_warns_thousands_of_times_keeps_its_points":
        "a worker sends thousands of warnings (8 s)",
    "tests/test_cli.py::test_whole_corpus_through_the_cli_in_the_sandbox":
        "the whole corpus through the CLI in the sandbox (7 s)",
    "tests/test_readme.py::test_readme_command_runs":
        "every README command in a copy of the repository, a release and a bundle too (14 s)",
    "tests/test_notebook.py::test_notebook_runs_top_to_bottom_and_draws_its_figures":
        "executes the whole notebook in a kernel (5 s)",
    "tests/test_release.py::test_self_check_runs_from_a_copy_of_the_bundle":
        "a whole student release, self-checked from a copy (5 s)",
    "tests/test_release.py::test_requirements_resolve_and_readme_explains":
        "resolves the release's requirements with pip (5 s)",
    "tests/test_hostile.py::test_a_batch_of_hostile_and_honest_submissions_all_get_results":
        "every hostile entry and honest ones in one batch (4 s alone, many timeouts)",
    "tests/test_lifecycle.py::test_a_killed_batch_leaves_no_process_and_no_folder":
        "kills whole batches by signal and waits for the orphans (7 cases, 20 s)",
    "tests/test_hostile.py::test_hostile_submission_gets_its_exact_verdict":
        "the plain-subprocess twin of each attack, and the attacks that wait out a deadline "
        "or fill memory (WAITING there); check runs the rest in bubblewrap (38 cases, 45 s)",
    "tests/test_batch_goes_on.py::test_every_submission_ends_exactly_once_whatever_its_judge_does":
        "whole batches whose judges die (6 cases, 11 s)",
    "tests/test_cli.py::test_batch_gradebook_csv_feedback_summary_and_resume":
        "a class through the CLI: gradebook, CSV, feedback, resume (4 s)",
    "tests/test_cli.py::test_killed_batch_resumes_without_losing_or_doubling":
        "kills a CLI batch and resumes it (2.5 s)",
    "tests/test_cli.py::test_shards_split_deterministically_and_merge_without_loss":
        "a class graded in three CLI shards, then merged (3 s)",
    "tests/test_fuzz_readers.py::test_the_costliest_inputs_stay_within_time_and_memory":
        "the inputs at every size cap, timed (5 cases, 4 s; `make fuzz` runs them too)",
    "tests/test_names.py::test_gradebook_record_export_merge_round_trip_generated":
        "two SQLite gradebooks per generated case (60 cases, 5 s)",
    "tests/test_exports.py::test_a_canvas_download_and_a_roster_end_to_end":
        "a Canvas download of 8 corpus students graded through the CLI, then exported (14 s)",
    "tests/test_names.py::test_nasty_names_end_to_end":
        "a class of nasty names through the CLI (4 s)",
    "tests/test_architecture.py::test_a_forbidden_import_breaks_its_contract":
        "84 copies of the tree linted, one planted import each (18 s; `make lint` checks the "
        "contracts themselves)",
    "tests/test_experiments.py::test_corpus_bugs_through_the_experiments":
        "every corpus bug through the quick experiments (43 cases, 7 s)",
    "tests/test_one_engine.py::test_the_self_check_the_visible_cells_and_the_grader_agree_without_the_reference":
        "three paths on generated two-fault submissions (30 cases, 9 s)",
    "tests/test_selfcheck_agrees.py::test_a_degenerate_module_confirms_no_more_than_the_grader":
        "self-check and grader on every degenerate module (40 cases, 5 s)",
    "tests/test_selfcheck_agrees.py::test_one_degenerate_function_fails_its_own_checks_only":
        "self-check and grader on every degenerate function (152 cases, 20 s)",
    "tests/test_readme.py::test_the_instructor_section_runs_as_one_script":
        "the README's instructor commands, top to bottom, in a bare shell (60 s)",
    "tests/test_class_end_to_end.py":
        "a class of 30 graded, marked, penalised, overridden and exported (15 s)",
    "tests/test_class_report.py::test_the_report_of_a_real_class_renders_in_a_browser":
        "grades a class of 8 and opens its report in headless Chromium twice (25 s)",
    "tests/test_nbgrader_wrapper.py::test_the_wrapper_runs_nbgrader_as_copied_into_a_fresh_shell":
        "real nbgrader in a clean environment: a failed bare run, generate_assignment, "
        "autograde of one notebook (22 s)",
}

# Where tests/test_fast_suite.py asks a collection run of its own to write what it collected.
SELECTION_FILE = "VG_SELECTION_FILE"


class Selection:
    """What this run collected, for tests/test_fast_suite.py (one per run, on its config).

    items: {"id", "selected", "slow", "generated"} per test; skipped_files: files skipped whole at
    collection (a missing optional package), which every run leaves out alike."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.skipped_files: list[str] = []

    def _add(self, items: list[pytest.Item], selected: bool) -> None:
        self.items.extend({"id": item.nodeid, "selected": selected,
                           "slow": item.get_closest_marker("slow") is not None,
                           "generated": _generated(item)} for item in items)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._add(items, selected=False)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped and report.nodeid.endswith(".py"):
            self.skipped_files.append(report.nodeid)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._add(session.items, selected=True)
        target = os.environ.get(SELECTION_FILE)
        if target:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump({"items": self.items, "skipped_files": self.skipped_files}, handle)


def _generated(item: pytest.Item) -> dict | None:
    """A hypothesis test's settings that make it reproducible; None for other tests."""
    test = getattr(item, "obj", None)
    if not getattr(test, "is_hypothesis_test", False):
        return None
    # A bare @given runs with the loaded profile; @settings(...) stores its own on the test.
    chosen = getattr(test, "_hypothesis_internal_use_settings", settings.default)
    return {"derandomize": chosen.derandomize, "database": chosen.database is not None,
            "deadline": chosen.deadline is not None}


_SELECTION = pytest.StashKey[Selection]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SELECTION] = Selection()
    config.pluginmanager.register(config.stash[_SELECTION], "vg-selection")


@dataclass(frozen=True)
class SuitePlan:
    """What tests/test_fast_suite.py checks against: this file's table and this run's items."""

    slow: dict[str, str]
    selection: Selection
    selection_file: str


@pytest.fixture(scope="session")
def suite_plan(request: pytest.FixtureRequest) -> SuitePlan:
    return SuitePlan(SLOW, request.config.stash[_SELECTION], SELECTION_FILE)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Name the tests not marked slow that took longer than the budget (setup and call)."""
    spent: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport) and report.when in ("setup", "call"):
                if "slow" not in report.keywords:
                    spent[report.nodeid] = spent.get(report.nodeid, 0.0) + report.duration
    over = sorted(((s, n) for n, s in spent.items() if s > FAST_SECONDS), reverse=True)
    if over:
        terminalreporter.write_sep("-", f"not marked slow, over {FAST_SECONDS:.0f} s each")
        for seconds, nodeid in over:
            terminalreporter.write_line(f"{seconds:6.1f} s  {nodeid}")
