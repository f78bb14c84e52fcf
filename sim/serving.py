"""The HTTP face of the simulator: Kubernetes REST paths mapped onto the machinery (aiohttp).

One request handler on aiohttp's low-level server parses ``/api/v1/...`` and
``/apis/<group>/<version>/...`` into (type, namespace, name, subresource) and dispatches by method;
errors become ``Status`` bodies; watches stream one JSON event per line. A request log (one JSON
line per request with the Kubernetes verb) is written when asked for, so RBAC rules can be derived
from what a client really did.

Answers that carry stored objects reuse the store's cached JSON bytes of each object (a list is a
join of them); a watch stream writes every event that is pending when it wakes in one chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from sim import discovery, openapiv2, protobuf, tables
from sim.encoding import Encode, dumps, dumps_list
from sim.errors import ApiError, bad_request, method_not_allowed, too_large_resource_version
from sim.machinery import Machinery, Request
from sim.patching import APPLY_PATCH
from sim.resources import ResourceType
from sim.selectors import field_matcher, label_matcher
from sim.store import Event

log = logging.getLogger("sim.serving")


@dataclass
class Target:
    """A parsed resource path."""

    rt: ResourceType
    namespace: str
    name: str
    sub: str


def _json(obj: Any, status: int = 200) -> web.Response:
    return _bytes(dumps(obj), status)


def _bytes(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def _object(m: Machinery, obj: dict[str, Any], status: int = 200) -> web.Response:
    """Answer one object, with the cached bytes when it is the stored version."""
    return _bytes(m.store.encode(obj), status)


def _list(m: Machinery, doc: dict[str, Any]) -> web.Response:
    """Answer a ``<Kind>List``, its items from the store's cached bytes."""
    return _bytes(dumps_list(doc, m.store.encode))


#: kinds whose DELETE answers the deleted object; every other kind answers a ``Status`` once the
#: object is gone (an object kept by finalizers is answered as it now is), as kube-apiserver does
RETURNS_DELETED = frozenset(
    ("", p)
    for p in (
        "namespaces",
        "pods",
        "services",
        "serviceaccounts",
        "persistentvolumeclaims",
        "persistentvolumes",
        "podtemplates",
        "resourcequotas",
    )
)


def _deleted_status(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta.get("name", ""),
            "group": rt.group,
            "kind": rt.plural,
            "uid": meta.get("uid", ""),
        },
    }


def _table(
    request: web.BaseRequest, rt: ResourceType, objects: list[dict[str, Any]], rv: str
) -> web.Response:
    """Answer a ``Table`` of some objects, as ``kubectl get`` asks for."""
    q = request.query
    doc = tables.table(
        rt, objects, rv, q.get("includeObject") or "Metadata", q.get("noHeaders") == "true"
    )
    return _json(doc)


def _error(exc: ApiError) -> web.Response:
    # Status bodies keep the spaced separators clients have always been shown; they are rare
    return _bytes(json.dumps(exc.status()).encode(), exc.code)


def parse_path(m: Machinery, path: str) -> Target | dict[str, Any] | None:
    """Return the Target of a resource path, a discovery document, or None when nothing is there."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return discovery.api_versions()
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) == 1:
            return discovery.api_group_list(m.catalogue)
        if len(parts) == 2:
            return discovery.api_group(m.catalogue, parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return discovery.api_resource_list(m.catalogue, group, version)
    namespace = ""
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (group == "" and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    rt = m.catalogue.get(group, version, rest[0])
    if rt is None:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in rt.subresources:
        return None
    if rt.namespaced and not namespace and name:
        return None
    return Target(rt, namespace, name, sub)


def kube_verb(method: str, target: Target, query: Mapping[str, str]) -> str:
    """Return the Kubernetes verb of a request (as RBAC rules name it)."""
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if query.get("watch") in ("true", "1") else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if target.name else "deletecollection",
    }.get(method, method.lower())


class RequestLog:
    """Appends one JSON line per API request to a file.

    Each line is one ``write(2)`` on a descriptor opened for appending, so it is in the file as
    soon as the request is answered (readers follow the log while the simulator runs) without a
    buffered file object's flush in between.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry."""
        os.write(self._fd, dumps(entry) + b"\n")

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


async def _body(request: web.BaseRequest) -> Any:
    ctype = request.content_type
    raw = await request.read()
    if ctype == protobuf.MEDIA_TYPE:
        return _protobuf_body(raw) if raw else None
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        if ctype in ("application/yaml", APPLY_PATCH):
            import yaml

            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError:
                pass
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc


