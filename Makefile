# preread: every target installs what it needs into .venv by itself.
# `make run` and `make serve` install only what running needs (`pip install -e .`);
# `make test`, `make lint`, `make bench` and `make install` add the test tools (`.[test]`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
SAMPLE := examples/sample.pdf

.PHONY: run test lint bench serve clean install

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { echo "make: '$(PYTHON) -m venv' failed: install Python's venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/preread preprocess $(SAMPLE)

test: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy
	sh tests/browser/install_chromium.sh
	sh tests/queue/install_postgresql.sh
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src
	$(BIN)/mypy

bench: $(STAMP)
	bash bench/run.sh

serve: $(RUN_STAMP)
	$(BIN)/preread serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info src/*.egg-info
