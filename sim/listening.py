"""Which addresses the simulator listens on: IPv4, IPv6 or both (``--listen-ip-version``).

Named after the registry core's ``FEATURE_LISTEN_IP_VERSION``. Without ``--host`` the loopback
address of each version is used; with it, each address must belong to the version. The first
address names the simulator in the kubeconfig it writes (an IPv6 one in brackets). Without a
version, the addresses imply it (IPv4 when none is given).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IP_VERSIONS = ("IPv4", "IPv6", "dual-stack")
_DEFAULTS = {"IPv4": ["127.0.0.1"], "IPv6": ["::1"], "dual-stack": ["127.0.0.1", "::1"]}
_ALLOWED = {"IPv4": {4}, "IPv6": {6}, "dual-stack": {4, 6}}


def _version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def listen_hosts(ip_version: str | None, hosts: Sequence[str]) -> list[str]:
    """The addresses to listen on; raises ``ValueError`` when one does not fit the version."""
    if ip_version is None:
        versions = {_version(host) for host in hosts}
        ip_version = ("dual-stack" if 4 in versions else "IPv6") if 6 in versions else "IPv4"
    chosen = list(hosts) or _DEFAULTS[ip_version]
    for host in chosen:
        try:
            version = ipaddress.ip_address(host).version
        except ValueError:
            continue  # a name: resolved when listening
        if version not in _ALLOWED[ip_version]:
            raise ValueError(f"--host {host} is an IPv{version} address, not {ip_version}")
    return chosen


def url_host(host: str) -> str:
    """``host`` as it appears in a URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host
