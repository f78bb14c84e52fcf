"""The body of a core/v1 Event the operator posts about an object: built here, once, without I/O.

Both places that post Events (``bridge.kube.cluster.Cluster.post_event`` about namespaces and
integrations, ``bridge.builds.completion`` about Builds) send the same shape: the involved object's
reference, reason, message, type, both timestamps at ``now``, ``count: 1`` and the reporting
component. What differs between them is passed in: the reference's fields, and whether the Event
gets a fixed ``name`` or a server-generated one (``generateName``).

An Event lives in its involved object's namespace; one about a cluster-scoped object (a
Namespace, a QuayIntegration) goes where client-go's recorder puts it, into ``default``, with
``involvedObject.namespace`` left out: the API server refuses an Event whose namespace differs
from its involved object's, so an Event about Namespace ``x`` cannot live in ``x``, and
``kubectl describe namespace x`` looks in ``default`` for it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final, Literal

#: The reporting component (``source.component``) of the operator's Events.
COMPONENT: Final = "quay-bridge"
#: Where an Event about a cluster-scoped object lives.
CLUSTER_SCOPED_NAMESPACE: Final = "default"

EventType = Literal["Normal", "Warning"]


def object_reference(
    obj: Mapping[str, Any],
    *,
    api_version: str | None = None,
    kind: str | None = None,
    at_version: bool = False,
) -> dict[str, str]:
    """Return the ``involvedObject`` reference of ``obj`` (a body as the API server sends it).

    ``api_version`` and ``kind`` stand in for the body's own, which list items lack. With
    ``at_version`` the reference also pins the object's ``resourceVersion``. Empty fields are left
    out, as the API server leaves them out of a stored reference.
    """
    metadata = obj.get("metadata") or {}
    fields = {
        "apiVersion": api_version or obj.get("apiVersion"),
        "kind": kind or obj.get("kind"),
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "uid": metadata.get("uid"),
        "resourceVersion": metadata.get("resourceVersion") if at_version else None,
    }
    return {key: str(value) for key, value in fields.items() if value}


def event_body(
    involved: Mapping[str, str],
    reason: str,
    message: str,
    *,
    type_: EventType,
    now: datetime.datetime,
    name: str | None = None,
    generate_name: str | None = None,
    component: str = COMPONENT,
) -> dict[str, Any]:
    """Return the core/v1 Event about ``involved`` (an :func:`object_reference`).

    Args:
        involved: the reference of the object the Event is about.
        reason: the Event's reason, one CamelCase word.
        message: the text shown, as it is (callers cut it to their own limit).
        type_: ``Normal`` or ``Warning``.
        now: the time of both timestamps (UTC).
        name: the Event's name; exactly one of ``name`` and ``generate_name`` is given.
        generate_name: the prefix of a name the API server completes.
        component: the reporting component (``source.component``).

    Raises:
        ValueError: neither or both of ``name`` and ``generate_name`` given.
    """
    if (name is None) == (generate_name is None):
        raise ValueError("an Event needs exactly one of name and generate_name")
    metadata = {"name": name} if name is not None else {"generateName": generate_name}
    metadata["namespace"] = involved.get("namespace") or CLUSTER_SCOPED_NAMESPACE
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata,
        "involvedObject": dict(involved),
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
