"""The controller's own tunables, in one frozen object handed to each part that needs one.

These are not part of the QuayIntegration spec: they say how the operator paces itself, whatever
integrations exist. The defaults are what the operator runs with; tests pass shorter ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorSettings:
    """How the controller schedules, retries and paces its work."""

    concurrency: int = 64
    """Most namespace reconciles running at once: enough to keep Quay's adaptive limit busy
    after a burst of new namespaces, few enough that the cluster's watch streams keep being read
    while they run."""

    status_interval: float = 0.5
    """Seconds between writes of changed integration statuses: many namespace passes ending
    together make one status write, and a user still sees the counts move without waiting."""

    health_interval: float = 5.0
    """Seconds between retries of integrations that are not ready (and of listing the
    integrations when that failed): a fixed credentials Secret or a Quay back up is noticed soon,
    without polling Quay on every event."""

    peering_wait: float = 10.0
    """Seconds to wait at start for the peering object before going on: a replica stays passive
    until it has read it, so waiting a little avoids starting passive when the object is there."""

    patch_attempts: int = 5
    """Most attempts at a namespace patch that keeps meeting concurrent changes: each conflict
    is planned again from a fresh read, and a namespace changing this often is retried later."""

    retry_first: float = 1.0
    """Seconds before the first retry of a failed namespace pass; doubled on each failure."""

    retry_cap: float = 30.0
    """Most seconds between retries of a failing namespace: a namespace that keeps failing is
    retried forever, but without pressing on Quay or the API server."""

    follow_sync_timeout: float = 30.0
    """Seconds to wait at start for the ServiceAccounts, pull Secrets and ImageStreams to be
    listed before following namespaces anyway: the first passes then plan from complete caches,
    but a collection that cannot be listed does not stop the operator."""

    resync_spread: float = 0.9
    """Share of the resync period a resync spreads its namespaces over: Quay sees a trickle,
    and the resync ends before the next one is due."""

    link_attempts: int = 6
    """Most attempts at linking a pull Secret into a ServiceAccount that others keep changing
    (OpenShift adds its own dockercfg Secret right after creating an account)."""
