"""Puts one simulator together: machinery, OpenShift behaviours, admission chain and HTTP app.

Tests that want a simulator in-process and the ``quay-bridge sim`` command both build it here, so
they run the same thing.
"""

from __future__ import annotations

from aiohttp import web

from sim.admission import AdmissionChain
from sim.builds import Builds
from sim.imagestreams import ImageStreams
from sim.machinery import Machinery
from sim.projects import Projects
from sim.serving import RequestLog, make_app
from sim.settings import Settings
from sim.templates import Templates


def build(settings: Settings) -> tuple[Machinery, web.Application]:
    """Return a wired machinery and the aiohttp application that serves it."""
    machinery = Machinery(settings)
    AdmissionChain(machinery)
    Projects(machinery)
    ImageStreams(machinery)
    Builds(machinery)
    templates = Templates(machinery)
    request_log = RequestLog(settings.request_log) if settings.request_log else None
    app = make_app(machinery, request_log)

    async def on_startup(_: web.Application) -> None:
        await templates.preload()

    app.on_startup.append(on_startup)
    return machinery, app
