# Two entry points do the whole set-up: `make quickstart` and `make test`.
# Both create .venv when it is missing and install the package with its pinned
# dependencies (and the test extra), then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install quickstart test test-fast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.py pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/python tools/quickstart.py

test: $(STAMP)
	$(BIN)/python -m pytest tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m 'not slow'

clean:
	rm -rf $(VENV) work_dirs
