"""The pure part of Build completion: the decision table, the ImageStreamImport body, its result."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bridge.builds.image_imports import (
    InvalidDestinationError,
    TagTarget,
    Verdict,
    decide,
    import_request,
    imported_patch,
    parse_destination,
    read_import_result,
)
from vocabulary import (
    DESTINATION_ANNOTATION,
    IMPORTED_ANNOTATION,
    MANAGED_ANNOTATION,
    RECORD_ANNOTATION,
)
from webhook.decisions import sign

QUAY_IMAGE = "quay.example.com:8443/openshift_e2e-demo/httpd-example:latest"
KEY = b"k" * 32
RECORD = sign(KEY, "e2e-demo", "e2e-demo/httpd-example:latest", QUAY_IMAGE)


def managed_build(phase: str = "Complete", **annotations: str) -> dict[str, Any]:
    """A Build as the webhook leaves it and the build controller finishes it."""
    return {
        "apiVersion": "build.openshift.io/v1",
        "kind": "Build",
        "metadata": {
            "name": "httpd-example-1",
            "namespace": "e2e-demo",
            "annotations": {
                MANAGED_ANNOTATION: "true",
                DESTINATION_ANNOTATION: "e2e-demo/httpd-example:latest",
                "openshift.io/build.number": "1",
                RECORD_ANNOTATION: RECORD,
                **annotations,
            },
        },
        "spec": {"output": {"to": {"kind": "DockerImage", "name": QUAY_IMAGE}}},
        "status": {"phase": phase},
    }


class TestTheDecisionTable:
    @pytest.mark.parametrize(
        ("phase", "verdict"),
        [
            ("New", Verdict.WAIT),
            ("Pending", Verdict.WAIT),
            ("Running", Verdict.WAIT),
            ("Complete", Verdict.IMPORT),
            ("Failed", Verdict.UNSUCCESSFUL),
            ("Error", Verdict.UNSUCCESSFUL),
            ("Cancelled", Verdict.UNSUCCESSFUL),
        ],
    )
    def test_a_managed_build_is_imported_only_once_it_is_complete(
        self, phase: str, verdict: Verdict
    ) -> None:
        assert decide(managed_build(phase), KEY).verdict is verdict

    def test_a_complete_build_names_the_pushed_image_and_the_destination_tag(self) -> None:
        decision = decide(managed_build(), KEY)
        assert decision.image == QUAY_IMAGE
        assert decision.target == TagTarget("e2e-demo", "httpd-example", "latest")

    def test_a_build_the_webhook_did_not_rewrite_is_never_imported(self) -> None:
        build = managed_build()
        del build["metadata"]["annotations"][MANAGED_ANNOTATION]
        assert decide(build, KEY).verdict is Verdict.UNMANAGED

    @pytest.mark.parametrize("value", ["false", "True", ""])
    def test_only_the_exact_value_true_marks_a_build_as_managed(self, value: str) -> None:
        build = managed_build(**{MANAGED_ANNOTATION: value})
        assert decide(build, KEY).verdict is Verdict.UNMANAGED

    def test_a_build_without_annotations_is_unmanaged(self) -> None:
        build = managed_build()
        del build["metadata"]["annotations"]
        assert decide(build, KEY).verdict is Verdict.UNMANAGED

    def test_a_marked_build_is_never_imported_twice(self) -> None:
        build = managed_build(**{IMPORTED_ANNOTATION: "true"})
        assert decide(build, KEY).verdict is Verdict.ALREADY_IMPORTED

    def test_a_cancelled_flag_wins_over_a_phase_not_yet_updated(self) -> None:
        build = managed_build("Running")
        build["status"]["cancelled"] = True
        assert decide(build, KEY).verdict is Verdict.UNSUCCESSFUL

    def test_a_build_without_status_waits(self) -> None:
        build = managed_build()
        del build["status"]
        assert decide(build, KEY).verdict is Verdict.WAIT

    @pytest.mark.parametrize(
        "destination",
        ["httpd-example:latest", "e2e-demo/httpd-example", "E2E/httpd:latest", "a/b/c:latest", ""],
    )
    def test_a_malformed_destination_is_reported_not_imported(self, destination: str) -> None:
        decision = decide(managed_build(**{DESTINATION_ANNOTATION: destination}), KEY)
        assert decision.verdict is Verdict.INVALID
        assert DESTINATION_ANNOTATION in decision.reason

    def test_a_missing_destination_is_reported_not_imported(self) -> None:
        build = managed_build()
        del build["metadata"]["annotations"][DESTINATION_ANNOTATION]
        assert decide(build, KEY).verdict is Verdict.INVALID

    @pytest.mark.parametrize(
        "to",
        [
            {"kind": "ImageStreamTag", "name": "httpd-example:latest"},
            {"kind": "DockerImage", "name": ""},
            {"kind": "DockerImage"},
            None,
        ],
    )
    def test_an_output_that_is_not_the_pushed_docker_image_is_reported(self, to: Any) -> None:
        build = managed_build()
        build["spec"]["output"]["to"] = to
        assert decide(build, KEY).verdict is Verdict.INVALID

    @pytest.mark.parametrize(
        "garbage",
        [{}, {"metadata": None}, {"metadata": {"annotations": ["x"]}}, {"status": "Complete"}],
    )
    def test_a_garbled_object_gives_a_verdict_not_a_crash(self, garbage: dict[str, Any]) -> None:
        assert decide(garbage, KEY).verdict is Verdict.UNMANAGED


class TestTheDecisionRecord:
    """Only what the webhook decided is imported: annotations alone prove nothing."""

    def test_a_build_without_the_record_is_refused(self) -> None:
        build = managed_build()
        del build["metadata"]["annotations"][RECORD_ANNOTATION]
        decision = decide(build, KEY)
        assert decision.verdict is Verdict.REFUSED
        assert "decision record" in decision.reason

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("destination", "victim/app:latest"),
            ("namespace", "attacker"),
            ("image", "quay.example.com:8443/openshift_attacker/evil:latest"),
        ],
    )
    def test_a_record_of_another_decision_does_not_verify(self, field: str, value: str) -> None:
        build = managed_build()
        if field == "destination":
            build["metadata"]["annotations"][DESTINATION_ANNOTATION] = value
        elif field == "namespace":
            build["metadata"]["namespace"] = value
        else:
            build["spec"]["output"]["to"]["name"] = value
        assert decide(build, KEY).verdict is Verdict.REFUSED

    def test_a_record_made_with_another_key_does_not_verify(self) -> None:
        assert decide(managed_build(), b"x" * 32).verdict is Verdict.REFUSED

    @pytest.mark.parametrize("record", ["", "v1:", "v1:" + "0" * 64, RECORD.upper(), "true"])
    def test_a_made_up_record_does_not_verify(self, record: str) -> None:
        build = managed_build(**{RECORD_ANNOTATION: record})
        assert decide(build, KEY).verdict is Verdict.REFUSED


class TestTheDestinationAnnotation:
    @pytest.mark.parametrize(
        ("value", "target"),
        [
            ("e2e-demo/httpd-example:latest", TagTarget("e2e-demo", "httpd-example", "latest")),
            ("p/my.app_x:v1.2-rc", TagTarget("p", "my.app_x", "v1.2-rc")),
            ("ns1/s:_x", TagTarget("ns1", "s", "_x")),
        ],
    )
    def test_it_parses_into_namespace_stream_and_tag(self, value: str, target: TagTarget) -> None:
        assert parse_destination(value) == target
        assert str(target) == value

    @pytest.mark.parametrize(
        "value",
        [
            "ns/stream",
            "ns/stream:",
            "/stream:tag",
            "ns/:tag",
            "-ns/s:t",
            "ns/s:t:u",
            "x" * 64 + "/s:t",
        ],
    )
    def test_it_refuses_what_is_not_namespace_slash_stream_colon_tag(self, value: str) -> None:
        with pytest.raises(InvalidDestinationError, match="expected"):
            parse_destination(value)


class TestTheImageStreamImport:
    def test_it_asks_for_the_pushed_image_under_the_tag_with_the_streams_version(self) -> None:
        body = import_request(
            TagTarget("e2e-demo", "httpd-example", "latest"),
            QUAY_IMAGE,
            insecure=False,
            scheduled=False,
            resource_version="42",
        )
        assert body == {
            "apiVersion": "image.openshift.io/v1",
            "kind": "ImageStreamImport",
            "metadata": {"name": "httpd-example", "namespace": "e2e-demo", "resourceVersion": "42"},
            "spec": {
                "import": True,
                "images": [
                    {
                        "from": {"kind": "DockerImage", "name": QUAY_IMAGE},
                        "to": {"name": "latest"},
                        "importPolicy": {"insecure": False, "scheduled": False},
                        "referencePolicy": {"type": "Source"},
                    }
                ],
            },
        }

    @pytest.mark.parametrize(
        ("insecure", "scheduled"), [(True, False), (False, True), (True, True)]
    )
    def test_the_import_policy_comes_from_the_integration(
        self, insecure: bool, scheduled: bool
    ) -> None:
        body = import_request(
            TagTarget("p", "s", "t"),
            "q/o/s:t",
            insecure=insecure,
            scheduled=scheduled,
            resource_version="1",
        )
        policy = body["spec"]["images"][0]["importPolicy"]
        assert policy == {"insecure": insecure, "scheduled": scheduled}

    def test_without_a_stream_the_request_carries_no_version_so_the_import_creates_it(self) -> None:
        body = import_request(
            TagTarget("p", "s", "t"),
            "q/o/s:t",
            insecure=False,
            scheduled=False,
            resource_version=None,
        )
        assert "resourceVersion" not in body["metadata"]

    def test_the_mark_is_a_metadata_only_merge_patch(self) -> None:
        assert imported_patch() == {"metadata": {"annotations": {IMPORTED_ANNOTATION: "true"}}}
        marked = copy.deepcopy(managed_build())
        marked["metadata"]["annotations"].update(imported_patch()["metadata"]["annotations"])
        assert decide(marked, KEY).verdict is Verdict.ALREADY_IMPORTED


class TestTheImportResult:
    def test_a_success_gives_the_digest_and_the_reference_into_quay(self) -> None:
        reply = {
            "status": {
                "images": [
                    {
                        "status": {"status": "Success"},
                        "tag": "latest",
                        "image": {
                            "metadata": {"name": "sha256:" + "a" * 64},
                            "dockerImageReference": "q:1/o/s@sha256:" + "a" * 64,
                        },
                    }
                ]
            }
        }
        result = read_import_result(reply)
        assert result.succeeded
        assert result.image == "sha256:" + "a" * 64
        assert result.reference == "q:1/o/s@sha256:" + "a" * 64

    @pytest.mark.parametrize(
        ("status", "reason", "code"),
        [
            (
                {
                    "status": "Failure",
                    "reason": "Unauthorized",
                    "code": 401,
                    "message": 'you may not have access to the container image "q/o/s:t"',
                },
                "Unauthorized",
                401,
            ),
            (
                {
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": 'dockerimage.image.openshift.io "q/o/s:t" not found',
                },
                "NotFound",
                404,
            ),
            ({"status": "Failure"}, "Unknown", 0),
        ],
    )
    def test_a_per_image_failure_keeps_reason_code_and_message(
        self, status: dict[str, Any], reason: str, code: int
    ) -> None:
        result = read_import_result({"status": {"images": [{"status": status}]}})
        assert not result.succeeded
        assert (result.reason, result.code) == (reason, code)
        assert result.message

    @pytest.mark.parametrize(
        "reply", [{}, {"status": {}}, {"status": {"images": []}}, {"status": 3}]
    )
    def test_a_reply_without_image_status_is_a_failure(self, reply: dict[str, Any]) -> None:
        result = read_import_result(reply)
        assert not result.succeeded
        assert result.reason == "NoStatus"
