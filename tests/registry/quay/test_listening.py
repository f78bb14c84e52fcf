"""Listen addresses after the IP version (``FEATURE_LISTEN_IP_VERSION``), for all three servers.

The operator and the simulator share one rule (``commandline.listening``, with their own defaults);
the registry core keeps its own, stricter one. The same table runs against each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from commandline.listening import EVERY_INTERFACE, LOOPBACK, listen_hosts
from registry.listening import ListenError, listen_addresses, server_hostname_for

Rule = Callable[[str | None, Sequence[str]], list[str]]
RULES: dict[str, Rule] = {
    "registry": listen_addresses,
    "sim": lambda version, hosts: listen_hosts(version, hosts, option="--host", defaults=LOOPBACK),
    "bridge": lambda version, hosts: listen_hosts(
        version, hosts, option="--webhook-host", defaults=EVERY_INTERFACE
    ),
}


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
@pytest.mark.parametrize(
    ("version", "hosts", "expected"),
    [
        ("IPv6", ["::1"], ["::1"]),
        ("dual-stack", ["127.0.0.1", "::1"], ["127.0.0.1", "::1"]),
        (None, ["::1"], ["::1"]),
        (None, ["127.0.0.1", "::1"], ["127.0.0.1", "::1"]),
        ("IPv4", ["localhost"], ["localhost"]),
    ],
)
def test_addresses_that_fit_the_version_are_listened_on(
    rule: Rule, version: str | None, hosts: list[str], expected: list[str]
) -> None:
    assert rule(version, hosts) == expected


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
@pytest.mark.parametrize(
    ("version", "host"), [("IPv6", "127.0.0.1"), ("IPv4", "::1"), ("IPv4", "::")]
)
def test_an_address_of_the_other_version_is_refused(rule: Rule, version: str, host: str) -> None:
    with pytest.raises(ValueError, match="IPv"):
        rule(version, [host])


def test_the_registry_core_defaults_to_the_loopback_of_each_version() -> None:
    assert listen_addresses(None, None) == ["127.0.0.1"]
    assert listen_addresses("IPv6", None) == ["::1"]
    assert listen_addresses("dual-stack", None) == ["127.0.0.1", "::1"]
    with pytest.raises(ListenError, match="dual-stack needs an IPv4 and an IPv6 address"):
        listen_addresses("dual-stack", ["::"])


def test_the_server_hostname_brackets_an_ipv6_address() -> None:
    assert server_hostname_for("::1", 8080) == "[::1]:8080"
    assert server_hostname_for("127.0.0.1", 8080) == "127.0.0.1:8080"


@pytest.mark.parametrize(
    ("defaults", "expected"),
    [
        (EVERY_INTERFACE, {"IPv4": ["0.0.0.0"], "IPv6": ["::"], "dual-stack": ["0.0.0.0", "::"]}),
        (LOOPBACK, {"IPv4": ["127.0.0.1"], "IPv6": ["::1"], "dual-stack": ["127.0.0.1", "::1"]}),
    ],
    ids=["bridge", "sim"],
)
def test_without_addresses_each_server_takes_its_defaults_of_the_version(
    defaults: dict[str, tuple[str, ...]], expected: dict[str, list[str]]
) -> None:
    for version, hosts in expected.items():
        assert listen_hosts(version, None, option="--host", defaults=defaults) == hosts
    assert listen_hosts(None, [], option="--host", defaults=defaults) == expected["IPv4"]


def test_the_refusal_names_the_option_that_gave_the_address() -> None:
    with pytest.raises(ValueError, match=r"^--metrics-host ::1 is an IPv6 address, not IPv4$"):
        listen_hosts("IPv4", ["::1"], option="--metrics-host", defaults=EVERY_INTERFACE)
