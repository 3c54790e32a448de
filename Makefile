# Two commands do everything on a fresh machine with Python 3.11 and Java 17:
#   make demo   install what is missing, generate a demo center, run the pipeline through Airflow
#   make test   install what is missing, run the tests
# Everything generated lives in git-ignored folders: .tools/ .venv/ var/

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
STAMP  := $(VENV)/.installed-from-lock
BIN    := $(VENV)/bin

.PHONY: setup demo test test-fast test-cluster lint format lock bench bench-cluster clean-data help compose-check

help:
	@echo "make demo | make test | make test-fast | make test-cluster | make lint | make compose-check"
	@echo "make bench | make bench-cluster | make lock | make clean-data"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.9

# The virtual environment is rebuilt only when the lock or the project changes.
$(STAMP): requirements.lock pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync --quiet requirements.lock
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/teamlens demo

# pytest exits 5 when it collects no test: that is not a failure of the suite.
test: setup
	$(BIN)/pytest -q -p no:cacheprovider --durations=12; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

# The production topology natively (no Docker): PostgreSQL, a Spark standalone master and two
# workers, Airflow's scheduler on PostgreSQL; one DAG run compared with local mode (teamlens.cluster_check).
# Needs PostgreSQL's initdb and postgres on PATH or in /usr/lib/postgresql/<version>/bin; at most 40 minutes.
test-cluster: setup
	$(BIN)/python -m teamlens.cluster_check

test-fast: setup
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy foundation teamlens jobs expectations privacy warehouse dags

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# docker-compose.yml against the compose specification's schema, and the deployment's invariants
# (tests/test_compose.py, also part of `make test`). Needs no Docker.
compose-check: setup
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/pytest -q -p no:cacheprovider tests/test_compose.py

# Re-lock after changing dependencies in pyproject.toml (no download addresses in the lock).
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --excludes excludes.txt \
		--quiet -o requirements.lock

# Benchmarks print numbers (the last line is one JSON object); they never fail on speed.
bench: setup
	$(BIN)/python -m teamlens.bench

# The metrics job on a native Spark standalone cluster with 1 and 2 workers (about 10M events);
# options through BENCH_CLUSTER_ARGS, e.g. BENCH_CLUSTER_ARGS="--workers 1,2,4 --cores 4 --memory 8g".
BENCH_CLUSTER_ARGS ?=
bench-cluster: setup
	$(BIN)/python -m teamlens.bench_cluster $(BENCH_CLUSTER_ARGS)

clean-data:
	rm -rf var/data var/airflow
