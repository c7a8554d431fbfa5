# Two commands for a newcomer (see README):
#   make run   — set up, load the demo into SQLite, serve http://127.0.0.1:8000 (PORT=… for another)
#   make test  — set up, then ruff, mypy and the whole test suite (what CI runs)
# Everything installs from the project's own files: uv is pinned here, packages in uv.lock,
# Debian packages listed below (installed when run as root, as on CI).

UV_VERSION := 0.13.8
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Chromium for the browser tests, a CJK TrueType font for PDFs and charts, poppler to read
# PDFs back in tests,
# the PostgreSQL client tools for the dump/restore round-trip.
SYSTEM_PACKAGES := chromium fonts-wqy-zenhei poppler-utils postgresql-client
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup system-deps run test lint typecheck pytest bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --locked --python $(PYTHON) --quiet

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please install these Debian packages (as root):$$missing"; exit 1; fi; \
	fi

PORT ?= 8000

run: setup
	$(VENV)/bin/huiqi check
	$(VENV)/bin/huiqi demo --reset
	$(VENV)/bin/huiqi serve --port $(PORT)

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: setup
	$(VENV)/bin/mypy

# One test process per core (pytest-xdist); TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto

pytest: setup system-deps
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS)

test: lint typecheck pytest

# Every benchmark, at sizes that end in a few minutes on 2 cores (PostgreSQL needed for the
# last two); each prints its goals as met, NOT met or not checked and exits non-zero on a
# missed one. All run; the target fails at the end if any failed.
bench: setup
	@failed=""; \
	$(VENV)/bin/python bench/single_case.py --runs 1000 || failed="$$failed single_case"; \
	$(VENV)/bin/python bench/simulate.py --sizes 100000,1000000 --runs 3 --single-cap 20000 \
	  || failed="$$failed simulate"; \
	$(VENV)/bin/python bench/concurrency.py --threads 8 --rounds 5 || failed="$$failed concurrency"; \
	$(VENV)/bin/python bench/load.py --duration 5 --applicants 50 || failed="$$failed load"; \
	if [ -n "$$failed" ]; then echo "benchmarks that missed a goal:$$failed"; exit 1; fi

clean:
	rm -rf $(TOOLS) $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
