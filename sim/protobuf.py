r"""Kubernetes' protobuf wire format (``application/vnd.kubernetes.protobuf``) for built-in kinds.

kubectl's typed commands (``kubectl create secret|configmap|sa|namespace``) and Go operators built
on client-go or controller-runtime send built-in objects as protobuf and ask for protobuf answers
first. A body is the 4-byte magic ``k8s\x00`` followed by a ``runtime.Unknown`` message whose
``typeMeta`` names apiVersion and kind and whose ``raw`` is the object's own message.

The messages are not described here: their descriptors come from the Kubernetes API's
``generated.proto`` schemas, compiled at install time into a descriptor set (see
``tools/k8s_protoset.py``), and a message converts to and from the JSON tree the store keeps by
walking those descriptors. Only the handful of apimachinery types whose JSON form is not their
message form (Time, MicroTime, Duration, Quantity, IntOrString, RawExtension, FieldsV1) are mapped
by name; every kind and field is read from the schema.

Go's encoder writes every non-pointer field, so a decoded message carries empty strings, zero
timestamps and empty messages for fields the client never set; as Go's JSON encoding with
``omitempty`` does, empty strings, zero timestamps, empty messages and empty lists and maps are
left out of the JSON tree. Numbers and booleans that are present are kept (a ``false`` may be a
pointer the client set).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_RUNTIME = "k8s.io.apimachinery.pkg.runtime."
_TIME = _META + "Time"
_MICROTIME = _META + "MicroTime"
_DURATION = _META + "Duration"
_FIELDS = _META + "FieldsV1"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_RAW = _RUNTIME + "RawExtension"
#: message -> fields whose contents Go writes inline in the JSON form (Volume.volumeSource, ...)
_INLINE: dict[str, frozenset[str]] = {}
#: message -> {protobuf field name: JSON name} where they differ (``Webhooks`` -> ``webhooks``)
_JSON_NAMES: dict[str, dict[str, str]] = {}
#: message -> {JSON name: protobuf field name}
_PROTO_NAMES: dict[str, dict[str, str]] = {}

Obj = dict[str, Any]


class ProtobufError(Exception):
    """A protobuf body that cannot be read, or an object with no protobuf schema."""


def protoset_path() -> Path:
    """Return where the compiled schemas are read from (``QUAY_BRIDGE_K8S_PROTOSET`` overrides)."""
    env = os.environ.get("QUAY_BRIDGE_K8S_PROTOSET")
    if env:
        return Path(env)
    return Path(sys.prefix) / "share" / "quay-bridge" / "kubernetes-api.protoset"


class Schemas:
    """The message classes of the Kubernetes API, built from a compiled descriptor set."""

    def __init__(self, path: Path) -> None:
        files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
        self.pool = descriptor_pool.DescriptorPool()
        for proto in files.file:
            self.pool.Add(proto)
        self.unknown = self.message_class(_RUNTIME + "Unknown")
        forms_file = path.with_suffix(".json-forms.json")
        forms = json.loads(forms_file.read_text()) if forms_file.exists() else {}
        _INLINE.clear()
        _JSON_NAMES.clear()
        _PROTO_NAMES.clear()
        for message, form in forms.items():
            if form.get("inline"):
                _INLINE[message] = frozenset(form["inline"])
            if form.get("names"):
                _JSON_NAMES[message] = dict(form["names"])
                _PROTO_NAMES[message] = {v: k for k, v in form["names"].items()}

    def message_class(self, full_name: str) -> type[Message]:
        """Return the generated class of one message type."""
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    @lru_cache(maxsize=256)  # noqa: B019 - one Schemas per process, kinds are few
    def descriptor_for(self, api_version: str, kind: str) -> Descriptor | None:
        """Return the message of ``kind`` in ``api_version``, or None when it has no schema.

        The package follows the API group: core ``v1`` is ``k8s.io.api.core.v1``, a group
        ``coordination.k8s.io`` is ``k8s.io.api.coordination.<version>``; ``meta.k8s.io`` kinds
        and ``Status`` live in apimachinery's meta package.
        """
        group, _, version = api_version.rpartition("/")
        # request options (a DELETE's DeleteOptions) travel as meta/v1 messages whatever the group
        if kind == "Status" or group == "meta.k8s.io" or kind.endswith("Options"):
            names = [f"{_META}{kind}"]
        else:
            names = [f"k8s.io.api.{group.split('.')[0] if group else 'core'}.{version}.{kind}"]
        for name in names:
            try:
                return self.pool.FindMessageTypeByName(name)
            except KeyError:
                continue
        return None

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, body: bytes) -> Obj:
        """Return the JSON tree of a protobuf request body."""
        if not body.startswith(MAGIC):
            raise ProtobufError("the protobuf body does not start with the k8s\\x00 prefix")
        try:
            envelope = self.unknown.FromString(body[len(MAGIC) :])
        except DecodeError as exc:
            raise ProtobufError(f"the protobuf envelope cannot be decoded: {exc}") from exc
        type_meta = envelope.typeMeta  # type: ignore[attr-defined]
        api_version, kind = type_meta.apiVersion, type_meta.kind
        desc = self.descriptor_for(api_version, kind)
        if desc is None:
            raise ProtobufError(f"no protobuf schema for {kind} in {api_version}")
        try:
            msg = message_factory.GetMessageClass(desc).FromString(envelope.raw)  # type: ignore[attr-defined]
        except DecodeError as exc:
            raise ProtobufError(f"the {kind} cannot be decoded: {exc}") from exc
        obj = _to_json(msg)
        obj["apiVersion"], obj["kind"] = api_version, kind
        return obj

    def prune_unknown(self, obj: Obj) -> list[str]:
        """Drop the fields of a built-in object that its schema does not declare; return paths.

        Go decodes JSON into the kind's struct, which loses undeclared fields (and reports them
        to ``fieldValidation``); the protobuf message has the same fields under the same names,
        so its descriptor tells which fields those are. Kinds with no schema are left alone.
        """
        desc = self.descriptor_for(obj.get("apiVersion", ""), obj.get("kind", ""))
        if desc is None:
            return []
        unknown: list[str] = []
        _prune(obj, desc, "", unknown, root=True)
        unknown.sort()
        return unknown

    # -- encoding ------------------------------------------------------------------------------

    def can_encode(self, obj: Obj) -> bool:
        """Tell whether ``obj`` (or, for a list, its kind) has a protobuf schema."""
        return self.descriptor_for(obj.get("apiVersion", ""), obj.get("kind", "")) is not None

    def encode(self, obj: Obj) -> bytes:
        """Return the protobuf body (magic + Unknown) of a JSON object."""
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        desc = self.descriptor_for(api_version, kind)
        if desc is None:
            raise ProtobufError(f"no protobuf schema for {kind} in {api_version}")
        msg = message_factory.GetMessageClass(desc)()
        _fill(msg, obj)
        envelope = self.unknown()
        envelope.typeMeta.apiVersion = api_version  # type: ignore[attr-defined]
        envelope.typeMeta.kind = kind  # type: ignore[attr-defined]
        envelope.raw = msg.SerializeToString()  # type: ignore[attr-defined]
        return MAGIC + envelope.SerializeToString()


@lru_cache(maxsize=1)
def schemas() -> Schemas | None:
    """Return the schemas of this installation, or None when they were not compiled."""
    path = protoset_path()
    if not path.exists():
        return None
    return Schemas(path)


def missing_message() -> str:
    """Say why protobuf is refused when the schemas are not installed, and what to do."""
    return (
        f"protobuf bodies need the Kubernetes API schemas, not found at {protoset_path()}; "
        "run 'python -m tools.k8s_protoset' (make install does) or send application/json"
    )


# -- unknown fields ----------------------------------------------------------------------------

_LEAVES = {_TIME, _MICROTIME, _DURATION, _FIELDS, _QUANTITY, _INT_OR_STRING, _RAW}


def _prune(value: Any, desc: Descriptor, path: str, unknown: list[str], root: bool = False) -> None:
    if not isinstance(value, dict) or desc.full_name in _LEAVES:
        return
    for key in list(value):
        if root and key in ("apiVersion", "kind"):
            continue
        _, fd = _field_for(desc, key)
        child = f"{path}.{key}" if path else key
        if fd is None:
            unknown.append(child)
            del value[key]
            continue
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            if value_fd.message_type is not None and isinstance(value[key], dict):
                for k, v in value[key].items():
                    _prune(v, value_fd.message_type, f"{child}[{k}]", unknown)
        elif fd.is_repeated:
            if isinstance(value[key], list):
                for i, item in enumerate(value[key]):
                    _prune(item, fd.message_type, f"{child}[{i}]", unknown)
        else:
            _prune(value[key], fd.message_type, child, unknown)


# -- message -> JSON ---------------------------------------------------------------------------


def _format_time(seconds: int, nanos: int, micro: bool) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> tuple[int, int]:
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()), moment.microsecond * 1000


def _special_to_json(msg: Message) -> tuple[bool, Any]:
    """Return (True, value) for the apimachinery types whose JSON is not their message."""
    name = msg.DESCRIPTOR.full_name
    if name in (_TIME, _MICROTIME):
        seconds, nanos = msg.seconds, msg.nanos  # type: ignore[attr-defined]
        if not seconds and not nanos:
            return True, None
        return True, _format_time(seconds, nanos, name == _MICROTIME)
    if name == _QUANTITY:
        return True, msg.string or None  # type: ignore[attr-defined]
    if name == _INT_OR_STRING:
        if msg.type == 1:  # type: ignore[attr-defined]
            return True, msg.strVal  # type: ignore[attr-defined]
        return True, msg.intVal  # type: ignore[attr-defined]
    if name in (_RAW, _FIELDS):
        raw = msg.raw if name == _RAW else msg.Raw  # type: ignore[attr-defined]
        return True, json.loads(raw) if raw else None
    if name == _DURATION:
        return True, _go_duration(msg.duration)  # type: ignore[attr-defined]
    return False, None


def _go_duration(nanoseconds: int) -> str:
    seconds = nanoseconds / 1e9
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = ""
    if hours:
        text += f"{int(hours)}h"
    if hours or minutes:
        text += f"{int(minutes)}m"
    return text + f"{secs:g}s"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _to_json(msg: Message) -> Obj:
    out: Obj = {}
    full_name = msg.DESCRIPTOR.full_name
    inline = _INLINE.get(full_name, frozenset())
    names = _JSON_NAMES.get(full_name, {})
    for fd, value in msg.ListFields():
        converted = _value_to_json(fd, value)
        if fd.name in inline and isinstance(converted, dict):
            out.update(converted)
        elif not _empty(converted):
            out[names.get(fd.name, fd.name)] = converted
    return out


def _field_for(desc: Any, key: str) -> tuple[str | None, FieldDescriptor | None]:
    """Return (inline field or None, field) of a JSON key, looking into inline-embedded types."""
    fd = desc.fields_by_name.get(_PROTO_NAMES.get(desc.full_name, {}).get(key, key))
    if fd is not None:
        return None, fd
    for name in _INLINE.get(desc.full_name, ()):
        holder = desc.fields_by_name.get(name)
        if holder is not None and holder.message_type is not None:
            inner_holder, inner = _field_for(holder.message_type, key)
            if inner is not None and inner_holder is None:
                return name, inner
    return None, None


def _value_to_json(fd: FieldDescriptor, value: Any) -> Any:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        value_fd = fd.message_type.fields_by_name["value"]
        return {k: _scalar_or_message(value_fd, v) for k, v in value.items()}
    if fd.is_repeated:
        return [_scalar_or_message(fd, v) for v in value]
    return _scalar_or_message(fd, value)


def _scalar_or_message(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        special, converted = _special_to_json(value)
        return converted if special else _to_json(value)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


# -- JSON -> message ---------------------------------------------------------------------------


def _fill(msg: Message, obj: Obj) -> None:
    desc = msg.DESCRIPTOR
    for key, value in obj.items():
        holder, fd = _field_for(desc, key)
        if fd is None or value is None:
            continue  # the Go types drop fields they do not know as well
        _set(getattr(msg, holder) if holder else msg, fd, value)


def _set(msg: Message, fd: FieldDescriptor, value: Any) -> None:
    target = getattr(msg, fd.name)
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        value_fd = fd.message_type.fields_by_name["value"]
        for k, v in value.items():
            if value_fd.type == FieldDescriptor.TYPE_MESSAGE:
                _fill_message(target[k], v)
            else:
                target[k] = _scalar_from_json(value_fd, v)
        return
    if fd.is_repeated:
        for item in value:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                _fill_message(target.add(), item)
            else:
                target.append(_scalar_from_json(fd, item))
        return
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        _fill_message(target, value)
    else:
        setattr(msg, fd.name, _scalar_from_json(fd, value))


def _fill_message(msg: Message, value: Any) -> None:
    name = msg.DESCRIPTOR.full_name
    if name in (_TIME, _MICROTIME):
        msg.seconds, msg.nanos = _parse_time(value)  # type: ignore[attr-defined]
    elif name == _QUANTITY:
        msg.string = str(value)  # type: ignore[attr-defined]
    elif name == _INT_OR_STRING:
        if isinstance(value, str):
            msg.type, msg.strVal = 1, value  # type: ignore[attr-defined]
        else:
            msg.type, msg.intVal = 0, int(value)  # type: ignore[attr-defined]
    elif name == _RAW:
        msg.raw = json.dumps(value, separators=(",", ":")).encode()  # type: ignore[attr-defined]
    elif name == _FIELDS:
        msg.Raw = json.dumps(value, separators=(",", ":")).encode()  # type: ignore[attr-defined]
    elif name == _DURATION:
        msg.duration = _parse_go_duration(str(value))  # type: ignore[attr-defined]
    elif isinstance(value, dict):
        msg.SetInParent()
        _fill(msg, value)


def _parse_go_duration(text: str) -> int:
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = text[i : i + 2] if text[i : i + 2] in units else ch
        total += float(number or 0) * units.get(unit, 0.0)
        number, i = "", i + len(unit)
    return int(total * 1e9)


def _scalar_from_json(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return bool(value)
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return float(value)
    if fd.type == FieldDescriptor.TYPE_STRING:
        return value if isinstance(value, str) else json.dumps(value)
    return int(value)
