"""On an API server without OpenShift's groups the ImageStream and Build parts are skipped.

The simulator always serves ``image.openshift.io`` and ``build.openshift.io``, and no vanilla
Kubernetes API server can run here, so this one test gives the controller a stand-in for the two
discovery reads it makes at start (said plainly: a fake, for want of a real vanilla cluster).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.controller import Controller
from bridge.metrics import Metrics
from bridge.state import BridgeState


class VanillaDiscovery:
    """Answers the controller's start-up reads as a plain Kubernetes API server would."""

    async def api_groups(self) -> set[str]:
        return {"apps", "batch", "quay.redhat.com"}

    async def list_integrations(self) -> list[dict[str, Any]]:
        return []


async def test_without_openshift_apis_one_line_says_what_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller = Controller(VanillaDiscovery(), Metrics(), BridgeState())  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="bridge.controller"):
        await controller.start()
    try:
        assert controller.images_available is False
        lines = [r.getMessage() for r in caplog.records if "not an OpenShift" in r.getMessage()]
        assert lines == [
            "not an OpenShift API server: skipping repositories per ImageStream"
            " and imports after Builds"
        ]
    finally:
        await controller.stop()
