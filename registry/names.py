"""Quay's naming rules for namespaces, robots and repositories, as pure functions.

The registry core must reject exactly the names real Quay rejects, with the same messages, because
the bridge reports them to users (a Kubernetes namespace such as ``a--b`` is valid there and invalid
here). Source of the rules: quay/quay ``util/validation.py`` and ``util/names.py`` (see
docs/reference/quay.md#naming-rules).
"""

from __future__ import annotations

import re

NAMESPACE_PATTERN = r"^([a-z0-9]+(?:[._-][a-z0-9]+)*)$"
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
# FEATURE_EXTENDED_REPOSITORY_NAMES is on by default in Quay: nested names (``a/b``) are valid.
_REPOSITORY_RE = re.compile(
    r"^(?=.{0,255}$)[a-z0-9][\.a-z0-9_-]*(?:\/[a-z0-9][\.a-z0-9_-]*)*$", re.ASCII
)
MIN_NAME_LENGTH = 2
MAX_NAME_LENGTH = 255
_LENGTH_MESSAGE = (
    f"Namespace must be between {MIN_NAME_LENGTH} and {MAX_NAME_LENGTH} characters in length"
)


def namespace_problem(name: str) -> str | None:
    """Return why ``name`` is not a valid user, org or robot short name, or None when it is valid.

    The text is Quay's, without the ``Invalid namespace X:`` prefix the caller adds.
    """
    if not MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH:
        return _LENGTH_MESSAGE
    if not _NAMESPACE_RE.match(name) or not name.isascii():
        return f"Namespace must match expression {NAMESPACE_PATTERN}"
    return None


def namespace_error(name: str) -> str | None:
    """Quay's full message for an invalid organization or user name, or None when valid."""
    problem = namespace_problem(name)
    return None if problem is None else f"Invalid namespace {name}: {problem}"


def robot_error(short_name: str) -> str | None:
    """Quay's full message for an invalid robot short name, or None when valid."""
    problem = namespace_problem(short_name)
    return (
        None if problem is None else f"The name for the robot '{short_name}' is invalid: {problem}"
    )


def robot_full_name(namespace: str, short_name: str) -> str:
    """Format a robot's account name ``<namespace>+<short>`` (quay/quay util/names.py)."""
    return f"{namespace}+{short_name}"


def parse_robot_name(full_name: str) -> tuple[str, str] | None:
    """Split ``org+short`` into its parts, or return None if it is not a robot name."""
    namespace, plus, short_name = full_name.partition("+")
    if not plus or not namespace or not short_name:
        return None
    return namespace, short_name


def is_valid_repository_name(name: str) -> bool:
    """Whether ``name`` is a valid (possibly nested) repository name."""
    return bool(_REPOSITORY_RE.match(name))
