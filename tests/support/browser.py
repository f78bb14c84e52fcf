"""A real browser for the web UI tests: Debian's headless Chromium driven through chromedriver.

    from tests.support.browser import chromium, missing_browser, Page

    with chromium(tmp_path) as driver:     # fresh profile, loopback only, no background traffic
        page = Page(driver, quay.url, artifacts_dir() / "my-test")
        page.sign_in("quayadmin", "password")
        page.open("/organization/org1?tab=robots")
        page.screenshot("robots")          # full page PNG in the artifact folder

The system browser and driver are used as installed (``/usr/bin/chromium``,
``/usr/bin/chromedriver``, from ``make system-deps``); nothing is ever downloaded.
Screenshots go to ``${QUAY_BRIDGE_ARTIFACTS:-.artifacts}/ui/``.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

#: Seconds a clicked link or form may take to show the next page.
PAGE_TIMEOUT = 60.0
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
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


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (make system-deps installs chromium chromium-driver)"
    return None


def artifacts_dir() -> Path:
    """Where UI screenshots go: ``${QUAY_BRIDGE_ARTIFACTS:-.artifacts}/ui``."""
    root = Path(os.environ.get("QUAY_BRIDGE_ARTIFACTS") or ".artifacts")
    return root / "ui"


@contextmanager
def chromium(profile_parent: Path) -> Iterator[WebDriver]:
    """Start headless Chromium with a fresh ``--user-data-dir``; quit it afterwards."""
    profile = profile_parent / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile_parent / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def replaced(element: WebElement) -> bool:
    """Whether ``element``'s document is gone (the browser has moved on to the next page).

    chromedriver reports a node of a replaced document either as stale or, while the new document
    is being attached, as an "unknown error" saying the node does not belong to the document.
    """
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


class Page:
    """The browser on one registry core: navigation, sign-in, lookups and screenshots."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url.rstrip("/")
        self.shots = shots
        self.visited: list[str] = []

    def open(self, path: str) -> None:
        """Load a page of the registry core."""
        self.driver.get(self.base_url + path)
        self.visited.append(self.driver.current_url)

    def element(self, css: str) -> WebElement:
        """The element matching ``css`` (fails when there is none)."""
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def elements(self, css: str) -> list[WebElement]:
        """Every element matching ``css``."""
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def click(self, css: str) -> None:
        """Click a link or a form's button, wait for the next page, remember where it went.

        Every click on these pages loads another page; the click returns before the browser has
        necessarily replaced the old document, so wait until it has and the new one is loaded.
        """
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.element(css).click()
        WebDriverWait(self.driver, PAGE_TIMEOUT).until(lambda _: replaced(old))
        WebDriverWait(self.driver, PAGE_TIMEOUT).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )
        self.visited.append(self.driver.current_url)

    def text(self) -> str:
        """The visible text of the page."""
        return self.element("body").text

    def sign_in(self, username: str, password: str) -> None:
        """Fill and submit the sign-in form."""
        self.open("/signin")
        self.element("#username").send_keys(username)
        self.element("#password").send_keys(password)
        self.click("#signin-button")

    def screenshot(self, name: str) -> Path:
        """Save the whole page (not only the window) as ``<shots>/<name>.png``."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})  # type: ignore[attr-defined]
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.driver.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": max(1280, int(size["width"])),
                    "height": max(600, int(size["height"])),
                    "scale": 1,
                },
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
