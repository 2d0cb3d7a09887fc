# The two commands of the README: `make run` and `make test`. Everything else is installed by them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test fuzz bench install lint clean reset-demo screenshots

# the venv with the project and its dev tools; Debian's chromium for tests/integration/test_docs_offline.py
# (Playwright drives it: no `playwright install`, no browser download)
$(STAMP): pyproject.toml
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/supplytrace serve

# the suite on TEST_WORKERS processes (pytest-xdist); each has its own scratch database and test broker
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# the schemathesis run of tests/fuzz with the long budget of tests/fuzz/budget.py (minutes, not seconds)
fuzz: $(STAMP)
	SUPPLYTRACE_FUZZ=long $(BIN)/python -m pytest -q tests/fuzz

# every benchmark of issue 10 with its full sizes, one table (also in bench/last-run.md and .json), then
# GET /kpi as history grows (10k, 1M rows) and every KPI of issue 14 at 100k NCs, indexed or not;
# BENCH_ARGS for flags, e.g. make bench BENCH_ARGS="--only polling,http --sustain-seconds 120"
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/kpi_growth.py
	$(BIN)/python bench/kpi_growth.py --ncs 100000 --vacuum

# PNGs of the web console's main pages in docs/screenshots/ (README "Web console"): a scratch database,
# a live server and Debian's chromium, offline. Not part of `make test`.
screenshots: $(STAMP)
	$(BIN)/python docs/screenshots/take.py

# a fresh demo database (the next `make run` re-creates and migrates it); keeps .venv. Stop `make run` first.
DEMO_DB := supplytrace.db supplytrace.db-wal supplytrace.db-shm
reset-demo:
	rm -f $(DEMO_DB)

# everything the two commands made, the virtual environment too
clean:
	rm -rf $(VENV) $(DEMO_DB)
