"""Build completion: make the destination ImageStreamTag follow the image a Build pushed to Quay.

OpenShift updates an ImageStream only when a Build pushes to its integrated registry; Builds the
webhook rewrote push to Quay instead, so without this module their ImageStream tags never move and
nothing that triggers on them (Deployments, chained Builds) runs. When a managed Build reaches
``Complete`` the bridge creates an ``ImageStreamImport`` for the destination tag and then marks the
Build with ``destination-imagestreamtag-imported: "true"``, so it is never imported twice, not even
after an operator restart (the mark lives on the Build; a restart lists every Build again and skips
the marked ones). The decisions are pure (``bridge.builds.image_imports``); this module does the
cluster calls through the operator's own client (``bridge.kube.cluster.Cluster``) on the event loop.

Failures: a 409 (the stream changed since it was read) retries at once with the fresh
resourceVersion; a per-image failure (Unauthorized, NotFound: the reply is still a 201) posts a
Warning Event on the Build and retries with backoff, a bounded number of times; API-server errors
(5xx, connection) retry the same way; a refusal (400, 403, 422) stops with a Warning Event.

Trust: a Build whose decision record does not verify (``bridge.builds.image_imports.decide``), or
whose destination is in another namespace where a ``SubjectAccessReview`` does not allow its service
account to push, gets a Warning Event ``ImportRefused`` and nothing is imported.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import kopf

from bridge.builds.image_imports import (
    Decision,
    ImportResult,
    TagTarget,
    Verdict,
    access_review,
    build_service_account,
    decide,
    import_request,
    imported_patch,
    read_import_result,
    review_allowed,
)
from bridge.kube.cluster import (
    BadRequest,
    Cluster,
    Conflict,
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    terminating_namespace,
)
from bridge.model.events import EventType, event_body, object_reference
from vocabulary import MANAGED_ANNOTATION
from webhook.state_view import Destination

logger = logging.getLogger(__name__)

BUILD_GROUP: Final = "build.openshift.io"
IMAGE_GROUP: Final = "image.openshift.io"
VERSION: Final = "v1"
#: The key under which the operator keeps its :class:`BuildImporter` in kopf's ``memo``.
MEMO_KEY: Final = "build_importer"


@dataclass(frozen=True)
class ImportSettings:
    """How hard the bridge tries to import one Build.

    Attributes:
        attempts: tries per Build for failures that may heal (per-image Unauthorized or NotFound,
            API-server 5xx or connection errors, the namespace's integration not known yet);
            after the last one a Warning Event says the bridge gave up (a later operator start tries
            again, since the Build stays unmarked).
        first_delay: seconds before the second try; doubled on each further try.
        max_delay: upper bound of one delay, in seconds.
        conflict_attempts: immediate re-tries on 409 (the stream changed since it was read).
        request_timeout: seconds one API-server call may take.
    """

    attempts: int = 6
    first_delay: float = 1.0
    max_delay: float = 30.0
    conflict_attempts: int = 8
    request_timeout: float = 15.0

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait after failed try number ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


class Destinations(Protocol):
    """The part of the bridge's state view this module reads (``webhook.state_view``)."""

    def destination_for(self, namespace: str) -> Destination | None:
        """Return the namespace's registry and import policy; ``None`` when it is unmanaged."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What handling one Build event did, for logs and tests.

    Attributes:
        verdict: the decision on the Build as seen (after a fresh read when importing).
        imported: whether this call imported the image and marked the Build.
        result: the last import result, when an import was tried.
        reason: a human-readable summary.
    """

    verdict: Verdict
    imported: bool
    reason: str
    result: ImportResult | None = None


class _Refused(Exception):
    """The API server refused the import for good (400, 403, 422): retrying cannot help."""


class _Temporary(Exception):
    """Something that may heal by itself failed; try again after a delay."""


def _short(text: object, limit: int = 300) -> str:
    """Cut an API body or message short before it reaches a log line or an Event."""
    value = str(text)
    return value if len(value) <= limit else value[:limit] + "..."


class BuildImporter:
    """Imports completed managed Builds into their destination ImageStreamTags.

    Args:
        cluster: the operator's client for the API server.
        destinations: the bridge's state view (integration settings per namespace).
        key: the decision key the webhook signs with (``bridge.builds.decision_key``).
        settings: retry and timeout settings.
        sleep: how to wait between tries (tests pass a recorder).
    """

    def __init__(
        self,
        cluster: Cluster,
        destinations: Destinations,
        settings: ImportSettings | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        key: bytes,
    ) -> None:
        self._cluster = cluster
        self._destinations = destinations
        self._key = key
        self.settings = settings or ImportSettings()
        self._sleep = sleep
        self._imported: set[str] = set()  # Build uids this process imported and marked
        self._warned_invalid: set[str] = set()  # Build uids already warned about

    async def on_build(self, build: Mapping[str, Any]) -> Outcome:
        """Handle one observed state of a Build; import it when it is complete and unmarked.

        Args:
            build: the Build as a watch event or a list delivered it.

        Returns:
            What was done.
        """
        decision = decide(build, self._key)
        uid = str(build.get("metadata", {}).get("uid") or "")
        if decision.verdict in (Verdict.INVALID, Verdict.REFUSED):
            if not uid or uid not in self._warned_invalid:
                self._warned_invalid.add(uid)
                reason = "ImportSkipped" if decision.verdict is Verdict.INVALID else "ImportRefused"
                await self._event(build, "Warning", reason, decision.reason)
            return Outcome(decision.verdict, False, decision.reason)
        if decision.verdict is not Verdict.IMPORT:
            return Outcome(decision.verdict, False, decision.reason)
        if uid and uid in self._imported:
            return Outcome(Verdict.ALREADY_IMPORTED, False, "imported by this process already")
        # An event may be older than the mark this process just wrote: read the Build afresh.
        fresh = await self._read_build(build)
        if fresh is None:
            return Outcome(Verdict.UNMANAGED, False, "the build is gone")
        decision = decide(fresh, self._key)
        if decision.verdict is not Verdict.IMPORT:
            return Outcome(decision.verdict, False, decision.reason)
        return await self._import_with_retries(fresh, decision)

    async def _may_push(self, build: Mapping[str, Any], target: TagTarget) -> tuple[bool, str]:
        """Whether the Build's service account may push into ``target`` (same namespace: yes)."""
        namespace = str(build["metadata"]["namespace"])
        if target.namespace == namespace:
            return True, ""
        account = build_service_account(build)
        body = access_review(namespace, account, target)
        try:
            reply = await self._cluster.create_subject_access_review(
                body, timeout=self.settings.request_timeout
            )
        except KubeError as error:
            raise self._classify(error) from None
        allowed, why = review_allowed(reply)
        subject = f"service account {namespace}/{account}"
        if allowed:
            return True, f"{subject} may push into {target}"
        return False, (
            f"not imported into {target}: {subject} may not update imagestreams/layers "
            f"{target.stream} in namespace {target.namespace}"
            + (f" ({_short(why, 200)})" if why else "")
            + "; grant it system:image-builder there, or build in that namespace"
        )

    async def _read_build(self, build: Mapping[str, Any]) -> Mapping[str, Any] | None:
        meta = build.get("metadata", {})
        try:
            fresh: Mapping[str, Any] = await self._cluster.read_build(
                meta["namespace"], meta["name"], timeout=self.settings.request_timeout
            )
        except KubeError as error:
            if isinstance(error, NotFound):
                return None
            logger.warning(
                "reading build %s/%s failed: %s",
                meta.get("namespace"),
                meta.get("name"),
                _short(error),
            )
            return build  # decide on what the event showed
        return fresh

    async def _import_with_retries(self, build: Mapping[str, Any], decision: Decision) -> Outcome:
        assert decision.target is not None and decision.image is not None
        meta = build["metadata"]
        result: ImportResult | None = None
        last_problem = ""
        for attempt in range(1, self.settings.attempts + 1):
            try:
                allowed, why = await self._may_push(build, decision.target)
                if not allowed:
                    await self._event(build, "Warning", "ImportRefused", why)
                    return Outcome(Verdict.REFUSED, False, why)
                destination = self._destination(decision.target, str(meta["namespace"]))
                result = await self._import_once(decision.target, decision.image, destination)
            except _Refused as error:
                message = f"importing {decision.image} into {decision.target} was refused: {error}"
                await self._event(build, "Warning", "ImportFailed", message)
                return Outcome(Verdict.INVALID, False, message)
            except _Temporary as error:
                last_problem = str(error)
                logger.info(
                    "build %s/%s: try %d: %s",
                    meta["namespace"],
                    meta["name"],
                    attempt,
                    last_problem,
                )
            else:
                if result.succeeded:
                    await self._mark(build)
                    if meta.get("uid"):
                        self._imported.add(str(meta["uid"]))
                    message = (
                        f"imported {decision.image} into {decision.target}: {result.reference}"
                    )
                    await self._event(build, "Normal", "Imported", message)
                    return Outcome(Verdict.IMPORT, True, message, result)
                last_problem = f"{result.reason}: {result.message}"
                await self._event(
                    build,
                    "Warning",
                    "ImportFailed",
                    f"importing {decision.image} into {decision.target} failed "
                    f"(try {attempt} of {self.settings.attempts}): {_short(last_problem)}",
                )
            if attempt < self.settings.attempts:
                await self._sleep(self.settings.delay(attempt))
        message = (
            f"gave up importing {decision.image} into {decision.target} after "
            f"{self.settings.attempts} tries: {_short(last_problem)}"
        )
        await self._event(build, "Warning", "ImportGaveUp", message)
        return Outcome(Verdict.IMPORT, False, message, result)

    def _destination(self, target: TagTarget, build_namespace: str) -> Destination:
        destination = self._destinations.destination_for(
            target.namespace
        ) or self._destinations.destination_for(build_namespace)
        if destination is None:
            # At operator start the integrations may not be loaded yet; it may also have been
            # unmanaged since the build started, which retries cannot fix: they are bounded.
            raise _Temporary(f"no QuayIntegration manages namespace {target.namespace} (yet)")
        return destination

    async def _import_once(
        self, target: TagTarget, image: str, destination: Destination
    ) -> ImportResult:
        """Create the ImageStreamImport, re-reading the stream on each 409."""
        for _ in range(self.settings.conflict_attempts):
            version = await self._stream_version(target)
            body = import_request(
                target,
                image,
                insecure=destination.insecure_registry,
                scheduled=destination.scheduled_import,
                resource_version=version,
            )
            try:
                reply: Mapping[str, Any] = await self._cluster.create_image_stream_import(
                    target.namespace, body, timeout=self.settings.request_timeout
                )
            except KubeError as error:
                if isinstance(error, Conflict) or (
                    isinstance(error, NotFound) and version is not None
                ):
                    continue  # the stream changed or vanished since we read it: read it again
                raise self._classify(error) from None
            return read_import_result(reply)
        raise _Temporary(
            f"the stream {target} kept changing ({self.settings.conflict_attempts} 409s)"
        )

    async def _stream_version(self, target: TagTarget) -> str | None:
        try:
            stream: Mapping[str, Any] = await self._cluster.read_image_stream(
                target.namespace, target.stream, timeout=self.settings.request_timeout
            )
        except KubeError as error:
            if isinstance(error, NotFound):
                return None
            raise self._classify(error) from None
        version = stream.get("metadata", {}).get("resourceVersion")
        return str(version) if version else None

    @staticmethod
    def _classify(error: KubeError) -> Exception:
        if not error.status:
            return _Temporary(f"API server unreachable: {_short(error.message)}")
        text = f"HTTP {error.status}: {_short(error.message)}"
        if isinstance(error, (BadRequest, Forbidden, Invalid)):
            return _Refused(text)
        return _Temporary(text)

    async def _mark(self, build: Mapping[str, Any]) -> None:
        meta = build["metadata"]
        for attempt in range(1, self.settings.attempts + 1):
            try:
                await self._cluster.merge_patch_build(
                    meta["namespace"],
                    meta["name"],
                    imported_patch(),
                    timeout=self.settings.request_timeout,
                )
                return
            except KubeError as error:
                if isinstance(error, NotFound):
                    return  # deleted meanwhile: nothing left to mark
                problem = _short(error)
            logger.warning(
                "marking build %s/%s failed (try %d): %s",
                meta["namespace"],
                meta["name"],
                attempt,
                problem,
            )
            if attempt < self.settings.attempts:
                await self._sleep(self.settings.delay(attempt))
        # The image is imported; an unmarked Build is imported again (harmlessly) on a later pass.

    async def _event(
        self, build: Mapping[str, Any], type_: EventType, reason: str, message: str
    ) -> None:
        """Post an Event on the Build; a failure to post is logged, never raised."""
        meta = build.get("metadata", {})
        namespace, name = meta.get("namespace"), meta.get("name")
        log = logger.warning if type_ == "Warning" else logger.info
        log("build %s/%s: %s: %s", namespace, name, reason, message)
        if not namespace or not name:
            return
        event = event_body(
            object_reference(
                build, api_version=f"{BUILD_GROUP}/{VERSION}", kind="Build", at_version=True
            ),
            reason,
            _short(message, 1000),
            type_=type_,
            now=datetime.datetime.now(datetime.UTC),
            generate_name=f"{name}.",
        )
        try:
            await self._cluster.create_event(
                str(namespace), event, timeout=self.settings.request_timeout
            )
        except KubeError as error:
            if terminating_namespace(error):
                logger.debug("event %s on build %s/%s: %s", reason, namespace, name, error)
                return
            logger.warning(
                "posting event %s on build %s/%s failed: %s",
                reason,
                namespace,
                name,
                _short(error),
            )


@kopf.on.event(BUILD_GROUP, VERSION, "builds", annotations={MANAGED_ANNOTATION: "true"})
async def build_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Import a managed Build's image once it completes (every event, including the initial list).

    ``on.event`` rather than ``on.update``: it also sees, at operator start, Builds that completed
    while the operator was down, and it writes no progress annotations of kopf's onto Builds.
    """
    importer = memo.get(MEMO_KEY)
    if not isinstance(importer, BuildImporter):
        logger.error(
            "no %s in the operator's memo: build %s/%s not handled",
            MEMO_KEY,
            body.metadata.namespace,
            body.metadata.name,
        )
        return
    await importer.on_build(dict(body))