def _protobuf_body(raw: bytes) -> Any:
    schemas = protobuf.schemas()
    if schemas is None:
        raise ApiError(415, "UnsupportedMediaType", protobuf.missing_message())
    try:
        return schemas.decode(raw)
    except protobuf.ProtobufError as exc:
        raise bad_request(f"the protobuf body cannot be read: {exc}") from exc


def _negotiate(request: web.BaseRequest, response: web.StreamResponse) -> web.StreamResponse:
    """Answer in protobuf when the client asks for it first and the object's kind has a schema.

    Custom resources have no protobuf form: a client that also accepts JSON gets JSON (client-go
    decodes by the answer's content type), one that accepts only protobuf gets 406.
    """
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    body = response.body
    if not isinstance(body, bytes):
        return response
    schemas = protobuf.schemas()
    obj = json.loads(body)
    if schemas is not None and isinstance(obj, dict) and schemas.can_encode(obj):
        return web.Response(
            body=schemas.encode(obj), status=response.status, content_type=protobuf.MEDIA_TYPE
        )
    if _json_acceptable(request.headers.get("Accept", "")):
        return response
    return _error(
        ApiError(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf",
        )
    )


def _json_acceptable(accept: str) -> bool:
    return any(
        part.split(";")[0].strip() in ("application/json", "*/*", "application/*")
        for part in accept.split(",")
    )


_FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def _user(request: web.BaseRequest, m: Machinery) -> Request:
    directive = request.query.get("fieldValidation") or "Warn"
    if directive not in _FIELD_VALIDATION:
        raise bad_request(
            f"fieldValidation parameter unsupported: {directive!r}, "
            "expected one of Ignore, Warn, Strict"
        )
    return Request(
        user=request.headers.get("Impersonate-User") or m.settings.username,
        dry_run=request.query.get("dryRun") == "All",
        field_validation=directive,
    )


#: Seconds a list or watch from a resourceVersion the store has not reached waits for it before the
#: 504 "Too large resource version" (kube-apiserver's watch cache ``blockTimeout``).
FRESHNESS_WAIT = 3.0


def _requested_version(text: str | None) -> int | None:
    """The resourceVersion a list or watch asked for; None for "any" (absent or ``0``)."""
    if not text or text == "0":
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise bad_request(f"invalid resourceVersion {text!r}") from exc


async def _fresh_enough(m: Machinery, requested: int | None) -> None:
    """Wait (bounded) until the store has reached ``requested``; else raise the 504 a server does.

    A version the store has not reached was never issued by this server: after a restart of the
    simulator (all state lost) every version a client kept is such a one.
    """
    if requested is None or requested <= m.store.rv:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FRESHNESS_WAIT
    while m.store.rv < requested:
        if loop.time() >= deadline:
            raise too_large_resource_version(requested, m.store.rv)
        await asyncio.sleep(0.05)


def _with_warnings(response: web.StreamResponse, req: Request) -> web.StreamResponse:
    """Carry the request's warnings as ``Warning: 299 - "..."`` headers, as the API server does."""
    for text in req.warnings:
        response.headers.add("Warning", "299 - " + json.dumps(text))
    return response


async def _watch(request: web.BaseRequest, m: Machinery, target: Target) -> web.StreamResponse:
    q = request.query
    matchers = [
        x
        for x in (label_matcher(q.get("labelSelector")), field_matcher(q.get("fieldSelector")))
        if x
    ]
    since = _requested_version(q.get("resourceVersion"))
    namespace = target.namespace if target.rt.namespaced and target.namespace else None
    if target.name:
        name = target.name
        matchers.append(lambda o: o["metadata"]["name"] == name)
    timeout = float(q.get("timeoutSeconds") or 0) or None
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        await _fresh_enough(m, since)
        watcher, first = m.store.watch(target.rt.key, namespace, since, matchers)
    except ApiError as exc:
        with contextlib.suppress(ConnectionError):  # the client may have gone while it waited
            await response.write(
                json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n"
            )
        return response
    rt, encode = target.rt, m.store.encode
    # one timer for the whole stream: it wakes the watcher, which then ends the stream
    expiry = asyncio.get_running_loop().call_later(timeout, watcher.expire) if timeout else None
    try:
        if first:
            await response.write(b"".join([_versioned_line(rt, e, encode) for e in first]))
        while not watcher.expired:
            events = await watcher.take()
            if events:
                await response.write(b"".join([_versioned_line(rt, e, encode) for e in events]))
            if watcher.ended:
                return response
        if q.get("allowWatchBookmarks") in ("true", "1") and not watcher.pending:
            # every change up to now has been sent: tell the client where it can resume from
            await response.write(_bookmark(target.rt, m.store.rv))
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        if expiry is not None:
            expiry.cancel()
        m.store.unwatch(target.rt.key, watcher)
    return response


