# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck tools schemas bench clean

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

# promtool (Debian's prometheus package) unit-tests the alert rules
tools:
	@command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus package (promtool)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

test: lint typecheck tools
	$(BIN)/pytest -q

schemas: $(STAMP)
	$(BIN)/python -m schemas.export

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/alpha_update.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
