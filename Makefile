# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck schemas bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/alphawatch demo

lint: $(STAMP)
	$(BIN)/ruff check stream schemas tests bench

typecheck: $(STAMP)
	$(BIN)/mypy stream schemas

test: lint typecheck
	$(BIN)/pytest -q

schemas: $(STAMP)
	$(BIN)/python -m schemas.export

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/alpha_update.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
