"""The differential cases: request sequences whose answers a real kube-apiserver recorded.

Every case but the set-up runs in a namespace of its own (``{ns}``, created by a quiet first
step, so a case's own steps count from 1: ``{rv:1}`` is the resourceVersion of its first
answer). Cluster-scoped objects take names derived from ``{ns}``. The cases stay within what a bare
kube-apiserver does (no controller manager: no service account tokens, no namespace deletion
beyond Terminating, no garbage collection), so the record holds only the API server's own answers.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from tests.sim.differential.runner import PROTO, TABLE, Case, Step

REPO = Path(__file__).resolve().parents[3]
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
QI_PATH = "/apis/quay.redhat.com/v1/quayintegrations"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _crd() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "crds" / "quayintegration.yaml").read_text()))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ns_path(resource: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{{ns}}/{resource}"
    return f"{base}/{name}" if name else base


def in_ns(case_id: str, area: str, *steps: Step) -> Case:
    """Return a case whose first (quiet) step creates its namespace."""
    create = Step("POST", "/api/v1/namespaces", {"metadata": {"name": "{ns}"}}, quiet=True)
    return Case(case_id, area, (create, *steps))


def post(path: str, body: Any, *fields: str, **kw: Any) -> Step:
    return Step("POST", path, body, fields=fields, **kw)


def get(path: str, *fields: str, **kw: Any) -> Step:
    return Step("GET", path, fields=fields, **kw)


def patch(path: str, ctype: str, body: Any, *fields: str, **kw: Any) -> Step:
    return Step("PATCH", path, body, ctype=ctype, fields=fields, **kw)


def put(path: str, body: Any, *fields: str, **kw: Any) -> Step:
    return Step("PUT", path, body, fields=fields, **kw)


def delete(path: str, body: Any = None, *fields: str, **kw: Any) -> Step:
    return Step("DELETE", path, body, fields=fields, **kw)


def cm(name: str, data: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data is not None:
        body["data"] = data
    body.update(extra)
    return body


def secret(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **extra}


def qi(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "quay.redhat.com/v1",
        "kind": "QuayIntegration",
        "metadata": {"name": name},
        "spec": {
            "clusterID": "east",
            "credentialsSecret": {"name": "creds", "namespace": "quay-bridge"},
            "quayHostname": "https://quay.example.com",
            **spec,
        },
    }


def setup() -> list[Case]:
    """Apply the QuayIntegration CRD (once per server) and wait until it is served."""
    return [
        Case(
            "setup-crd",
            "setup",
            (
                Step("POST", CRD_PATH, _crd(), quiet=True),
                Step("GET", QI_PATH, until=200, quiet=True),
            ),
        )
    ]


# -- object names ------------------------------------------------------------------------------

_NAMES = {
    "ok": "ok-name",
    "upper": "Bad_Name",
    "dots": "a.b",
    "leading-dash": "-lead",
    "long-label": "x" * 64,
    "double-dot": "a..b",
    "trailing-dash": "trail-",
    "digits-first": "1abc",
}
_NAMED_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "configmap": ("configmaps", {"apiVersion": "v1", "kind": "ConfigMap"}),
    "secret": ("secrets", {"apiVersion": "v1", "kind": "Secret"}),
    "serviceaccount": ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount"}),
    "service": (
        "services",
        {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}},
    ),
}


def name_cases() -> list[Case]:
    out = []
    for kind, (plural, base) in _NAMED_KINDS.items():
        for label, name in _NAMES.items():
            body = {**base, "metadata": {"name": name}}
            out.append(
                in_ns(
                    f"name-{kind}-{label}",
                    "names",
                    post(ns_path(plural), body, "metadata.name"),
                )
            )
    for label, name in _NAMES.items():
        full = f"{{ns}}-{name}" if label != "long-label" else name
        out.append(
            in_ns(
                f"name-namespace-{label}",
                "names",
                post("/api/v1/namespaces", {"metadata": {"name": full}}, "status.phase"),
            )
        )
    out.append(
        in_ns(
            "name-generate",
            "names",
            post(
                ns_path("configmaps"),
                {"metadata": {"generateName": "gen-"}},
                "metadata.generateName",
            ),
            post(ns_path("configmaps"), {"metadata": {"generateName": "Bad_"}}),
        )
    )
    out.append(
        in_ns(
            "name-missing",
            "names",
            post(ns_path("configmaps"), {"metadata": {}}),
        )
    )
    out.append(
        in_ns(
            "labels-invalid",
            "names",
            post(
                ns_path("configmaps"), cm("l", metadata={"name": "l", "labels": {"bad key!": "v"}})
            ),
            post(
                ns_path("configmaps"),
                cm("l", metadata={"name": "l", "labels": {"k": "bad value!"}}),
            ),
            post(
                ns_path("configmaps"),
                cm("l", metadata={"name": "l", "annotations": {"a/b/c": "v"}}),
            ),
        )
    )
    out.append(
        in_ns(
            "finalizer-invalid",
            "names",
            post(
                ns_path("configmaps"), cm("f", metadata={"name": "f", "finalizers": ["bad/fin/x"]})
            ),
        )
    )
    return out


# -- secrets and config maps -------------------------------------------------------------------


def secret_cases() -> list[Case]:
    s = ns_path("secrets")
    return [
        in_ns(
            "secret-stringdata-merged",
            "secrets",
            post(
                s,
                secret("sd", data={"kept": b64("old")}, stringData={"token": "t0k"}),
                "data",
                "stringData",
                "type",
            ),
            get(ns_path("secrets", "sd"), "data", "stringData"),
        ),
        in_ns(
            "secret-stringdata-overrides-data",
            "secrets",
            post(s, secret("sd2", data={"a": b64("x")}, stringData={"a": "y"}), "data"),
        ),
        in_ns("secret-type-default", "secrets", post(s, secret("t"), "type", "data")),
        in_ns(
            "secret-dockerconfigjson-missing-key",
            "secrets",
            post(s, secret("d", type="kubernetes.io/dockerconfigjson")),
        ),
        in_ns(
            "secret-dockerconfigjson-not-json",
            "secrets",
            post(
                s,
                secret(
                    "d",
                    type="kubernetes.io/dockerconfigjson",
                    data={".dockerconfigjson": b64("nope")},
                ),
            ),
        ),
        in_ns(
            "secret-dockerconfigjson-ok",
            "secrets",
            post(
                s,
                secret(
                    "d",
                    type="kubernetes.io/dockerconfigjson",
                    stringData={".dockerconfigjson": '{"auths":{}}'},
                ),
                "type",
            ),
        ),
        in_ns(
            "secret-dockercfg-missing",
            "secrets",
            post(s, secret("d", type="kubernetes.io/dockercfg")),
        ),
        in_ns("secret-tls-missing", "secrets", post(s, secret("t", type="kubernetes.io/tls"))),
        in_ns(
            "secret-basic-auth-missing",
            "secrets",
            post(s, secret("b", type="kubernetes.io/basic-auth")),
        ),
        in_ns("secret-ssh-missing", "secrets", post(s, secret("b", type="kubernetes.io/ssh-auth"))),
        in_ns(
            "secret-sa-token-missing-annotation",
            "secrets",
            post(s, secret("b", type="kubernetes.io/service-account-token")),
        ),
        in_ns("secret-bad-key", "secrets", post(s, secret("k", stringData={"bad key": "v"}))),
        in_ns(
            "secret-immutable-data",
            "secrets",
            post(s, secret("i", immutable=True, stringData={"a": "b"}), "immutable"),
            patch(ns_path("secrets", "i"), MERGE, {"stringData": {"a": "c"}}),
            patch(ns_path("secrets", "i"), MERGE, {"immutable": False}),
            patch(
                ns_path("secrets", "i"),
                MERGE,
                {"metadata": {"labels": {"x": "y"}}},
                "metadata.labels",
            ),
        ),
        in_ns(
            "secret-type-change",
            "secrets",
            post(s, secret("tc", stringData={"a": "b"})),
            patch(ns_path("secrets", "tc"), MERGE, {"type": "kubernetes.io/tls"}),
        ),
        in_ns(
            "secret-put-keeps-type",
            "secrets",
            post(s, secret("p", type="example.com/custom", stringData={"a": "b"})),
            put(ns_path("secrets", "p"), secret("p", stringData={"c": "d"})),
        ),
        in_ns(
            "secret-protobuf-create",
            "protobuf",
            post(
                s,
                secret("pb", data={"a": b64("b")}, type="Opaque"),
                "data",
                "type",
                ctype=PROTO,
                accept=f"{PROTO},application/json",
            ),
            get(ns_path("secrets", "pb"), "data", accept=f"{PROTO},application/json"),
        ),
    ]


def configmap_cases() -> list[Case]:
    c = ns_path("configmaps")
    return [
        in_ns(
            "cm-create", "configmaps", post(c, cm("c", {"a": "1"}), "data", "metadata.generation")
        ),
        in_ns("cm-already-exists", "configmaps", post(c, cm("c")), post(c, cm("c"))),
        in_ns("cm-bad-key", "configmaps", post(c, cm("c", {"bad/key": "1"}))),
        in_ns(
            "cm-binary-duplicate",
            "configmaps",
            post(c, cm("c", {"a": "1"}, binaryData={"a": b64("x")})),
        ),
        in_ns(
            "cm-immutable",
            "configmaps",
            post(c, cm("c", {"a": "1"}, immutable=True)),
            patch(ns_path("configmaps", "c"), MERGE, {"data": {"a": "2"}}),
            patch(ns_path("configmaps", "c"), MERGE, {"immutable": False, "data": {"a": "2"}}),
        ),
        in_ns(
            "cm-namespace-mismatch",
            "configmaps",
            post(c, cm("c", metadata={"name": "c", "namespace": "elsewhere"})),
        ),
        in_ns(
            "cm-missing-namespace",
            "configmaps",
            post("/api/v1/namespaces/{ns}-nope/configmaps", cm("c")),
        ),
        in_ns(
            "cm-dry-run",
            "configmaps",
            post(c + "?dryRun=All", cm("dry", {"a": "1"}), "data"),
            get(ns_path("configmaps", "dry")),
        ),
        in_ns(
            "cm-protobuf-create",
            "protobuf",
            post(c, cm("pb", {"a": "1"}), "data", ctype=PROTO, accept=f"{PROTO},application/json"),
        ),
        in_ns(
            "cm-unknown-field-strict",
            "field-validation",
            post(c + "?fieldValidation=Strict", cm("u", {"a": "1"}, extra={"x": 1})),
        ),
        in_ns(
            "cm-unknown-field-warn",
            "field-validation",
            post(c + "?fieldValidation=Warn", cm("u", {"a": "1"}, extra={"x": 1}), "extra"),
        ),
        in_ns(
            "cm-unknown-field-ignore",
            "field-validation",
            post(c + "?fieldValidation=Ignore", cm("u", {"a": "1"}, extra={"x": 1}), "extra"),
        ),
    ]


# -- events and leases -------------------------------------------------------------------------


def _event(name: str, involved_ns: str | None, **extra: Any) -> dict[str, Any]:
    involved: dict[str, Any] = {"kind": "ConfigMap", "name": "x"}
    if involved_ns is not None:
        involved["namespace"] = involved_ns
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": involved,
        "reason": "Tested",
        "message": "m",
        "type": "Normal",
        **extra,
    }


def event_cases() -> list[Case]:
    e = ns_path("events")
    return [
        in_ns("event-ok", "events", post(e, _event("ok", "{ns}"), "reason", "count")),
        in_ns("event-namespace-mismatch", "events", post(e, _event("bad", "other"))),
        in_ns("event-involved-namespace-empty", "events", post(e, _event("empty", None))),
        in_ns(
            "event-new-style-missing-fields",
            "events",
            post(e, _event("new", "{ns}", eventTime="2026-01-01T00:00:00.000000Z")),
        ),
        in_ns(
            "event-new-style-ok",
            "events",
            post(
                e,
                _event(
                    "new",
                    "{ns}",
                    eventTime="2026-01-01T00:00:00.000000Z",
                    reportingComponent="tests/x",
                    reportingInstance="i",
                    action="Act",
                ),
                "action",
            ),
        ),
        in_ns(
            "event-generate-name-dot",
            "events",
            post(
                e,
                {**_event("", "{ns}"), "metadata": {"generateName": "x."}},
                "metadata.generateName",
            ),
        ),
        in_ns(
            "event-protobuf",
            "protobuf",
            post(
                e,
                _event("pb", "{ns}", count=3),
                "count",
                "reason",
                ctype=PROTO,
                accept=f"{PROTO},application/json",
            ),
        ),
    ]


def lease_cases() -> list[Case]:
    path = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
    }
    return [
        in_ns("lease-create", "leases", post(path, lease, "spec", "metadata.generation")),
        in_ns(
            "lease-update-holder",
            "leases",
            post(path, lease),
            put(
                path + "/leader",
                {
                    **lease,
                    "metadata": {"name": "leader", "resourceVersion": "{rv:1}"},
                    "spec": {"holderIdentity": "b"},
                },
                "spec",
            ),
            put(
                path + "/leader",
                {**lease, "metadata": {"name": "leader", "resourceVersion": "{rv:1}"}},
            ),
        ),
        in_ns(
            "lease-protobuf",
            "protobuf",
            post(path, lease, "spec", ctype=PROTO, accept=f"{PROTO},application/json"),
        ),
        in_ns(
            "lease-table",
            "tables",
            post(path, lease),
            get(path, accept=TABLE),
        ),
    ]


# -- patches, updates, conflicts ---------------------------------------------------------------


def patch_cases() -> list[Case]:
    c = ns_path("configmaps")
    one = ns_path("configmaps", "p")
    base = post(c, cm("p", {"a": "1", "b": "2"}, metadata={"name": "p", "labels": {"l": "1"}}))
    json_patches = {
        "add": [{"op": "add", "path": "/data/c", "value": "3"}],
        "replace": [{"op": "replace", "path": "/data/a", "value": "9"}],
        "remove": [{"op": "remove", "path": "/data/b"}],
        "remove-missing": [{"op": "remove", "path": "/data/zz"}],
        "test-ok": [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "replace", "path": "/data/a", "value": "5"},
        ],
        "test-fail": [
            {"op": "test", "path": "/data/a", "value": "nope"},
            {"op": "replace", "path": "/data/a", "value": "5"},
        ],
        "missing-parent": [{"op": "add", "path": "/nothere/x", "value": "1"}],
        "move": [{"op": "move", "from": "/data/a", "path": "/data/z"}],
        "copy": [{"op": "copy", "from": "/data/a", "path": "/data/y"}],
        "rv-test-stale": [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
            {"op": "add", "path": "/data/q", "value": "1"},
        ],
        "add-label": [{"op": "add", "path": "/metadata/labels/new", "value": "v"}],
        "not-a-list": {"op": "add"},
    }
    out = [
        in_ns(
            f"jsonpatch-{label}",
            "patches",
            base,
            patch(one, JSON_PATCH, body, "data", "metadata.labels"),
        )
        for label, body in json_patches.items()
    ]
    merges = {
        "set": {"data": {"c": "3"}},
        "delete-key": {"data": {"a": None}},
        "labels": {"metadata": {"labels": {"l": None, "m": "2"}}},
        "stale-rv": {"metadata": {"resourceVersion": "1"}, "data": {"x": "1"}},
        "current-rv": {"metadata": {"resourceVersion": "{rv:1}"}, "data": {"x": "1"}},
        "name-mismatch": {"metadata": {"name": "other"}},
        "replace-data": {"data": None},
    }
    out += [
        in_ns(
            f"mergepatch-{label}",
            "patches",
            base,
            patch(one, MERGE, body, "data", "metadata.labels"),
        )
        for label, body in merges.items()
    ]
    sa = ns_path("serviceaccounts")
    out += [
        in_ns(
            "strategic-sa-secrets-merge",
            "patches",
            post(
                sa,
                {
                    "metadata": {"name": "r"},
                    "secrets": [{"name": "a"}],
                    "imagePullSecrets": [{"name": "a"}],
                },
            ),
            patch(
                ns_path("serviceaccounts", "r"),
                STRATEGIC,
                {"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "b"}]},
                "secrets",
                "imagePullSecrets",
            ),
        ),
        in_ns(
            "strategic-sa-delete-entry",
            "patches",
            post(sa, {"metadata": {"name": "r"}, "secrets": [{"name": "a"}, {"name": "b"}]}),
            patch(
                ns_path("serviceaccounts", "r"),
                STRATEGIC,
                {"secrets": [{"name": "a", "$patch": "delete"}]},
                "secrets",
            ),
        ),
        in_ns(
            "strategic-finalizers-set",
            "patches",
            post(c, cm("f", metadata={"name": "f", "finalizers": ["a.io/x"]})),
            patch(
                ns_path("configmaps", "f"),
                STRATEGIC,
                {"metadata": {"finalizers": ["b.io/y"]}},
                "metadata.finalizers",
            ),
            patch(
                ns_path("configmaps", "f"),
                MERGE,
                {"metadata": {"finalizers": None}},
                "metadata.finalizers",
            ),
        ),
        in_ns(
            "strategic-configmap-data",
            "patches",
            base,
            patch(one, STRATEGIC, {"data": {"n": "1"}}, "data"),
        ),
        in_ns("patch-unknown-type", "patches", base, patch(one, "application/x-nope", {})),
        in_ns("patch-missing-object", "patches", patch(ns_path("configmaps", "none"), MERGE, {})),
        in_ns(
            "patch-bad-json",
            "patches",
            base,
            Step("PATCH", one, "not json", ctype=MERGE),
        ),
    ]
    return out


def update_cases() -> list[Case]:
    c = ns_path("configmaps")
    one = ns_path("configmaps", "u")
    return [
        in_ns(
            "put-current",
            "updates",
            post(c, cm("u", {"a": "1"})),
            put(
                one,
                cm("u", {"a": "2"}, metadata={"name": "u", "resourceVersion": "{rv:1}"}),
                "data",
            ),
        ),
        in_ns(
            "put-stale",
            "conflicts",
            post(c, cm("u", {"a": "1"})),
            put(one, cm("u", {"a": "2"}, metadata={"name": "u", "resourceVersion": "{rv:1}"})),
            put(one, cm("u", {"a": "3"}, metadata={"name": "u", "resourceVersion": "{rv:1}"})),
        ),
        in_ns(
            "put-without-rv",
            "updates",
            post(c, cm("u", {"a": "1"})),
            put(one, cm("u", {"a": "2"}), "data"),
        ),
        in_ns(
            "put-name-mismatch",
            "updates",
            post(c, cm("u")),
            put(one, cm("other")),
        ),
        in_ns("put-missing", "updates", put(one, cm("u"))),
        in_ns(
            "put-no-change-keeps-rv",
            "updates",
            post(c, cm("u", {"a": "1"})),
            put(one, cm("u", {"a": "1"})),
            get(one),
        ),
        in_ns(
            "delete-precondition-uid",
            "conflicts",
            post(c, cm("u")),
            delete(
                one,
                {
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"},
                },
            ),
        ),
        in_ns(
            "delete-precondition-rv",
            "conflicts",
            post(c, cm("u")),
            patch(one, MERGE, {"data": {"x": "1"}}),
            delete(
                one,
                {
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "preconditions": {"resourceVersion": "{rv:1}"},
                },
            ),
        ),
        in_ns("get-missing", "not-found", get(one)),
        in_ns("delete-missing", "not-found", delete(one)),
        in_ns(
            "get-missing-namespace", "not-found", get("/api/v1/namespaces/{ns}-absent/configmaps/x")
        ),
        in_ns(
            "list-missing-namespace",
            "not-found",
            get("/api/v1/namespaces/{ns}-absent/configmaps", "items"),
        ),
        in_ns("unknown-resource", "not-found", get("/api/v1/namespaces/{ns}/widgets")),
        in_ns("post-to-named", "methods", post(one, cm("u"))),
        in_ns(
            "server-side-apply",
            "methods",
            patch(
                ns_path("configmaps", "ssa") + "?fieldManager=t",
                APPLY,
                cm("ssa", {"a": "1"}),
                "data",
            ),
        ),
    ]


# -- deletion and finalizers -------------------------------------------------------------------


def deletion_cases() -> list[Case]:
    c = ns_path("configmaps")
    one = ns_path("configmaps", "f")
    with_finalizer = cm("f", {"a": "1"}, metadata={"name": "f", "finalizers": ["example.com/f"]})
    return [
        in_ns(
            "delete-plain",
            "deletion",
            post(c, cm("f")),
            delete(one, None, "metadata.name"),
            get(one),
        ),
        in_ns(
            "delete-with-finalizer",
            "deletion",
            post(c, with_finalizer),
            delete(one, None, "metadata.finalizers", "metadata.deletionTimestamp"),
            get(one, "metadata.finalizers", "metadata.deletionTimestamp"),
            delete(one, None, "metadata.finalizers"),
        ),
        in_ns(
            "finalizer-removed-deletes",
            "deletion",
            post(c, with_finalizer),
            delete(one),
            patch(one, MERGE, {"metadata": {"finalizers": None}}, "metadata.name"),
            get(one),
        ),
        in_ns(
            "finalizer-add-while-deleting",
            "deletion",
            post(c, with_finalizer),
            delete(one),
            patch(
                one,
                JSON_PATCH,
                [{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/g"}],
                "metadata.finalizers",
            ),
        ),
        in_ns(
            "update-while-deleting",
            "deletion",
            post(c, with_finalizer),
            delete(one),
            patch(one, MERGE, {"data": {"a": "2"}}, "data"),
        ),
        in_ns(
            "namespace-delete-terminating",
            "deletion",
            post(c, cm("x")),
            delete("/api/v1/namespaces/{ns}", None, "status.phase", "spec.finalizers"),
            post(c, cm("y")),
        ),
        in_ns(
            "deletecollection-selector",
            "deletion",
            post(c, cm("a", metadata={"name": "a", "labels": {"g": "1"}})),
            post(c, cm("b", metadata={"name": "b", "labels": {"g": "2"}})),
            Step("DELETE", c + "?labelSelector=g%3D1", fields=("kind",)),
            get(c + "?labelSelector=g", "items.0.metadata.name", "items.1.metadata.name"),
        ),
    ]


# -- lists and selectors -----------------------------------------------------------------------


def list_cases() -> list[Case]:
    c = ns_path("configmaps")
    objs = [
        post(c, cm("a", metadata={"name": "a", "labels": {"tier": "web", "env": "prod"}})),
        post(c, cm("b", metadata={"name": "b", "labels": {"tier": "db", "env": "prod"}})),
        post(c, cm("c", metadata={"name": "c", "labels": {"tier": "web"}})),
    ]
    selectors = {
        "eq": "labelSelector=tier%3Dweb",
        "neq": "labelSelector=tier!%3Dweb",
        "in": "labelSelector=tier%20in%20(web,db)",
        "notin": "labelSelector=tier%20notin%20(web)",
        "exists": "labelSelector=env",
        "not-exists": "labelSelector=!env",
        "multi": "labelSelector=tier%3Dweb,env%3Dprod",
        "field-name": "fieldSelector=metadata.name%3Db",
        "field-name-neq": "fieldSelector=metadata.name!%3Db",
    }
    out = [
        in_ns(
            f"list-{label}",
            "lists",
            *objs,
            get(
                f"{c}?{query}",
                "kind",
                "apiVersion",
                "items.0.metadata.name",
                "items.1.metadata.name",
                "items.2.metadata.name",
            ),
        )
        for label, query in selectors.items()
    ]
    out.append(in_ns("list-bad-selector", "lists", get(f"{c}?labelSelector=a%20b%20c")))
    return out


# -- watches -----------------------------------------------------------------------------------


def watch_cases() -> list[Case]:
    c = ns_path("configmaps")
    one = ns_path("configmaps", "w")
    watch = "?watch=1&timeoutSeconds=1&resourceVersion={rv:1}"
    return [
        in_ns(
            "watch-from-rv",
            "watches",
            post(c, cm("first")),
            post(c, cm("w", {"a": "1"})),
            patch(one, MERGE, {"data": {"a": "2"}}),
            delete(one),
            Step("GET", c + watch, watch=True),
        ),
        in_ns(
            "watch-label-selector-enter-leave",
            "watches",
            post(c, cm("first")),
            post(c, cm("w", metadata={"name": "w", "labels": {"sel": "no"}})),
            patch(one, MERGE, {"metadata": {"labels": {"sel": "yes"}}}),
            patch(one, MERGE, {"data": {"x": "1"}}),
            patch(one, MERGE, {"metadata": {"labels": {"sel": "no"}}}),
            Step("GET", c + watch + "&labelSelector=sel%3Dyes", watch=True),
        ),
        in_ns(
            "watch-field-selector-name",
            "watches",
            post(c, cm("first")),
            post(c, cm("w")),
            post(c, cm("other")),
            patch(one, MERGE, {"data": {"x": "1"}}),
            Step("GET", c + watch + "&fieldSelector=metadata.name%3Dw", watch=True),
        ),
        in_ns(
            "watch-finalizer-flow",
            "watches",
            post(c, cm("first")),
            post(c, cm("w", metadata={"name": "w", "finalizers": ["example.com/f"]})),
            delete(one),
            patch(one, MERGE, {"metadata": {"finalizers": None}}),
            Step("GET", c + watch, watch=True),
        ),
        in_ns(
            "watch-no-change-no-event",
            "watches",
            post(c, cm("first")),
            post(c, cm("w", {"a": "1"})),
            patch(one, MERGE, {"data": {"a": "1"}}),
            Step("GET", c + watch, watch=True),
        ),
        in_ns(
            "watch-named-object",
            "watches",
            post(c, cm("first")),
            post(c, cm("w")),
            post(c, cm("v")),
            Step("GET", c + watch + "&fieldSelector=metadata.name%3Dv", watch=True),
        ),
    ]


# -- custom resources --------------------------------------------------------------------------


def cr_cases() -> list[Case]:
    name = "{ns}-qi"
    one = f"{QI_PATH}/{name}"
    spec_fields = ("spec",)
    invalid_specs: dict[str, dict[str, Any]] = {
        "bad-cluster-id": {"clusterID": "bad id"},
        "cluster-id-too-long": {"clusterID": "a" * 64},
        "bad-hostname": {"quayHostname": "ftp://x"},
        "wrong-type": {"resyncPeriodSeconds": "often"},
        "wrong-type-bool": {"insecureRegistry": "yes"},
        "enum": {"organizationDeletionPolicy": "Sometimes"},
        "set-duplicate": {"allowlistNamespaces": ["a", "a"]},
        "map-duplicate": {
            "serviceAccounts": [
                {"name": "builder", "role": "read"},
                {"name": "builder", "role": "write"},
            ]
        },
        "nested-object-type": {"credentialsSecret": "creds"},
        "null-required": {"quayHostname": None},
        "null-defaulted": {"clusterID": None},
        "minimum": {"resyncPeriodSeconds": -5},
    }
    out = [
        in_ns(f"cr-invalid-{label}", "custom-resources", post(QI_PATH, qi(name, **spec)))
        for label, spec in invalid_specs.items()
    ]
    missing = qi(name)
    del missing["spec"]["clusterID"]
    del missing["spec"]["quayHostname"]
    out += [
        in_ns("cr-missing-required", "custom-resources", post(QI_PATH, missing)),
        in_ns(
            "cr-defaults",
            "custom-resources",
            post(QI_PATH, qi(name), *spec_fields, "metadata.generation"),
        ),
        in_ns(
            "cr-unknown-strict",
            "field-validation",
            post(QI_PATH + "?fieldValidation=Strict", qi(name, resyncPeriodSecond=5, zz=1)),
        ),
        in_ns(
            "cr-unknown-warn",
            "field-validation",
            post(
                QI_PATH + "?fieldValidation=Warn",
                qi(name, resyncPeriodSecond=5),
                "spec.resyncPeriodSecond",
                "spec.resyncPeriodSeconds",
            ),
        ),
        in_ns(
            "cr-unknown-ignore",
            "field-validation",
            post(
                QI_PATH + "?fieldValidation=Ignore",
                qi(name, resyncPeriodSecond=5),
                "spec.resyncPeriodSecond",
            ),
        ),
        in_ns(
            "cr-unknown-default-warns",
            "field-validation",
            post(QI_PATH, qi(name, resyncPeriodSecond=5), "spec.resyncPeriodSecond"),
        ),
        in_ns(
            "cr-unknown-nested-and-root",
            "field-validation",
            post(
                QI_PATH + "?fieldValidation=Strict",
                {
                    **qi(name, credentialsSecret={"name": "c", "namespace": "n", "extra": 1}),
                    "rootExtra": True,
                },
            ),
        ),
        in_ns(
            "cr-status-ignored-on-create",
            "custom-resources",
            post(QI_PATH, {**qi(name), "status": {"message": "x"}}, "status"),
        ),
        in_ns(
            "cr-status-subresource",
            "custom-resources",
            post(QI_PATH, qi(name)),
            patch(
                one + "/status",
                MERGE,
                {"status": {"conditions": []}, "spec": {"clusterID": "west"}},
                "spec.clusterID",
                "metadata.generation",
            ),
            patch(
                one,
                MERGE,
                {"spec": {"clusterID": "west"}, "status": {"x": 1}},
                "spec.clusterID",
                "metadata.generation",
            ),
            patch(one, MERGE, {"metadata": {"labels": {"a": "b"}}}, "metadata.generation"),
        ),
        in_ns(
            "cr-strategic-patch",
            "custom-resources",
            post(QI_PATH, qi(name)),
            patch(one, STRATEGIC, {"spec": {"clusterID": "west"}}),
        ),
        in_ns(
            "cr-json-patch-invalid-result",
            "custom-resources",
            post(QI_PATH, qi(name)),
            patch(one, JSON_PATCH, [{"op": "replace", "path": "/spec/clusterID", "value": "a b"}]),
        ),
        in_ns(
            "cr-put-stale",
            "conflicts",
            post(QI_PATH, qi(name)),
            patch(one, MERGE, {"spec": {"clusterID": "west"}}),
            put(one, {**qi(name), "metadata": {"name": name, "resourceVersion": "{rv:1}"}}),
        ),
        in_ns(
            "cr-delete-with-finalizer",
            "deletion",
            post(
                QI_PATH,
                {**qi(name), "metadata": {"name": name, "finalizers": ["quay.redhat.com/x"]}},
            ),
            delete(one, None, "metadata.finalizers"),
            patch(one, MERGE, {"metadata": {"finalizers": None}}, "metadata.name"),
            get(one),
        ),
        in_ns(
            "cr-bad-name",
            "names",
            post(QI_PATH, qi("Bad_Name")),
        ),
        in_ns(
            "cr-table",
            "tables",
            post(QI_PATH, qi(name, clusterID="west-1")),
            get(one, accept=TABLE),
        ),
        in_ns(
            "cr-protobuf-accept-json-too",
            "protobuf",
            post(QI_PATH, qi(name)),
            get(one, "kind", accept=f"{PROTO},application/json"),
        ),
        in_ns(
            "cr-protobuf-only",
            "protobuf",
            post(QI_PATH, qi(name)),
            get(one, accept=PROTO),
        ),
        in_ns(
            "cr-watch",
            "watches",
            post(QI_PATH, qi(f"{name}-0")),
            post(QI_PATH, qi(name)),
            patch(one, MERGE, {"spec": {"clusterID": "west"}}),
            delete(one),
            Step(
                "GET",
                QI_PATH + "?watch=1&timeoutSeconds=1&resourceVersion={rv:1}"
                f"&fieldSelector=metadata.name%3D{name}",
                watch=True,
            ),
        ),
    ]
    return out


# -- tables and discovery ----------------------------------------------------------------------


def protobuf_cases() -> list[Case]:
    """Built-in kinds as kubectl's typed commands and client-go send them."""
    accept = f"{PROTO},application/json"
    return [
        in_ns(
            "namespace-protobuf-create",
            "protobuf",
            post(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "{ns}-pb"}},
                "status.phase",
                "metadata.labels",
                ctype=PROTO,
                accept=accept,
            ),
        ),
        in_ns(
            "serviceaccount-protobuf-create",
            "protobuf",
            post(
                ns_path("serviceaccounts"),
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "robot"},
                    "automountServiceAccountToken": False,
                },
                "automountServiceAccountToken",
                ctype=PROTO,
                accept=accept,
            ),
        ),
        in_ns(
            "event-protobuf-namespace-mismatch",
            "protobuf",
            post(ns_path("events"), _event("bad", "other"), ctype=PROTO, accept=accept),
        ),
        in_ns(
            "secret-protobuf-stringdata",
            "protobuf",
            post(
                ns_path("secrets"),
                secret("sd", stringData={"k": "v"}),
                "data",
                "type",
                ctype=PROTO,
                accept=accept,
            ),
        ),
        in_ns(
            "configmap-protobuf-list",
            "protobuf",
            post(ns_path("configmaps"), cm("a", {"x": "1"})),
            get(ns_path("configmaps"), "kind", "items.0.data", accept=accept),
        ),
    ]


