"""Spec and token checks that turn bad input into a clear message instead of a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.controller.integrations import token_problem
from bridge.model.spec import parse_spec

BASE: dict[str, Any] = {
    "clusterID": "openshift",
    "credentialsSecret": {"name": "quay", "namespace": "ops"},
    "quayHostname": "https://quay.example.com",
}


class TestServiceAccountNames:
    @pytest.mark.parametrize("name", ["builder", "pipeline", "ci-bot", "a.b", "x9"])
    def test_names_both_kubernetes_and_quay_take_are_accepted(self, name: str) -> None:
        spec = parse_spec({**BASE, "serviceAccounts": [{"name": name, "role": "read"}]})
        assert spec.service_accounts[0].name == name

    @pytest.mark.parametrize("name", ["Bad_SA", "ci_bot", "ci--bot", "-ci", "ci-", "x", "a.-b"])
    def test_names_quay_cannot_take_name_the_field(self, name: str) -> None:
        with pytest.raises(ValueError, match=r"spec\.serviceAccounts\[0\]\.name accepts") as error:
            parse_spec({**BASE, "serviceAccounts": [{"name": name, "role": "read"}]})
        assert repr(name) in str(error.value)

    def test_a_name_listed_twice_is_refused(self) -> None:
        accounts = [{"name": "ci", "role": "read"}, {"name": "ci", "role": "write"}]
        with pytest.raises(ValueError, match="listed twice"):
            parse_spec({**BASE, "serviceAccounts": accounts})

    def test_an_unknown_role_names_the_field(self) -> None:
        with pytest.raises(
            ValueError, match=r"spec\.serviceAccounts\[0\]\.role accepts .read., .write. or .admin."
        ):
            parse_spec({**BASE, "serviceAccounts": [{"name": "ci", "role": "owner"}]})


class TestTokens:
    def test_visible_ascii_is_usable(self) -> None:
        assert token_problem("aB3-._~+/=" * 4) is None

    @pytest.mark.parametrize(
        ("token", "expected"),
        [
            ("abc\r\ndef", "character 4 is a carriage return"),
            ("abc\ndef", "a line feed"),
            ("abc\x00def", "U+0000"),
            ("abc def", "U+0020"),
            ("abcé", "U+00E9"),
        ],
    )
    def test_anything_else_is_named_without_showing_the_token(
        self, token: str, expected: str
    ) -> None:
        problem = token_problem(token)
        assert problem is not None and expected in problem
        assert "abc" not in problem
