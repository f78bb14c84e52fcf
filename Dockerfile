# syntax=docker/dockerfile:1
# The quay-bridge image: the operator (`quay-bridge run`, the default) and the bundled registry core
# (`quay-registry serve`, same image, other command). Two stages: the first installs the project and
# its dependencies into a virtual environment; the second copies only that environment onto the same
# base, so no build tool or compiler reaches the final image.
#
# BASE is any Debian-family image with `python3.11` and its `venv` module: by default the pinned
# public Python image; `make image` passes a Debian bookworm base it makes with mmdebstrap where no
# public registry can be reached (docs/install.md, "Building the image").
ARG BASE=docker.io/library/python:3.11.14-slim-bookworm

FROM ${BASE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a source change reuses this layer. Every
# dependency ships manylinux wheels, so no compiler is needed even here. Behind a TLS-inspecting
# proxy, pass its CA bundle as the build secret `pip-ca` (`make image` passes the one pip uses on
# the host); it is mounted for pip only and never stored in a layer.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && python3.11 -m venv /opt/quay-bridge \
 && python3.11 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
 && /opt/quay-bridge/bin/pip install --only-binary=:all: -r requirements.txt

COPY README.md quaybridge_cli.py ./
COPY bridge/ bridge/
COPY webhook/ webhook/
COPY certs/ certs/
COPY registry/ registry/
COPY sim/ sim/
COPY demo/ demo/
COPY devstack/ devstack/
COPY crds/ crds/
COPY commandline/ commandline/
COPY vocabulary/ vocabulary/

# pip and setuptools are build tools: out of the environment once the project is in. The kubernetes
# client's bytecode (about 50 MB) is dropped too: the operator and the registry core never import
# that client; only the `certs` command that injects a caBundle and `quay-bridge demo` do.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && /opt/quay-bridge/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/quay-bridge/bin/pip install --no-deps /wheels/quay_bridge-*.whl \
 && /opt/quay-bridge/bin/pip uninstall --yes setuptools pip \
 && find /opt/quay-bridge/lib/python3.11/site-packages/kubernetes -name __pycache__ -prune -exec rm -rf {} + \
 && /opt/quay-bridge/bin/quay-bridge --help \
 && /opt/quay-bridge/bin/quay-registry --help


FROM ${BASE}

ARG BASE
LABEL org.opencontainers.image.title="quay-bridge" \
      org.opencontainers.image.description="Lets a Quay registry stand in for OpenShift's integrated registry" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="${BASE}"

# OpenShift runs the image under an arbitrary UID that has no passwd entry: HOME and USER say what
# the passwd file cannot (getpass.getuser(), used for kopf's peering identity when POD_ID is unset,
# would fail without USER).
ENV PATH=/opt/quay-bridge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    USER=quay-bridge

COPY --from=build /opt/quay-bridge /opt/quay-bridge

# 1001 owns nothing in the image; group 0 lets OpenShift's arbitrary UIDs run it too.
USER 1001:0
WORKDIR /tmp

# 9443: admission webhook (HTTPS); 8080: /metrics, /healthz, /readyz (the registry core's default port too).
EXPOSE 9443 8080

ENTRYPOINT ["quay-bridge"]
CMD ["run"]
