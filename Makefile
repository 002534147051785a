# Pathcast: `make run` serves the app, `make test` runs every check.
# Both set everything up first: virtualenv, Python and npm packages, Chromium for the
# browser tests, migrations. Nothing needs installing by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
export PATHCAST_DATA_DIR ?= ./data
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: setup run serve test lint format bench chromium services clean migrate demo

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's Chromium for the browser tests"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@# A small Chinese font, so screenshots of zh-CN pages show characters, not boxes.
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null || \
		echo "warning: no Chinese font installed; zh-CN screenshots will show boxes"; }

# Servers the tests start themselves: Dovecot is the real IMAP server of the e-mail
# connector tests (tests/signals/connectors/dovecot.py runs a private one per test process).
services:
	@test -x /usr/sbin/dovecot || { \
		echo "installing Debian's Dovecot IMAP server for the e-mail connector tests"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }

migrate: setup
	$(BIN)/pathcast init

run: setup
	$(BIN)/pathcast serve --demo-on-first-start

serve: run

demo: setup
	$(BIN)/pathcast demo

lint: $(PY_STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

format: $(PY_STAMP)
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

test: setup chromium services lint
	$(BIN)/pytest -n auto

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
