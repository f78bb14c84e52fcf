"""What an admin sees for each usual mistake on a real API server: log line, Event and condition.

The same mistakes as ``tests/bridge/test_admin_logs.py`` on the simulator (no Secret, a wrong key,
a wrong token, a Quay that is down, an HTTPS Quay whose CA is not given, a port out of range), here
with the operator running as its ServiceAccount (RBAC from deploy/base) against kube-apiserver: the
Events must be accepted by the real server and be what ``kubectl describe`` lists. A URL without a
scheme is refused by the server itself (the CRD's schema), with a message naming the field.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest

from devstack.operator import Operator
from devstack.ports import free_port
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.test_admin_logs import (
    INTERNALS,
    MISTAKES,
    WRONG_TOKEN,
    Mistake,
    find,
    https_quay,
)
from tests.realapi.conftest import Installed, integration_body

__all__ = ["https_quay"]  # a fixture, used by name

PROVISIONED = "qb-provisioned"
#: Where the seed's procedure keeps the token Secret (the mistakes' messages name it).
SECRETS_NAMESPACE = "openshift-operators"
QI_PATH = "/apis/quay.redhat.com/v1/quayintegrations"


def condition(installed: Installed, name: str, kind: str) -> dict[str, object]:
    body = installed.get(f"{QI_PATH}/{name}") or {}
    for found in (body.get("status") or {}).get("conditions") or []:
        if found.get("type") == kind:
            return dict(found)
    return {}


@pytest.fixture
def mistaken(
    integrated: Installed, registry: RegistryServer, https_quay: str
) -> Iterator[Installed]:
    """The Secrets and one integration per mistake, plus a working one for ``qb-provisioned``."""
    secrets = {
        "quay-token": {"token": registry.token},
        "other-key": {"access": registry.token},
        "wrong-token": {"token": WRONG_TOKEN},
    }
    if integrated.namespace(SECRETS_NAMESPACE) is None:
        integrated.create_namespace(SECRETS_NAMESPACE)
    for name, data in secrets.items():
        integrated.create(
            f"/api/v1/namespaces/{SECRETS_NAMESPACE}/secrets",
            {
                "metadata": {"name": name},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            },
        )
    urls = {
        "no-secret": registry.url,
        "wrong-key": registry.url,
        "wrong-token": registry.url,
        "quay-down": f"http://127.0.0.1:{free_port()}",
        "tls-no-ca": https_quay,
        "bad-port": "https://127.0.0.1:99999",
    }
    secret_of = {"no-secret": "missing", "wrong-key": "other-key", "wrong-token": "wrong-token"}
    names = [*urls, "works"]
    for name, url in urls.items():
        body = integration_body(
            name,
            url,
            credentialsSecret={
                "name": secret_of.get(name, "quay-token"),
                "namespace": SECRETS_NAMESPACE,
            },
            allowlistNamespaces=[f"qb-only-{name}"],
        )
        integrated.kube.kubectl("apply", "-f", "-", input=json.dumps(body))
    works = integration_body("works", registry.url, allowlistNamespaces=[PROVISIONED])
    integrated.kube.kubectl("apply", "-f", "-", input=json.dumps(works))
    try:
        yield integrated
    finally:
        for name in names:
            integrated.kube.request("DELETE", f"{QI_PATH}/{name}")
        for name in secrets:
            integrated.kube.request(
                "DELETE", f"/api/v1/namespaces/{SECRETS_NAMESPACE}/secrets/{name}"
            )


@pytest.fixture
def json_operator(mistaken: Installed, operator_kubeconfig: str) -> Iterator[Operator]:
    running = Operator.start(operator_kubeconfig, "--log-format", "json")
    try:
        yield running
    finally:
        running.stop()


def test_a_url_without_scheme_is_refused_by_the_server_naming_the_field(
    integrated: Installed,
) -> None:
    body = integration_body("no-scheme", "quay.example.com")
    result = integrated.kube.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
    assert result.returncode != 0
    assert 'spec.quayHostname: Invalid value: "quay.example.com"' in result.stderr


def test_each_mistake_has_its_log_line_event_and_condition(
    mistaken: Installed, json_operator: Operator, registry: RegistryServer
) -> None:
    mistaken.create_namespace(PROVISIONED)
    try:
        for mistake in MISTAKES:
            check(mistaken, json_operator, mistake)
        # A namespace the working integration provisions: its Event, accepted by the server.
        provisioned = wait_until(
            lambda: [e for e in mistaken.events_about("Namespace", PROVISIONED)
                     if e["reason"] == "QuayProvisioned"],
            timeout=60,
        )  # fmt: skip
        assert f"organization kube_{PROVISIONED}" in provisioned[0]["message"]
        # kubectl describe namespace lists no Events; kubectl events does.
        shown = mistaken.kube.kubectl("events", "-A", "--for", f"namespace/{PROVISIONED}").stdout
        assert re.search(r"Normal\s+QuayProvisioned\s+", shown), shown
    finally:
        mistaken.kube.kubectl("delete", "namespace", PROVISIONED, "--wait=false")
        wait_until(lambda: mistaken.namespace(PROVISIONED) is None, timeout=120)
    text = json_operator.log()
    assert registry.token not in text and WRONG_TOKEN not in text
    assert "could not post event" not in text


def check(installed: Installed, operator: Operator, mistake: Mistake) -> None:
    wait_until(
        lambda: (condition(installed, mistake.name, mistake.condition).get("reason")
                 == mistake.reason),
        timeout=60,
    )  # fmt: skip
    failing = condition(installed, mistake.name, mistake.condition)
    message = str(failing["message"])
    assert failing["status"] == "False"
    for word in mistake.words:
        assert message.count(word) == 1, (word, message)
    assert not [word for word in INTERNALS if word in message], message
    summary = condition(installed, mistake.name, "Ready")
    assert (summary["status"], summary["reason"]) == ("False", mistake.reason)
    [event] = wait_until(
        lambda: installed.events_about("QuayIntegration", mistake.name), timeout=30
    )
    assert (event["type"], event["reason"]) == ("Warning", "IntegrationNotReady")
    assert event["message"] == f"not ready, {mistake.reason}: {message}"
    assert event["metadata"]["namespace"] == "default"
    described = installed.kube.kubectl("describe", "qi", mistake.name).stdout
    assert re.search(
        rf"Warning\s+IntegrationNotReady\s+.*not ready, {mistake.reason}: ", described
    ), described
    wait_until(lambda: find(operator, mistake.level, *mistake.logged), timeout=30)
