"""Runs differential cases against any API server and records what matters of each answer.

A case is a short sequence of requests (``cases.py``). The runner sends them to one server (a
base URL plus credentials: a bearer token, a client certificate, a CA), substitutes what earlier
answers returned (``{rv:N}``, ``{uid:N}``: the resourceVersion or uid of step N's object) and the
case's own namespace (``{ns}``, unique per run), and keeps of every answer: the status code, the
``Status`` reason and message, the kind, the warnings, the chosen fields, a Table's columns and
cells, a watch's events. Values that differ between any two runs by nature (uids, timestamps,
resourceVersions, the run's namespace names, generated name suffixes) are normalized, so a record
made against kube-apiserver can be compared with a replay against the simulator.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from sim import protobuf

Json = Any
PROTO = protobuf.MEDIA_TYPE
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
_UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_REF = re.compile(r"\{(rv|uid|name):(\d+)\}")
#: resourceVersions quoted inside messages (a failed delete precondition)
_RV_IN_TEXT = re.compile(r"(ResourceVersion in (?:the precondition|record)) \(\d+\)")


@dataclass(frozen=True)
class Step:
    """One request of a case and what to keep of its answer."""

    method: str
    path: str
    body: Json = None
    #: request content type (``application/json``, a patch type, or protobuf)
    ctype: str = "application/json"
    #: Accept header; None for plain JSON
    accept: str | None = None
    #: dotted paths of the answer's object to record (``metadata.labels``, ``data``)
    fields: tuple[str, ...] = ()
    #: a watch: read the stream until the server ends it (the path carries timeoutSeconds)
    watch: bool = False
    #: retry until the answer has this code (setup steps such as waiting for a CRD)
    until: int | None = None
    #: leave the answer out of the record (setup and clean-up)
    quiet: bool = False


@dataclass(frozen=True)
class Case:
    """A named sequence of steps and the area it checks."""

    id: str
    area: str
    steps: tuple[Step, ...]


@dataclass
class Target:
    """Where and as whom to send requests."""

    url: str
    token: str | None = None
    ca: str | bool = True
    cert: tuple[str, str] | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        # the environment's CA bundle (REQUESTS_CA_BUNDLE) would otherwise replace self.ca
        self.session.trust_env = False
        self.session.verify = self.ca
        if self.cert:
            self.session.cert = self.cert
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"


def run_id() -> str:
    """Return a short random id that makes this run's names unique."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))


def get_path(obj: Json, dotted: str) -> Json:
    """Return the value at a dotted path (``metadata.labels``); ``<absent>`` when missing."""
    value = obj
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return "<absent>"
    return value


class Normalizer:
    """Replaces what differs by nature between runs with stable placeholders."""

    def __init__(self, names: dict[str, str]) -> None:
        # longest first, so "d-x-12" is not replaced inside "d-x-123"
        self.names = sorted(names.items(), key=lambda kv: -len(kv[1]))
        self.generated: list[re.Pattern[str]] = []

    def generate_name(self, prefix: str) -> None:
        """Hide the random suffix the server appends to ``prefix`` (``generateName``)."""
        self.generated.append(re.compile(re.escape(prefix) + r"[a-z0-9]{5}\b"))

    def text(self, value: str) -> str:
        for placeholder, real in self.names:
            value = value.replace(real, placeholder)
        for pattern in self.generated:
            value = pattern.sub(lambda m: m.group(0)[:-5] + "<suffix>", value)
        value = _RV_IN_TEXT.sub(r"\1 (<rv>)", value)
        value = _UID.sub("<uid>", value)
        return _TIME.sub("<time>", value)

    def value(self, value: Json, key: str = "") -> Json:
        if key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
            return f"<{key}>" if value not in (None, "<absent>") else value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def _substitute(value: Json, case_ns: str, answers: list[Json]) -> Json:
    def one(text: str) -> str:
        def ref(match: re.Match[str]) -> str:
            kind, index = match.group(1), int(match.group(2))
            meta = (answers[index] or {}).get("metadata") or {}
            key = {"rv": "resourceVersion", "uid": "uid", "name": "name"}[kind]
            return str(meta.get(key, ""))

        return _REF.sub(ref, text.replace("{ns}", case_ns))

    if isinstance(value, str):
        return one(value)
    if isinstance(value, dict):
        return {one(k): _substitute(v, case_ns, answers) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, case_ns, answers) for v in value]
    return value


def _decode(response: requests.Response) -> Json:
    ctype = response.headers.get("Content-Type", "")
    if ctype.startswith(PROTO):
        schemas = protobuf.schemas()
        if schemas is None:
            raise RuntimeError(protobuf.missing_message())
        return schemas.decode(response.content)
    try:
        return response.json()
    except ValueError:
        return {"<text>": response.text[:200]}


def _warnings(response: requests.Response) -> list[str]:
    raw = response.raw.headers.getlist("Warning") if response.raw is not None else []
    out = []
    for header in raw:
        text = header.split(" - ", 1)[-1].strip()
        if text.startswith('"') and text.endswith('"'):
            text = json.loads(text)
        out.append(text)
    return out


