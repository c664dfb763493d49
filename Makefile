# The two commands of README.md: `make demo` and `make test`.
# Both create the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
LINT_PATHS := src tests $(wildcard bench)

.PHONY: demo test lint typecheck unit install clean long chaos

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/ledgerbridge demo

lint: $(VENV)/.installed
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit -q

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The state machines and property tests with random seeds and 10x the examples (on demand;
# CI runs them derandomized). A failure prints the seed and the blob to reproduce it.
long: $(VENV)/.installed
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/unit/sync tests/integration/test_sync_machine.py tests/integration/test_invoice_machine.py

# The chaos suite at the large size (CI runs the small one inside `make test`). The seed is
# printed (a random one unless CHAOS_SEED=N replays a run); CHAOS_SIZE=N changes the size.
CHAOS_SIZE ?= 1600
CHAOS_SEED ?= random
chaos: $(VENV)/.installed
	CHAOS_SIZE=$(CHAOS_SIZE) CHAOS_SEED=$(CHAOS_SEED) $(BIN)/pytest -q -s -p no:randomly tests/chaos
