# Dermline: the two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := client_web
WEB_STAMP := $(WEB)/node_modules/.installed
DATA_DIR ?= ./var
HOST ?= 127.0.0.1
PORT ?= 8443

.PHONY: run test lint typecheck pytest web web-test e2e bench vectors clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The web client is built when it exists; the server serves client_web/dist.
$(WEB_STAMP): $(wildcard $(WEB)/package-lock.json)
	if [ -f $(WEB)/package.json ]; then cd $(WEB) && npm ci --no-audit --no-fund && touch node_modules/.installed; fi

web: $(WEB_STAMP)
	if [ -f $(WEB)/package.json ]; then cd $(WEB) && npm run build; fi

# Vitest twice: Node's WebCrypto, then Debian's headless Chromium (what users run).
web-test: web
	if [ -f $(WEB)/package.json ]; then cd $(WEB) && npm test && npm run test:browser; fi

# Browser end to end against a live server (Playwright driving /usr/bin/chromium), then axe-core
# on every page state; screenshots land in client_web/test-results/.
e2e: $(STAMP) web
	if [ -f $(WEB)/package.json ]; then cd $(WEB) && npm run check:a11y && npm run e2e; fi

run: $(STAMP) web
	$(BIN)/dermline serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) web
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider
	$(BIN)/coverage report --fail-under=100

test: lint typecheck web-test pytest e2e

bench: $(STAMP)
	for m in bench/bench_*.py; do m=$${m%.py}; echo "== $${m#bench/}"; $(BIN)/python -m bench.$${m#bench/} || exit 1; done

vectors: $(STAMP)
	$(BIN)/python -m tools.gen_vectors

clean:
	rm -rf $(VENV) $(WEB)/node_modules $(WEB)/dist .coverage .mypy_cache .ruff_cache
