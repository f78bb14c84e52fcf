"""OpenShift templates: the shipped ``httpd-example`` template and ``processedtemplates``.

``oc new-app --template=httpd-example`` is played as "process the template on the server, then
create its objects one by one"; this module does the server half. Parameters are substituted
(``${NAME}``), ``generate: expression`` parameters get random values of the expressed length,
template labels are added to every object. The template is preloaded into namespace ``openshift``.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from importlib import resources
from typing import Any

from sim.cloning import clone
from sim.errors import invalid
from sim.machinery import Machinery, Obj, Request

_PARAM = re.compile(r"\$\{([A-Z0-9_]+)\}")
_LENGTH = re.compile(r"\{(\d+)\}")


def httpd_example() -> Obj:
    """Return the shipped ``httpd-example`` Template."""
    text = (
        resources.files("sim").joinpath("templates/httpd-example.json").read_text(encoding="utf-8")
    )
    doc: Obj = json.loads(text)
    return doc


def _generate(expression: str) -> str:
    m = _LENGTH.search(expression)
    n = int(m.group(1)) if m else 8
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _substitute(value: Any, params: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PARAM.sub(lambda m: params.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    return value


def process(template: Obj) -> Obj:
    """Return the processed Template: parameters filled in, labels applied to every object."""
    name = (template.get("metadata") or {}).get("name", "")
    params: dict[str, str] = {}
    for p in template.get("parameters") or []:
        value = p.get("value")
        if not value and p.get("generate") == "expression":
            value = _generate(str(p.get("from") or ""))
        if not value and p.get("required"):
            raise invalid(
                "Template",
                "template.openshift.io",
                name,
                [
                    (
                        f"parameters[{p.get('name')}]",
                        "Required value: template.parameters[]: parameter is required",
                    )
                ],
            )
        params[str(p.get("name"))] = str(value or "")
    out = clone(template)
    out["parameters"] = [
        {**p, "value": params.get(str(p.get("name")), "")} for p in template.get("parameters") or []
    ]
    labels = template.get("labels") or {}
    objects = []
    for obj in _substitute(template.get("objects") or [], params):
        meta = obj.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
        objects.append(obj)
    out["objects"] = objects
    if "message" in out:
        out["message"] = _substitute(out["message"], params)
    return out


class Templates:
    """``processedtemplates`` and the preloaded ``openshift/httpd-example`` Template."""

    def __init__(self, m: Machinery) -> None:
        self.m = m
        m.hooks.creators[("template.openshift.io", "processedtemplates")] = self.process_request

    async def process_request(self, namespace: str, body: Obj, req: Request) -> tuple[int, Obj]:
        """Serve ``POST processedtemplates``."""
        out = process(body)
        out.update({"kind": "Template", "apiVersion": "template.openshift.io/v1"})
        return 201, out

    async def preload(self) -> None:
        """Create the namespaces every OpenShift cluster has and ``openshift/httpd-example``.

        ``openshift-operators`` is where OperatorHub installs cluster-wide operators and where the
        product documentation keeps the bridge's token Secret.
        """
        req = Request(user="system:admin")
        for name in ("default", "kube-system", "kube-public", "openshift", "openshift-operators"):
            if self.m.store.get(("", "namespaces"), "", name) is None:
                await self.m.create_object(
                    self.m.rt("", "namespaces"), "", {"metadata": {"name": name}}, req
                )
        if (
            self.m.store.get(("template.openshift.io", "templates"), "openshift", "httpd-example")
            is None
        ):
            await self.m.create_object(
                self.m.rt("template.openshift.io", "templates"), "openshift", httpd_example(), req
            )
