"""Which addresses the registry core listens on, after ``FEATURE_LISTEN_IP_VERSION``.

Quay's setting names the IP version (``IPv4``, ``IPv6`` or ``dual-stack``); ``--host`` may name the
addresses. Without ``--host`` the loopback address of each version is taken (``127.0.0.1``,
``::1``, both for dual-stack); with it, every address must belong to the chosen version, so a
misconfiguration (an IPv4 address on an IPv6-only registry) fails at start with a clear message
rather than listening somewhere unexpected. With addresses and no version, the version is the
addresses' own (both kinds: dual-stack). asyncio marks IPv6 sockets IPV6_V6ONLY, so ``0.0.0.0``
and ``::`` can be listened on together for a dual-stack registry on every interface.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

DEFAULT_HOSTS = {"IPv4": ["127.0.0.1"], "IPv6": ["::1"], "dual-stack": ["127.0.0.1", "::1"]}


class ListenError(ValueError):
    """The addresses do not fit the IP version."""


def _version_of(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None  # a host name: resolved by the server, any version


def implied_version(hosts: Sequence[str] | None) -> str:
    """The IP version the addresses themselves imply (``IPv4`` when none is an IPv6 address)."""
    versions = {_version_of(host) for host in hosts or ()}
    if 6 in versions:
        return "dual-stack" if 4 in versions else "IPv6"
    return "IPv4"


def listen_addresses(ip_version: str | None, hosts: Sequence[str] | None) -> list[str]:
    """The addresses to listen on for ``ip_version`` (``IPv4``, ``IPv6``, ``dual-stack``).

    ``None``: the version the addresses imply (``IPv4`` without any).
    """
    if ip_version is None:
        ip_version = implied_version(hosts)
    if ip_version not in DEFAULT_HOSTS:
        raise ListenError(f"unknown IP version {ip_version!r}: use IPv4, IPv6 or dual-stack")
    chosen = list(hosts) if hosts else DEFAULT_HOSTS[ip_version]
    allowed = {"IPv4": {4}, "IPv6": {6}, "dual-stack": {4, 6}}[ip_version]
    for host in chosen:
        version = _version_of(host)
        if version is not None and version not in allowed:
            raise ListenError(
                f"--host {host} is an IPv{version} address; the IP version is {ip_version}"
            )
    if ip_version == "dual-stack" and hosts:
        versions = {_version_of(host) for host in chosen}
        if not {4, 6} <= versions and None not in versions:
            raise ListenError(
                "dual-stack needs an IPv4 and an IPv6 address (e.g. --host 0.0.0.0 --host ::)"
            )
    return chosen


def server_hostname_for(host: str, port: int) -> str:
    """``host:port`` as clients write it: IPv6 addresses in brackets (RFC 3986)."""
    return f"[{host}]:{port}" if _version_of(host) == 6 else f"{host}:{port}"
