"""How the simulator names the address it listens on in a URL.

Which addresses it listens on (``--listen-ip-version``, ``--host``) is the rule the operator shares
(``commandline.listening``, loopback by default). The first address names the simulator in the
kubeconfig it writes, an IPv6 one in brackets.
"""

from __future__ import annotations


def url_host(host: str) -> str:
    """``host`` as it appears in a URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host
