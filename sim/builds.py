"""OpenShift Builds: server rules, the build controller, and BuildConfig instantiation.

Server rules (docs/reference/openshift.md#fields-and-server-rules): a new Build starts ``New``; a
DockerImage output with a namespace is invalid; the spec is immutable on update except
``spec.output.pushSecret``; nothing leaves a terminal phase. The controller
(docs/reference/openshift.md#phases, #push-secret) moves a Build New -> Pending -> Running ->
Complete or Failed with strategic-merge PATCHes on the main resource, so every step passes the
mutating admission chain as an UPDATE; it picks the push secret from the build service account's
``imagePullSecrets`` by registry host (else the first docker secret), really pushes a small
generated image with it, and records ``status.output.to.imageDigest``. BuildConfig ``instantiate``
(docs/reference/openshift.md#buildconfig-instantiation) names builds ``<bc>-<n>``; a ConfigChange
trigger instantiates once at ``lastVersion`` 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp

from sim import dockercfg
from sim.cloning import clone
from sim.errors import ApiError, bad_request, conflict, invalid, not_found
from sim.machinery import Machinery, Obj, Request, now
from sim.oci import OciClient, RegistryError, generate_image, parse_reference
from sim.settings import registry_scheme
from sim.store import Event, Key

log = logging.getLogger("sim.builds")
BUILD_KEY: Key = ("build.openshift.io", "builds")
BC_KEY: Key = ("build.openshift.io", "buildconfigs")
IS_KEY: Key = ("image.openshift.io", "imagestreams")
SA_KEY: Key = ("", "serviceaccounts")
SECRET_KEY: Key = ("", "secrets")
TERMINAL = ("Complete", "Failed", "Error", "Cancelled")
STRATEGIC = "application/strategic-merge-patch+json"
CONTROLLER = Request(user="system:serviceaccount:openshift-infra:build-controller")


def _spec_without_push_secret(spec: dict[str, Any]) -> dict[str, Any]:
    spec = clone(spec or {})
    (spec.get("output") or {}).pop("pushSecret", None)
    return spec


def validate_build(obj: Obj, old: Obj | None) -> None:
    """Apply OpenShift's Build validation and update rules."""
    name = obj["metadata"]["name"]
    to = ((obj.get("spec") or {}).get("output") or {}).get("to") or {}
    if to.get("kind") == "DockerImage":
        if to.get("namespace"):
            raise invalid(
                "Build",
                "build.openshift.io",
                name,
                [
                    (
                        "spec.output.to.namespace",
                        f"Invalid value: {to['namespace']!r}: "
                        "namespace is not valid when used with a 'DockerImage'",
                    )
                ],
            )
        try:
            parse_reference(str(to.get("name") or ""))
        except ValueError as exc:
            raise invalid(
                "Build",
                "build.openshift.io",
                name,
                [("spec.output.to.name", f"Invalid value: {to.get('name')!r}: {exc}")],
            ) from exc
    if old is None:
        return
    if _spec_without_push_secret(obj.get("spec") or {}) != _spec_without_push_secret(
        old.get("spec") or {}
    ):
        raise invalid(
            "Build", "build.openshift.io", name, [("spec", "Invalid value: spec is immutable")]
        )
    old_phase = (old.get("status") or {}).get("phase")
    if old_phase in TERMINAL and (obj.get("status") or {}).get("phase") != old_phase:
        raise invalid(
            "Build",
            "build.openshift.io",
            name,
            [
                (
                    "status.phase",
                    f"Invalid value: {old_phase!r}: phase cannot be updated from a terminal state",
                )
            ],
        )


def default_build(obj: Obj, old: Obj | None) -> None:
    """Start a new Build in phase ``New``."""
    if old is None:
        status = obj.setdefault("status", {})
        status.setdefault("phase", "New")


def _conditions(
    phase: str, previous: list[dict[str, Any]], reason: str = "", message: str = ""
) -> list[dict[str, Any]]:
    stamp = now()
    out = []
    for c in previous:
        if c.get("type") != phase:
            out.append(
                {**c, "status": "False", "lastUpdateTime": stamp}
                if c.get("status") == "True"
                else c
            )
    current: dict[str, Any] = {
        "type": phase,
        "status": "True",
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
    }
    if reason:
        current["reason"] = reason
    if message:
        current["message"] = message
    out.append(current)
    return out


