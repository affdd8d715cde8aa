# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck tools schemas dashboards docs bench clean

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

# promtool (Debian's prometheus package) unit-tests the alert rules; the prometheus server runs the
# dashboards' queries in tests/integration/test_prometheus_dashboards.py; chromium (Debian's, driven by
# Playwright) loads the live page in tests/integration/test_live_page.py
tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  echo "installing Debian's prometheus package (prometheus, promtool)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium (the live page's browser test drives it headless)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

test: lint typecheck tools
	$(BIN)/pytest -q --durations=15

schemas: $(STAMP)
	$(BIN)/python -m schemas.export

# Grafana dashboards from stream/ops/dashboards.py (grafana-foundation-sdk) into grafana/dashboards/
dashboards: $(STAMP)
	$(BIN)/python -m stream.ops.dashboards

# docs/settings.md from the settings classes in stream/settings.py (field docstrings are the text)
docs: $(STAMP)
	$(BIN)/python -m stream.ops.settings_doc --out docs/settings.md

bench: $(STAMP)
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/alpha_update.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
