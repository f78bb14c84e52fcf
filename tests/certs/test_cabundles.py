"""caBundle injection into MutatingWebhookConfiguration documents and live-object patches."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from certs.cabundles import (
    InjectionError,
    ca_bundle_patch,
    ca_bundle_value,
    inject_into_documents,
    inject_into_yaml,
)
from certs.issuing import make_ca

CA = make_ca().cert_pem
DEPLOYED = Path(__file__).parents[2] / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"


def configuration(*names: str, name: str = "quay-bridge-webhook") -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {"name": hook, "clientConfig": {"service": {"name": "s", "namespace": "n"}}}
            for hook in names
        ],
    }


class TestDocuments:
    def test_every_webhook_of_every_configuration_gets_the_bundle(self) -> None:
        documents: list[Any] = [
            {"kind": "Service", "metadata": {"name": "s"}},
            configuration("a", "b"),
            configuration("c", name="other"),
        ]

        count = inject_into_documents(documents, CA)

        assert count == 3
        bundles = [
            hook["clientConfig"]["caBundle"] for doc in documents[1:] for hook in doc["webhooks"]
        ]
        assert {base64.b64decode(bundle) for bundle in bundles} == {CA}
        assert "caBundle" not in str(documents[0])

    @pytest.mark.parametrize(
        ("name", "webhook", "updated"),
        [(None, "b", ["b"]), ("quay-bridge-webhook", None, ["a", "b"]), ("other", None, [])],
    )
    def test_the_choice_can_be_narrowed_to_one_configuration_or_one_webhook(
        self, name: str | None, webhook: str | None, updated: list[str]
    ) -> None:
        documents: list[Any] = [configuration("a", "b")]

        if not updated:
            with pytest.raises(InjectionError, match="no webhooks in MutatingWebhookConfiguration"):
                inject_into_documents(documents, CA, name=name, webhook=webhook)
            return
        inject_into_documents(documents, CA, name=name, webhook=webhook)

        got = [
            hook["name"] for hook in documents[0]["webhooks"] if "caBundle" in hook["clientConfig"]
        ]
        assert got == updated

    @pytest.mark.parametrize(
        ("documents", "message"),
        [
            ([], "no webhooks in any"),
            ([{"kind": "MutatingWebhookConfiguration", "webhooks": "x"}], "must be a list"),
            (
                [{"kind": "MutatingWebhookConfiguration", "webhooks": [{"clientConfig": 1}]}],
                "malformed",
            ),
        ],
    )
    def test_nothing_to_inject_into_is_a_clear_error(
        self, documents: list[Any], message: str
    ) -> None:
        with pytest.raises(InjectionError, match=message):
            inject_into_documents(documents, CA)

    def test_a_file_that_is_not_a_certificate_is_refused(self) -> None:
        with pytest.raises(InjectionError, match="no PEM certificate"):
            ca_bundle_value(b"not a cert")

    def test_the_deployed_manifest_takes_the_bundle_and_keeps_its_settings(self) -> None:
        text = inject_into_yaml(DEPLOYED.read_text(), CA)

        (document,) = list(yaml.safe_load_all(text))
        builds, namespaces = document["webhooks"]
        for hook in (builds, namespaces):
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == CA
            assert hook["rules"][0]["operations"] == ["CREATE"]
            assert hook["sideEffects"] == "None"
        assert builds["clientConfig"]["service"]["path"] == "/admissionwebhook"
        assert builds["namespaceSelector"] == {
            "matchLabels": {"quay-bridge.quay.redhat.com/managed": "true"}
        }
        assert (builds["failurePolicy"], builds["timeoutSeconds"]) == ("Fail", 10)
        assert namespaces["clientConfig"]["service"]["path"] == "/admissionwebhook/namespaces"
        assert namespaces["rules"][0]["resources"] == ["namespaces"]
        assert (namespaces["failurePolicy"], namespaces["timeoutSeconds"]) == ("Ignore", 5)

    def test_text_that_is_not_yaml_is_refused(self) -> None:
        with pytest.raises(InjectionError, match="not YAML"):
            inject_into_yaml("a: [", CA)


class TestLivePatch:
    def test_the_patch_sets_every_bundle_guarded_by_the_webhook_names(self) -> None:
        live = configuration("a", "b")
        live["webhooks"][1]["clientConfig"]["caBundle"] = "b2xk"

        ops = ca_bundle_patch(live, CA)
        result = jsonpatch.apply_patch(copy.deepcopy(live), ops)

        assert [op["op"] for op in ops] == ["test", "add", "test", "add"]
        assert all(
            base64.b64decode(hook["clientConfig"]["caBundle"]) == CA for hook in result["webhooks"]
        )

    def test_a_reordered_configuration_fails_the_patch_instead_of_hitting_another_webhook(
        self,
    ) -> None:
        ops = ca_bundle_patch(configuration("a", "b"), CA, webhook="b")
        reordered = configuration("b", "a")

        with pytest.raises(jsonpatch.JsonPatchTestFailed):
            jsonpatch.apply_patch(reordered, ops)

    def test_a_webhook_without_client_config_gets_one(self) -> None:
        live = configuration("a")
        del live["webhooks"][0]["clientConfig"]

        result = jsonpatch.apply_patch(live, ca_bundle_patch(live, CA))

        assert base64.b64decode(result["webhooks"][0]["clientConfig"]["caBundle"]) == CA

    def test_an_unknown_webhook_is_a_clear_error(self) -> None:
        with pytest.raises(InjectionError, match="no webhook 'zz'"):
            ca_bundle_patch(configuration("a"), CA, webhook="zz")
