"""The pure Build mutation: which Builds are rewritten, and what the patched Build looks like."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.webhook.builds import QUAY, build, destinations, review
from vocabulary import DESTINATION_ANNOTATION, MANAGED_ANNOTATION, RECORD_ANNOTATION
from webhook.decisions import verify
from webhook.mutation import (
    Rewrite,
    Unchanged,
    decide,
    escape_pointer_token,
)
from webhook.reviews import AdmissionReviewRequest

MANAGED = destinations("p", "shared")


def decide_for(body: dict[str, Any], managed: dict[str, Any] = MANAGED) -> Rewrite | Unchanged:
    request = AdmissionReviewRequest.model_validate(body).request
    return decide(request, managed.get)


def patched(obj: dict[str, Any], decision: Rewrite | Unchanged) -> dict[str, Any]:
    """Apply the patch as the API server does: strictly, to a copy of the submitted object."""
    result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(obj), decision.patch)
    return result


class TestBuildsThatAreRewritten:
    @pytest.mark.parametrize("strategy", ["Docker", "Source", "Custom"])
    @pytest.mark.parametrize(
        "annotations",
        [None, {}, {"openshift.io/build-config.name": "httpd-example"}],
        ids=["no-annotations", "empty-annotations", "some-annotations"],
    )
    @pytest.mark.parametrize(
        ("output_namespace", "org", "destination"),
        [
            (None, "openshift_p", "p"),
            ("p", "openshift_p", "p"),
            ("shared", "openshift_shared", "shared"),
        ],
        ids=["no-output-namespace", "same-namespace", "cross-namespace"],
    )
    def test_an_imagestreamtag_output_becomes_a_quay_dockerimage_with_annotations(
        self,
        strategy: str,
        annotations: dict[str, str] | None,
        output_namespace: str | None,
        org: str,
        destination: str,
    ) -> None:
        to: dict[str, Any] = {"kind": "ImageStreamTag", "name": "httpd-example:latest"}
        if output_namespace is not None:
            to["namespace"] = output_namespace
        obj = build(strategy=strategy, annotations=annotations, output={"to": to})

        decision = decide_for(review(obj))

        assert isinstance(decision, Rewrite)
        result = patched(obj, decision)
        expected_image = f"{QUAY}/{org}/httpd-example:latest"
        assert result["spec"]["output"]["to"] == {"kind": "DockerImage", "name": expected_image}
        assert result["metadata"]["annotations"] == {
            **(annotations or {}),
            MANAGED_ANNOTATION: "true",
            DESTINATION_ANNOTATION: f"{destination}/httpd-example:latest",
        }
        assert decision.image == expected_image
        assert (decision.namespace, decision.destination_namespace) == ("p", destination)

    def test_a_missing_annotations_map_is_created_by_one_add_of_the_whole_map(self) -> None:
        decision = decide_for(review(build(annotations=None)))

        assert isinstance(decision, Rewrite)
        adds = [op for op in decision.patch if op["op"] == "add"]
        assert adds == [
            {
                "op": "add",
                "path": "/metadata/annotations",
                "value": {
                    MANAGED_ANNOTATION: "true",
                    DESTINATION_ANNOTATION: "p/httpd-example:latest",
                },
            }
        ]

    def test_annotation_keys_are_escaped_as_json_pointer_tokens(self) -> None:
        decision = decide_for(review(build(annotations={"a": "b"})))

        assert isinstance(decision, Rewrite)
        paths = [op["path"] for op in decision.patch if op["op"] == "add"]
        assert paths == [
            "/metadata/annotations/quay-registry-operator.quay.redhat.com~1"
            "quay-registry-operator-managed",
            "/metadata/annotations/quay-registry-operator.quay.redhat.com~1destination-imagestream",
        ]

    def test_existing_values_of_the_managed_annotations_are_overwritten(self) -> None:
        stale = {MANAGED_ANNOTATION: "false", DESTINATION_ANNOTATION: "elsewhere/x:y"}
        obj = build(annotations=stale)

        decision = decide_for(review(obj))

        assert isinstance(decision, Rewrite)
        assert patched(obj, decision)["metadata"]["annotations"] == {
            MANAGED_ANNOTATION: "true",
            DESTINATION_ANNOTATION: "p/httpd-example:latest",
        }

    def test_a_build_without_metadata_gets_metadata_with_the_annotations(self) -> None:
        obj = build()
        del obj["metadata"]

        decision = decide_for(review(obj))

        assert isinstance(decision, Rewrite)
        assert patched(obj, decision)["metadata"]["annotations"][MANAGED_ANNOTATION] == "true"

    def test_other_output_fields_such_as_the_push_secret_are_kept(self) -> None:
        output = {
            "to": {"kind": "ImageStreamTag", "name": "app:v1.2"},
            "pushSecret": {"name": "custom"},
            "imageLabels": [{"name": "a", "value": "b"}],
        }
        obj = build(output=output)

        decision = decide_for(review(obj))

        assert isinstance(decision, Rewrite)
        result = patched(obj, decision)["spec"]["output"]
        assert result["pushSecret"] == {"name": "custom"}
        assert result["imageLabels"] == [{"name": "a", "value": "b"}]
        assert result["to"]["name"] == f"{QUAY}/openshift_p/app:v1.2"

    def test_a_dry_run_create_is_rewritten_like_any_other(self) -> None:
        assert isinstance(decide_for(review(build(), dry_run=True)), Rewrite)


class TestRequestsThatAreLeftUnchanged:
    @pytest.mark.parametrize(
        ("case", "body"),
        [
            ("update", review(build(), operation="UPDATE")),
            ("delete", review(build(), operation="DELETE")),
            ("jenkins pipeline", review(build(strategy="JenkinsPipeline"))),
            ("unmanaged namespace", review(build(namespace="other"), namespace="other")),
            (
                "output to a DockerImage",
                review(build(output={"to": {"kind": "DockerImage", "name": "quay.io/a/b:c"}})),
            ),
            (
                "output to an ImageStreamImage",
                review(build(output={"to": {"kind": "ImageStreamImage", "name": "a@sha256:00"}})),
            ),
            ("no output target", review(build(output={}))),
            ("output is null", review(build(output={"to": None}))),
            (
                "output namespace unmanaged",
                review(
                    build(
                        output={"to": {"kind": "ImageStreamTag", "name": "a:b", "namespace": "x"}}
                    )
                ),
            ),
            (
                "tagless output name",
                review(build(output={"to": {"kind": "ImageStreamTag", "name": "httpd-example"}})),
            ),
            (
                "output name with a registry",
                review(build(output={"to": {"kind": "ImageStreamTag", "name": "r.io/a:b"}})),
            ),
            ("builds/details subresource", review(build(), sub_resource="details")),
            ("a different resource", review(build(), resource="buildconfigs")),
            ("a different kind", review(build(), kind="BuildConfig")),
            ("no object", review(None)),
        ],
        ids=lambda value: value if isinstance(value, str) else "",
    )
    def test_the_request_is_allowed_without_a_patch(self, case: str, body: dict[str, Any]) -> None:
        decision = decide_for(body)

        assert isinstance(decision, Unchanged), case
        assert decision.reason

    @pytest.mark.parametrize(
        "spec",
        [
            [],
            "spec",
            {"strategy": "Docker"},
            {"strategy": {"type": 3}},
            {"strategy": {"type": "Docker"}, "output": []},
            {"strategy": {"type": "Docker"}, "output": {"to": {"kind": "ImageStreamTag"}}},
            {
                "strategy": {"type": "Docker"},
                "output": {"to": {"kind": "ImageStreamTag", "name": 7}},
            },
        ],
    )
    def test_odd_shapes_are_not_rewritten_and_do_not_raise(self, spec: Any) -> None:
        obj = build()
        obj["spec"] = spec

        assert isinstance(decide_for(review(obj)), Unchanged)


class TestPointerEscaping:
    @pytest.mark.parametrize(
        ("token", "escaped"),
        [
            ("plain", "plain"),
            ("a/b", "a~1b"),
            ("a~b", "a~0b"),
            ("~/", "~0~1"),
            ("/~1", "~1~01"),
        ],
    )
    def test_tokens_follow_rfc_6901(self, token: str, escaped: str) -> None:
        assert escape_pointer_token(token) == escaped


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


class TestTotality:
    @settings(max_examples=300, deadline=None)
    @given(
        spec=json_values,
        metadata=json_values,
        to=st.fixed_dictionaries(
            {}, optional={"kind": json_values | st.just("ImageStreamTag"), "name": json_values}
        ),
    )
    def test_any_object_shape_gets_a_decision_and_any_patch_applies(
        self, spec: Any, metadata: Any, to: dict[str, Any]
    ) -> None:
        obj = build()
        obj["metadata"] = metadata
        obj["spec"] = spec if not isinstance(spec, dict) else {**obj["spec"], **spec}
        if isinstance(obj["spec"], dict):
            obj["spec"]["output"] = {"to": to}

        decision = decide_for(review(obj))

        if isinstance(decision, Rewrite):
            result = patched(obj, decision)
            assert result["spec"]["output"]["to"]["kind"] == "DockerImage"
            assert result["metadata"]["annotations"][MANAGED_ANNOTATION] == "true"


class TestTheBridgesOwnAnnotations:
    """Only the webhook writes the bridge's annotations, and it signs what it decided."""

    KEY = b"k" * 32
    FORGED = {
        MANAGED_ANNOTATION: "true",
        DESTINATION_ANNOTATION: "victim/app:latest",
        RECORD_ANNOTATION: "v1:" + "0" * 64,
        "quay-registry-operator.quay.redhat.com/destination-imagestreamtag-imported": "false",
        "openshift.io/build-config.name": "app",
    }

    def decide_signed(self, body: dict[str, Any]) -> Rewrite | Unchanged:
        request = AdmissionReviewRequest.model_validate(body).request
        return decide(request, MANAGED.get, self.KEY)

    def test_a_rewritten_build_carries_a_record_that_verifies(self) -> None:
        obj = build()
        decision = self.decide_signed(review(obj))
        assert isinstance(decision, Rewrite)
        annotations = patched(obj, decision)["metadata"]["annotations"]
        destination = annotations[DESTINATION_ANNOTATION]
        assert verify(self.KEY, "p", destination, decision.image, annotations[RECORD_ANNOTATION])
        assert not verify(
            b"x" * 32, "p", destination, decision.image, annotations[RECORD_ANNOTATION]
        )

    def test_author_set_annotations_are_replaced_on_a_rewritten_build(self) -> None:
        obj = build(annotations=self.FORGED)
        decision = self.decide_signed(review(obj))
        assert isinstance(decision, Rewrite)
        annotations = patched(obj, decision)["metadata"]["annotations"]
        assert annotations[DESTINATION_ANNOTATION] == "p/httpd-example:latest"
        assert annotations[RECORD_ANNOTATION] != self.FORGED[RECORD_ANNOTATION]
        assert "quay-registry-operator.quay.redhat.com/destination-imagestreamtag-imported" not in (
            annotations
        )
        assert annotations["openshift.io/build-config.name"] == "app"

    @pytest.mark.parametrize(
        "output",
        [
            {"to": {"kind": "DockerImage", "name": "quay.example.com/openshift_p/evil:1"}},
            {},
        ],
        ids=["docker-image-output", "no-output"],
    )
    def test_author_set_annotations_are_removed_from_a_build_left_unchanged(
        self, output: dict[str, Any]
    ) -> None:
        obj = build(annotations=self.FORGED, output=output)
        decision = self.decide_signed(review(obj))
        assert isinstance(decision, Unchanged)
        annotations = patched(obj, decision)["metadata"]["annotations"]
        assert annotations == {"openshift.io/build-config.name": "app"}
