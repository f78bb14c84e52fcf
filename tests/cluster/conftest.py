"""Opt-in switch of the real-cluster suite: ``pytest tests/cluster --cluster`` with ``KUBECONFIG``.

The tests here talk to whatever cluster ``KUBECONFIG`` names, with the operator already deployed
and a QuayIntegration in place, and create and delete a project there. They never run by accident:
without ``--cluster`` and ``KUBECONFIG`` every test in this directory is skipped, saying why.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        action="store_true",
        default=False,
        help="run tests/cluster against the real cluster named by KUBECONFIG",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    reason = ""
    if not config.getoption("--cluster", default=False):
        reason = "real-cluster test: opt in with --cluster (and KUBECONFIG)"
    elif not os.environ.get("KUBECONFIG"):
        reason = "real-cluster test: --cluster given but KUBECONFIG is not set"
    if not reason:
        return
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.skip(reason=reason))
