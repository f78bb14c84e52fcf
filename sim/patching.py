"""The three patch formats a Kubernetes API server accepts, as pure functions on JSON values.

* JSON Patch (RFC 6902), strict: a path whose parent is missing is an error, a failed ``test`` is
  an error (the caller answers 422, or 500 inside the admission chain).
* JSON Merge Patch (RFC 7386).
* Strategic merge patch for the lists OpenShift and the bridge touch: lists with a merge key merge
  item by item (``$patch: delete`` removes an item), ``metadata.finalizers`` merges as a set, other
  lists are replaced.
The content type of the request decides which one applies, never the shape of the body.

Each function copies the document once and then patches its own copy in place; the document passed
in is never modified (it is usually the stored version, which readers share).
"""

from __future__ import annotations

from typing import Any

from sim.cloning import clone

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class PatchError(Exception):
    """A patch that cannot be applied to the object."""


class PatchTestFailed(PatchError):
    """A JSON Patch ``test`` operation that did not hold."""


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    idx = int(token)
    limit = len(container) if for_add else len(container) - 1
    if idx > limit:
        raise PatchError(f"array index {idx} out of bounds")
    return idx


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(
                    f"missing path: /{'/'.join(tokens)}: parent {token!r} does not exist"
                )
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise PatchError(f"path /{'/'.join(tokens)} goes through a non-container")
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path} does not exist")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, for_add=False)]
    raise PatchError(f"path {path} goes through a non-container")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise PatchError(f"cannot add at {path}: parent is not a container")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"cannot remove {path}: it does not exist")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, for_add=False)]
    else:
        raise PatchError(f"cannot remove {path}: parent is not a container")
    return doc


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Return ``doc`` with the RFC 6902 operations ``ops`` applied (``doc`` is not modified)."""
    if not isinstance(ops, list):
        raise PatchError("a JSON Patch must be an array of operations")
    result = clone(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON Patch operation {op!r}")
        name, path = op["op"], op["path"]
        if not isinstance(path, str):
            raise PatchError(f"invalid path {path!r}")
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {name} at {path} has no value")
        if name == "add":
            result = _add(result, path, clone(op["value"]))
        elif name == "remove":
            result = _remove(result, path)
        elif name == "replace":
            _get(result, path)
            if _pointer(path):
                result = _remove(result, path)
            result = _add(result, path, clone(op["value"]))
        elif name in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f"operation {name} at {path} has no 'from'")
            value = clone(_get(result, source))
            if name == "move":
                result = _remove(result, source)
            result = _add(result, path, value)
        elif name == "test":
            try:
                actual = _get(result, path)
            except PatchError as exc:
                raise PatchTestFailed(f"test failed: {exc}") from exc
            if actual != op["value"]:
                raise PatchTestFailed(
                    f"testing value {path} failed: expected {op['value']!r}, found {actual!r}"
                )
        else:
            raise PatchError(f"unknown JSON Patch operation {name!r}")
    return result


def _merge_into(own: Any, patch: Any) -> Any:
    """Merge ``patch`` into ``own``, a private copy that may be changed in place."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = own if isinstance(own, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_into(result.get(key), value)
    return result


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Return ``doc`` merged with ``patch`` as RFC 7386 says (``doc`` is not modified)."""
    if not isinstance(patch, dict):
        return clone(patch)
    return _merge_into(clone(doc) if isinstance(doc, dict) else None, patch)


#: Lists merged item by item in a strategic merge patch: path of the list -> merge key.
#: ``""`` as merge key means a list of scalars merged as a set.
MERGE_KEYS: dict[tuple[str, ...], str] = {
    ("metadata", "finalizers"): "",
    ("metadata", "ownerReferences"): "uid",
    ("secrets",): "name",
    ("spec", "tags"): "name",
    ("status", "tags"): "tag",
    ("status", "conditions"): "type",
    ("spec", "triggers"): "type",
    ("spec", "template", "spec", "containers"): "name",
    ("spec", "ports"): "port",
}


def _merge_list(own: list[Any], patch: list[Any], key: str) -> list[Any]:
    """Merge list items as kube-apiserver orders them.

    The patch's items (merged with the live ones they name) keep the patch's order, the live
    items the patch does not name keep theirs, and the two are interleaved by live position: a
    patch item the live list does not have comes first (apimachinery's ``normalizeElementOrder``).
    """

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    live_pos = {_hashable(ident(x)): i for i, x in enumerate(own)}
    if key:
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise PatchError(f"strategic merge: list item {item!r} has no merge key {key!r}")
    named = {_hashable(ident(x)) for x in patch}
    left: list[Any] = []
    for item in patch:
        ref = _hashable(ident(item))
        if key and item.get("$patch") == "delete":
            continue
        if not key:
            if item not in left:
                left.append(clone(item))
            continue
        clean = {k: v for k, v in item.items() if k != "$patch"}
        pos = live_pos.get(ref)
        left.append(_strategic(None if pos is None else own[pos], clean, ()))
    right = [x for x in own if _hashable(ident(x)) not in named]

    def position(item: Any) -> int:
        return live_pos.get(_hashable(ident(item)), -1)

    out: list[Any] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if position(left[i]) < position(right[j]):
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else repr(value)


def _strategic(own: Any, patch: Any, path: tuple[str, ...]) -> Any:
    """Apply a strategic merge patch to ``own``, a private copy that may be changed in place."""
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    result = own if isinstance(own, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            if key.startswith("$deleteFromPrimitiveList/"):
                field = key.split("/", 1)[1]
                result[field] = [x for x in result.get(field) or [] if x not in (value or [])]
            continue
        sub = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and sub in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[sub])
        elif isinstance(value, list):
            result[key] = [
                {k: v for k, v in x.items() if k != "$patch"} if isinstance(x, dict) else x
                for x in clone(value)
                if not (isinstance(x, dict) and x.get("$patch") == "delete")
            ]
        else:
            result[key] = _strategic(result.get(key), value, sub)
    return result


def apply_strategic_patch(doc: Any, patch: Any) -> Any:
    """Return ``doc`` with a strategic merge patch applied (``doc`` is not modified)."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be an object")
    return _strategic(clone(doc), patch, ())


def apply_patch(content_type: str, doc: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``doc`` as its content type says; raise PatchError if it cannot apply."""
    if content_type == JSON_PATCH:
        return apply_json_patch(doc, patch)
    if content_type == MERGE_PATCH:
        return apply_merge_patch(doc, patch)
    if content_type == STRATEGIC_PATCH:
        return apply_strategic_patch(doc, patch)
    raise PatchError(f"unsupported patch type {content_type!r}")
