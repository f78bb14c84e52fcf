"""The whole story with the registry core and the operator in FIPS mode.

``quay-registry serve --fips`` and ``quay-bridge run --fips``: the seed procedure still holds end to
end (organization, robots, pull secrets, a build pushed with the robot's credentials, the import),
the simulator's admission calls reach the webhook over approved TLS, and a client offering only
ChaCha20-Poly1305 is refused by the running webhook.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from demo.scenario import DemoConfig, Scenario
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter
from tests.e2e.test_operator_restart import run
from tests.webhook.test_fips_tls import APPROVED, chacha_only, handshake


def test_the_story_holds_with_the_registry_core_and_the_operator_in_fips_mode(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, registry_args=("--fips",), operator_args=("--fips",))
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    try:
        run(scenario, "registry", "token", "simulator", "operator", "integration", "new-project")
        run(scenario, "new-app", "build", "imagestream", "delete-project")
        assert "(FIPS mode)" in stack.components["registry"].log_tail(200)
        port = urlsplit(stack.webhook_url).port
        assert port is not None and stack.cert_dir is not None
        ca_file = stack.cert_dir / "ca.crt"
        default = ssl.create_default_context(cafile=str(ca_file))
        assert asyncio.run(handshake(port, default)) in APPROVED
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            asyncio.run(handshake(port, chacha_only(ca_file)))
    finally:
        scenario.close()
        for component in stack.components.values():
            print(f"--- {component.name} log tail ---\n{component.log_tail(40)}")
        stack.close()
