# Commands a newcomer needs: `make demo`, `make test` and `make serve`. Each creates the virtualenv on first use.
# `make test-fast` runs only the unit tier (tests/unit: pure functions, no network or database) in seconds.
# `make demo PORT=0` (or any port) when 8080 is taken; `make serve PORT=…` likewise (default 3000).
PYTHON ?= python3
PORT ?=
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast serve sync migrate bench clean

$(BIN)/invitebot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $@

test: $(BIN)/invitebot
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/lint-imports
	$(BIN)/mypy app
	$(BIN)/hadolint Dockerfile
	$(BIN)/mkdocs build --strict --quiet --site-dir .site
	$(BIN)/python -m pytest -n 2

test-fast: $(BIN)/invitebot
	$(BIN)/python -m pytest -q tests/unit

serve: $(BIN)/invitebot
	$(BIN)/invitebot serve $(if $(PORT),--port $(PORT))

demo: $(BIN)/invitebot
	$(BIN)/invitebot demo $(if $(PORT),--port $(PORT))

sync: $(BIN)/invitebot
	$(BIN)/invitebot sync

migrate: $(BIN)/invitebot
	$(BIN)/invitebot migrate

bench: $(BIN)/invitebot
	$(BIN)/python -m bench.ack_latency --postgres

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .import_linter_cache .hypothesis .site
