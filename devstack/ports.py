"""Free loopback ports and the ``host:port`` spelling of URLs."""

from __future__ import annotations

import socket
from collections.abc import Sequence


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` (``127.0.0.1`` or ``::1``) that nothing listens on now.

    The kernel picks it (bind to port 0), so two callers never get the same port while both
    are listening; the process it is given to binds it again a moment later.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def authority(host: str, port: int) -> str:
    """``host:port`` as URLs and image references write it (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ip_version(host: str) -> str:
    """``IPv4`` or ``IPv6`` after a loopback address (the components' ``--listen-ip-version``)."""
    return "IPv6" if ":" in host else "IPv4"


def listen_options(host: str, given: Sequence[str], host_flag: str = "--host") -> list[str]:
    """``--listen-ip-version`` and ``host_flag`` for ``host``, minding what ``given`` sets.

    The host flags append, so ``host`` is listened on beside any address ``given`` names; the IP
    version is then what the addresses imply. A caller that sets only ``--listen-ip-version``
    (``dual-stack``, say) gets the component's own loopback addresses for it.
    """
    flags = {arg.split("=", 1)[0] for arg in given}
    version = "--listen-ip-version" in flags
    named = host_flag in flags
    options = [] if version or named else ["--listen-ip-version", ip_version(host)]
    return options if version and not named else [*options, host_flag, host]
