"""``quay-bridge demo --keep --screenshots DIR``: the UI's address and sign-in, and its screenshots.

The demo runs as a user runs it (a process); its JSON output must name the web UI and a sign-in
that works in a real browser, where the organization ``openshift_e2e-demo`` shows the three robots
the bridge made (the product documentation's section 11.5, summarised in
docs/reference/original-operator.md#the-documented-procedure), and its ``screenshots`` step must
have saved PNG files of the organization and robot pages before stopping.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.browser import Page, artifacts_dir, chromium
from tests.support.demo_process import DemoProcess
from tests.ui.conftest import needs_browser

ORG = "openshift_e2e-demo"
PNG = b"\x89PNG\r\n\x1a\n"


@needs_browser
def test_keep_prints_a_working_sign_in_and_the_screenshots_are_saved(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    demo = DemoProcess("--keep", "--screenshots", str(shots))
    seen = demo.seen
    try:
        demo.until("keep")
        steps = [o for o in seen if o["event"] == "step"]
        assert steps[-1]["name"] == "screenshots" and steps[-1]["ok"], steps[-1]
        names = sorted(path.name for path in shots.iterdir())
        assert "organization.png" in names and "organization-robot-accounts.png" in names
        assert "robot-builder.png" in names
        assert all((shots / name).read_bytes().startswith(PNG) for name in names)
        assert sorted(Path(p).name for p in steps[-1]["facts"]["saved"]) == names

        kept = next(o for o in seen if o.get("event") == "keep")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", kept["web_ui"]), kept
        url = kept["web_ui"].rstrip("/")
        username, password = kept["ui_username"], kept["ui_password"]
        assert username and password, kept
        with chromium(tmp_path) as driver:
            page = Page(driver, url, artifacts_dir() / "demo-keep")
            page.sign_in(username, password)
            assert ORG in [a.text for a in page.elements("a.org-link")]
            page.open(f"/organization/{ORG}?tab=robots")
            assert [a.text for a in page.elements("a.robot-link")] == [
                f"{ORG}+builder",
                f"{ORG}+default",
                f"{ORG}+deployer",
            ]
            page.screenshot("organization-robot-accounts")
    finally:
        returncode = demo.stop()
    assert returncode == 0
