"""Settings of the simulator: where it listens and how its OpenShift behaviours are timed.

Tests set delays to zero (or to chosen values) to play the orders OpenShift may produce; the
command line sets the same fields. Every delay is in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProjectTiming:
    """Delays of OpenShift's asynchronous project set-up.

    docs/reference/openshift.md#asynchronous-project-set-up describes the real controllers.
    """

    #: the three ``openshift.io/sa.scc.*`` annotations, written together (cluster-policy-controller)
    scc_annotations: float = 0.2
    #: removal of the ``openshift.io/origin`` spec finalizer (project finalizer controller)
    origin_finalizer: float = 0.1
    #: ServiceAccounts ``default``, ``builder``, ``deployer``
    service_accounts: float = 0.3
    #: the ``<sa>-dockercfg-xxxxx`` secret and its links into ``secrets``/``imagePullSecrets``
    dockercfg_secrets: float = 0.5
    #: which internal-registry pull secret layout is played: "4.16" (no token secret) only for now
    layout: str = "4.16"


@dataclass
class BuildTiming:
    """Delays of the build controller between phases (docs/reference/openshift.md#phases)."""

    to_pending: float = 0.1
    to_running: float = 0.2
    to_complete: float = 0.3
    #: when False the controller does not run (builds stay New)
    enabled: bool = True


@dataclass
class Settings:
    """Everything a simulator instance needs; defaults suit an interactive run."""

    host: str = "127.0.0.1"
    #: more addresses to listen on, on the same port (dual-stack: ``::1`` beside ``127.0.0.1``)
    extra_hosts: tuple[str, ...] = ()
    port: int = 0
    #: default registry (URL) for builds that push to the internal registry and for the demo
    registry_url: str | None = None
    #: host[:port] that ``status.dockerImageRepository`` of ImageStreams names
    internal_registry: str = "image-registry.openshift-image-registry.svc:5000"
    #: watch events kept per resource before a watch from an older resourceVersion gets 410
    history_limit: int = 10_000
    #: ``svc.ns:port`` -> ``host:port``: where a webhook ``service`` reference really listens
    service_addresses: dict[str, str] = field(default_factory=dict)
    #: the user name requests are attributed to (``openshift.io/requester``, userInfo)
    username: str = "kube:admin"
    #: append one JSON line per request to this file
    request_log: str | None = None
    #: use plain HTTP towards these registry hosts (host[:port]); others use HTTPS
    insecure_registries: tuple[str, ...] = ()
    projects: ProjectTiming = field(default_factory=ProjectTiming)
    builds: BuildTiming = field(default_factory=BuildTiming)

    @classmethod
    def immediate(cls) -> Settings:
        """Return settings with every OpenShift delay at zero (for tests)."""
        return cls(
            projects=ProjectTiming(0, 0, 0, 0),
            builds=BuildTiming(0, 0, 0),
        )


def registry_scheme(settings: Settings, host: str) -> str:
    """Return ``http`` or ``https`` for a registry host.

    The host of ``registry_url`` uses that URL's scheme; hosts in ``insecure_registries`` and
    loopback hosts use plain HTTP; every other host uses HTTPS.
    """
    if settings.registry_url:
        scheme, _, rest = settings.registry_url.partition("://")
        if rest.split("/")[0] == host:
            return scheme
    if host in settings.insecure_registries:
        return "http"
    if host.startswith("["):  # [v6addr] or [v6addr]:port
        name = host[: host.find("]") + 1]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return "http" if name in ("127.0.0.1", "localhost", "[::1]") else "https"
