# The README's two commands live here: `make demo` and `make test`.
# Both install what they need first, so a fresh Debian machine with Python 3.11 goes from clone to running.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps kube-binaries lint typecheck imports unit bench bundle bundle-validate image clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m tools.k8s_protoset
	$(PY) -m tools.newest_kubectl
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use as real parts: PostgreSQL (metadata store contract suite), skopeo (a real
# OCI client), Chromium with its WebDriver (the web UI tests drive the system browser headless; no browser is
# ever downloaded), buildah (builds and runs the image), mmdebstrap (makes the image's Debian base where no
# public base image can be pulled) and etcd (the store of tests/realapi's real API server). Installed only
# when missing, and only as root; otherwise say what is missing. Go (1.25 or later, for the OLM bundle validators) is not Debian bookworm's: say so if absent.
system-deps:
	@missing=""; \
	command -v skopeo >/dev/null 2>&1 || missing="$$missing skopeo"; \
	command -v buildah >/dev/null 2>&1 || missing="$$missing buildah"; \
	command -v mmdebstrap >/dev/null 2>&1 || missing="$$missing mmdebstrap"; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (run 'sudo apt-get install -y$$missing'); their tests will be skipped"; \
	  fi; \
	fi; \
	command -v go >/dev/null 2>&1 || echo "go is not installed: the OLM bundle validation tests will be skipped"

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

demo: install
	$(VENV)/bin/quay-bridge demo

bench: install
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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