class Builds:
    """Build rules, the build controller and BuildConfig instantiate/ConfigChange."""

    def __init__(self, m: Machinery) -> None:
        self.m = m
        self.t = m.settings.builds
        self._running: set[tuple[str, str]] = set()
        m.hooks.prepare[BUILD_KEY] = [default_build]
        m.hooks.validate[BUILD_KEY] = [validate_build]
        m.hooks.subresources[(BC_KEY, "instantiate")] = self.instantiate_request
        m.store.listeners.append(self.on_event)

    def on_event(self, key: Key, event: Event) -> None:
        """Start the controller for new Builds and the ConfigChange trigger for new BuildConfigs."""
        meta = event.obj["metadata"]
        if key == BUILD_KEY and event.type == "ADDED" and self.t.enabled:
            ident = (meta["namespace"], meta["name"])
            if (
                ident not in self._running
                and (event.obj.get("status") or {}).get("phase", "New") == "New"
            ):
                self._running.add(ident)
                self.m.spawn(self.run(*ident))
        elif key == BC_KEY and event.type == "ADDED":
            triggers = (event.obj.get("spec") or {}).get("triggers") or []
            last = (event.obj.get("status") or {}).get("lastVersion", 0)
            if any(t.get("type") == "ConfigChange" for t in triggers) and not last:
                self.m.spawn(self.config_change(meta["namespace"], meta["name"]))

    # -- controller ----------------------------------------------------------------------------

    def _build(self, ns: str, name: str) -> Obj | None:
        return self.m.store.get(BUILD_KEY, ns, name)

    async def _patch(self, ns: str, name: str, patch: dict[str, Any]) -> Obj | None:
        """Patch the main resource; retry server-side failures; give up on a 4xx."""
        for attempt in range(10):
            try:
                return await self.m.patch(
                    self.m.rt(*BUILD_KEY), ns, name, STRATEGIC, patch, req=CONTROLLER
                )
            except ApiError as exc:
                if exc.code == 404 or (400 <= exc.code < 500 and exc.code != 409):
                    log.info("build %s/%s: controller write refused: %s", ns, name, exc.message)
                    return None
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        return None

    def _output_ref(self, build: Obj) -> tuple[str | None, str, str]:
        """Return (output pull spec or None, reason, message) for a build's output."""
        ns = build["metadata"]["namespace"]
        to = ((build.get("spec") or {}).get("output") or {}).get("to") or {}
        if to.get("kind") == "DockerImage":
            return str(to.get("name")), "", ""
        if to.get("kind") == "ImageStreamTag":
            stream_name, _, tag = str(to.get("name") or "").partition(":")
            stream = self.m.store.get(IS_KEY, to.get("namespace") or ns, stream_name)
            if stream is None:
                return None, "InvalidOutputReference", "Output image could not be resolved."
            repo = (stream.get("status") or {}).get("dockerImageRepository")
            return f"{repo}:{tag or 'latest'}", "", ""
        return None, "", ""

    def choose_push_secret(self, ns: str, sa: Obj, output: str) -> str | None:
        """Pick the push secret: an imagePullSecret matching the output host, else the first."""
        ref = parse_reference(output)
        first = None
        for item in sa.get("imagePullSecrets") or []:
            secret = self.m.store.get(SECRET_KEY, ns, item.get("name", ""))
            if secret is None or not dockercfg.is_docker_secret(secret):
                continue
            if dockercfg.credentials_for(secret, ref.host, ref.repository) is not None:
                return str(item["name"])
            first = first or str(item["name"])
        return first

    async def run(self, ns: str, name: str) -> None:
        """Drive one Build through its phases."""
        try:
            await self._run(ns, name)
        finally:
            self._running.discard((ns, name))

    def _cancelled(self, build: Obj | None) -> bool:
        return (
            build is None
            or bool((build.get("status") or {}).get("cancelled"))
            or (build.get("status") or {}).get("phase") in TERMINAL
        )

    async def _finish_cancel(self, ns: str, name: str, build: Obj | None) -> None:
        if build is None or (build.get("status") or {}).get("phase") in TERMINAL:
            return
        await self._patch(
            ns,
            name,
            {
                "status": {
                    "phase": "Cancelled",
                    "reason": "CancelledBuild",
                    "message": "The build was cancelled by the user.",
                    "completionTimestamp": now(),
                    "conditions": _conditions(
                        "Cancelled", (build.get("status") or {}).get("conditions") or []
                    ),
                }
            },
        )

    async def _run(self, ns: str, name: str) -> None:
        await asyncio.sleep(self.t.to_pending)
        output: str | None = None
        noted = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 600
        while True:
            build = self._build(ns, name)
            if self._cancelled(build):
                return await self._finish_cancel(ns, name, build)
            assert build is not None
            output, reason, message = self._output_ref(build)
            sa_name = (build.get("spec") or {}).get("serviceAccount") or "builder"
            sa = self.m.store.get(SA_KEY, ns, sa_name)
            if not reason and sa is None:
                reason, message = (
                    "CannotRetrieveServiceAccount",
                    f'Unable to look up the service account "{sa_name}".',
                )
            if not reason:
                break
            if noted != reason:
                noted = reason
                await self._patch(ns, name, {"status": {"reason": reason, "message": message}})
            if loop.time() > deadline:
                return
            await asyncio.sleep(0.1)
        assert sa is not None
        spec_output = (build.get("spec") or {}).get("output") or {}
        push_secret = (spec_output.get("pushSecret") or {}).get("name")
        patch: dict[str, Any] = {
            "metadata": {"annotations": {"openshift.io/build.pod-name": f"{name}-build"}},
            "status": {
                "phase": "Pending",
                "reason": None,
                "message": None,
                "conditions": _conditions(
                    "Pending", (build.get("status") or {}).get("conditions") or []
                ),
            },
        }
        if output:
            patch["status"]["outputDockerImageReference"] = output
            if not push_secret:
                push_secret = self.choose_push_secret(ns, sa, output)
                if push_secret:
                    patch["spec"] = {"output": {"pushSecret": {"name": push_secret}}}
        if await self._patch(ns, name, patch) is None:
            return
        await asyncio.sleep(self.t.to_running)
        build = self._build(ns, name)
        if self._cancelled(build):
            return await self._finish_cancel(ns, name, build)
        assert build is not None
        started = datetime.now(UTC)
        running = {
            "status": {
                "phase": "Running",
                "startTimestamp": now(),
                "conditions": _conditions(
                    "Running", (build.get("status") or {}).get("conditions") or []
                ),
            }
        }
        if await self._patch(ns, name, running) is None:
            return
        await asyncio.sleep(self.t.to_complete)
        build = self._build(ns, name)
        if self._cancelled(build):
            return await self._finish_cancel(ns, name, build)
        assert build is not None
        digest, failure = None, ""
        if output:
            try:
                digest = await self._push(ns, name, output, push_secret)
            except RegistryError as exc:
                failure = str(exc)
        build = self._build(ns, name)
        if build is None:
            return
        duration = int((datetime.now(UTC) - started).total_seconds() * 1e9)
        previous = (build.get("status") or {}).get("conditions") or []
        if failure:
            final: dict[str, Any] = {
                "status": {
                    "phase": "Failed",
                    "reason": "PushImageToRegistryFailed",
                    "message": "Failed to push the image to the registry.",
                    "logSnippet": failure[:500],
                    "completionTimestamp": now(),
                    "duration": duration,
                    "conditions": _conditions(
                        "Failed",
                        previous,
                        "PushImageToRegistryFailed",
                        "Failed to push the image to the registry.",
                    ),
                }
            }
        else:
            final = {
                "status": {
                    "phase": "Complete",
                    "completionTimestamp": now(),
                    "duration": duration,
                    "conditions": _conditions("Complete", previous),
                }
            }
            if digest:
                final["status"]["output"] = {"to": {"imageDigest": digest}}
        await self._patch(ns, name, final)

    async def _push(self, ns: str, name: str, output: str, push_secret: str | None) -> str:
        ref = parse_reference(output)
        image = generate_image(f"{ns}/{name}")
        if ref.host == self.m.settings.internal_registry:
            self._record_internal_push(
                ns,
                ref.repository,
                ref.tag,
                image.digest,
                f"{ref.host}/{ref.repository}@{image.digest}",
            )
            return image.digest
        creds = None
        if push_secret:
            secret = self.m.store.get(SECRET_KEY, ns, push_secret)
            if secret is not None:
                creds = dockercfg.credentials_for(secret, ref.host, ref.repository)
        async with aiohttp.ClientSession() as session:
            client = OciClient(session, lambda host: registry_scheme(self.m.settings, host))
            return await client.push(ref, image, creds)

    def _record_internal_push(
        self, ns: str, repository: str, tag: str, digest: str, pull_spec: str
    ) -> None:
        """Update the ImageStream as the integrated registry does after a push to it."""
        stream_ns, _, stream_name = repository.partition("/")
        old = self.m.store.get(IS_KEY, stream_ns, stream_name)
        if old is None:
            return
        new = clone(old)
        tags = new.setdefault("status", {}).setdefault("tags", [])
        entry = next((t for t in tags if t.get("tag") == tag), None)
        if entry is None:
            entry = {"tag": tag, "items": []}
            tags.append(entry)
        generation = new["metadata"].get("generation", 1)
        entry["items"] = [
            {
                "created": now(),
                "dockerImageReference": pull_spec,
                "image": digest,
                "generation": generation,
            }
        ] + (entry.get("items") or [])
        self.m.write_as_server(self.m.rt(*IS_KEY), new, old)

    # -- BuildConfig ---------------------------------------------------------------------------

    async def instantiate_request(
        self, method: str, ns: str, name: str, body: Obj | None, req: Request
    ) -> tuple[int, Obj]:
        """Serve ``POST buildconfigs/<bc>/instantiate``."""
        if method != "POST":
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        build = await self.instantiate(ns, name, body or {}, req)
        return 201, build

    async def instantiate(self, ns: str, name: str, request: dict[str, Any], req: Request) -> Obj:
        """Bump the BuildConfig's lastVersion and create Build ``<bc>-<n>`` through admission."""
        bc_rt = self.m.rt(*BC_KEY)
        bc = self.m.store.get(BC_KEY, ns, name)
        if bc is None:
            raise not_found("buildconfigs", "build.openshift.io", name)
        spec = clone(bc.get("spec") or {})
        sa_name = spec.get("serviceAccount") or "builder"
        if self.m.store.get(SA_KEY, ns, sa_name) is None:
            raise bad_request(
                f'Error resolving the service account "{sa_name}" for build config {ns}/{name}: '
                f'serviceaccounts "{sa_name}" not found'
            )
        last = (bc.get("status") or {}).get("lastVersion", 0)
        if "lastVersion" in request and request["lastVersion"] != last:
            raise conflict(
                "buildconfigs",
                "build.openshift.io",
                name,
                f"the LastVersion({request['lastVersion']}) on build request {ns}/{name} "
                f"does not match the build config LastVersion({last})",
            )
        updated = clone(bc)
        updated.setdefault("status", {})["lastVersion"] = last + 1
        bc = await self.m.replace(bc_rt, ns, name, updated, req=CONTROLLER)
        number = last + 1
        for field in (
            "triggers",
            "runPolicy",
            "successfulBuildsHistoryLimit",
            "failedBuildsHistoryLimit",
        ):
            spec.pop(field, None)
        spec["serviceAccount"] = sa_name
        spec["triggeredBy"] = request.get("triggeredBy") or [{"message": "Manually triggered"}]
        labels = {
            **(bc["metadata"].get("labels") or {}),
            "buildconfig": name,
            "openshift.io/build-config.name": name,
            "openshift.io/build.start-policy": (bc.get("spec") or {}).get("runPolicy", "Serial"),
        }
        body = {
            "metadata": {
                "name": f"{name}-{number}",
                "labels": labels,
                "annotations": {
                    "openshift.io/build-config.name": name,
                    "openshift.io/build.number": str(number),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "build.openshift.io/v1",
                        "kind": "BuildConfig",
                        "name": name,
                        "uid": bc["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": spec,
            "status": {
                "phase": "New",
                "config": {"kind": "BuildConfig", "namespace": ns, "name": name},
            },
        }
        return await self.m.create_object(self.m.rt(*BUILD_KEY), ns, body, req)

    async def config_change(self, ns: str, name: str) -> None:
        """Instantiate once for a ConfigChange trigger; 409 retries, other 4xx give up (Event)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while loop.time() < deadline:
            bc = self.m.store.get(BC_KEY, ns, name)
            if bc is None or (bc.get("status") or {}).get("lastVersion", 0):
                return
            sa_name = (bc.get("spec") or {}).get("serviceAccount") or "builder"
            if self.m.store.get(SA_KEY, ns, sa_name) is None:
                await asyncio.sleep(0.1)
                continue
            try:
                await self.instantiate(
                    ns,
                    name,
                    {"lastVersion": 0, "triggeredBy": [{"message": "Build configuration change"}]},
                    CONTROLLER,
                )
                return
            except ApiError as exc:
                if exc.code == 409 or exc.code >= 500:
                    await asyncio.sleep(0.2)
                    continue
                await self._event(
                    ns,
                    bc,
                    "BuildConfigInstantiateFailed",
                    f"error instantiating Build from BuildConfig {ns}/{name}: {exc.message}",
                )
                return

    async def _event(self, ns: str, obj: Obj, reason: str, message: str) -> None:
        body = {
            # named as client-go's event recorder names events: <object>.<nanoseconds in hex>
            "metadata": {"name": f"{obj['metadata']['name']}.{time.time_ns():x}"},
            "involvedObject": {
                "kind": obj.get("kind"),
                "apiVersion": obj.get("apiVersion"),
                "name": obj["metadata"]["name"],
                "namespace": ns,
                "uid": obj["metadata"].get("uid"),
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": "buildconfig-controller"},
            "firstTimestamp": now(),
            "lastTimestamp": now(),
            "count": 1,
        }
        with contextlib.suppress(ApiError):
            await self.m.create_object(self.m.rt("", "events"), ns, body, CONTROLLER)