def table_cases() -> list[Case]:
    return [
        in_ns("table-namespace", "tables", get("/api/v1/namespaces/{ns}", accept=TABLE)),
        in_ns(
            "table-secrets",
            "tables",
            post(
                ns_path("secrets"),
                secret(
                    "s",
                    metadata={"name": "s", "labels": {"t": "1"}},
                    stringData={"a": "b", "c": "d"},
                ),
            ),
            get(ns_path("secrets") + "?labelSelector=t", accept=TABLE),
        ),
        in_ns(
            "table-configmap",
            "tables",
            post(ns_path("configmaps"), cm("c", {"a": "1"}, binaryData={"b": b64("x")})),
            get(ns_path("configmaps", "c"), accept=TABLE),
        ),
        in_ns(
            "table-serviceaccount",
            "tables",
            post(ns_path("serviceaccounts"), {"metadata": {"name": "robot"}}),
            get(ns_path("serviceaccounts", "robot"), accept=TABLE),
        ),
        in_ns(
            "table-include-object",
            "tables",
            post(ns_path("configmaps"), cm("c")),
            get(
                ns_path("configmaps", "c") + "?includeObject=Object",
                "rows.0.object.kind",
                accept=TABLE,
            ),
            get(ns_path("configmaps", "c") + "?includeObject=None", "rows.0.object", accept=TABLE),
        ),
    ]


