# Commands a newcomer needs: `make demo`, `make test` and `make serve`. Each creates the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test serve sync migrate bench clean

$(BIN)/invitebot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $@

test: $(BIN)/invitebot
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m pytest -n 2

serve: $(BIN)/invitebot
	$(BIN)/invitebot serve

demo: $(BIN)/invitebot
	$(BIN)/invitebot demo

sync: $(BIN)/invitebot
	$(BIN)/invitebot sync

migrate: $(BIN)/invitebot
	$(BIN)/invitebot migrate

bench: $(BIN)/invitebot
	$(BIN)/python -m bench.ack_latency

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
