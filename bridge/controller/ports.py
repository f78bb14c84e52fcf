"""What the controller's parts need of the Kubernetes API and of Quay, as Protocols.

The parts (``scheduler``, ``namespace_reconciler``, ``namespace_release``, ``integration_loops``,
``event_router``, ``provisioning``) depend on these, not on :class:`bridge.kube.cluster.Cluster` and
:class:`bridge.quay.client.QuayClient`; the concrete clients satisfy them structurally, and the
unit tests hand the parts in-memory clusters and Quays that do too. Each Protocol is the subset
the parts call, with the concrete clients' semantics: errors are ``bridge.kube.cluster.KubeError``
(``NotFound``, ``Conflict``, ...) and ``bridge.quay.errors.QuayError`` subclasses.
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.model.quay_records import Prototype, Robot
from bridge.model.spec import Role
from bridge.quay.client import CallRecorder


class ClusterApi(Protocol):
    """The Kubernetes calls of the controller's parts (``bridge.kube.cluster.Cluster``)."""

    async def get_namespace(self, name: str) -> dict[str, Any]:
        """One Namespace; raises NotFound."""
        ...

    async def list_namespaces(self) -> list[dict[str, Any]]:
        """Every Namespace."""
        ...

    async def patch_namespace(self, name: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a JSON Patch to a Namespace; returns the patched body."""
        ...

    async def get_service_account(self, namespace: str, name: str) -> dict[str, Any]:
        """One ServiceAccount; raises NotFound."""
        ...

    async def list_service_accounts(self, namespace: str) -> list[dict[str, Any]]:
        """The ServiceAccounts of a namespace."""
        ...

    async def patch_service_account(
        self, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply a JSON Patch to a ServiceAccount; returns the patched body."""
        ...

    async def list_secrets(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        """The Secrets of a namespace carrying the label ``label_selector`` names."""
        ...

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """One Secret; None when it does not exist."""
        ...

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret; raises Conflict when it exists."""
        ...

    async def replace_secret(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Replace a Secret (guarded by the body's resourceVersion)."""
        ...

    async def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a Secret, decoded; None when the key is absent."""
        ...

    async def secret_keys(self, namespace: str, name: str) -> list[str]:
        """The keys a Secret has."""
        ...

    async def read_configmap_key(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a ConfigMap; None when absent."""
        ...

    async def list_image_streams(self, namespace: str) -> list[dict[str, Any]]:
        """The ImageStreams of a namespace."""
        ...

    async def list_integrations(self) -> list[dict[str, Any]]:
        """Every QuayIntegration."""
        ...

    async def patch_integration_status(self, name: str, status: dict[str, Any]) -> None:
        """Merge-patch a QuayIntegration's status."""
        ...

    async def api_groups(self) -> set[str]:
        """The API groups the server serves."""
        ...

    async def post_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
    ) -> None:
        """Post an Event about ``involved``; failures are only logged."""
        ...


class QuayApi(Protocol):
    """The Quay calls of the controller's parts (``bridge.quay.client.QuayClient``)."""

    def set_token(self, token: str) -> None:
        """Use another OAuth token from the next call on."""
        ...

    async def close(self) -> None:
        """Release the connections."""
        ...

    async def get_user(self) -> dict[str, Any]:
        """The user the token acts as."""
        ...

    async def get_organization(self, org: str) -> dict[str, Any]:
        """One organization; raises NotFound (or Forbidden when it is not the user's)."""
        ...

    async def create_organization(self, org: str, email: str | None = None) -> None:
        """Create an organization; raises AlreadyExists, NameReserved."""
        ...

    async def delete_organization(self, org: str) -> None:
        """Delete an organization."""
        ...

    async def list_robots(self, org: str, *, with_tokens: bool = True) -> list[Robot]:
        """The robots of an organization, with their tokens."""
        ...

    async def get_robot(self, org: str, short: str) -> Robot:
        """One robot, with its token."""
        ...

    async def create_robot(self, org: str, short: str, description: str = "") -> Robot:
        """Create a robot; returns it with its token."""
        ...

    async def delete_robot(self, org: str, short: str) -> None:
        """Delete a robot."""
        ...

    async def regenerate_robot(self, org: str, short: str) -> Robot:
        """Give a robot a new token (the old one stops working)."""
        ...

    async def list_prototypes(self, org: str) -> list[Prototype]:
        """The default permissions (prototypes) of an organization."""
        ...

    async def create_prototype(self, org: str, robot_full_name: str, role: Role) -> Prototype:
        """Give ``robot_full_name`` ``role`` on every repository created from now on."""
        ...

    async def update_prototype(self, org: str, prototype_id: str, role: Role) -> Prototype:
        """Change a prototype's role."""
        ...

    async def delete_prototype(self, org: str, prototype_id: str) -> None:
        """Delete a prototype."""
        ...

    async def create_repository(self, org: str, repo: str, description: str = "") -> None:
        """Create a repository; raises AlreadyExists."""
        ...

    async def delete_repository(self, org: str, repo: str) -> None:
        """Delete a repository (done when it is already gone)."""
        ...

    async def list_repositories(self, org: str) -> list[str]:
        """The repository names of an organization."""
        ...

    async def list_user_permissions(self, org: str, repo: str) -> dict[str, str]:
        """User (and robot) name -> role on a repository."""
        ...

    async def set_user_permission(self, org: str, repo: str, user: str, role: Role) -> None:
        """Give a user (or robot) ``role`` on a repository."""
        ...


class QuayConnector(Protocol):
    """Makes an integration's Quay client (``QuayClient`` itself; an in-memory Quay in tests)."""

    def __call__(
        self,
        base_url: str,
        token: str,
        *,
        ca_pem: str | None,
        insecure: bool,
        concurrency: int,
        timeout_seconds: float,
        attempts: int,
        recorder: CallRecorder | None,
        fips: bool,
    ) -> QuayApi:
        """A client for ``base_url`` acting with ``token``; raises TLSFailure for a bad CA."""
        ...
