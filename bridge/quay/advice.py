"""What an admin should do about a failed Quay call: the words of log lines and conditions.

Pure: maps a :class:`bridge.quay.errors.QuayError` to a log level, a one-line summary and an action,
or to None for the answers the controller handles as part of its work (a missing robot, an existing
organization). The Quay client logs the advice (see ``bridge.quay.client``); keeping the words here
lets them be tested as a table and read in one place; the QuayIntegration's conditions use the same
words (:func:`condition_message`), so the log and ``kubectl describe`` agree. The HTTP and TLS
libraries' own wording is turned into plain words here. No advice ever quotes the token.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bridge.quay import errors as qe

#: Where the docs describe the token and its scopes.
TOKEN_DOC = "docs/install.md, 'The Quay token'"


@dataclass(frozen=True)
class Advice:
    """One failure worth a log line: its kind (for saying it once), level, summary and action."""

    kind: str
    level: int
    summary: str
    action: str


def _refused(text: str) -> bool:
    lowered = text.lower()
    return "connect call failed" in lowered or "connection refused" in lowered


_SSL_TAG = re.compile(r"\[SSL(?:: [A-Z_]+)?\]\s*|\s*\(_ssl\.c:\d+\)")
_NO_NAME = ("name or service not known", "nodename nor servname", "name resolution", "no address")


def tls_reason(message: str) -> str:
    """``message`` without the TLS library's tags (``[SSL: ...]``, ``(_ssl.c:1000)``)."""
    return _SSL_TAG.sub("", message).strip() or "the certificate was not accepted"


def unreachable_reason(message: str) -> str:
    """Why a connection failed, in words, without the HTTP library's wording."""
    lowered = message.lower()
    if any(marker in lowered for marker in _NO_NAME):
        return "its host name does not resolve"
    if "timeout" in lowered or "timed out" in lowered:
        return "it did not answer in time"
    if "reset" in lowered or "disconnected" in lowered or "closed" in lowered:
        return "it closed the connection"
    return "the connection failed"


def advice(error: qe.QuayError, base_url: str) -> Advice | None:
    """Return what to log about ``error`` from the Quay at ``base_url``, or None."""
    where = f"Quay at {base_url}"
    if isinstance(error, qe.Unauthenticated):
        return Advice(
            "token",
            logging.ERROR,
            f"{where} refused the token (HTTP {error.status}: invalid, expired or revoked)",
            "generate a new OAuth token with the scopes in "
            f"{TOKEN_DOC}, and put it in the Secret named by the QuayIntegration's"
            " credentialsSecret (no restart needed)",
        )
    if isinstance(error, qe.Forbidden):
        return Advice(
            f"forbidden:{error.endpoint}",
            logging.ERROR,
            f"{where} answered HTTP 403 on {error.endpoint or 'a call'}: the token lacks a scope"
            " or its user lacks the role for it",
            f"use a token with the scopes in {TOKEN_DOC}, whose user may create organizations;"
            " an organization made by another user must list that user as an administrator",
        )
    if isinstance(error, qe.TLSFailure):
        return Advice(
            "tls",
            logging.ERROR,
            f"{where}: {tls_reason(error.message)}",
            "set the QuayIntegration's caBundle to the CA that signed Quay's certificate"
            " (insecureRegistry: true turns verification off, for tests only)",
        )
    if isinstance(error, qe.Unavailable):
        if error.status == 0 and _refused(error.message):
            return Advice(
                "refused",
                logging.WARNING,
                f"{where} refused the connection",
                "check that Quay is running and that quayHostname has the right scheme, host and"
                " port; the bridge retries on its own",
            )
        if error.status == 0:
            return Advice(
                "unreachable",
                logging.WARNING,
                f"{where} cannot be reached: {unreachable_reason(error.message)}",
                "check quayHostname, DNS and the network policy's egress to Quay; the bridge"
                " retries on its own",
            )
        return Advice(
            "unavailable",
            logging.WARNING,
            f"{where} is failing (HTTP {error.status})",
            "check Quay's health and logs; the bridge retries on its own",
        )
    return None


def condition_message(error: qe.QuayError, base_url: str) -> str:
    """The message of the condition ``error`` sets: what happened, then what to do, said once."""
    found = advice(error, base_url)
    if found is None:
        return f"Quay at {base_url}: {error.message}"
    return f"{found.summary}; {found.action}"
