# syntax=docker/dockerfile:1
# The quay-bridge image: the operator (`quay-bridge run`, the default) and the bundled registry core
# (`quay-registry serve`, same image, other command). Two stages: the first builds the project's wheel and
# installs it with its dependencies into a virtual environment; the second copies only that environment
# onto the same pinned base, so no build tool or compiler reaches the final image.

FROM docker.io/library/python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md quaybridge_cli.py ./
COPY bridge/ bridge/
COPY webhook/ webhook/
COPY certs/ certs/
COPY registry/ registry/
COPY sim/ sim/
COPY demo/ demo/
COPY crds/ crds/
COPY commandline/ commandline/

# Every dependency ships manylinux wheels, so the slim base needs no compiler even here.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/quay-bridge \
 && /opt/quay-bridge/bin/pip install --only-binary=:all: /wheels/quay_bridge-*.whl \
 && /opt/quay-bridge/bin/pip uninstall --yes pip \
 && /opt/quay-bridge/bin/quay-bridge --help \
 && /opt/quay-bridge/bin/quay-registry --help


FROM docker.io/library/python:3.11.14-slim-bookworm

LABEL org.opencontainers.image.title="quay-bridge" \
      org.opencontainers.image.description="Lets a Quay registry stand in for OpenShift's integrated registry" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"

ENV PATH=/opt/quay-bridge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

COPY --from=build /opt/quay-bridge /opt/quay-bridge

# 1001 owns nothing in the image; group 0 lets OpenShift's arbitrary UIDs run it too.
USER 1001:0
WORKDIR /tmp

# 9443: admission webhook (HTTPS); 8080: /metrics, /healthz, /readyz (the registry core's default port too).
EXPOSE 9443 8080

ENTRYPOINT ["quay-bridge"]
CMD ["run"]
