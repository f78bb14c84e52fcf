"""Fuzzed AdmissionReview bodies never get a 5xx nor an answer the API server would reject."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import jsonpatch
import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.webhook.builds import build, destinations, review
from tests.webhook.support import DictView, ThreadedWebhook, threaded_webhook
from webhook.serving import WebhookSettings

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
operations = st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]) | st.text(max_size=8)
known_namespaces = st.sampled_from(["p", "p", "shared", "fresh", "other", ""])


@st.composite
def build_objects(draw: st.DrawFn) -> Any:
    """Builds with parts replaced by arbitrary JSON, or arbitrary JSON outright."""
    obj = build(
        strategy=draw(st.sampled_from(["Docker", "Source", "Custom", "JenkinsPipeline"])),
        annotations=draw(st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8))),
    )
    for path in draw(st.lists(st.sampled_from(PATHS), max_size=3)):
        parent = obj
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent[path[-1]] = draw(json_values)
    return obj if draw(st.integers(0, 9)) else draw(json_values)


PATHS = [
    ("metadata",),
    ("metadata", "annotations"),
    ("spec",),
    ("spec", "strategy"),
    ("spec", "strategy", "type"),
    ("spec", "output"),
    ("spec", "output", "to"),
    ("spec", "output", "to", "kind"),
    ("spec", "output", "to", "name"),
    ("spec", "output", "to", "namespace"),
]


@st.composite
def reviews(draw: st.DrawFn) -> Any:
    """Review-shaped documents whose fields are each right, wrong, missing or arbitrary."""
    namespace = draw(known_namespaces) if draw(st.integers(0, 4)) else draw(st.text(max_size=6))
    body: dict[str, Any] = review(draw(build_objects()), namespace=namespace)
    request = body["request"]
    if draw(st.integers(0, 3)) == 0:
        request["operation"] = draw(operations)
    for key in ("uid", "kind", "resource", "subResource", "dryRun", "namespace", "name"):
        choice = draw(st.integers(0, 24))
        if choice == 0:
            del request[key]
        elif choice == 1:
            request[key] = draw(json_values)
    for key in ("kind", "apiVersion", "request"):
        if draw(st.integers(0, 30)) == 0:
            body[key] = draw(json_values)
    return body


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWebhook]:
    view = DictView(destinations("p", "shared", "fresh"), ready={"p", "shared"})
    view.provisionable = False
    quick = WebhookSettings(provision_timeout=0.05, provision_poll_interval=0.01)
    with threaded_webhook(view, tmp_path_factory.mktemp("certs"), quick) as running:
        yield running


@pytest.fixture(scope="module")
def session(webhook: ThreadedWebhook) -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the webhook's CA
        http.verify = str(webhook.files.ca_cert)
        yield http


def check_answer(http: requests.Session, url: str, data: bytes) -> None:
    """Post ``data`` and check the answer is a 4xx or a review the API server would accept."""
    reply = http.post(url, data=data, timeout=10)
    event(f"HTTP {reply.status_code}")
    assert reply.status_code < 500, reply.text
    if reply.status_code != 200:
        assert reply.status_code == 400
        assert reply.json()["message"]
        return
    sent = json.loads(data)
    answer = reply.json()
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == sent["request"]["uid"]
    assert isinstance(response["allowed"], bool)
    assert ("patch" in response) == ("patchType" in response)
    if not response["allowed"]:
        assert response["status"]["message"]
    event("allowed" if response["allowed"] else "denied")
    if "patch" in response:
        event("patched")
        assert response["patchType"] == "JSONPatch"
        ops = json.loads(base64.b64decode(response["patch"]))
        patched = jsonpatch.apply_patch(copy.deepcopy(sent["request"]["object"]), ops)
        assert patched["spec"]["output"]["to"]["kind"] == "DockerImage"


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestFuzzedBodies:
    @FUZZ
    @given(data=st.binary(max_size=200))
    def test_arbitrary_bytes_get_a_400_with_a_message(
        self, webhook: ThreadedWebhook, session: requests.Session, data: bytes
    ) -> None:
        reply = session.post(webhook.url, data=data, timeout=10)

        assert reply.status_code == 400
        assert reply.json()["message"]

    @FUZZ
    @given(document=json_values)
    def test_arbitrary_json_gets_a_400_or_a_valid_review(
        self, webhook: ThreadedWebhook, session: requests.Session, document: Any
    ) -> None:
        check_answer(session, webhook.url, json.dumps(document).encode())

    @settings(FUZZ, max_examples=400)
    @given(document=reviews())
    def test_review_shaped_bodies_get_a_400_or_a_review_the_api_server_accepts(
        self, webhook: ThreadedWebhook, session: requests.Session, document: Any
    ) -> None:
        check_answer(session, webhook.url, json.dumps(document).encode())
