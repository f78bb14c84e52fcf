"""No page runs or renders markup that came from data: every page, in a real browser.

Names of organizations, repositories, robots and tags cannot hold markup (Quay's naming rules
refuse ``<``, ``>`` and quotes, checked here first), so they are exercised with every character the
rules allow and, where a page echoes a name from its URL (the 404 pages), with markup in the URL.
Free text (repository and robot descriptions, application names, descriptions and homepage URLs,
token names, the sign-in username) carries markup and template syntax. On every page the browser
must find no element made from the payloads (no ``script``, ``img``, ``svg``, ``iframe``, no
``on*`` handler), the payload must appear as text, and the page must carry the Content-Security-
Policy. A screenshot of each page goes to the artifact folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from selenium.webdriver.common.by import By

from devstack.registry import RegistryServer
from registry.ui.rendering import CONTENT_SECURITY_POLICY
from tests.registry.oci.images import make_image, write_layout
from tests.support.browser import Page
from tests.ui.conftest import FormSession, api, needs_browser

MARKUP = (
    '<script>document.title="pwned"</script>"><img src=x onerror=alert(1)><svg onload=alert(2)>'
)
PAYLOAD = MARKUP + " {{ 7*7 }} {% raw %}"
ORG = "a.b-c_d9"  # dots, dashes, underscores: every separator a namespace may hold
REPO = "x.y-z_w/nested.0"  # nested, as FEATURE_EXTENDED_REPOSITORY_NAMES allows
ROBOT = "bot_1.x"
TAG = "v1.0_rc-1"
DANGEROUS = "script, img, svg, iframe, object, embed, [onerror], [onload], [onclick]"


def assert_inert(page: Page, *, shows: str | None = PAYLOAD) -> None:
    """Nothing from the payloads became markup; the page says what it got as text."""
    found = page.driver.find_elements(By.CSS_SELECTOR, DANGEROUS)
    assert found == [], [element.get_attribute("outerHTML") for element in found]
    assert page.driver.title != "pwned"
    assert not page.driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript']")
    if shows is not None:
        assert shows in page.text()


def set_up(quay: RegistryServer, tmp_path: Path) -> str:
    """The org, repository, robot, prototype, application, token and tag; returns the client id."""
    for name in ("<script>", 'x"y', "a<b"):
        refused = api(quay, "POST", "/api/v1/organization/", {"name": name})
        assert refused.status_code == 400, refused.text
    assert api(quay, "POST", "/api/v1/organization/", {"name": ORG}).status_code == 201
    robot = api(quay, "PUT", f"/api/v1/organization/{ORG}/robots/{ROBOT}", {"description": PAYLOAD})
    assert robot.status_code == 201, robot.text
    refused = api(quay, "PUT", f"/api/v1/organization/{ORG}/robots/{quote('<b>')}", {})
    assert refused.status_code == 400
    for name, expected in ((REPO, 201), ("<script>", 400), ("a'b", 400)):
        created = api(
            quay,
            "POST",
            "/api/v1/repository",
            {"namespace": ORG, "repository": name, "visibility": "private", "description": PAYLOAD},
        )
        assert created.status_code == expected, created.text
    proto = api(
        quay,
        "POST",
        f"/api/v1/organization/{ORG}/prototypes",
        {"delegate": {"kind": "user", "name": f"{ORG}+{ROBOT}"}, "role": "write"},
    )
    assert proto.status_code == 200, proto.text
    perm = api(
        quay,
        "PUT",
        f"/api/v1/repository/{ORG}/{REPO}/permissions/user/{ORG}+{ROBOT}",
        {"role": "write"},
    )
    assert perm.status_code == 200, perm.text
    app = api(
        quay,
        "POST",
        f"/api/v1/organization/{ORG}/applications",
        {"name": PAYLOAD, "description": PAYLOAD, "application_uri": "javascript:alert(1)"},
    )
    assert app.status_code == 200, app.text
    client_id = str(app.json()["client_id"])
    minted = api(
        quay,
        "POST",
        f"/api/v1/organization/{ORG}/applications/{client_id}/tokens",
        {"name": PAYLOAD, "scope": "repo:read"},
    )
    assert minted.status_code == 200, minted.text
    _push_tag(quay, tmp_path)
    return client_id


def _push_tag(quay: RegistryServer, tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (make system-deps installs it)")
    layout = tmp_path / "layout"
    write_layout(layout, make_image(), TAG)
    (tmp_path / "registries.conf").write_text("")
    result = subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "--registries-conf",
            str(tmp_path / "registries.conf"),
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            f"{quay.username}:{quay.password}",
            f"oci:{layout}:{TAG}",
            f"docker://{quay.host}/{ORG}/{REPO}:{TAG}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_browser
def test_no_page_turns_data_into_markup(quay: RegistryServer, page: Page, tmp_path: Path) -> None:
    client_id = set_up(quay, tmp_path)

    # The sign-in page echoes a failed username and keeps ``next``.
    page.open("/signin?next=" + quote('/"><script>alert(1)</script>', safe=""))
    page.element("#username").send_keys(PAYLOAD)
    page.element("#password").send_keys("wrong")
    page.click("#signin-button")
    assert page.element("#signin-error").text == "Invalid username or password."
    assert page.element("#username").get_attribute("value") == PAYLOAD
    assert_inert(page, shows=None)
    page.screenshot("01-signin-failed")
    page.sign_in(quay.username, quay.password)

    page.open("/organizations/")
    assert_inert(page, shows=ORG)
    page.screenshot("02-organizations")
    for tab in ("repos", "robots", "defaultpermissions", "applications"):
        page.open(f"/organization/{ORG}?tab={tab}")
        assert_inert(page, shows=None if tab == "defaultpermissions" else PAYLOAD)
        assert page.element("#org-name").text == ORG
        page.screenshot(f"03-organization-{tab}")

    page.open(f"/organization/{ORG}?tab=defaultpermissions")
    assert f"{ORG}+{ROBOT} (robot) write" in page.element("#default-permissions").text

    page.open(f"/organization/{ORG}/robot/{ROBOT}")
    assert_inert(page)
    assert page.element("#robot-permissions").text.endswith(f"{ORG}/{REPO} write")
    page.screenshot("04-robot")
    page.click("#show-credentials")
    assert_inert(page, shows=f"{ORG}+{ROBOT}")
    page.screenshot("05-robot-credentials")

    page.open(f"/repository/{ORG}/{REPO}")
    assert_inert(page)
    assert [cell.text for cell in page.elements("#tags td.tag-name")] == [TAG]
    page.screenshot("06-repository")

    page.open(f"/organization/{ORG}/application/{client_id}")
    assert_inert(page)
    assert page.element("#application-name").text == PAYLOAD
    assert "javascript:alert(1)" in page.text()
    page.screenshot("07-application")
    page.click("#generate-token")
    assert_inert(page)
    page.element("#scope-repo-read").click()
    page.click("#generate-access-token")
    assert_inert(page)
    page.click("#authorize-application")
    assert_inert(page)
    page.click("#authorize-application")
    assert_inert(page)
    page.screenshot("08-token-created")

    # An application named with markup through the UI's own form.
    page.open(f"/organization/{ORG}/applications/new")
    page.element("#name").send_keys(MARKUP)
    page.element("#description").send_keys(PAYLOAD)
    page.click("#create-application-button")
    assert_inert(page)
    assert page.element("#application-name").text == MARKUP
    page.screenshot("09-application-created-in-the-ui")

    # Names from the URL, echoed by the 404 pages.
    for number, path in enumerate(
        (
            "/organization/" + quote(MARKUP, safe=""),
            f"/organization/{ORG}/robot/" + quote(MARKUP, safe=""),
            f"/repository/{ORG}/" + quote(MARKUP, safe=""),
            f"/organization/{ORG}/application/" + quote(MARKUP, safe=""),
            f"/organization/{ORG}?tab=" + quote(MARKUP, safe=""),
        ),
        start=10,
    ):
        page.open(path)
        assert_inert(page, shows=None)
        assert MARKUP in page.element("#error-message").text
        page.screenshot(f"{number}-not-found")


def test_the_policy_allows_no_script() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"


def test_every_page_sends_the_policy_and_no_store(quay: RegistryServer, tmp_path: Path) -> None:
    """The headers that keep scripts out and pages out of caches, on each page (HTTP level)."""
    set_up(quay, tmp_path)
    session = FormSession(quay.url)
    signin = session.get("/signin")
    assert signin.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert session.sign_in(quay.username, quay.password).status_code == 200
    paths = [
        "/organizations/",
        *(f"/organization/{ORG}?tab={t}" for t in ("repos", "robots", "defaultpermissions")),
        f"/organization/{ORG}?tab=applications",
        f"/organization/{ORG}/robot/{ROBOT}",
        f"/repository/{ORG}/{REPO}",
        f"/organization/{ORG}/applications/new",
        "/organization/nope",
    ]
    for path in paths:
        response = session.get(path, allow_redirects=False)
        assert response.status_code in (200, 404), path
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Type"].startswith("text/html"), path
    css = requests.get(quay.url + "/static/ui/quay-ui.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
