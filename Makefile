# preread: every target installs what it needs into .venv by itself.
# `make run` and `make serve` install only what running needs (`pip install -e .`);
# `make test`, `make lint`, `make bench` and `make install` add the test tools (`.[test]`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
SAMPLE := examples/sample.pdf
# the EPUB walk compiled by mypyc (optional: build_compiled.py falls back to the .py files)
READERS := src/preread/readers
COMPILED := $(READERS)/_compiled.sha256
COMPILED_SRC := $(addprefix $(READERS)/,tree.py notes.py walk.py archive.py epub.py compiled.py)

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

# rebuilt whenever a source is newer; a failed build leaves no digest, so it is retried
$(COMPILED): $(COMPILED_SRC) build_compiled.py $(STAMP)
	$(BIN)/python build_compiled.py

install: $(STAMP) $(COMPILED)

run: $(RUN_STAMP)
	$(BIN)/preread preprocess $(SAMPLE)

test: $(STAMP) $(COMPILED)
	$(BIN)/ruff check src tests bench examples build_compiled.py
	$(BIN)/mypy
	sh tests/browser/install_chromium.sh
	sh tests/queue/install_postgresql.sh
	PREREAD_EXPECT_COMPILED=1 $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples build_compiled.py
	$(BIN)/ruff format --check src
	$(BIN)/mypy

bench: $(STAMP) $(COMPILED)
	bash bench/run.sh

serve: $(RUN_STAMP)
	$(BIN)/preread serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info src/*.egg-info \
		$(COMPILED) $(READERS)/*.so
