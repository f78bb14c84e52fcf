"""The seed's procedure while Quay answers 5xx for a while: the flow completes once it recovers.

A fault-injecting reverse proxy (``tests.e2e.faults``) stands between the cluster and the real
registry core; the QuayIntegration names the proxy, so the operator's Quay calls, the builds'
pushes and the imports all go through it. The outage hits the Quay API (``/api/``) right when the
integration is created and again when the project is created.
"""

from __future__ import annotations

import pytest

from demo.scenario import DemoConfig, Scenario
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter
from tests.e2e.faults import FaultProxy
from tests.e2e.test_seed_procedure import play


@pytest.mark.parametrize("status", [503, 500])
def test_the_flow_completes_after_quay_answered_5xx_for_a_while(stack: Stack, status: int) -> None:
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    proxy: FaultProxy | None = None

    def put_the_proxy_in_front_of_the_registry() -> None:
        nonlocal proxy
        proxy = FaultProxy(stack.registry_url).start()
        scenario.config.quay_url = proxy.url

    def outage(seconds: float) -> None:
        assert proxy is not None
        proxy.fail_for(seconds, status)

    try:
        play(
            scenario,
            before={
                "simulator": put_the_proxy_in_front_of_the_registry,
                "integration": lambda: outage(3.0),
                "new-project": lambda: outage(3.0),
            },
        )
        assert proxy is not None
        assert proxy.injected > 0, "the outage never hit a Quay call"
        assert scenario.registry_host == proxy.host
    finally:
        scenario.close()
        if proxy is not None:
            proxy.stop()
