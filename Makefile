# The README's two commands live here: `make demo` and `make test`.
# Both install what they need first, so a fresh Debian machine with Python 3.11 goes from clone to running.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps lint typecheck imports unit bench bundle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use as real parts: PostgreSQL (metadata store contract suite), skopeo (a real
# OCI client) and prometheus (its promtool checks and unit-tests deploy/monitoring's rules). Installed only
# when missing, and only as root; otherwise say what is missing.
system-deps:
	@missing=""; \
	command -v skopeo >/dev/null 2>&1 || missing="$$missing skopeo"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (run 'sudo apt-get install -y$$missing'); their tests will be skipped"; \
	  fi; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

imports: install
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest

test: install system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

demo: install
	$(VENV)/bin/quay-bridge demo

bench: install
	$(PY) bench/registry_api.py
	$(PY) bench/registry_blobs.py

# The OLM bundle is generated from crds/ and deploy/, never edited by hand (tests check it is current).
bundle: install
	$(PY) -m tools.make_bundle

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
