"""AdmissionReview parsing and the replies the API server accepts."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.webhook.builds import build, review
from webhook.reviews import MalformedReview, allow, deny, parse_review


class TestParsing:
    def test_a_review_from_the_api_server_is_parsed_with_its_wire_names(self) -> None:
        body = review(build(), uid="abc", dry_run=True)

        parsed = parse_review(json.dumps(body).encode())

        assert parsed.request.uid == "abc"
        assert parsed.request.operation == "CREATE"
        assert parsed.request.resource.resource == "builds"
        assert parsed.request.dry_run is True
        assert parsed.request.object is not None

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"not json", "not JSON"),
            (b"\xff\xfe", "not JSON"),
            (b"[" * 100_000, "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b'{"kind": "Pod", "apiVersion": "v1"}', "expected kind AdmissionReview"),
            (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1"}', "expected"),
            (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', "no request"),
            (
                b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}',
                "no uid",
            ),
            (
                b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1",'
                b' "request": {"uid": "u", "operation": "PATCH"}}',
                "request.operation",
            ),
            (
                b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1",'
                b' "request": {"uid": "u", "operation": "CREATE", "object": [1]}}',
                "request.object",
            ),
        ],
    )
    def test_a_malformed_body_is_refused_with_a_message_saying_why(
        self, body: bytes, message: str
    ) -> None:
        with pytest.raises(MalformedReview, match=message):
            parse_review(body)

    def test_the_refusal_never_echoes_the_submitted_values(self) -> None:
        secret = "hunter2-token-value"
        body: dict[str, Any] = review(build())
        body["request"]["operation"] = secret

        with pytest.raises(MalformedReview) as caught:
            parse_review(json.dumps(body).encode())

        assert secret not in str(caught.value)


class TestReplies:
    def test_an_allow_without_patch_has_no_patch_type(self) -> None:
        reply = json.loads(allow("u1"))

        assert reply == {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": "u1", "allowed": True},
        }

    def test_an_allow_with_a_patch_carries_it_base64_encoded_as_json_patch(self) -> None:
        ops = [{"op": "remove", "path": "/spec/output/to/namespace"}]

        response = json.loads(allow("u2", ops, warnings=["w"]))["response"]

        assert response["patchType"] == "JSONPatch"
        assert json.loads(base64.b64decode(response["patch"])) == ops
        assert response["warnings"] == ["w"]

    def test_a_denial_carries_message_reason_and_code(self) -> None:
        response = json.loads(deny("u3", "not ready", code=503, reason="ServiceUnavailable"))[
            "response"
        ]

        assert response == {
            "uid": "u3",
            "allowed": False,
            "status": {"message": "not ready", "reason": "ServiceUnavailable", "code": 503},
        }