def _bookmark(rt: ResourceType, rv: int) -> bytes:
    obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(rv)}}
    return dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def _versioned_line(rt: ResourceType, event: Event, encode: Encode) -> bytes:
    """Return an event's line, with the object under the version the watch was opened for."""
    if event.obj.get("apiVersion") == rt.api_version:
        return event.line(encode)
    obj = {**event.obj, "apiVersion": rt.api_version}
    return dumps({"type": event.type, "object": obj}) + b"\n"


async def _dispatch(request: web.BaseRequest, m: Machinery, target: Target) -> web.StreamResponse:
    rt, ns, name, sub = target.rt, target.namespace, target.name, target.sub
    q = request.query
    method = request.method
    req = _user(request, m)
    handler = m.hooks.subresources.get((rt.key, sub)) if sub else None
    if handler is not None:
        code, body = await handler(method, ns, name, await _body(request), req)
        return _object(m, body, code)
    if method == "GET":
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        if name:
            if "get" not in rt.verbs:
                raise method_not_allowed()
            obj = m.get(rt, ns, name)
            if as_table:
                return _table(request, rt, [obj], obj["metadata"].get("resourceVersion", ""))
            return _object(m, obj)
        if "list" not in rt.verbs:
            raise method_not_allowed()
        if q.get("watch") in ("true", "1"):
            return await _watch(request, m, target)
        await _fresh_enough(m, _requested_version(q.get("resourceVersion")))
        listed = m.list(
            rt,
            ns if rt.namespaced and ns else None,
            q.get("labelSelector"),
            q.get("fieldSelector"),
        )
        if as_table:
            return _table(request, rt, listed["items"], listed["metadata"]["resourceVersion"])
        return _list(m, listed)
    if method == "POST":
        if name:
            raise method_not_allowed()
        code, obj = await m.create(rt, ns, await _body(request), req)
        return _with_warnings(_object(m, obj, code), req)
    if method == "PUT":
        if not name:
            raise method_not_allowed()
        return _with_warnings(
            _object(m, await m.replace(rt, ns, name, await _body(request), sub, req)), req
        )
    if method == "PATCH":
        if not name:
            raise method_not_allowed()
        if request.content_type == APPLY_PATCH:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "server-side apply is not supported by this simulator; use client-side apply",
            )
        return _with_warnings(
            _object(
                m,
                await m.patch(rt, ns, name, request.content_type, await _body(request), sub, req),
            ),
            req,
        )
    if method == "DELETE":
        if name:
            options = await _body(request)
            deleted = await m.delete(
                rt, ns, name, options if isinstance(options, dict) else None, req
            )
            if (
                rt.key not in RETURNS_DELETED
                and m.store.get(rt.key, ns if rt.namespaced else "", name) is None
            ):
                return _json(_deleted_status(rt, deleted))
            return _object(m, deleted)
        if "deletecollection" not in rt.verbs:
            raise method_not_allowed()
        return _list(
            m,
            await m.delete_collection(
                rt, ns or None, q.get("labelSelector"), q.get("fieldSelector")
            ),
        )
    raise method_not_allowed()


