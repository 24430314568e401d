# AAITI: `make run` serves the app, `make test` runs every test. Python 3.11+ and make only.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
CONSTRAINTS := -c requirements/constraints.txt

.PHONY: run test lint scan format check-python clean

run: $(VENV)/.run-deps
	$(BIN)/python scripts/run.py

test: $(VENV)/.test-deps
	$(BIN)/python scripts/test.py $(ARGS)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

scan: $(VENV)/.test-deps
	$(BIN)/python scripts/scan.py $(ARGS)

format: $(VENV)/.test-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "AAITI needs Python 3.11 or newer (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: requirements/base.txt requirements/ml.txt requirements/constraints.txt | $(BIN)/python
	$(PIP) -r requirements/ml.txt $(CONSTRAINTS)
	@touch $@

$(VENV)/.test-deps: requirements/base.txt requirements/ml.txt requirements/dev.txt requirements/constraints.txt | $(BIN)/python
	$(PIP) -r requirements/dev.txt $(CONSTRAINTS)
	@touch $(VENV)/.run-deps $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
