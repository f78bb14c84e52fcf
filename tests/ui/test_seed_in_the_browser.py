"""The product documentation's steps done in the web UI, against the whole stack.

The procedure and its section numbers: docs/reference/original-operator.md#the-documented-procedure.

Section 11.1 in a real browser: sign in, create the dedicated organization (Create New
Organization) and choose it, Applications, Create New Application ``openshift``, open it, Generate
Token with the seven listed scopes, Authorize Application twice, copy the token shown once. That
token goes into the credentials Secret of a QuayIntegration on the simulator, with the real
operator running: the integration must become Ready and provision ``oc new-project e2e-demo`` and
``oc new-app --template=httpd-example`` (a build that really pushes). Then section 11.5's UI
checks: the organization ``openshift_e2e-demo`` in the list, its Robot Accounts ``+builder``,
``+default``, ``+deployer`` with their permissions and credentials (equal to the pull Secrets the
operator wrote), its default permissions, and the pushed ``latest`` tag with the digest the build
reported.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

from demo.scenario import DemoConfig, Scenario
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter
from tests.support.browser import Page, artifacts_dir, chromium
from tests.ui.conftest import needs_browser

#: The scopes the documentation's procedure ticks (all but Super User Access).
SEED_SCOPES = (
    "org:admin",
    "repo:admin",
    "repo:create",
    "repo:read",
    "repo:write",
    "user:admin",
    "user:read",
)
BRIDGE_ORG = "quaybridge"
ORG = "openshift_e2e-demo"
NS = "e2e-demo"


def generate_token_in_the_ui(page: Page, password: str) -> str:
    """Section 11.1, click by click; returns the token the page shows once."""
    page.sign_in("quayadmin", password)
    assert page.element("#signed-in-user").text == "quayadmin"
    # The dedicated organization the procedure starts from.
    page.click("#create-organization")
    page.element("#name").send_keys(BRIDGE_ORG)
    page.element("#email").send_keys("bridge@example.com")
    page.screenshot("00-create-new-organization")
    page.click("#create-organization-button")
    assert page.element("#org-name").text == BRIDGE_ORG
    page.open("/organizations/")
    page.click(f'a.org-link[href="/organization/{BRIDGE_ORG}"]')
    page.click("#tab-applications")
    page.screenshot("01-organization-applications-empty")
    page.click("#create-application")
    page.element("#name").send_keys("openshift")
    page.screenshot("02-create-new-application")
    page.click("#create-application-button")
    assert page.element("#application-name").text == "openshift"
    # "In the OAuth Applications page, select your application": back to the list, open it.
    page.open(f"/organization/{BRIDGE_ORG}?tab=applications")
    assert [a.text for a in page.elements("a.application-link")] == ["openshift"]
    page.screenshot("03-organization-applications")
    page.click("a.application-link")
    page.screenshot("04-application")
    page.click("#generate-token")
    labels = [label.text for label in page.elements("ul.scopes label")]
    assert "Administer Organization" in labels and "Read User Information" in labels
    for scope in SEED_SCOPES:
        page.element(f"#scope-{scope.replace(':', '-')}").click()
    page.screenshot("05-generate-token-scopes")
    page.click("#generate-access-token")
    requested = page.element("#requested-scopes").text
    assert all(scope in requested for scope in SEED_SCOPES)
    assert "super:user" not in requested
    page.screenshot("06-authorize-application")
    page.click("#authorize-application")
    assert page.elements("#confirm-text")
    page.screenshot("07-authorize-application-confirm")
    page.click("#authorize-application")
    token = page.element("#access-token").get_attribute("value") or ""
    assert re.fullmatch(r"[A-Z0-9]{40}", token), "the page shows a Quay access token"
    granted = page.element("#token-scopes-granted").text.split()
    assert granted == list(SEED_SCOPES)
    page.screenshot("08-access-token-shown-once")
    return token


@needs_browser
def test_seed_procedure_in_the_browser(tmp_path: Path) -> None:
    (tmp_path / "stack").mkdir()
    stack = Stack(tmp_path / "stack")
    scenario = Scenario(stack, RecordingReporter(), DemoConfig(namespace=NS))
    try:
        assert scenario.run_step("registry", "registry core", scenario.start_registry)
        assert scenario.quay is not None
        password = secrets.token_urlsafe(18)
        scenario.quay.initialize("quayadmin", password, "admin@example.com")
        with chromium(tmp_path) as driver:
            page = Page(driver, stack.registry_url, artifacts_dir() / "seed-procedure")
            token = generate_token_in_the_ui(page, password)
            assert all(token not in url for url in page.visited), "a token reached a URL"
            page.open(f"/organization/{BRIDGE_ORG}?tab=applications")
            page.click("a.application-link")
            assert token not in driver.page_source, "the token is shown only once"
            assert "repo:write" in page.element("#tokens").text

            # The UI's token is the bridge's credential (sections 11.3 and 11.4).
            scenario.facts["_token"] = token
            for name, title, step in scenario.steps():
                if name in {"registry", "token", "delete-project"}:
                    continue
                assert scenario.run_step(name, title, step), scenario.records[-1].error

            # Section 11.5 in the UI.
            page.open("/organizations/")
            orgs = [a.text for a in page.elements("a.org-link")]
            assert ORG in orgs and BRIDGE_ORG in orgs
            page.screenshot("09-organizations")
            page.click(f'a.org-link[href="/organization/{ORG}"]')
            assert page.element("#org-name").text == ORG
            assert [a.text for a in page.elements("a.repo-link")] == ["httpd-example"]
            page.screenshot("10-organization-repositories")
            page.click("#tab-robots")
            robots = [a.text for a in page.elements("a.robot-link")]
            assert robots == [
                f"{ORG}+builder",
                f"{ORG}+default",
                f"{ORG}+deployer",
            ]
            rows = {
                row.find_element("css selector", "a.robot-link").text: row.text
                for row in page.elements("#robots tbody tr")
            }
            assert "httpd-example write" in rows[f"{ORG}+builder"]
            assert "httpd-example read" in rows[f"{ORG}+deployer"]
            page.screenshot("11-organization-robot-accounts")
            page.click("#tab-defaultpermissions")
            defaults = page.element("#default-permissions").text
            assert f"{ORG}+builder (robot) write" in defaults
            assert f"{ORG}+default (robot) read" in defaults
            page.screenshot("12-organization-default-permissions")

            page.open(f"/organization/{ORG}?tab=robots")
            page.click(f'a.robot-link[href="/organization/{ORG}/robot/builder"]')
            assert page.element("#robot-permissions").text.split("\n")[1:] == [
                f"{ORG}/httpd-example write"
            ]
            page.screenshot("13-robot-builder")
            page.click("#show-credentials")
            robot_token = page.element("#robot-token").get_attribute("value") or ""
            host = scenario.registry_host
            secret = scenario.kube.get(  # type: ignore[union-attr]
                f"/api/v1/namespaces/{NS}/secrets/builder-quay-openshift"
            )
            assert secret is not None
            config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
            assert config["auths"][host]["password"] == robot_token
            assert page.element("#docker-login").text == (
                f"docker login -u='{ORG}+builder' -p='{robot_token}' {host}"
            )
            assert page.element("#podman-login").text.startswith(f"podman login -u='{ORG}+builder'")
            secret_yaml = page.element("#kubernetes-secret").text
            assert "kind: Secret" in secret_yaml and "kubernetes.io/dockerconfigjson" in secret_yaml
            assert all(robot_token not in url for url in page.visited)
            page.screenshot("14-robot-builder-credentials")

            page.open(f"/organization/{ORG}")
            page.click(f'a.repo-link[href="/repository/{ORG}/httpd-example"]')
            rows = page.elements("#tags tbody tr")
            assert len(rows) == 1
            cells = [cell.text for cell in rows[0].find_elements("css selector", "td")]
            assert cells[0] == "latest"
            assert cells[1].endswith(" UTC")
            assert re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB)", cells[2])
            assert cells[3] == scenario.facts["_digest"]
            page.screenshot("15-repository-tags")
    finally:
        scenario.close()
        for component in stack.components.values():
            print(f"--- {component.name} log tail ---\n{component.log_tail(40)}")
        stack.close()
