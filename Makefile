# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test test-postgres lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: set up and serve the delivery API on SQLite (./zapcat.db) with the demo bank
## published, a demo assessment and a printed admin and delivery key (Ctrl+C stops it).
## Port: PORT=8080 make run (or $$ZAPCAT_PORT); by default 8000, or a free one when taken.
run: $(STAMP)
	$(BIN)/zapcat serve --demo --host 127.0.0.1 $(if $(PORT),--port $(PORT))

## test-postgres: the API tests on the local PostgreSQL server (.ci/postgres finds or starts one)
test-postgres: $(STAMP)
	ZAPCAT_TEST_POSTGRES_URL="$$(bash .ci/postgres)" $(BIN)/python -m pytest tests/api -ra

## test: set up, lint and run every test
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
