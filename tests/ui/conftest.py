"""Fixtures of the web UI tests: a real registry core process and a real headless Chromium.

Screenshots of every page a test visits go to ``${QUAY_BRIDGE_ARTIFACTS:-.artifacts}/ui/<test>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.registry import RegistryServer, registry_server
from tests.support.browser import Page, artifacts_dir, chromium, missing_browser

needs_browser = pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))


@pytest.fixture
def quay() -> Iterator[RegistryServer]:
    """A registry core process with its first user (``quayadmin``, a superuser)."""
    with registry_server() as server:
        yield server


@pytest.fixture
def page(quay: RegistryServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh headless Chromium pointed at ``quay``; screenshots named after the test."""
    with chromium(tmp_path) as driver:
        yield Page(driver, quay.url, artifacts_dir() / request.node.name)


def api(quay: RegistryServer, method: str, path: str, body: object = None) -> requests.Response:
    """A REST call with the first user's token (set-up the UI does not offer)."""
    return requests.request(method, quay.url + path, json=body, headers=quay.headers(), timeout=10)


CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


class FormSession:
    """A ``requests`` session that signs in through the form, for HTTP-level checks."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, str], **kwargs: object) -> requests.Response:
        return self.http.post(self.base_url + path, data=data, timeout=10, **kwargs)  # type: ignore[arg-type]

    def csrf(self, path: str) -> str:
        """The CSRF token in the forms of a page."""
        found = CSRF.search(self.get(path).text)
        assert found is not None, f"no form on {path}"
        return found.group(1)

    def sign_in(self, username: str, password: str) -> requests.Response:
        token = self.csrf("/signin")
        return self.post(
            "/signin", {"_csrf_token": token, "username": username, "password": password}
        )
