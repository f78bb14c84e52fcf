"""Which addresses the operator's webhook and metrics servers listen on: IPv4, IPv6 or both.

``quay-bridge run --listen-ip-version`` is named after the registry core's
``FEATURE_LISTEN_IP_VERSION``. Without ``--webhook-host``/``--metrics-host`` every address of the
version is taken (``0.0.0.0``, ``::``, or both: asyncio makes IPv6 sockets IPv6-only, so the two
coexist on one port); given addresses must belong to the version. Without a version, the
addresses imply it (IPv4 when none is given).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IP_VERSIONS = ("IPv4", "IPv6", "dual-stack")
_DEFAULTS = {"IPv4": ["0.0.0.0"], "IPv6": ["::"], "dual-stack": ["0.0.0.0", "::"]}
_ALLOWED = {"IPv4": {4}, "IPv6": {6}, "dual-stack": {4, 6}}


def _version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def listen_hosts(ip_version: str | None, hosts: Sequence[str] | None, option: str) -> list[str]:
    """The addresses to listen on; raises ``ValueError`` naming ``option`` when one does not fit."""
    if ip_version is None:
        versions = {_version(host) for host in hosts or ()}
        ip_version = ("dual-stack" if 4 in versions else "IPv6") if 6 in versions else "IPv4"
    chosen = list(hosts or []) or _DEFAULTS[ip_version]
    for host in chosen:
        try:
            version = ipaddress.ip_address(host).version
        except ValueError:
            continue  # a name: resolved when listening
        if version not in _ALLOWED[ip_version]:
            raise ValueError(f"{option} {host} is an IPv{version} address, not {ip_version}")
    return chosen
