"""A small JSON-in, JSON-out view of a Kubernetes API server, configured from a kubeconfig.

The demo plays ``oc`` commands, which send plain JSON to many kinds of resources (projects,
templates, builds, routes) that the official client's typed APIs do not cover. The official
``kubernetes`` package reads the kubeconfig (token, client certificate, CA, exec plugins), and
``requests`` sends the calls; objects stay dicts, as ``oc get -o json`` shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from kubernetes import client as k8s
from kubernetes import config as k8s_config

#: Seconds one API call may take.
REQUEST_TIMEOUT = 15.0


class KubeError(RuntimeError):
    """The API server refused a call; carries the status and Kubernetes' message."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message[:500]}")
        self.status = status


class Kube:
    """Calls to one API server with the credentials of a kubeconfig.

    Args:
        kubeconfig: path of the kubeconfig; its current context is used.
    """

    def __init__(self, kubeconfig: Path | str) -> None:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
        self.host = configuration.host.rstrip("/")
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"
        token = (configuration.api_key or {}).get("authorization") or (
            (configuration.api_key or {}).get("BearerToken")
        )
        if token:
            self._session.headers["Authorization"] = (
                token if token.lower().startswith("bearer ") else f"Bearer {token}"
            )
        self._session.verify = configuration.ssl_ca_cert or configuration.verify_ssl
        if configuration.cert_file and configuration.key_file:
            self._session.cert = (configuration.cert_file, configuration.key_file)
        self._plurals: dict[tuple[str, str], tuple[str, bool] | None] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self._session.request(
            method, self.host + path, timeout=REQUEST_TIMEOUT, **kwargs
        )
        return response

    def _json(self, method: str, path: str, response: requests.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message", response.text))
            except ValueError:
                message = response.text
            raise KubeError(method, path, response.status_code, message)
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str) -> dict[str, Any] | None:
        """Return the object at ``path``, or ``None`` when it does not exist."""
        response = self._request("GET", path)
        if response.status_code == 404:
            return None
        return self._json("GET", path, response)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to the collection at ``path``; return what the server stored."""
        return self._json("POST", path, self._request("POST", path, json=body))

    def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch to the object at ``path``."""
        headers = {"Content-Type": "application/merge-patch+json"}
        return self._json("PATCH", path, self._request("PATCH", path, json=patch, headers=headers))

    def delete(self, path: str) -> bool:
        """Delete the object at ``path``; return False when it did not exist."""
        response = self._request("DELETE", path)
        if response.status_code == 404:
            return False
        self._json("DELETE", path, response)
        return True

    def items(self, path: str) -> list[dict[str, Any]]:
        """Return the items of the list at ``path``."""
        body = self._json("GET", path, self._request("GET", path))
        items: list[dict[str, Any]] = body.get("items") or []
        return items

    def resource_path(self, api_version: str, kind: str, namespace: str) -> str | None:
        """Return the collection path serving ``kind`` (by discovery), ``None`` when not served."""
        key = (api_version, kind)
        if key not in self._plurals:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            found: tuple[str, bool] | None = None
            discovery = self.get(base)
            for resource in (discovery or {}).get("resources", []):
                if resource.get("kind") == kind and "/" not in resource.get("name", "/"):
                    found = (resource["name"], bool(resource.get("namespaced")))
                    break
            self._plurals[key] = found
        entry = self._plurals[key]
        if entry is None:
            return None
        plural, namespaced = entry
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        return f"{base}/namespaces/{namespace}/{plural}" if namespaced else f"{base}/{plural}"
