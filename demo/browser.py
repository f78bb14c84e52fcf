"""Screenshots of the registry core's web UI, taken by headless Chromium through chromedriver.

The demo meets every component as a process over HTTP, so it drives the browser the same way: it
starts Debian's ``chromedriver`` on a loopback port and speaks the W3C WebDriver protocol to it
with ``requests`` (no browser automation library, no registry code). Chromium runs headless with a
fresh profile and no background traffic; it signs in through the sign-in form like a user, opens
each page and saves a full-page PNG (Chromium's ``Page.captureScreenshot`` through chromedriver).
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import requests

from devstack.ports import free_port
from devstack.processes import Process
from devstack.waiting import WaitTimeout, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
#: The W3C key of a found element in WebDriver answers.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
#: Seconds one WebDriver command may take (a page load included).
COMMAND_TIMEOUT = 60.0


class BrowserError(RuntimeError):
    """The browser is missing, did not start, or a page did not do what was expected."""


class Browser:
    """One headless Chromium session; use as a context manager."""

    def __init__(self, workdir: Path) -> None:
        for path in (CHROMIUM, CHROMEDRIVER):
            if shutil.which(path) is None:
                raise BrowserError(
                    f"{path} is missing: install the Debian packages chromium and chromium-driver"
                )
        self._profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
        port = free_port()
        self._driver = Process.spawn(
            "chromedriver",
            [CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
            workdir / "chromedriver.log",
        )
        self._url = f"http://127.0.0.1:{port}"
        self._http = requests.Session()
        self._session = ""
        try:
            self._driver.await_ready(self._ready, "chromedriver answering /status", 30)
            options = {
                "binary": CHROMIUM,
                "args": [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile}"],
            }
            answer = self._call(
                "POST",
                "/session",
                {
                    "capabilities": {
                        "alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}
                    }
                },
                session=False,
            )
            self._session = str(answer["sessionId"])
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ready(self) -> bool:
        status = self._http.get(f"{self._url}/status", timeout=2).json()
        return bool(status.get("value", {}).get("ready"))

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, session: bool = True
    ) -> Any:
        url = f"{self._url}/session/{self._session}{path}" if session else f"{self._url}{path}"
        response = self._http.request(method, url, json=body, timeout=COMMAND_TIMEOUT)
        value = response.json().get("value")
        if response.status_code != 200:
            message = value.get("message", "") if isinstance(value, dict) else str(value)
            raise BrowserError(f"WebDriver {method} {path}: {message.splitlines()[0]}")
        return value

    def open(self, url: str) -> None:
        """Load a page."""
        self._call("POST", "/url", {"url": url})

    def current_url(self) -> str:
        """Where the browser is."""
        return str(self._call("GET", "/url"))

    def _element(self, css: str) -> str:
        found = self._call("POST", "/element", {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def type(self, css: str, text: str) -> None:
        """Type into a form field."""
        self._call("POST", f"/element/{self._element(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        """Click an element (a form's button: the browser follows the answer)."""
        self._call("POST", f"/element/{self._element(css)}/click", {})

    def text(self, css: str = "body") -> str:
        """The visible text of an element."""
        return str(self._call("GET", f"/element/{self._element(css)}/text"))

    def screenshot(self, path: Path) -> Path:
        """Save the whole page as PNG."""
        metrics = self._cdp("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": max(1280, int(size["width"])),
            "height": max(600, int(size["height"])),
            "scale": 1,
        }
        shot = self._cdp(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def _cdp(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = self._call("POST", "/goog/cdp/execute", {"cmd": command, "params": params})
        return dict(answer)

    def close(self) -> None:
        """End the browser session and stop chromedriver; remove the profile."""
        if self._session:
            with contextlib.suppress(requests.RequestException, BrowserError, ValueError):
                self._call("DELETE", "")
            self._session = ""
        self._driver.stop()
        self._http.close()
        shutil.rmtree(self._profile, ignore_errors=True)


def ui_screenshots(
    workdir: Path,
    base_url: str,
    username: str,
    password: str,
    pages: list[tuple[str, str]],
    into: Path,
) -> list[Path]:
    """Sign in to the UI at ``base_url``; save each ``(name, path)`` page as ``<into>/<name>.png``.

    Raises:
        BrowserError: the browser is missing, signing in failed, or a page answered an error.
    """
    saved: list[Path] = []
    with Browser(workdir) as browser:
        browser.open(f"{base_url}/signin")
        browser.type("#username", username)
        browser.type("#password", password)
        browser.click("#signin-button")
        try:
            wait_until(
                lambda: "/signin" not in browser.current_url(),
                COMMAND_TIMEOUT,
                "the web UI leaving /signin",
                interval=0.1,
            )
        except WaitTimeout:
            raise BrowserError(f"signing in to the web UI failed: {browser.text()[:200]}") from None
        for name, path in pages:
            browser.open(f"{base_url}{path}")
            heading = browser.text("h1")
            if heading[:3].isdigit():
                raise BrowserError(f"{path} answered {heading}")
            saved.append(browser.screenshot(into / f"{name}.png"))
    return saved
