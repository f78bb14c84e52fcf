"""Whether this replica is the active one under kopf's peering, for the controller's own work.

With ``--peering`` several replicas run and kopf keeps its handlers (QuayIntegrations, Builds)
running on one of them only: every replica writes a keep-alive (priority, lifetime, lastseen) into
the ``status`` of one ClusterKopfPeering, and a replica pauses while another live replica has a
higher priority, or the same one. The controller's informers and loops run outside kopf, so they
follow the same object and apply the same rule (:func:`is_active`; a test checks it against
kopf's own decision). A passive replica keeps its caches and the webhook's view up to date from
the watches and writes nothing; on becoming active it reconciles every namespace again, reading
first, so nothing in place is rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import getpass
import logging
import os
import random
import socket
from collections.abc import Callable, Mapping
from typing import Any

from bridge.kube.cluster import Cluster
from bridge.kube.watching import Informer, Source
from bridge.metrics import Metrics

log = logging.getLogger(__name__)

#: Assumed lifetime (seconds) of a peer that does not state one, as kopf assumes.
DEFAULT_LIFETIME = 60
#: Seconds added to a blocking peer's deadline before deciding again (clock skew, kopf's own pace).
DEADLINE_MARGIN = 1.0


def own_identity() -> str:
    """This replica's peering identity: the pod name (``POD_ID``) if set, else user@host/time."""
    pod = os.environ.get("POD_ID")
    if pod:
        return pod
    now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    suffix = "".join(random.choices("abcdefhijklmnopqrstuvwxyz0123456789", k=3))
    return f"{getpass.getuser()}@{socket.gethostname()}/{now}/{suffix}"


def _parse(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def is_active(
    status: Mapping[str, Any], identity: str, priority: int, now: datetime.datetime
) -> tuple[bool, datetime.datetime | None]:
    """Apply kopf's peering rule to a ClusterKopfPeering ``status``.

    Returns whether this replica may work, and, when it may not, the moment the last peer
    holding it back would expire unless it reports again (the time to decide again).
    A peer is dead once ``lastseen + lifetime`` has passed (a replica that exits cleanly reports
    ``lifetime: 0``); a live peer other than this one with a higher or equal priority holds this
    replica back.
    """
    blocking: list[datetime.datetime] = []
    for peer, info in status.items():
        if peer == identity or not isinstance(info, Mapping):
            continue
        try:
            lifetime = int(info.get("lifetime", DEFAULT_LIFETIME))
            their_priority = int(info.get("priority", 0))
        except (TypeError, ValueError):
            continue
        seen = _parse(info.get("lastseen")) or now
        deadline = seen + datetime.timedelta(seconds=lifetime)
        if deadline <= now:
            continue
        if their_priority >= priority:
            blocking.append(deadline)
    if not blocking:
        return True, None
    return False, max(blocking)


class Peering:
    """Follows one ClusterKopfPeering and says whether this replica is the active one."""

    def __init__(
        self,
        cluster: Cluster,
        metrics: Metrics,
        name: str,
        *,
        identity: str,
        priority: int,
    ) -> None:
        self.name = name
        self.identity = identity
        self.priority = priority
        self.metrics = metrics
        #: Passive until the peering object has been read: a replica that would be held back must
        #: not write in the meantime.
        self.active = False
        metrics.active.set(0)
        self.listeners: list[Callable[[bool], None]] = []
        self._status: Mapping[str, Any] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.informer = Informer(
            cluster,
            Source(
                "clusterkopfpeerings",
                "/apis/kopf.dev/v1/clusterkopfpeerings",
                field_selector=f"metadata.name={name}",
            ),
            self._on_event,
            metrics,
        )

    async def _on_event(self, event_type: str, body: dict[str, Any]) -> None:
        status = body.get("status") if event_type != "DELETED" else None
        self._status = status if isinstance(status, Mapping) else {}
        self.decide()

    def decide(self) -> None:
        """Decide again from the last status seen; tell the listeners when the answer changed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = datetime.datetime.now(datetime.UTC)
        active, recheck = is_active(self._status, self.identity, self.priority, now)
        if recheck is not None:
            delay = (recheck - now).total_seconds() + DEADLINE_MARGIN
            self._timer = asyncio.get_running_loop().call_later(delay, self.decide)
        if active == self.active:
            return
        self.active = active
        self.metrics.active.set(1 if active else 0)
        if active:
            log.info("peering %s: this replica (%s) is active now", self.name, self.identity)
        else:
            log.info("peering %s: another replica is active; this one waits", self.name)
        for listener in self.listeners:
            listener(active)

    async def run(self) -> None:
        """Follow the peering object until cancelled.

        Once it has been listed, a decision is made even if the object does not exist (nobody
        else then holds this replica back).
        """
        following = asyncio.get_running_loop().create_task(self.informer.run())
        try:
            await self.informer.synced.wait()
            await self.informer.dispatch.idle()
            self.decide()
            await following
        finally:
            following.cancel()
            with contextlib.suppress(BaseException):
                await following
            if self._timer is not None:
                self._timer.cancel()
            await self.informer.dispatch.cancel()
