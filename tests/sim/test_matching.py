"""Pure matching logic: selectors, docker keyrings and image references."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sim.dockercfg import credentials_for, key_matches
from sim.errors import ApiError
from sim.oci import ImageRef, parse_reference
from sim.selectors import field_matcher, label_matcher, label_selector_matches

OBJ = {
    "metadata": {"name": "n", "namespace": "ns", "labels": {"app": "web", "tier": "front"}},
    "status": {"phase": "Running"},
}


class TestSelectors:
    @pytest.mark.parametrize(
        ("selector", "matches"),
        [
            ("app=web", True),
            ("app==web", True),
            ("app!=web", False),
            ("app in (web, db)", True),
            ("app notin (web)", False),
            ("app,tier=front", True),
            ("!app", False),
            ("missing", False),
            ("!missing", True),
            ("app in (db),tier=front", False),
        ],
    )
    def test_label_selectors(self, selector: str, matches: bool) -> None:
        matcher = label_matcher(selector)
        assert matcher is not None and matcher(OBJ) is matches

    @pytest.mark.parametrize(
        ("selector", "matches"),
        [
            ("metadata.name=n", True),
            ("metadata.name!=n", False),
            ("status.phase=Running,metadata.namespace=ns", True),
            ("spec.x=", True),
        ],
    )
    def test_field_selectors(self, selector: str, matches: bool) -> None:
        matcher = field_matcher(selector)
        assert matcher is not None and matcher(OBJ) is matches

    @pytest.mark.parametrize("bad", ["app in (web", "a b c", "=x"])
    def test_bad_selectors_are_400(self, bad: str) -> None:
        with pytest.raises(ApiError) as err:
            label_matcher(bad)
        assert err.value.code == 400

    @pytest.mark.parametrize(
        ("selector", "matches"),
        [
            ({"matchLabels": {"app": "web"}}, True),
            ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}]}, False),
            ({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, True),
            (
                {
                    "matchExpressions": [
                        {"key": "app", "operator": "Exists"},
                        {"key": "app", "operator": "NotIn", "values": ["web"]},
                    ]
                },
                False,
            ),
        ],
    )
    def test_structured_label_selectors(self, selector: dict[str, Any], matches: bool) -> None:
        assert label_selector_matches(selector, OBJ["metadata"]["labels"]) is matches  # type: ignore[index]


def secret(auths: dict[str, Any], kind: str = "kubernetes.io/dockerconfigjson") -> dict[str, Any]:
    if kind == "kubernetes.io/dockerconfigjson":
        data = {
            ".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
        }
    else:
        data = {".dockercfg": base64.b64encode(json.dumps(auths).encode()).decode()}
    return {"type": kind, "data": data}


class TestKeyring:
    @pytest.mark.parametrize(
        ("key", "host", "repo", "matches"),
        [
            ("quay.example.com", "quay.example.com", "org/app", True),
            ("https://quay.example.com", "quay.example.com", "org/app", True),
            ("quay.example.com:443", "quay.example.com", "org/app", False),
            ("127.0.0.1:8080", "127.0.0.1:8080", "org/app", True),
            ("*.example.com", "quay.example.com", "org/app", True),
            ("quay.example.com/org", "quay.example.com", "org/app", True),
            ("quay.example.com/other", "quay.example.com", "org/app", False),
            ("quay.example.com/org/app", "quay.example.com", "org/application", False),
        ],
    )
    def test_keys_match_by_host_port_and_path_prefix(
        self, key: str, host: str, repo: str, matches: bool
    ) -> None:
        assert key_matches(key, host, repo) is matches

    def test_credentials_come_from_auth_or_username_and_password_in_both_formats(self) -> None:
        auth = base64.b64encode(b"robot+x:tok").decode()
        assert credentials_for(
            secret({"q.example.com": {"auth": auth}}), "q.example.com", "o/r"
        ) == ("robot+x", "tok")
        cfg = secret(
            {"q.example.com": {"username": "u", "password": "p"}}, "kubernetes.io/dockercfg"
        )
        assert credentials_for(cfg, "q.example.com", "o/r") == ("u", "p")
        assert credentials_for(cfg, "other.example.com", "o/r") is None
        assert (
            credentials_for(
                {"type": "kubernetes.io/dockercfg", "data": {".dockercfg": "!!"}}, "q", "o"
            )
            is None
        )


class TestImageReferences:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("quay.example.com/org/app:v1", ImageRef("quay.example.com", "org/app", "v1")),
            ("127.0.0.1:8080/org/app", ImageRef("127.0.0.1:8080", "org/app", "latest")),
            ("localhost/app:1", ImageRef("localhost", "app", "1")),
            ("httpd", ImageRef("docker.io", "library/httpd", "latest")),
            (
                "q.io/o/a@sha256:" + "a" * 64,
                ImageRef("q.io", "o/a", "latest", "sha256:" + "a" * 64),
            ),
        ],
    )
    def test_references_parse(self, text: str, expected: ImageRef) -> None:
        assert parse_reference(text) == expected

    @pytest.mark.parametrize("bad", ["", "q.io/O/A:t", "q.io/o/a@sha256:xyz", "q.io/o/a:"])
    def test_bad_references_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError):
            parse_reference(bad)
