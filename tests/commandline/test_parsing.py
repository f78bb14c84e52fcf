"""Every command line: defaults in --help, suggestions on typos, the right program names.

The commands run as the user runs them (``python -m quaybridge_cli ...`` and ``quay-registry``), so
what is checked is what a terminal shows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from commandline.parsing import ArgumentParser, suggest

REGISTRY = str(Path(sys.executable).parent / "quay-registry")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quaybridge_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestTheParser:
    def test_help_shows_defaults_but_not_empty_ones(self) -> None:
        parser = ArgumentParser(prog="x")
        parser.add_argument("--port", type=int, default=8080, help="port")
        parser.add_argument("--cert-dir", default=None, help="certificates")
        parser.add_argument("--quiet", action="store_true", help="say less")
        parser.add_argument("--level", default="INFO", help="level (default: INFO)")
        text = parser.format_help()
        assert "port (default: 8080)" in text
        assert "certificates\n" in text and "say less\n" in text
        assert text.count("default: INFO") == 1

    @pytest.mark.parametrize(
        ("word", "candidates", "expected"),
        [
            ("--webhok-port", ["--webhook-port", "--metrics-port"], "--webhook-port"),
            ("rnu", ["run", "certs", "sim"], "run"),
            ("--zzz", ["--webhook-port"], None),
        ],
    )
    def test_suggest_finds_the_close_word_only(
        self, word: str, candidates: list[str], expected: str | None
    ) -> None:
        assert suggest(word, candidates) == expected


class TestTheCommands:
    def test_a_bare_quay_bridge_prints_help_and_exits_2(self) -> None:
        result = cli()
        assert result.returncode == 2
        assert "usage: quay-bridge <command>" in result.stderr and "registry" in result.stderr

    def test_a_mistyped_command_gets_a_suggestion(self) -> None:
        result = cli("rnu")
        assert result.returncode == 2
        assert "unknown command 'rnu'; did you mean 'run'?" in result.stderr

    @pytest.mark.parametrize(
        ("args", "typo", "meant"),
        [
            (["run"], "--webhok-port", "--webhook-port"),
            (["sim"], "--kubeconfig-ot", "--kubeconfig-out"),
            (["demo"], "--kep", "--keep"),
            (["certs", "generate"], "--servce", "--service"),
            (["registry", "serve"], "--data-dri", "--data-dir"),
        ],
    )
    def test_a_mistyped_option_gets_a_suggestion(
        self, args: list[str], typo: str, meant: str
    ) -> None:
        result = cli(*args, typo, "x")
        assert result.returncode == 2
        assert f"{typo}: did you mean {meant}?" in result.stderr

    def test_a_mistyped_sub_command_gets_a_suggestion(self) -> None:
        result = cli("registry", "serv")
        assert result.returncode == 2
        assert "quay-bridge registry: did you mean 'serve'?" in result.stderr

    @pytest.mark.parametrize(
        ("args", "usage", "defaults"),
        [
            (["run"], "usage: quay-bridge run", ["(default: 9443)", "(default: INFO)"]),
            (
                ["sim"],
                "usage: quay-bridge sim",
                ["(default 127.0.0.1, ::1 or both", "(default: 10000)"],
            ),
            (["demo"], "usage: quay-bridge demo", ["(default: e2e-demo)"]),
            (["registry"], "usage: quay-bridge registry", []),
            (["registry", "serve"], "usage: quay-bridge registry serve", ["(default: 8080)"]),
            (["certs", "generate"], "usage: quay-bridge certs generate", ["(default: "]),
        ],
    )
    def test_help_names_the_program_and_shows_the_defaults(
        self, args: list[str], usage: str, defaults: list[str]
    ) -> None:
        result = cli(*args, "--help")
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        assert result.stdout.startswith(usage)
        for default in defaults:
            assert default in text

    def test_quay_registry_keeps_its_own_name(self) -> None:
        result = subprocess.run(
            [REGISTRY, "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.stdout.startswith("usage: quay-registry serve")
