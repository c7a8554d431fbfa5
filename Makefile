# Two commands for a newcomer (see README):
#   make run   — set up, evaluate the bundled examples, load the demo year into SQLite
#   make test  — set up, then ruff, mypy and the whole test suite
# Everything installs from the project's own files: uv is pinned here, packages in uv.lock.

UV_VERSION := 0.13.8
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run test lint typecheck pytest bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --locked --python $(PYTHON) --quiet

run: setup
	$(VENV)/bin/huiqi check
	$(VENV)/bin/huiqi evaluate examples/exporter.yaml
	$(VENV)/bin/huiqi evaluate examples/park.yaml --lang en
	$(VENV)/bin/huiqi explain examples/exporter.yaml 6.2
	$(VENV)/bin/huiqi demo --reset
	$(VENV)/bin/huiqi applications --as rui
	$(VENV)/bin/huiqi plan show 2 --as fang
	$(VENV)/bin/huiqi audit verify

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/python -m pytest -q

test: lint typecheck pytest

bench: setup
	$(VENV)/bin/python bench/single_case.py

clean:
	rm -rf $(TOOLS) $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