def discovery_cases() -> list[Case]:
    out = [
        Case("discovery-api", "discovery", (get("/api", "kind", "versions"),)),
        Case("discovery-version", "discovery", (get("/version", "major", "minor"),)),
        Case(
            "discovery-apis-groups",
            "discovery",
            (get("/apis/coordination.k8s.io", "kind", "name", "preferredVersion"),),
        ),
        Case(
            "discovery-crd-group",
            "discovery",
            (
                get(
                    "/apis/quay.redhat.com/v1",
                    "kind",
                    "groupVersion",
                    "@resource:quayintegrations",
                    "@resource:quayintegrations/status",
                ),
            ),
        ),
        Case(
            "discovery-missing-group",
            "discovery",
            (get("/apis/nothing.example.com/v1"),),
        ),
    ]
    return out


def discovery_entry_cases() -> list[Case]:
    """One case per built-in resource: its discovery entry (scope, kind, verbs, short names)."""
    entries = {
        "secrets": "/api/v1",
        "configmaps": "/api/v1",
        "serviceaccounts": "/api/v1",
        "namespaces": "/api/v1",
        "events": "/api/v1",
        "leases": "/apis/coordination.k8s.io/v1",
    }
    return [
        Case(
            f"discovery-entry-{plural}",
            "discovery",
            (Step("GET", path, fields=(f"@resource:{plural}",)),),
        )
        for plural, path in entries.items()
    ]


def all_cases() -> list[Case]:
    """Return every case, the set-up first."""
    return [
        *setup(),
        *name_cases(),
        *secret_cases(),
        *configmap_cases(),
        *event_cases(),
        *lease_cases(),
        *patch_cases(),
        *update_cases(),
        *deletion_cases(),
        *list_cases(),
        *watch_cases(),
        *cr_cases(),
        *protobuf_cases(),
        *table_cases(),
        *discovery_cases(),
        *discovery_entry_cases(),
    ]


if __name__ == "__main__":
    cases = all_cases()
    print(json.dumps({"cases": len(cases)}))
