# sas-portal — set-up and test tooling.
#
#   make venv         .venv with the project and its test extras (re-installs when pyproject.toml changes)
#   make chromium     Debian's Chromium for the browser tests (never `playwright install`)
#   make postgres-bin PostgreSQL server binaries for the throwaway test cluster
#   make test         ruff + import contracts + mypy + pytest on every core (pytest-xdist, -n auto;
#                     PYTEST_WORKERS=0 for one process, PYTEST_ARGS="-k search -x" to pass options)
#   make demo         the portal with demo data on http://127.0.0.1:5000
#   make lint         ruff, the import contracts (lint-imports), mypy
#   make clean

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# apt-get in two targets at once would fight over the dpkg lock.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=
# xdist workers: one per core; each has its own PostgreSQL cluster, live servers and sandboxes.
# --dist loadfile keeps a module's tests on one worker, so module fixtures are built once.
PYTEST_WORKERS ?= auto

APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

.PHONY: venv chromium postgres-bin test demo lint clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order-only on the interpreter: re-install only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]"
	touch $(STAMP)

chromium:
	@if [ -x "$(CHROMIUM)" ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium (browser tests)"; \
		apt-get update && $(APT_INSTALL) chromium; \
	else \
		echo "*** $(CHROMIUM) is missing: the browser tests will fail." >&2; \
		echo "*** Install it as root: apt-get update && apt-get install -y --no-install-recommends chromium" >&2; \
		echo "*** (never 'playwright install': it downloads a browser)" >&2; \
	fi

postgres-bin:
	@found=; \
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then found=1; fi; \
	for d in /usr/lib/postgresql/*/bin; do \
		if [ -x "$$d/initdb" ] && [ -x "$$d/pg_ctl" ]; then found=1; fi; \
	done; \
	if [ -n "$$found" ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing PostgreSQL server binaries (throwaway test cluster)"; \
		apt-get update && $(APT_INSTALL) postgresql; \
	else \
		echo "*** No PostgreSQL server binaries (initdb, pg_ctl): PostgreSQL tests will skip or fail." >&2; \
		echo "*** Install them as root: apt-get update && apt-get install -y postgresql" >&2; \
	fi

test: venv chromium postgres-bin
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

demo: venv
	$(BIN)/sas-portal demo

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .ci/junit.xml test-results *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
