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
    """``--listen-ip-version`` and ``host_flag`` for ``host``, unless ``given`` sets either.

    A caller that passes its own (``dual-stack``, say) chooses the addresses itself.
    """
    if any(arg.split("=", 1)[0] in ("--listen-ip-version", host_flag) for arg in given):
        return []
    return ["--listen-ip-version", ip_version(host), host_flag, host]
