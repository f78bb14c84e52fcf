"""Replays the recorded differential cases against the simulator and compares the answers.

``recorded/kube-apiserver.json`` holds what a real kube-apiserver answered to every case of
``cases.py`` (recorded with ``python -m tools.record_differential``). Here the same cases run
against a simulator process (its OpenShift service-account controllers held back: the recording
server has none); every case matches, except those ``deliberate.py`` lists with the reason the
simulator differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.sim import sim_server
from tests.sim.differential.cases import all_cases
from tests.sim.differential.deliberate import DELIBERATE
from tests.sim.differential.runner import Target, differences, run_all

RECORD = Path(__file__).parent / "recorded" / "kube-apiserver.json"


def _recorded() -> dict[str, Any]:
    return dict(json.loads(RECORD.read_text()))


@pytest.fixture(scope="module")
def replayed() -> Iterator[dict[str, list[Any]]]:
    # OpenShift's service-account controllers would add their ServiceAccounts and dockercfg
    # Secrets to every namespace; a bare kube-apiserver has none, so they wait out the replay
    with sim_server("--delay", "service-accounts=3600", "--delay", "dockercfg=3600") as sim:
        target = Target(sim.url, token="differential")
        yield {case.id: outcomes for case, outcomes in run_all(target, all_cases())}


def test_the_record_covers_every_case() -> None:
    recorded = _recorded()["cases"]
    ids = [case.id for case in all_cases()]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(ids) >= 150
    missing = [i for i in ids if i not in recorded]
    assert not missing, f"not recorded yet (run tools.record_differential): {missing}"


def test_every_recorded_case_matches_unless_deliberate(replayed: dict[str, list[Any]]) -> None:
    recorded = _recorded()["cases"]
    unexpected = {}
    stale = []
    for case_id, outcomes in recorded.items():
        if case_id not in replayed:
            continue
        diff = differences(outcomes, replayed[case_id])
        if diff and case_id not in DELIBERATE:
            unexpected[case_id] = diff
        if not diff and case_id in DELIBERATE:
            stale.append(case_id)
    report = "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in sorted(unexpected.items()))
    assert not unexpected, f"{len(unexpected)} cases differ from kube-apiserver:\n{report}"
    assert not stale, f"listed as deliberate but now matching, remove them: {stale}"
