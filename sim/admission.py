"""The mutating admission chain, as the Kubernetes/OpenShift API server runs it.

For every CREATE/UPDATE (PATCH is an UPDATE) the chain reads the stored
``MutatingWebhookConfiguration`` objects, picks the webhooks whose rules, ``namespaceSelector`` and
``objectSelector`` match, and calls each over HTTPS with an ``admission.k8s.io/v1``
AdmissionReview, verifying the server certificate against ``caBundle``. Replies are checked as the
API server checks them (kind, apiVersion, same uid, ``patchType: JSONPatch`` iff a patch); patches
apply strictly (a path under a missing parent is a 500); a denial keeps its code (400 when the
webhook gives none); calling errors follow ``failurePolicy`` (``Fail`` -> 500, ``Ignore`` -> go on).
A ``service`` reference is reached through ``Settings.service_addresses``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import ssl
import uuid
from typing import Any

import aiohttp

from sim.errors import ApiError
from sim.machinery import NS_KEY, Machinery, Obj, Request
from sim.patching import PatchError, apply_json_patch
from sim.resources import ResourceType
from sim.selectors import label_selector_matches
from sim.store import Event, Key

log = logging.getLogger("sim.admission")
MWC_KEY: Key = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")


class CallError(Exception):
    """A failure to call a webhook or to understand its reply (subject to failurePolicy)."""


def _matches_list(values: list[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in (values or []) or wanted in (values or []))


def rule_matches(rule: dict[str, Any], op: str, rt: ResourceType, sub: str) -> bool:
    """Return whether one RuleWithOperations matches an operation on a resource."""
    if not _matches_list(rule.get("operations"), op):
        return False
    if not _matches_list(rule.get("apiGroups"), rt.group):
        return False
    if not _matches_list(rule.get("apiVersions"), rt.version):
        return False
    resource = f"{rt.plural}/{sub}" if sub else rt.plural
    resources = rule.get("resources") or []
    ok = resource in resources or (not sub and "*" in resources) or "*/*" in resources
    if not ok and sub:
        ok = f"*/{sub}" in resources or f"{rt.plural}/*" in resources
    if not ok:
        return False
    scope = str(rule.get("scope", "*"))
    return scope == "*" or (scope == "Namespaced") == rt.namespaced


def _review_uid() -> str:
    return str(uuid.uuid4())


class AdmissionChain:
    """Calls matching mutating webhooks for the machinery's writes."""

    def __init__(self, m: Machinery) -> None:
        self.m = m
        m.admission = self.admit
        # the webhooks in configuration-name order, read again only after a configuration changes
        self._cached: list[dict[str, Any]] | None = None
        m.store.listeners.append(self._on_event)

    def _on_event(self, key: Key, _event: Event) -> None:
        if key == MWC_KEY:
            self._cached = None

    def _hooks(self) -> list[dict[str, Any]]:
        if self._cached is None:
            configs = sorted(self.m.store.iter(MWC_KEY, None), key=lambda c: c["metadata"]["name"])
            self._cached = [h for c in configs for h in c.get("webhooks") or []]
        return self._cached

    def _selected(
        self, hook: dict[str, Any], rt: ResourceType, ns: str, obj: Obj, old: Obj | None
    ) -> bool:
        ns_selector = hook.get("namespaceSelector")
        if ns_selector:
            if rt.key == NS_KEY:
                labels = (obj.get("metadata") or {}).get("labels") or {}
            elif rt.namespaced:
                ns_obj = self.m.store.get(NS_KEY, "", ns)
                labels = ((ns_obj or {}).get("metadata") or {}).get("labels") or {}
            else:
                labels = None
            if labels is not None and not label_selector_matches(ns_selector, labels):
                return False
        obj_selector = hook.get("objectSelector")
        if obj_selector:
            new_labels = (obj.get("metadata") or {}).get("labels") or {}
            old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
            if not (
                label_selector_matches(obj_selector, new_labels)
                or (old and label_selector_matches(obj_selector, old_labels))
            ):
                return False
        return True

    async def admit(
        self, op: str, rt: ResourceType, sub: str, ns: str, obj: Obj, old: Obj | None, req: Request
    ) -> Obj:
        """Run the chain on one write and return the (possibly mutated) object."""
        for hook in self._hooks():
            if not any(rule_matches(r, op, rt, sub) for r in hook.get("rules") or []):
                continue
            if not self._selected(hook, rt, ns, obj, old):
                continue
            obj = await self._call(hook, op, rt, sub, ns, obj, old, req)
        return obj

    def _target(self, hook: dict[str, Any], timeout: int) -> tuple[str, str, str | None]:
        """Return (URL to show, URL to connect to, TLS server name or None)."""
        cc = hook.get("clientConfig") or {}
        if cc.get("url"):
            url = str(cc["url"])
            sep = "&" if "?" in url else "?"
            return f"{url}{sep}timeout={timeout}s", f"{url}{sep}timeout={timeout}s", None
        svc = cc.get("service") or {}
        name, namespace = svc.get("name", ""), svc.get("namespace", "")
        port, path = int(svc.get("port", 443)), svc.get("path", "") or ""
        host = f"{name}.{namespace}.svc"
        shown = f"https://{host}:{port}{path}?timeout={timeout}s"
        addresses = self.m.settings.service_addresses
        address = addresses.get(f"{name}.{namespace}:{port}") or addresses.get(f"{host}:{port}")
        if address is None:
            raise CallError(
                f"failed to call webhook: dial tcp: lookup {host}: no such host "
                f'(no --service-address for "{name}.{namespace}:{port}")'
            )
        return shown, f"https://{address}{path}?timeout={timeout}s", host

    def _ssl(self, hook: dict[str, Any]) -> ssl.SSLContext:
        bundle = (hook.get("clientConfig") or {}).get("caBundle")
        if not bundle:
            return ssl.create_default_context()
        try:
            pem = base64.b64decode(bundle, validate=True).decode()
            return ssl.create_default_context(cadata=pem)
        except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
            raise CallError(f"invalid caBundle: {exc}") from exc

    def _review(
        self,
        uid: str,
        op: str,
        rt: ResourceType,
        sub: str,
        ns: str,
        obj: Obj,
        old: Obj | None,
        req: Request,
    ) -> dict[str, Any]:
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": gvk,
                "resource": gvr,
                "subResource": sub,
                "requestKind": gvk,
                "requestResource": gvr,
                "name": (obj.get("metadata") or {}).get("name", ""),
                "namespace": ns if rt.namespaced else "",
                "operation": op,
                "userInfo": {"username": req.user, "groups": list(req.groups)},
                "object": obj,
                "oldObject": old,
                "dryRun": req.dry_run,
                "options": {
                    "apiVersion": "meta.k8s.io/v1",
                    "kind": "CreateOptions" if op == "CREATE" else "UpdateOptions",
                },
            },
        }

    async def _post(
        self, hook: dict[str, Any], review: dict[str, Any], timeout: int
    ) -> tuple[str, dict[str, Any]]:
        shown, url, server_name = self._target(hook, timeout)
        context = self._ssl(hook)
        try:
            async with aiohttp.ClientSession() as session:
                kwargs: dict[str, Any] = {
                    "ssl": context,
                    "timeout": aiohttp.ClientTimeout(total=timeout),
                }
                if server_name:
                    kwargs["server_hostname"] = server_name
                    kwargs["headers"] = {"Host": server_name}
                async with session.post(url, json=review, **kwargs) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise CallError(
                            f'failed to call webhook: Post "{shown}": '
                            f"the server responded with status {resp.status}"
                        )
        except TimeoutError as exc:
            raise CallError(
                f'failed to call webhook: Post "{shown}": context deadline exceeded'
            ) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CallError(
                f'failed to call webhook: Post "{shown}": '
                f"tls: failed to verify certificate: {exc.certificate_error}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise CallError(f'failed to call webhook: Post "{shown}": {exc}') from exc
        try:
            reply = json.loads(body)
        except ValueError as exc:
            raise CallError(f"received invalid webhook response: {exc}") from exc
        if not isinstance(reply, dict):
            raise CallError("received invalid webhook response: not an object")
        return shown, reply

    async def _call(
        self,
        hook: dict[str, Any],
        op: str,
        rt: ResourceType,
        sub: str,
        ns: str,
        obj: Obj,
        old: Obj | None,
        req: Request,
    ) -> Obj:
        name = str(hook.get("name", ""))
        timeout = int(hook.get("timeoutSeconds") or 10)
        uid = _review_uid()
        try:
            _, reply = await asyncio.wait_for(
                self._post(hook, self._review(uid, op, rt, sub, ns, obj, old, req), timeout),
                timeout + 1,
            )
            response = self._check(reply, uid)
        except (CallError, TimeoutError) as exc:
            cause = str(exc) or "failed to call webhook: context deadline exceeded"
            if hook.get("failurePolicy", "Fail") == "Ignore":
                log.info("webhook %s failed and is ignored: %s", name, cause)
                return obj
            raise ApiError(
                500,
                "InternalError",
                f'Internal error occurred: failed calling webhook "{name}": {cause}',
            ) from exc
        if not response.get("allowed"):
            status = response.get("status") or {}
            code = status.get("code") or 0
            code = code if isinstance(code, int) and code >= 400 else 400
            why = status.get("message") or status.get("reason") or "without explanation"
            raise ApiError(
                code,
                str(status.get("reason") or ""),
                f'admission webhook "{name}" denied the request: {why}',
            )
        patch = response.get("patch")
        if not patch:
            return obj
        try:
            ops = json.loads(base64.b64decode(patch))
        except (ValueError, binascii.Error) as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return obj
            raise ApiError(
                500,
                "InternalError",
                f'Internal error occurred: failed calling webhook "{name}": '
                f"received invalid webhook response: {exc}",
            ) from exc
        try:
            patched = apply_json_patch(obj, ops)
        except PatchError as exc:
            raise ApiError(500, "InternalError", f"Internal error occurred: {exc}") from exc
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise ApiError(
                500,
                "InternalError",
                "Internal error occurred: the webhook patch did not produce an object",
            )
        return patched

    @staticmethod
    def _check(reply: dict[str, Any], uid: str) -> dict[str, Any]:
        if (
            reply.get("apiVersion") != "admission.k8s.io/v1"
            or reply.get("kind") != "AdmissionReview"
        ):
            raise CallError(
                "received invalid webhook response: expected admission.k8s.io/v1 AdmissionReview"
            )
        response = reply.get("response")
        if not isinstance(response, dict):
            raise CallError("received invalid webhook response: response is missing")
        if response.get("uid") != uid:
            raise CallError(
                "received invalid webhook response: "
                f"expected response.uid={uid!r}, got {response.get('uid')!r}"
            )
        if response.get("patch") and response.get("patchType") != "JSONPatch":
            raise CallError(
                "received invalid webhook response: "
                f"expected patchType JSONPatch, got {response.get('patchType')!r}"
            )
        if response.get("patchType") and not response.get("patch"):
            raise CallError("received invalid webhook response: patchType without a patch")
        return response
