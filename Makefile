# Two commands: `make demo` (grade the samples, run the experiments) and `make test`;
# `make check` is the maintainer's quick loop (ruff and the tests not marked slow, about a minute).
# Each creates .venv with Python 3.11+ and installs the project into it; quick when done before.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check install sandbox browser lint stubs record bench clean release gradescope \
	fuzz study

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (python3.11, python3.12 or python3)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,course]'
	@touch $@

# The grader runs student code under bubblewrap when it can; install it where we are allowed to.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) \
	      || echo "could not install bubblewrap: grading falls back to plain subprocesses"; \
	  else echo "bubblewrap not installed: grading falls back to plain subprocesses"; fi; }

# A headless Chromium for the test that opens the class report in a real browser (skipped,
# with the reason, where none can be installed).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      >/dev/null) || echo "could not install chromium: the browser test is skipped"; \
	  else echo "chromium not installed: the browser test of the class report is skipped"; fi; }

demo: $(STAMP) sandbox
	$(BIN)/python -m grader demo --out out/demo

# Everything, on two pytest-xdist processes: 7 min instead of 13 on 2 cores (2026-12-01, fresh
# clone, 2,920 tests); TEST_JOBS=1 for one process.
TEST_JOBS ?= 2
test: $(STAMP) sandbox browser
	$(BIN)/python -m pytest -p xdist -n $(TEST_JOBS)

# What is marked slow, and why: tests/conftest.py. tests/test_fast_suite.py checks that this
# leaves out the slow tests and nothing else. Two pytest-xdist processes: most fast tests wait
# on a worker or a sandbox, so two share two cores well (85 s against 120 s in one).
CHECK_JOBS ?= 2
check: $(STAMP) sandbox
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -m "not slow" -p xdist -n $(CHECK_JOBS)

# Every generated-input test of `make test` (malformed zips, notebooks and modules; notebook
# cells; names; forged worker replies; degenerate code), FUZZ_SCALE times as many cases.
FUZZ_SCALE ?= 30
FUZZ_TESTS := tests/test_fuzz_readers.py tests/test_notebook_cells.py tests/test_names.py \
	tests/test_judge_bounds.py tests/test_degenerate.py
fuzz: $(STAMP)
	VG_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/python -m pytest $(FUZZ_TESTS) -s

# Both run whatever the first finds, so a planted import is named by its contract too.
lint: $(STAMP)
	@status=0; $(BIN)/ruff check . || status=1; $(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

stubs: $(STAMP)
	$(BIN)/python -m course stubs

record: $(STAMP)
	$(BIN)/python -m grader record

# The studies behind every number the lesson quotes (seed ranges, the learning-rate sweep, frozen
# layers; about 5-10 min on 2 cores): rewrites course/measured.json, the README's numbers and
# the study figures in docs/figures/ (then `python -m course notebook` for the notebook's text).
study: $(STAMP)
	$(BIN)/python -m lesson.studies --on solutions --out course/measured.json
	$(BIN)/python -m course measured --readme
	$(BIN)/python -m lesson.study_plots --data course/measured.json --out docs/figures

bench: $(STAMP) sandbox
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache

release: $(STAMP)
	$(BIN)/python -m course release --out out/release

# The grading seed must be explicit: `make gradescope SEED=N`, or seed = N in ./grader.toml
# (the build refuses otherwise, naming both).
gradescope: $(STAMP)
	$(BIN)/python -m course gradescope --out out/gradescope $(if $(SEED),--seed $(SEED))
