"""Sessions, sign-in, CSRF and permissions of the web UI, over HTTP against a real registry core.

The session store and the page formatting rules are tested as tables; everything else goes through
a ``quay-registry serve`` process: sign-in refusals (no form token, a wrong password, a robot or an
OAuth token as the password, another site's Origin), the cookie's flags, sign-out ending the
session on the server, a changed password or a deleted user ending every session, CSRF tokens of
another session refused, pages and credentials refused to non-members, and the Generate Token
steps' refusals. The minted token must work against the REST API.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from urllib.parse import unquote

import pytest
import requests
import yaml

from devstack.registry import RegistryServer
from registry import credentials
from registry.scopes import ALL_SCOPES
from registry.ui import formatting
from registry.ui.sessions import SessionStore, password_version
from registry.ui.throttle import SignInThrottle
from tests.ui.conftest import FormSession, api

ORG = "acme"

# --- pure rules ----------------------------------------------------------------------------------


def test_sessions_end_when_idle_or_old_and_the_oldest_go_first() -> None:
    store = SessionStore(absolute_lifetime=100, idle_lifetime=10, max_sessions=2)
    first = store.create(1, "alice", "v1", now=0)
    assert store.get(first.id, now=9) is first
    assert store.get(first.id, now=18) is first  # seen at 9: still within 10 s of idling
    assert store.get(first.id, now=29) is None  # idle too long
    kept = store.create(1, "alice", "v1", now=30)
    for now in range(35, 130, 5):
        if now < 130 and now - 30 < 100:
            assert store.get(kept.id, now=now) is kept
    assert store.get(kept.id, now=131) is None  # past its absolute lifetime
    a = store.create(1, "alice", "v1", now=200)
    b = store.create(2, "bob", "v1", now=201)
    store.get(a.id, now=202)  # a is now the most recently used
    c = store.create(3, "carol", "v1", now=203)
    assert len(store) == 2
    assert store.get(b.id, now=204) is None
    assert store.get(a.id, now=204) is a and store.get(c.id, now=204) is c
    assert store.delete_account(1) == 1
    assert store.get(a.id, now=205) is None


def test_session_ids_and_csrf_tokens_are_random_and_compared_exactly() -> None:
    store = SessionStore()
    one, two = store.create(1, "a", "v", now=0), store.create(1, "a", "v", now=0)
    assert one.id != two.id and one.csrf_token != two.csrf_token
    assert len(one.id) >= 43 and len(one.csrf_token) >= 43
    assert one.csrf_matches(one.csrf_token)
    assert not one.csrf_matches(two.csrf_token)
    assert not one.csrf_matches(None)
    assert not one.csrf_matches("")


def test_the_password_version_follows_the_stored_hash() -> None:
    key = b"k" * 32
    first = credentials.hash_password("one")
    assert password_version(key, first) == password_version(key, first)
    assert password_version(key, first) != password_version(key, credentials.hash_password("one"))
    assert password_version(key, first) != password_version(b"x" * 32, first)


def test_failed_sign_ins_back_off_per_username() -> None:
    throttle = SignInThrottle(free_failures=3, first_delay=1, max_delay=8)
    for now in (0, 1, 2):
        assert throttle.wait_seconds("Alice", now) == 0
        throttle.failed("alice", now)
    assert throttle.wait_seconds("alice", 2) == 1  # 2 ** 0 after the third failure
    assert throttle.wait_seconds("bob", 2) == 0
    throttle.failed("ALICE", 3)
    assert throttle.wait_seconds("alice", 3) == 2
    assert throttle.wait_seconds("alice", 5) == 0
    for now in range(6, 12):
        throttle.failed("alice", now)
    assert throttle.wait_seconds("alice", 11) == 8  # capped
    throttle.succeeded("Alice")
    assert throttle.wait_seconds("alice", 11) == 0


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, "unknown"), (0, "0 B"), (812, "812 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_sizes(size: int | None, shown: str) -> None:
    assert formatting.human_size(size) == shown


def test_scope_labels_cover_every_scope() -> None:
    assert set(formatting.SCOPE_LABELS) == set(ALL_SCOPES) == set(formatting.SCOPE_HELP)


def test_the_kubernetes_secret_logs_the_robot_in() -> None:
    text = formatting.kubernetes_secret("acme+builder", "TOKEN", "quay.example:8443")
    secret = yaml.safe_load(text)
    assert secret["kind"] == "Secret"
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["name"] == "acme-builder-pull-secret"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    auth = config["auths"]["quay.example:8443"]["auth"]
    assert base64.b64decode(auth).decode() == "acme+builder:TOKEN"
    assert formatting.docker_login("podman", "acme+builder", "TOKEN", "h:1") == (
        "podman login -u='acme+builder' -p='TOKEN' h:1"
    )
    assert formatting.secret_name("a.b_c+x.y") == "a-b-c-x-y-pull-secret"


# --- over HTTP -----------------------------------------------------------------------------------


def _org_with_robot(quay: RegistryServer) -> None:
    assert api(quay, "POST", "/api/v1/organization/", {"name": ORG}).status_code == 201
    assert api(quay, "PUT", f"/api/v1/organization/{ORG}/robots/builder", {}).status_code == 201


def _second_user(quay: RegistryServer, name: str) -> str:
    created = api(
        quay, "POST", "/api/v1/superuser/users/", {"username": name, "email": f"{name}@x.io"}
    )
    assert created.status_code == 200, created.text
    return str(created.json()["password"])


def _sql(quay: RegistryServer, statement: str, *args: object) -> None:
    with sqlite3.connect(quay.data_dir / "registry.db", timeout=10) as conn:
        conn.execute(statement, args)


def test_pages_need_a_session_and_come_back_after_sign_in(quay: RegistryServer) -> None:
    browser = FormSession(quay.url)
    answer = browser.get(f"/organization/{ORG}?tab=robots", allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/signin?next=")
    assert unquote(answer.headers["Location"].split("=", 1)[1]) == f"/organization/{ORG}?tab=robots"
    assert browser.get("/", allow_redirects=False).headers["Location"] == "/signin"
    token = browser.csrf("/signin")
    signed = browser.post(
        "/signin",
        {
            "_csrf_token": token,
            "username": quay.username,
            "password": quay.password,
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["Location"] == "/organizations/"  # never off-site
    (cookie,) = [
        value
        for value in signed.raw.headers.getlist("Set-Cookie")
        if value.startswith("quay_ui_session=")
    ]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # ends with the browser


def test_sign_in_refusals(quay: RegistryServer) -> None:
    _org_with_robot(quay)
    robot_token = api(quay, "GET", f"/api/v1/organization/{ORG}/robots/builder").json()["token"]
    browser = FormSession(quay.url)
    no_token = browser.post("/signin", {"username": quay.username, "password": quay.password})
    assert no_token.status_code == 403 and "expired" in no_token.text
    for username, password in (
        (quay.username, "wrong"),
        (f"{ORG}+builder", robot_token),
        ("$oauthtoken", quay.token),
        ("", ""),
    ):
        token = browser.csrf("/signin")
        refused = browser.post(
            "/signin", {"_csrf_token": token, "username": username, "password": password}
        )
        assert refused.status_code == 401, (username, refused.text)
        assert "Invalid username or password." in refused.text
        assert "quay_ui_session" not in browser.http.cookies
    token = browser.csrf("/signin")
    other_site = browser.post(
        "/signin",
        {"_csrf_token": token, "username": quay.username, "password": quay.password},
        headers={"Origin": "http://evil.example"},
    )
    assert other_site.status_code == 403
    assert "quay_ui_session" not in browser.http.cookies


def test_password_guessing_is_answered_429_without_checking(quay: RegistryServer) -> None:
    browser = FormSession(quay.url)
    statuses = []
    for _ in range(6):
        token = browser.csrf("/signin")
        answer = browser.post(
            "/signin", {"_csrf_token": token, "username": quay.username, "password": "guess"}
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * 5 + [429]
    assert int(answer.headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in answer.text
    token = browser.csrf("/signin")
    right = browser.post(
        "/signin", {"_csrf_token": token, "username": quay.username, "password": quay.password}
    )
    assert right.status_code == 429, "the password is not checked while backing off"
    assert _second_user(quay, "dave")  # another user is not held back
    assert FormSession(quay.url).sign_in("dave", "wrong").status_code == 401


def test_sign_out_ends_the_session_on_the_server(quay: RegistryServer) -> None:
    browser = FormSession(quay.url)
    browser.sign_in(quay.username, quay.password)
    stolen = browser.http.cookies["quay_ui_session"]
    token = browser.csrf("/organizations/")
    refused = browser.post("/signout", {"_csrf_token": "not-the-token"})
    assert refused.status_code == 403
    assert browser.get("/organizations/", allow_redirects=False).status_code == 200
    out = browser.post("/signout", {"_csrf_token": token}, allow_redirects=False)
    assert out.status_code == 303 and out.headers["Location"] == "/signin"
    replay = requests.get(
        quay.url + "/organizations/",
        cookies={"quay_ui_session": stolen},
        allow_redirects=False,
        timeout=10,
    )
    assert replay.status_code == 303 and replay.headers["Location"].startswith("/signin")


def test_a_new_password_or_a_deleted_user_ends_every_session(quay: RegistryServer) -> None:
    password = _second_user(quay, "carol")
    first, second = FormSession(quay.url), FormSession(quay.url)
    for browser in (first, second):
        assert browser.sign_in("carol", password).url.endswith("/organizations/")
    _sql(
        quay,
        "UPDATE account SET password_hash = ? WHERE username = 'carol'",
        credentials.hash_password("another"),
    )
    for browser in (first, second):
        answer = browser.get("/organizations/", allow_redirects=False)
        assert answer.status_code == 303, "a session outlived its password"
    assert FormSession(quay.url).sign_in("carol", password).status_code == 401
    again = FormSession(quay.url)
    assert again.sign_in("carol", "another").url.endswith("/organizations/")
    _sql(quay, "DELETE FROM account WHERE username = 'carol'")
    assert again.get("/organizations/", allow_redirects=False).status_code == 303


def test_forms_need_this_sessions_token_and_this_origin(quay: RegistryServer) -> None:
    _org_with_robot(quay)
    mine, other = FormSession(quay.url), FormSession(quay.url)
    mine.sign_in(quay.username, quay.password)
    other.sign_in(quay.username, quay.password)
    path = f"/organization/{ORG}/robot/builder/credentials"
    for data in ({}, {"_csrf_token": other.csrf("/organizations/")}):
        refused = mine.post(path, data)
        assert refused.status_code == 403
        assert "robot-token" not in refused.text
    token = mine.csrf("/organizations/")
    cross = mine.post(path, {"_csrf_token": token}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    shown = mine.post(path, {"_csrf_token": token})
    assert shown.status_code == 200 and 'id="robot-token"' in shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    robot = api(quay, "GET", f"/api/v1/organization/{ORG}/robots/builder").json()
    assert robot["token"] in shown.text
    assert mine.get(path).status_code == 405  # credentials are never a GET


def test_non_members_see_nothing_of_an_organization(quay: RegistryServer) -> None:
    _org_with_robot(quay)
    created = api(
        quay,
        "POST",
        "/api/v1/repository",
        {"namespace": ORG, "repository": "app", "visibility": "private", "description": ""},
    )
    assert created.status_code == 201
    password = _second_user(quay, "mallory")
    browser = FormSession(quay.url)
    browser.sign_in("mallory", password)
    assert "acme" not in browser.get("/organizations/").text
    for path in (
        f"/organization/{ORG}",
        f"/organization/{ORG}?tab=robots",
        f"/organization/{ORG}?tab=applications",
        f"/organization/{ORG}/robot/builder",
        f"/organization/{ORG}/applications/new",
        f"/repository/{ORG}/app",
        f"/repository/{ORG}/missing",  # as for the API: missing and forbidden look the same
    ):
        answer = browser.get(path)
        assert answer.status_code == 403, path
        assert answer.headers["Content-Type"].startswith("text/html")
    token = browser.csrf("/organizations/")
    refused = browser.post(f"/organization/{ORG}/robot/builder/credentials", {"_csrf_token": token})
    assert refused.status_code == 403
    made = browser.post(
        f"/organization/{ORG}/applications/new", {"_csrf_token": token, "name": "sneaky"}
    )
    assert made.status_code == 403
    assert api(quay, "GET", f"/api/v1/organization/{ORG}/applications").json() == {
        "applications": []
    }


def test_generate_token_steps_and_the_minted_token(quay: RegistryServer) -> None:
    assert api(quay, "POST", "/api/v1/organization/", {"name": ORG}).status_code == 201
    browser = FormSession(quay.url)
    browser.sign_in(quay.username, quay.password)
    token = browser.csrf("/organizations/")
    empty = browser.post(f"/organization/{ORG}/applications/new", {"_csrf_token": token})
    assert empty.status_code == 400 and "needs a name" in empty.text
    created = browser.post(
        f"/organization/{ORG}/applications/new",
        {"_csrf_token": token, "name": "openshift"},
        allow_redirects=False,
    )
    assert created.status_code == 303
    app_path = created.headers["Location"]
    path = app_path + "/generate-token"
    assert browser.get(path).status_code == 200
    for data, status, text in (
        ({"step": "review"}, 400, "Choose at least one scope"),
        ({"step": "review", "scope": "repo:fly"}, 400, "Unknown scope: repo:fly"),
        ({"step": "jump", "scope": "repo:read"}, 400, "Unknown step"),
    ):
        refused = browser.post(path, {"_csrf_token": token, **data})
        assert refused.status_code == status and text in refused.text
    review = browser.post(path, {"_csrf_token": token, "step": "review", "scope": "repo:read"})
    assert 'value="confirm"' in review.text and "View all visible repositories" in review.text
    confirm = browser.post(
        path, {"_csrf_token": token, "step": "confirm", "scope": "repo:read", "action": "authorize"}
    )
    assert 'value="mint"' in confirm.text and 'id="confirm-text"' in confirm.text
    back = browser.post(
        path, {"_csrf_token": token, "step": "confirm", "scope": "repo:read", "action": "back"}
    )
    assert 'id="scope-repo-read" checked' in back.text
    listed = api(quay, "GET", f"/api/v1/organization/{ORG}/applications").json()["applications"]
    client_id = listed[0]["client_id"]
    tokens_path = f"/api/v1/organization/{ORG}/applications/{client_id}/tokens"
    assert api(quay, "GET", tokens_path).json()["tokens"] == []  # nothing minted before "mint"
    minted = browser.post(
        path,
        {"_csrf_token": token, "step": "mint", "scope": ["repo:read", "user:read"]},  # type: ignore[dict-item]
        allow_redirects=False,
    )
    assert minted.status_code == 200 and minted.headers["Cache-Control"] == "no-store"
    start = minted.text.index('id="access-token" value="') + len('id="access-token" value="')
    secret = minted.text[start : start + 40]
    user = requests.get(
        quay.url + "/api/v1/user/", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert user.status_code == 200 and user.json()["username"] == quay.username
    listed_tokens = api(quay, "GET", tokens_path).json()["tokens"]
    assert [t["scope"] for t in listed_tokens] == ["repo:read user:read"]
    assert listed_tokens[0]["created_by"] == quay.username
    assert secret not in browser.get(app_path).text


def test_create_new_organization_uses_the_apis_checks(quay: RegistryServer) -> None:
    browser = FormSession(quay.url)
    browser.sign_in(quay.username, quay.password)
    token = browser.csrf("/organizations/new")
    for name, message in (
        ("Bad Name", "Invalid namespace Bad Name: Namespace must match expression"),
        (quay.username, "A user or organization with this name already exists"),
        ("x", "Namespace must be between 2 and 255 characters in length"),
    ):
        refused = browser.post("/organizations/new", {"_csrf_token": token, "name": name})
        assert refused.status_code == 400, name
        assert message in refused.text.replace("&#39;", "'"), refused.text
    made = browser.post(
        "/organizations/new",
        {"_csrf_token": token, "name": "team-1", "email": "team@example.com"},
        allow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["Location"] == "/organization/team-1"
    org = api(quay, "GET", "/api/v1/organization/team-1").json()
    assert org["is_admin"] is True and org["email"] == "team@example.com"
    again = browser.post("/organizations/new", {"_csrf_token": token, "name": "team-2"})
    assert again.status_code == 200 and "team-2" in again.text
    no_csrf = browser.post("/organizations/new", {"name": "team-3"})
    assert no_csrf.status_code == 403
    assert api(quay, "GET", "/api/v1/organization/team-3").status_code == 404
