"""Which addresses a server listens on for ``--listen-ip-version``: IPv4, IPv6 or both.

Named after the registry core's ``FEATURE_LISTEN_IP_VERSION``. Without addresses every default of
the version is taken (the operator's: every interface; the simulator's: loopback); given addresses
must belong to the version. Without a version, the addresses imply it (IPv4 when none is given).
asyncio makes IPv6 sockets IPv6-only, so an IPv4 and an IPv6 address coexist on one port.

The operator and the simulator share this rule; the registry core keeps its own
(``registry/listening.py``), which also refuses a dual-stack list naming only one kind.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

IP_VERSIONS = ("IPv4", "IPv6", "dual-stack")
#: Every interface of each version: the operator's webhook and metrics servers.
EVERY_INTERFACE = {"IPv4": ("0.0.0.0",), "IPv6": ("::",), "dual-stack": ("0.0.0.0", "::")}
#: The loopback address of each version: the simulator.
LOOPBACK = {"IPv4": ("127.0.0.1",), "IPv6": ("::1",), "dual-stack": ("127.0.0.1", "::1")}
_ALLOWED = {"IPv4": {4}, "IPv6": {6}, "dual-stack": {4, 6}}


def _version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None  # a name: resolved when listening


def listen_hosts(
    ip_version: str | None,
    hosts: Sequence[str] | None,
    *,
    option: str,
    defaults: Mapping[str, Sequence[str]],
) -> list[str]:
    """Return the addresses to listen on.

    Args:
        ip_version: ``IPv4``, ``IPv6`` or ``dual-stack``; None: what ``hosts`` imply.
        hosts: the addresses asked for (empty or None: ``defaults`` of the version).
        option: the option that names the addresses, for the error message.
        defaults: the addresses of each version when none is asked for.

    Raises:
        ValueError: an address of the other version, naming ``option``.
    """
    if ip_version is None:
        versions = {_version(host) for host in hosts or ()}
        ip_version = ("dual-stack" if 4 in versions else "IPv6") if 6 in versions else "IPv4"
    chosen = list(hosts or []) or list(defaults[ip_version])
    for host in chosen:
        version = _version(host)
        if version is not None and version not in _ALLOWED[ip_version]:
            raise ValueError(f"{option} {host} is an IPv{version} address, not {ip_version}")
    return chosen
