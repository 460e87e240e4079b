# Every target sets itself up on a fresh machine: the virtual environment is built from the
# pinned lock file the first time any target needs it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/default
PEOPLE ?= 200000
SEED ?= 20261124

.PHONY: setup demo test test-all bench validate lint clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jdl demo --data $(DATA) --people $(PEOPLE) --seed $(SEED)

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadgroup

test-all: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.validate

validate: $(STAMP)
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.validate_pipeline --populations 3

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