def _watch_events(response: requests.Response) -> list[Json]:
    events = []
    for line in response.iter_lines():
        if not line:
            continue
        event = json.loads(line)
        obj = event.get("object") or {}
        events.append(
            {
                "type": event.get("type"),
                "name": (obj.get("metadata") or {}).get("name"),
                "labels": (obj.get("metadata") or {}).get("labels"),
                "reason": obj.get("reason") if event.get("type") == "ERROR" else None,
            }
        )
    return events


def send(target: Target, step: Step, case_ns: str, answers: list[Json]) -> tuple[int, Json, Any]:
    """Send one step; return (code, decoded body, response)."""
    path = _substitute(step.path, case_ns, answers)
    body = _substitute(step.body, case_ns, answers)
    headers = {"Content-Type": step.ctype}
    if step.accept:
        headers["Accept"] = step.accept
    data: bytes | None = None
    if body is not None:
        if step.ctype == PROTO:
            schemas = protobuf.schemas()
            if schemas is None:
                raise RuntimeError(protobuf.missing_message())
            data = schemas.encode(body)
        else:
            data = json.dumps(body).encode()
    deadline = time.monotonic() + 20
    while True:
        response = target.session.request(
            step.method,
            target.url + path,
            data=data,
            headers=headers,
            timeout=30,
            stream=step.watch,
        )
        if step.until is None or response.status_code == step.until:
            break
        if time.monotonic() > deadline:
            break
        response.close()
        time.sleep(0.2)
    if step.watch:
        return response.status_code, {"events": _watch_events(response)}, response
    return response.status_code, _decode(response), response


def outcome(step: Step, code: int, body: Json, response: Any, norm: Normalizer) -> Json:
    """Return what is recorded of one answer."""
    record: dict[str, Json] = {"code": code}
    if isinstance(body, dict):
        kind = body.get("kind")
        if kind:
            record["kind"] = kind
        if kind == "Status":
            record["reason"] = body.get("reason")
            record["message"] = norm.text(str(body.get("message", "")))
            causes = (body.get("details") or {}).get("causes")
            if causes:
                record["causes"] = norm.value(
                    [{"reason": c.get("reason"), "field": c.get("field")} for c in causes]
                )
        if kind == "Table":
            columns = body.get("columnDefinitions") or []
            record["columns"] = [[c.get("name"), c.get("type")] for c in columns]
            # ages and dates move with the clock: keep the other cells
            moving = {
                i
                for i, c in enumerate(columns)
                if c.get("name") in ("Age", "Created At", "Updated", "Started", "Duration")
                or c.get("type") == "date"
            }
            record["cells"] = norm.value(
                [
                    [cell for i, cell in enumerate(row.get("cells") or []) if i not in moving]
                    for row in body.get("rows") or []
                ]
            )
        if "events" in body:
            record["events"] = norm.value(body["events"])
        for dotted in step.fields:
            if dotted.startswith("@resource:"):
                value = _discovery_entry(body, dotted.split(":", 1)[1])
            else:
                value = get_path(body, dotted)
            record.setdefault("fields", {})[dotted] = norm.value(value, dotted.rsplit(".", 1)[-1])
    warnings = _warnings(response)
    if warnings:
        record["warnings"] = [norm.text(w) for w in warnings]
    return record


def _discovery_entry(body: Json, name: str) -> Json:
    """Return what a client reads of one discovery entry (scope, kind, verbs, short names)."""
    for entry in body.get("resources") or []:
        if entry.get("name") == name:
            return {
                "namespaced": entry.get("namespaced"),
                "kind": entry.get("kind"),
                "verbs": sorted(entry.get("verbs") or []),
                "shortNames": sorted(entry.get("shortNames") or []),
            }
    return "<absent>"


def run_case(target: Target, case: Case, run: str, index: int) -> list[Json]:
    """Run one case in its own namespace name; return the recorded outcomes of its steps."""
    case_ns = f"d{index:03d}-{run}"
    norm = Normalizer({"{ns}": case_ns})
    answers: list[Json] = []
    recorded: list[Json] = []
    for step in case.steps:
        generate = get_path(step.body, "metadata.generateName")
        if isinstance(generate, str) and generate:
            norm.generate_name(generate)
        code, body, response = send(target, step, case_ns, answers)
        answers.append(body if isinstance(body, dict) else {})
        if not step.quiet:
            recorded.append(outcome(step, code, body, response, norm))
        response.close()
    return recorded


def run_all(target: Target, cases: list[Case]) -> Iterator[tuple[Case, list[Json]]]:
    """Run every case once; yield each with its outcomes."""
    run = run_id()
    for index, case in enumerate(cases):
        yield case, run_case(target, case, run, index)


def differences(recorded: list[Json], replayed: list[Json]) -> list[str]:
    """Return what differs between two runs of one case, one line per difference."""
    out = []
    if len(recorded) != len(replayed):
        out.append(f"{len(recorded)} recorded steps, {len(replayed)} replayed")
    for i, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"step {i} {key}: recorded {a.get(key)!r}, replayed {b.get(key)!r}")
    return out
