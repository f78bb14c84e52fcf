"""``quay-bridge certs``: the commands as a user runs them (through the real console script)."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

import kubernetes.client
import yaml

from certs.issuing import service_dns_names, subject_alternative_names
from certs.renewal import renewal_time
from devstack.sim import sim_server

DEPLOYED = Path(__file__).parents[2] / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"
QUAY_BRIDGE = Path(sys.executable).parent / "quay-bridge"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(QUAY_BRIDGE), "certs", *args], capture_output=True, text=True, timeout=60, check=False
    )


class TestGenerate:
    def test_generate_writes_the_ca_the_certificate_and_a_private_key(self, tmp_path: Path) -> None:
        out = tmp_path / "certs"

        result = run(
            "generate", "--service", "hook", "--namespace", "qb", "--out", str(out),
            "--dns", "localhost", "--ip", "127.0.0.1", "--days", "30",
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
        assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
        dns, ips = subject_alternative_names((out / "tls.crt").read_bytes())
        assert dns == [*service_dns_names("hook", "qb"), "localhost"]
        assert ips == ["127.0.0.1"]
        assert "BEGIN PRIVATE KEY" not in result.stdout + result.stderr
        renewal_time((out / "tls.crt").read_bytes())

    def test_a_bad_ip_fails_with_a_message_and_writes_nothing(self, tmp_path: Path) -> None:
        out = tmp_path / "certs"

        result = run(
            "generate", "--service", "hook", "--namespace", "qb", "--out", str(out),
            "--ip", "not-an-ip",
        )  # fmt: skip

        assert result.returncode == 1
        assert "not an IP address" in result.stderr
        assert "Traceback" not in result.stderr
        assert not out.exists()

    def test_missing_options_are_a_usage_error(self) -> None:
        result = run("generate", "--service", "hook")

        assert result.returncode == 2
        assert "--namespace" in result.stderr


class TestInjectIntoFile:
    def test_the_bundle_lands_in_a_copy_of_the_deployed_manifest(self, tmp_path: Path) -> None:
        run("generate", "--service", "quay-bridge-webhook", "--namespace", "quay-bridge",
            "--out", str(tmp_path))  # fmt: skip
        target = tmp_path / "mwc.yaml"

        result = run(
            "inject-cabundle", "--ca", str(tmp_path / "ca.crt"), "--file", str(DEPLOYED),
            "--output", str(target),
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        document = yaml.safe_load(target.read_text())
        bundle = document["webhooks"][0]["clientConfig"]["caBundle"]
        assert base64.b64decode(bundle) == (tmp_path / "ca.crt").read_bytes()

    def test_stdout_output_and_a_file_without_webhooks(self, tmp_path: Path) -> None:
        run("generate", "--service", "s", "--namespace", "n", "--out", str(tmp_path))
        empty = tmp_path / "empty.yaml"
        empty.write_text("kind: Service\nmetadata: {name: s}\n")

        printed = run(
            "inject-cabundle", "--ca", str(tmp_path / "ca.crt"), "--file", str(DEPLOYED),
            "--output", "-",
        )  # fmt: skip
        refused = run("inject-cabundle", "--ca", str(tmp_path / "ca.crt"), "--file", str(empty))

        assert printed.returncode == 0
        assert "caBundle:" in printed.stdout
        assert refused.returncode == 1
        assert "no webhooks" in refused.stderr
        assert empty.read_text() == "kind: Service\nmetadata: {name: s}\n"

    def test_a_missing_ca_file_is_a_clear_error(self, tmp_path: Path) -> None:
        result = run("inject-cabundle", "--ca", str(tmp_path / "nope"), "--file", str(DEPLOYED))

        assert result.returncode == 1
        assert "No such file" in result.stderr
        assert "Traceback" not in result.stderr


class TestInjectIntoLiveObject:
    def test_the_bundle_is_set_on_the_live_configuration_through_a_kubeconfig(
        self, tmp_path: Path
    ) -> None:
        run("generate", "--service", "s", "--namespace", "n", "--out", str(tmp_path))
        with sim_server() as sim:
            api = sim.api_client()
            admission = kubernetes.client.AdmissionregistrationV1Api(api)
            admission.create_mutating_webhook_configuration(yaml.safe_load(DEPLOYED.read_text()))

            result = run(
                "inject-cabundle", "--ca", str(tmp_path / "ca.crt"), "--name",
                "quay-bridge-webhook", "--kubeconfig", sim.kubeconfig,
            )  # fmt: skip
            missing = run(
                "inject-cabundle", "--ca", str(tmp_path / "ca.crt"), "--name", "absent",
                "--kubeconfig", sim.kubeconfig,
            )  # fmt: skip

            live = api.sanitize_for_serialization(
                admission.read_mutating_webhook_configuration("quay-bridge-webhook")
            )
        assert result.returncode == 0, result.stderr
        bundle = live["webhooks"][0]["clientConfig"]["caBundle"]
        assert base64.b64decode(bundle) == (tmp_path / "ca.crt").read_bytes()
        assert missing.returncode == 1
        assert "HTTP 404" in missing.stderr


class TestUsage:
    def test_options_of_the_other_target_are_a_usage_error(self, tmp_path: Path) -> None:
        ca = str(tmp_path / "ca.crt")

        live_with_output = run("inject-cabundle", "--ca", ca, "--name", "x", "--output", "-")
        file_with_kubeconfig = run(
            "inject-cabundle", "--ca", ca, "--file", str(DEPLOYED), "--kubeconfig", "k"
        )

        assert (live_with_output.returncode, file_with_kubeconfig.returncode) == (2, 2)
        assert "--output goes with --file" in live_with_output.stderr
        assert "--kubeconfig and --context go with --name" in file_with_kubeconfig.stderr
