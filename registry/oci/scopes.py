"""Parsing the `scope` parameter of `/v2/auth` and validating repository names, as Quay does.

Pure. `repository:<ns>/<repo>:<actions>` is matched with Quay's own regular expression (an optional
registry host prefix, a slash-separated path, actions among `pull`, `push`, `*`); a scope that does
not match is a 400 `INVALID_REQUEST`, a path that is not a valid Quay repository name is a 400
`NAME_INVALID` (`docs/reference/quay.md#registry-token-auth`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Action = Literal["pull", "push", "*"]

_SCOPE_RE = re.compile(
    r"^repository:((?:(?P<host>[^/:\s]+(?::\d+)?)\/)?"
    r"(?P<path>(?:[\.a-zA-Z0-9_\-]+\/)*[\.a-zA-Z0-9_\-]+)):"
    r"(?P<actions>(?:push|pull|\*)(?:,(?:push|pull|\*))*)$"
)
_NAMESPACE_RE = re.compile(r"^([a-z0-9]+(?:[._-][a-z0-9]+)*)$")
_REPOSITORY_RE = re.compile(r"^(?=.{0,255}$)[a-z0-9][\.a-z0-9_-]*(?:\/[a-z0-9][\.a-z0-9_-]*)*$")


class ScopeError(ValueError):
    """A scope string Quay could not decode (`INVALID_REQUEST`)."""


class NameError_(ValueError):
    """A repository path that is not a valid Quay `namespace/repository` name (`NAME_INVALID`)."""


@dataclass(frozen=True)
class RepositoryName:
    """A validated `namespace/repository` (the repository part may itself contain slashes)."""

    namespace: str
    repository: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.repository}"


@dataclass(frozen=True)
class Scope:
    """One requested repository scope: the name and the actions in the order they were asked."""

    name: RepositoryName
    actions: tuple[Action, ...]


def parse_repository_name(path: str) -> RepositoryName:
    """Validate `path` as `namespace/repository`.

    Raises:
        NameError_: one component only, or a component that breaks Quay's naming rules.
    """
    namespace, sep, repository = path.partition("/")
    if (
        not sep
        or not (2 <= len(namespace) <= 255)
        or not _NAMESPACE_RE.match(namespace)
        or not _REPOSITORY_RE.match(repository)
        or not repository
    ):
        raise NameError_(f"Invalid repository name: {path[:300]}")
    return RepositoryName(namespace, repository)


def parse_scope(text: str, host: str | None = None) -> Scope:
    """Parse one `scope` value.

    Args:
        text: e.g. `repository:org/repo:push,pull`.
        host: the registry's own host; a scope prefixed with it names the same repository.

    Raises:
        ScopeError: the string does not match Quay's scope grammar.
        NameError_: the repository path is not a valid name.
    """
    match = _SCOPE_RE.match(text)
    if match is None:
        raise ScopeError(f"Unable to decode repository and actions: {text[:300]}")
    path = match.group("path")
    prefix = match.group("host")
    if prefix is not None and prefix != host:
        # Without our host as prefix the first component is part of the path.
        path = f"{prefix}/{path}"
    name = parse_repository_name(path)
    actions: list[Action] = []
    for action in match.group("actions").split(","):
        if action not in actions:
            actions.append(action)  # type: ignore[arg-type]
    return Scope(name, tuple(actions))
