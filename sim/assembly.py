"""Puts one simulator together: machinery, OpenShift behaviours, admission chain and API server.

Tests that want a simulator in-process and the ``quay-bridge sim`` command both build it here, so
they run the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.admission import AdmissionChain
from sim.authorization import Authorization
from sim.builds import Builds
from sim.imagestreams import ImageStreams
from sim.machinery import Machinery
from sim.projects import Projects
from sim.serving import ApiServer, RequestLog
from sim.settings import Settings
from sim.templates import Templates


@dataclass
class Simulator:
    """A wired simulator: the machinery with its OpenShift behaviours and the API server."""

    machinery: Machinery
    api: ApiServer
    templates: Templates
    authorization: Authorization

    async def start(self) -> None:
        """Create what every cluster has before the first request (namespaces, roles, template)."""
        await self.authorization.preload()
        await self.templates.preload()


def build(settings: Settings) -> Simulator:
    """Return a wired machinery and the API server that serves it."""
    machinery = Machinery(settings)
    AdmissionChain(machinery)
    Projects(machinery)
    authorization = Authorization(machinery)
    ImageStreams(machinery)
    Builds(machinery)
    templates = Templates(machinery)
    request_log = RequestLog(settings.request_log) if settings.request_log else None
    return Simulator(machinery, ApiServer(machinery, request_log), templates, authorization)
