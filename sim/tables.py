"""Server-side printing: ``meta.k8s.io/v1 Table`` answers for ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the columns the
server chooses. Custom resources get ``Name`` plus their CRD version's
``additionalPrinterColumns`` (or ``Age`` when it has none), evaluated from simple JSONPaths and
typed as apiextensions-apiserver types them (``date`` columns become ages such as ``5m``).
Built-in kinds get the columns of kube-apiserver's printers (namespaces: Status; secrets: Type,
Data; configmaps: Data; leases: Holder); OpenShift kinds those of ``oc get`` (image streams:
Image Repository, Tags, Updated; builds: Type, From, Status, Started, Duration; build configs:
Type, From, Latest). Other kinds get the generic ``Name``/``Created At``. Pure: no I/O.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable
from typing import Any

from sim.resources import ResourceType

Obj = dict[str, Any]
Column = dict[str, Any]
Row = Callable[[Obj], list[Any]]

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated."
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC."
)


def _col(
    name: str, kind: str = "string", doc: str = "", fmt: str = "", priority: int = 0
) -> Column:
    return {"name": name, "type": kind, "format": fmt, "description": doc, "priority": priority}


_CRD_COLUMN_DOC = "Custom resource definition column (in JSONPath format): "
NAME = _col("Name", doc=_NAME_DOC, fmt="name")
AGE = _col("Age", doc=_AGE_DOC)


def _parse(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Word a duration as apimachinery's ``HumanDuration`` does (``45s``, ``3m20s``, ``5d``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def age(stamp: Any, now: float | None = None) -> str:
    """Return the age of a timestamp, ``<unknown>`` when there is none."""
    moment = _parse(stamp)
    if moment is None:
        return "<unknown>"
    return human_duration((now or time.time()) - moment)


# -- custom resources --------------------------------------------------------------------------

_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def json_path(obj: Any, path: str) -> Any:
    """Evaluate a simple JSONPath (``.spec.x``, ``.status.items[0].name``); None when missing."""
    value = obj
    for key, index in _SEGMENT.findall(path.strip().strip("{}")):
        if key:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def _typed_cell(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        return str(value)
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return age(value) if _parse(value) is not None else "<invalid>"
    return None


def crd_columns(rt: ResourceType) -> tuple[list[Column], Row]:
    """Return the columns and row function of a CRD-defined kind."""
    printer = list(rt.printer_columns) or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": _AGE_DOC,
        }
    ]
    columns = [
        {**NAME, "format": "name"},
        *(
            _col(
                str(c.get("name", "")),
                str(c.get("type", "string")),
                str(c.get("description") or f"{_CRD_COLUMN_DOC}{c.get('jsonPath')}"),
                str(c.get("format", "")),
                int(c.get("priority", 0)),
            )
            for c in printer
        ),
    ]

    def row(obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"]] + [
            _typed_cell(str(c.get("type", "string")), json_path(obj, str(c.get("jsonPath", ""))))
            for c in printer
        ]

    return columns, row


# -- built-in and OpenShift kinds --------------------------------------------------------------


def _created(obj: Obj) -> Any:
    return obj["metadata"].get("creationTimestamp")


def _image_stream_row(obj: Obj) -> list[Any]:
    status = obj.get("status") or {}
    repo = status.get("publicDockerImageRepository") or status.get("dockerImageRepository") or ""
    tags = [t.get("tag", "") for t in status.get("tags") or []]
    shown = ",".join(sorted(tags)[:3]) + (f" + {len(tags) - 3} more..." if len(tags) > 3 else "")
    latest = None
    for tag in status.get("tags") or []:
        for item in (tag.get("items") or [])[:1]:
            moment = _parse(item.get("created"))
            if moment is not None and (latest is None or moment > latest):
                latest = moment
    updated = f"{human_duration(time.time() - latest)} ago" if latest is not None else ""
    return [obj["metadata"]["name"], repo, shown, updated]


def _build_from(spec: Obj) -> str:
    source = spec.get("source") or {}
    kind = source.get("type") or ("Git" if source.get("git") else "")
    revision = ((spec.get("revision") or {}).get("git") or {}).get("commit", "")
    return f"{kind}@{revision[:7]}" if kind and revision else kind


def _build_row(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    phase = status.get("phase", "")
    if status.get("reason") and phase in ("Failed", "Error", "Cancelled"):
        phase = f"{phase} ({status['reason']})"
    started = _parse(status.get("startTimestamp"))
    started_text = f"{human_duration(time.time() - started)} ago" if started else ""
    duration = status.get("duration")
    duration_text = ""
    if isinstance(duration, int | float):
        duration_text = human_duration(duration / 1e9)
    elif started and phase in ("Running", "Pending"):
        duration_text = human_duration(time.time() - started)
    return [
        obj["metadata"]["name"],
        (spec.get("strategy") or {}).get("type", ""),
        _build_from(spec),
        phase,
        started_text,
        duration_text,
    ]


def _build_config_row(obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    return [
        obj["metadata"]["name"],
        (spec.get("strategy") or {}).get("type", ""),
        _build_from(spec),
        int((obj.get("status") or {}).get("lastVersion", 0)),
    ]


_BUILTIN: dict[tuple[str, str], tuple[list[Column], Row]] = {
    ("", "namespaces"): (
        [NAME, _col("Status", doc="The status of the namespace"), AGE],
        lambda o: [
            o["metadata"]["name"],
            (o.get("status") or {}).get("phase", ""),
            age(_created(o)),
        ],
    ),
    ("", "secrets"): (
        [
            NAME,
            _col("Type", doc="Used to facilitate programmatic handling of secret data."),
            _col("Data", doc="Data contains the secret data."),
            AGE,
        ],
        lambda o: [
            o["metadata"]["name"],
            o.get("type", ""),
            len(o.get("data") or {}),
            age(_created(o)),
        ],
    ),
    ("", "serviceaccounts"): (
        [NAME, AGE],
        lambda o: [o["metadata"]["name"], age(_created(o))],
    ),
    ("", "configmaps"): (
        [NAME, _col("Data", doc="Data contains the configuration data."), AGE],
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(_created(o)),
        ],
    ),
    ("coordination.k8s.io", "leases"): (
        [
            NAME,
            _col(
                "Holder",
                doc="holderIdentity contains the identity of the holder of a current lease.",
            ),
            AGE,
        ],
        lambda o: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("holderIdentity", ""),
            age(_created(o)),
        ],
    ),
    ("image.openshift.io", "imagestreams"): (
        [NAME, _col("Image Repository"), _col("Tags"), _col("Updated")],
        _image_stream_row,
    ),
    ("build.openshift.io", "builds"): (
        [NAME, _col("Type"), _col("From"), _col("Status"), _col("Started"), _col("Duration")],
        _build_row,
    ),
    ("build.openshift.io", "buildconfigs"): (
        [NAME, _col("Type"), _col("From"), _col("Latest")],
        _build_config_row,
    ),
}

_DEFAULT: tuple[list[Column], Row] = (
    [NAME, _col("Created At", "date", _AGE_DOC)],
    lambda o: [o["metadata"]["name"], _created(o)],
)


def columns_for(rt: ResourceType) -> tuple[list[Column], Row]:
    """Return the columns and row function of a served type."""
    if rt.from_crd:
        return crd_columns(rt)
    return _BUILTIN.get(rt.key, _DEFAULT)


def _partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rt: ResourceType,
    objects: list[Obj],
    resource_version: str,
    include_object: str = "Metadata",
    no_headers: bool = False,
) -> Obj:
    """Return the ``Table`` of some objects of one type."""
    columns, row = columns_for(rt)
    rows = []
    for obj in objects:
        entry: Obj = {"cells": row(obj)}
        if include_object == "Object":
            entry["object"] = obj
        elif include_object == "None":
            entry["object"] = None
        else:
            entry["object"] = _partial(obj)
        rows.append(entry)
    doc: Obj = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [] if no_headers else columns,
        "rows": rows,
    }
    return doc


def wants_table(accept: str) -> bool:
    """Tell whether the first media type a client accepts is a v1 (or v1beta1) Table."""
    first = accept.split(",", 1)[0]
    params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in first.split(";")[1:])}
    return params.get("as") == "Table" and params.get("g") == "meta.k8s.io"
