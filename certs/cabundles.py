"""Putting a CA into a MutatingWebhookConfiguration's ``caBundle``: the pure part.

The API server trusts the webhook's certificate only through ``clientConfig.caBundle`` (base64 PEM).
These functions compute the new documents or the JSON Patch; reading and writing files or the live
object is done by the callers (``certs.commands`` for files, ``certs.injecting`` for the live
object, through a transport such as ``certs.official_client``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import yaml

KIND = "MutatingWebhookConfiguration"


class InjectionError(ValueError):
    """Nothing to inject into, or a document that is not a usable webhook configuration."""


def ca_bundle_value(ca_pem: bytes) -> str:
    """Return ``ca_pem`` as the base64 text ``clientConfig.caBundle`` holds."""
    if b"-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise InjectionError("the CA file holds no PEM certificate")
    return base64.b64encode(ca_pem).decode()


def inject_into_documents(
    documents: list[Any], ca_pem: bytes, *, name: str | None = None, webhook: str | None = None
) -> int:
    """Set ``caBundle`` of matching webhooks in matching configurations, in place.

    Args:
        documents: parsed YAML/JSON documents; other kinds are left alone.
        ca_pem: the CA certificate(s), PEM.
        name: only the configuration with this ``metadata.name`` (default: every one).
        webhook: only the webhook with this name (default: every webhook).

    Returns:
        How many webhooks were updated.

    Raises:
        InjectionError: when nothing matched.
    """
    value = ca_bundle_value(ca_pem)
    count = 0
    for document in documents:
        if not isinstance(document, dict) or document.get("kind") != KIND:
            continue
        metadata = document.get("metadata")
        if name is not None and (not isinstance(metadata, dict) or metadata.get("name") != name):
            continue
        for entry in _webhooks(document):
            if webhook is not None and entry.get("name") != webhook:
                continue
            client_config = entry.setdefault("clientConfig", {})
            if not isinstance(client_config, dict):
                raise InjectionError(f"webhook {entry.get('name')!r} has a malformed clientConfig")
            client_config["caBundle"] = value
            count += 1
    if count == 0:
        raise InjectionError(_nothing_matched(name, webhook))
    return count


def inject_into_yaml(
    text: str, ca_pem: bytes, *, name: str | None = None, webhook: str | None = None
) -> str:
    """Return the YAML stream ``text`` with ``caBundle`` set (comments are not kept)."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise InjectionError(f"not YAML: {exc}") from None
    inject_into_documents(documents, ca_pem, name=name, webhook=webhook)
    return yaml.safe_dump_all(documents, sort_keys=False)


def ca_bundle_patch(
    configuration: Mapping[str, Any], ca_pem: bytes, *, webhook: str | None = None
) -> list[dict[str, Any]]:
    """Return the JSON Patch that sets ``caBundle`` on a live configuration.

    Each change is guarded by a ``test`` of the webhook's name at its index, so a concurrent edit
    that reorders the webhooks makes the patch fail (and the caller retry) rather than hit the
    wrong webhook.
    """
    value = ca_bundle_value(ca_pem)
    ops: list[dict[str, Any]] = []
    for index, entry in enumerate(_webhooks(configuration)):
        if webhook is not None and entry.get("name") != webhook:
            continue
        ops.append({"op": "test", "path": f"/webhooks/{index}/name", "value": entry.get("name")})
        path = f"/webhooks/{index}/clientConfig"
        if isinstance(entry.get("clientConfig"), Mapping):
            ops.append({"op": "add", "path": f"{path}/caBundle", "value": value})
        else:
            ops.append({"op": "add", "path": path, "value": {"caBundle": value}})
    if not ops:
        raise InjectionError(_nothing_matched(None, webhook))
    return ops


def _webhooks(configuration: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = configuration.get("webhooks") or []
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise InjectionError("webhooks must be a list of objects")
    return entries


def _nothing_matched(name: str | None, webhook: str | None) -> str:
    what = f"{KIND} {name!r}" if name else f"any {KIND}"
    return f"no webhook {webhook!r} in {what}" if webhook else f"no webhooks in {what}"
