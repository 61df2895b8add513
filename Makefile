# RunAm API. `make run` serves the API with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
# make mutants MUTANTS='core.cache.keys.*' mutates only what the glob names; MUTANTS_JOBS test processes at once
# (twice the cores: a mutant's session waits for its redis-server to start and stop, and two left the CPU 60% idle).
MUTANTS ?=
MUTANTS_JOBS ?= $(shell echo $$(( $$(nproc) * 2 )))

.PHONY: run test lint format bench mutants install install-dev migrate seed clean graphiql-assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	$(BIN)/python manage.py runserver $(HOST)

# The browser tests drive Debian's Chromium (Playwright never downloads one): installed here when missing, as root.
test: install-dev
	@test -x /usr/bin/chromium || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Loopback load needs wrk and redis-server (Debian packages; installed here when missing, as root).
bench: install-dev
	@command -v wrk >/dev/null && command -v redis-server >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq wrk redis-server; }
	$(BIN)/python -m bench

# GraphiQL's browser assets are vendored in core/static/graphiql/ (see its README.md) so the page works offline.
# This fetches them again from the npm registry at the pinned versions; bump a version here, in that README and in
# templates/graphiql/index.html together. Each entry: package@version:file,file (LICENSE is always kept).
GRAPHIQL_STATIC := core/static/graphiql
GRAPHIQL_FILES := graphiql@3.9.0:graphiql.min.js,graphiql.min.css \
	react@18.3.1:umd/react.production.min.js \
	react-dom@18.3.1:umd/react-dom.production.min.js

graphiql-assets:
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for entry in $(GRAPHIQL_FILES); do \
		package=$${entry%%:*}; dest=$(GRAPHIQL_STATIC)/$$package; \
		tarball=$$(cd "$$tmp" && npm pack --silent "$$package"); \
		tar -xzf "$$tmp/$$tarball" -C "$$tmp"; \
		rm -rf "$$dest"; mkdir -p "$$dest"; \
		for file in $$(echo "$${entry#*:}" | tr , ' ') LICENSE; do cp "$$tmp/package/$$file" "$$dest/"; done; \
		rm -rf "$$tmp/package" "$$tmp/$$tarball"; \
		echo "$$dest: $$(ls "$$dest" | tr '\n' ' ')"; \
	done

# Mutation testing of core/cache/ against tests/core/cache and tests/core/graphql_cache (config: pyproject.toml,
# [tool.mutmut]; docs/mutation-testing.md). Not part of `make test`. Results are kept in mutants/ between runs.
mutants: install-dev
	$(BIN)/mutmut run --max-children $(MUTANTS_JOBS) $(MUTANTS)
	@$(BIN)/mutmut export-cicd-stats >/dev/null
	@$(BIN)/python tools/mutation_score.py
	@echo "== mutants not caught (mutmut show <name> prints the edit)"
	@$(BIN)/mutmut results | grep -v ": not checked" || echo "    none"

clean:
	rm -rf $(VENV) db.sqlite3 artifacts mutants
