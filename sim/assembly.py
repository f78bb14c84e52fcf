"""Puts one simulator together: machinery, OpenShift behaviours, admission chain and HTTP app.

Tests that want a simulator in-process and the ``quay-bridge sim`` command both build it here, so
they run the same thing.
"""

from __future__ import annotations

from aiohttp import web

from sim.machinery import Machinery
from sim.serving import RequestLog, make_app
from sim.settings import Settings


def build(settings: Settings) -> tuple[Machinery, web.Application]:
    """Return a wired machinery and the aiohttp application that serves it."""
    machinery = Machinery(settings)
    request_log = RequestLog(settings.request_log) if settings.request_log else None
    return machinery, make_app(machinery, request_log)
