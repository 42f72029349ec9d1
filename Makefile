# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINT_PATHS := epmgr tests migrations benchmarks scripts

.PHONY: venv demo test lint typecheck unit bench soak clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest

test: lint typecheck unit

# Every benchmark (benchmarks/registry.py): JSON results in benchmarks/results, tables in docs/benchmarks.md.
# PostgreSQL figures too with EPMGR_BENCH_PG_URL=postgresql://... (a database the run may wipe); --quick: smoke run.
bench: venv
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The long reliability runs (about 5 minutes on 2 cores, loopback only); figures in docs/reliability.md.
soak: venv
	$(BIN)/python -m benchmarks.soak

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .demo