def _openapi(m: Machinery, path: str) -> web.Response:
    rest = path[len("/openapi/v3") :].strip("/")
    if not rest:
        return _json(discovery.openapi_v3_root(m.catalogue))
    parts = rest.split("/")
    doc = None
    if parts[0] == "api" and len(parts) == 2:
        doc = discovery.openapi_v3_group_version(m.catalogue, "", parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        doc = discovery.openapi_v3_group_version(m.catalogue, parts[1], parts[2])
    if doc is None:
        return _error(ApiError(404, "NotFound", "the server could not find the requested resource"))
    return _json(doc)


def _openapi_v2(request: web.BaseRequest, m: Machinery) -> web.Response:
    """Answer ``/openapi/v2`` in protobuf (what kubectl asks for) or JSON."""
    doc = discovery.openapi_v2(m.catalogue)
    if openapiv2.MEDIA_TYPE in request.headers.get("Accept", ""):
        body = openapiv2.encode(doc)
        if body is not None:
            return web.Response(body=body, content_type=openapiv2.ANSWER_TYPE)
    return _json(doc)


class ApiServer:
    """Serves every path of the API from one request handler on aiohttp's low-level server.

    There is a single catch-all route, so an ``Application`` with its router, match info and
    middleware chain would only add work to each request; the handler here parses the path
    itself and writes the request log line after answering.
    """

    #: bodies up to this size are accepted (kubectl applies large CRDs)
    MAX_BODY = 32 * 1024 * 1024

    def __init__(self, m: Machinery, request_log: RequestLog | None = None) -> None:
        self.m = m
        self.request_log = request_log

    def web_server(self) -> web.Server:
        """Return the aiohttp low-level server that runs :meth:`handle` for every request."""

        def make_request(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message,
                payload,
                protocol,
                writer,
                task,
                asyncio.get_running_loop(),
                client_max_size=self.MAX_BODY,
            )

        return web.Server(self.handle, request_factory=make_request, access_log=None)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve any API path."""
        m = self.m
        path = request.path
        if request.headers.get("Expect"):
            refused = await _expect(request)
            if refused is not None:
                return refused
        if path == "/version":
            return _json(discovery.version_info())
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if path.startswith("/openapi/v3"):
            return _openapi(m, path)
        if path == "/openapi/v2":
            return _openapi_v2(request, m)
        parsed = parse_path(m, path)
        if parsed is None:
            if not _group_version_served(m, path):
                # kube-apiserver's mux answers unknown groups and versions in plain text
                return web.Response(status=404, text="404 page not found\n")
            return _error(
                ApiError(404, "NotFound", "the server could not find the requested resource")
            )
        if isinstance(parsed, dict):
            if request.method != "GET":
                return _error(method_not_allowed())
            return _json(parsed)
        response = await _answer(request, m, parsed)
        if self.request_log is not None:
            self.request_log.write(
                {
                    "verb": kube_verb(request.method, parsed, request.query),
                    "group": parsed.rt.group,
                    "version": parsed.rt.version,
                    "resource": parsed.rt.plural,
                    "subresource": parsed.sub,
                    "namespace": parsed.namespace,
                    "name": parsed.name,
                    "user_agent": request.headers.get("User-Agent", ""),
                    "code": response.status,
                }
            )
        return response


def _group_version_served(m: Machinery, path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        return parts[1] == "v1"
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[2] in m.catalogue.groups().get(parts[1], [])
    if len(parts) == 2 and parts[0] == "apis":
        return parts[1] in m.catalogue.groups()
    return True


async def _expect(request: web.BaseRequest) -> web.Response | None:
    """Answer ``Expect: 100-continue`` as aiohttp's router does; refuse other expectations."""
    if request.version != HttpVersion11:
        return None
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0
        return None
    return _error(ApiError(417, "ExpectationFailed", "only Expect: 100-continue is understood"))


async def _answer(request: web.BaseRequest, m: Machinery, target: Target) -> web.StreamResponse:
    if request.headers.get("Accept", "").startswith(protobuf.MEDIA_TYPE):
        return _negotiate(request, await _answer_json(request, m, target))
    return await _answer_json(request, m, target)


async def _answer_json(
    request: web.BaseRequest, m: Machinery, target: Target
) -> web.StreamResponse:
    try:
        return await _dispatch(request, m, target)
    except ApiError as exc:
        return _error(exc)
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a bug must answer a Status, not a bare 500 page
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return _error(
            ApiError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}")
        )


class ApiRunner(web.ServerRunner):
    """Runs an :class:`ApiServer`, stopping it in the order a clean stop needs.

    Once the listening sockets are closed and open connections are told to close, the runner's
    shutdown step ends every watch and background task (so no long-running answer holds the
    stop up); after the answers in flight are written, the request log is closed.
    """

    def __init__(self, api: ApiServer) -> None:
        super().__init__(api.web_server())
        self.api = api

    async def shutdown(self) -> None:
        """End the watches and the simulated controllers."""
        await self.api.m.shutdown()

    async def cleanup(self) -> None:
        """Stop serving, then close the request log."""
        await super().cleanup()
        if self.api.request_log is not None:
            self.api.request_log.close()
