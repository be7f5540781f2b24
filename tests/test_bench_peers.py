"""The peer benchmark (bench/peers.py) cannot rot silently: what it generates from its one rule list is a
valid constitution that agrees with the hand-written floor, and so are the zen-engine table and the
Cedar policy set when the `bench` extra is installed; a wrong engine is caught, every rule is reached."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from aios_policy.constitution.pipeline import check
from aios_policy.engine.facade import Constitution

PEERS = Path(__file__).resolve().parent.parent / "bench" / "peers.py"


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_peers", PEERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def requests(peers: ModuleType) -> list[dict]:
    return peers.generate_requests(500, seed=12)


@pytest.fixture(scope="module")
def loaded(peers: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Constitution:
    return Constitution.load(peers.write_constitution(tmp_path_factory.mktemp("peers")))


def _now(peers: ModuleType) -> list:
    return peers.moments(500)


def test_the_rule_list_has_44_rules_and_every_rule_is_reached_by_the_requests(peers, requests):
    assert len(peers.RULES) == 44
    assert len({rule["id"] for rule in peers.RULES}) == 44
    assert [rule for rule, count in peers.rule_matches(requests).items() if not count] == []


def test_the_generated_constitution_validates_without_a_finding(peers, tmp_path):
    result = check(peers.write_constitution(tmp_path))
    assert [str(d) for d in result.diagnostics] == []
    assert len(result.constitution.rules) == len(peers.RULES)


def test_aios_agrees_with_the_floor_on_500_requests(peers, requests, loaded):
    engine, rule_list = loaded.engine, peers.rule_list_decider()
    aios = [peers.Contestant("decide_dict", loaded.decide_dict, peers.aios_decision_outcome),
            peers.Contestant("outcome", engine.outcome, lambda key: (key.decision, frozenset(key.roles))),
            peers.Contestant("python rule list", lambda request, now: rule_list(request))]
    assert peers.verify(aios, requests, _now(peers)) is None


def test_the_requests_reach_every_kind_of_outcome(peers, requests):
    outcomes = {peers.floor(request) for request in requests}
    assert {decision for decision, _ in outcomes} == {"automate", "escalate", "deny"}
    # the confidence bar sends an automation to the owner of each policy that can automate
    assert {("escalate", frozenset({role})) for role in ("finance_ops", "compliance_officer", "procurement_lead")} \
        <= outcomes


def test_zen_engine_table_agrees_with_the_floor_on_500_requests(peers, requests):
    pytest.importorskip("zen", reason="zen-engine is in the optional `bench` extra, not installed here")
    decide = peers.zen_decider()
    zen = [peers.Contestant("zen-engine", lambda request, now: decide(request))]
    assert peers.verify(zen, requests, _now(peers)) is None


def test_cedar_policy_set_agrees_with_the_floor_on_500_requests(peers, requests):
    pytest.importorskip("cedarpy", reason="cedarpy is in the optional `bench` extra, not installed here")
    decide = peers.cedar_decider()
    cedar = [peers.Contestant("cedarpy", lambda request, now: decide(request))]
    assert peers.verify(cedar, requests, _now(peers)) is None


def test_an_engine_that_disagrees_is_named_with_the_request(peers, requests):
    always = peers.Contestant("always automates", lambda request, now: peers.AUTOMATE)
    found = peers.verify([always], requests, _now(peers))
    assert found is not None and found.startswith("always automates disagrees with the floor on {")


def test_the_script_runs_and_names_a_missing_peer(peers, monkeypatch, capsys):
    def missing() -> None:
        raise ImportError("no zen here")

    monkeypatch.setattr(peers, "zen_decider", missing)
    assert peers.main(["--requests", "40", "--rounds", "1"]) == 0
    out, err = capsys.readouterr()
    assert "missing peer, not measured: zen-engine" in err
    assert "aios Engine.outcome" in out and "hand-written if/else" in out
    assert "aios decide_dict (full, first pass)" in out
    assert "every engine agreed with the floor on every request" in out
