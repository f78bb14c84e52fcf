"""Pure rules of the registry core, as tables: names, scopes and role capping, body schemas."""

from __future__ import annotations

import re
import string

import pytest

from registry import names, scopes, validation
from registry.api import avatars, schemas
from registry.credentials import random_token


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("ab", True),
        ("a.b-c_d", True),
        ("openshift_e2e-demo", True),
        ("x" * 255, True),
        ("a", False),
        ("x" * 256, False),
        ("a--b", False),
        ("a._b", False),
        ("-x", False),
        ("x-", False),
        ("Upper", False),
        ("ünï", False),
        ("a+b", False),
    ],
)
def test_namespace_names_follow_quays_rule(name: str, valid: bool) -> None:
    assert (names.namespace_error(name) is None) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("httpd-example", True),
        ("a/b", True),
        ("a--b", True),
        ("a.", True),
        ("Httpd", False),
        ("-a", False),
        ("a//b", False),
        ("x" * 256, False),
    ],
)
def test_repository_names_allow_nesting_and_repeated_separators(name: str, valid: bool) -> None:
    assert names.is_valid_repository_name(name) is valid


def test_robot_names_split_on_the_plus() -> None:
    assert names.robot_full_name("acme", "builder") == "acme+builder"
    assert names.parse_robot_name("acme+builder") == ("acme", "builder")
    assert names.parse_robot_name("acme") is None


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("repo:read", {"repo:read"}),
        ("repo:read,repo:write", {"repo:read", "repo:write"}),
        ("org:admin  user:admin", {"org:admin", "user:admin"}),
    ],
)
def test_scope_strings_split_on_spaces_and_commas(text: str, parsed: set[str]) -> None:
    assert scopes.parse_scopes(text) == frozenset(parsed)


@pytest.mark.parametrize("text", ["", "repo:read repo:bogus", "admin"])
def test_one_unknown_scope_invalidates_the_whole_set(text: str) -> None:
    with pytest.raises(scopes.InvalidScopeError):
        scopes.parse_scopes(text)


@pytest.mark.parametrize(
    ("held", "repo_cap", "team_cap", "user_cap"),
    [
        (None, "admin", "admin", "admin"),
        ({"repo:read"}, "read", None, None),
        ({"repo:write"}, "write", None, None),
        ({"repo:admin"}, "admin", None, None),
        ({"org:admin"}, None, "admin", None),
        ({"repo:create"}, None, "creator", None),
        ({"user:read"}, None, None, "read"),
        ({"user:admin"}, None, None, "admin"),
    ],
)
def test_scopes_cap_repository_team_and_user_roles(
    held: set[str] | None, repo_cap: str | None, team_cap: str | None, user_cap: str | None
) -> None:
    frozen = None if held is None else frozenset(held)
    assert scopes.repo_role_cap(frozen) == repo_cap
    assert scopes.team_role_cap(frozen) == team_cap
    assert scopes.user_role_cap(frozen) == user_cap


def test_capping_takes_the_lower_role() -> None:
    assert scopes.cap_repo_role("admin", "read") == "read"
    assert scopes.cap_repo_role("read", "admin") == "read"
    assert scopes.cap_repo_role("write", None) is None
    assert scopes.cap_team_role("admin", "creator") == "creator"
    assert scopes.max_repo_role(None, "read", "write") == "write"


def test_a_token_may_only_mint_a_subset_of_its_scopes() -> None:
    assert scopes.is_subset(frozenset({"repo:read"}), frozenset({"repo:read", "org:admin"}))
    assert not scopes.is_subset(frozenset({"super:user"}), frozenset({"repo:read"}))
    assert scopes.is_subset(frozenset({"super:user"}), None)


def test_schema_errors_report_the_shallowest_problem_like_jsonschema() -> None:
    error = validation.validate(schemas.NEW_REPO, {"repository": "x", "visibility": "internal"})
    assert error is not None
    assert str(error).startswith("'description' is a required property\n\nFailed validating")
    assert validation.validate(schemas.NEW_ORG, {"name": "ok"}) is None
    wrong_type = validation.validate(schemas.NEW_ORG, {"name": 3})
    assert wrong_type is not None and wrong_type.message == "3 is not of type 'string'"


def test_an_avatar_is_stable_per_account_and_shaped_like_quays() -> None:
    first = avatars.avatar("quayadmin", "quayadmin@example.com", "user")
    assert first == avatars.avatar("quayadmin", "QuayAdmin@example.com ", "user")
    assert first["hash"] == "3e82e9cbf62d25dec0ed1b4c66ca7c5d47ab9f1f271958298dea856fb26adc4c"
    assert first["color"].startswith("#") and len(first["color"]) == 7
    assert avatars.avatar("owners", "owners", "team")["kind"] == "team"


@pytest.mark.parametrize("length", [0, 1, 20, 40, 64, 300])
def test_random_tokens_have_the_asked_length_and_quays_alphabet(length: int) -> None:
    tokens = {random_token(length) for _ in range(50)}
    assert all(len(token) == length and re.fullmatch(r"[A-Z0-9]*", token) for token in tokens)
    if length >= 20:
        assert len(tokens) == 50


def test_random_tokens_use_every_symbol_of_the_alphabet() -> None:
    seen = set("".join(random_token(64) for _ in range(200)))
    assert seen == set(string.ascii_uppercase + string.digits)
