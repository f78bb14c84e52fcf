"""The few Quay API calls the demo makes to show what the bridge did, over plain ``requests``.

The demo bootstraps the first user and its OAuth token with ``POST /api/v1/user/initialize``
(as an admin does on a fresh Quay with ``FEATURE_USER_INITIALIZE``), or, against an existing Quay,
is given an org-admin OAuth token; then it only reads: who the token is, the organization, its
robots, a repository's tags. The token never leaves this object's session
header; nothing here logs it.
"""

from __future__ import annotations

from typing import Any

import requests

#: Seconds one Quay call may take.
REQUEST_TIMEOUT = 10.0


class QuayError(RuntimeError):
    """Quay answered an unexpected status."""


class Quay:
    """Read-only views of a Quay (or the registry core) with one OAuth token.

    Args:
        url: Quay's base URL, e.g. ``http://127.0.0.1:8080``.
        token: an OAuth access token; set later by :meth:`initialize` when ``None``.
        verify: TLS verification: True, a CA bundle path, or False (never by default).
    """

    def __init__(self, url: str, token: str | None = None, verify: bool | str = True) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()
        self._session.verify = verify
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def initialize(self, username: str, password: str, email: str) -> str:
        """Create the first user and return its token (only works on a Quay with no user yet)."""
        response = self._session.post(
            f"{self.url}/api/v1/user/initialize",
            json={"username": username, "password": password, "email": email, "access_token": True},
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code != 200:
            raise QuayError(
                f"user/initialize answered HTTP {response.status_code}: {response.text[:300]}"
            )
        token = str(response.json().get("access_token") or "")
        if not token:
            raise QuayError("user/initialize gave no access_token")
        self._session.headers["Authorization"] = f"Bearer {token}"
        return token

    def _get(self, path: str) -> dict[str, Any] | None:
        response = self._session.get(f"{self.url}{path}", timeout=REQUEST_TIMEOUT)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise QuayError(
                f"GET {path} answered HTTP {response.status_code}: {response.text[:300]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def user(self) -> dict[str, Any]:
        """Return who the token belongs to (``GET /api/v1/user/``); checks the token works."""
        response = self._session.get(f"{self.url}/api/v1/user/", timeout=REQUEST_TIMEOUT)
        if response.status_code in (401, 403):
            raise QuayError(
                f"Quay at {self.url} refused the token (HTTP {response.status_code}): give an "
                "OAuth access token of an organization admin (Quay: Organization > Applications "
                "> Generate Token, with all scopes)"
            )
        if response.status_code != 200:
            raise QuayError(
                f"GET /api/v1/user/ answered HTTP {response.status_code}: {response.text[:300]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def organization(self, name: str) -> dict[str, Any] | None:
        """Return the organization, or ``None`` when it does not exist."""
        return self._get(f"/api/v1/organization/{name}")

    def robots(self, organization: str) -> list[str]:
        """Return the full names (``org+short``) of the organization's robots."""
        body = self._get(f"/api/v1/organization/{organization}/robots") or {}
        return sorted(str(robot["name"]) for robot in body.get("robots", []))

    def repositories(self, organization: str) -> list[str]:
        """Return the names of the organization's repositories."""
        body = self._get(f"/api/v1/repository?namespace={organization}") or {}
        return sorted(str(repo["name"]) for repo in body.get("repositories", []))

    def tag_digest(self, organization: str, repository: str, tag: str) -> str | None:
        """Return the manifest digest of ``tag``, or ``None`` when the tag does not exist."""
        body = self._get(
            f"/api/v1/repository/{organization}/{repository}/tag/?specificTag={tag}&onlyActiveTags=true"
        )
        for entry in (body or {}).get("tags", []):
            if entry.get("name") == tag:
                digest = entry.get("manifest_digest")
                return str(digest) if digest else None
        return None

    def metrics(self) -> str:
        """Return the registry core's Prometheus ``/metrics`` text (not a real Quay API)."""
        response = self._session.get(f"{self.url}/metrics", timeout=REQUEST_TIMEOUT)
        response.raise_for_status()
        return response.text
