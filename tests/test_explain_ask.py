"""`aios explain` and `aios ask` on the example constitution: the engine's answers, in plain English."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EXAMPLE, TESTS, invoke

from aios_policy import Constitution
from aios_policy.constitution.dates import parse_moment
from aios_policy.guide.ask import ask
from aios_policy.guide.explain import explain_action, explain_sop

QUESTIONS = json.loads((TESTS / "data" / "ask_questions.json").read_text())


@pytest.fixture(scope="module")
def example() -> Constitution:
    return Constitution.load(EXAMPLE)


@pytest.fixture(scope="module")
def now(example: Constitution):
    return parse_moment(QUESTIONS["now"], example.compiled.manifest.timezone)


def test_explain_gives_the_refund_tiers_with_their_exact_bounds(example: Constitution, now) -> None:
    table = explain_action(example, "refund.issue", now)
    by_rule = {tuple(row.rules): row for row in table.rows}
    assert "amount at or below $250" in by_rule[("refund-within-auto-limit",)].when
    assert "amount above $250 up to $2,500" in by_rule[("refund-ops-approval",)].when
    assert "amount above $2,500 up to $10,000" in by_rule[("refund-finance-approval",)].when
    assert "amount above $10,000" in by_rule[("refund-partner-approval",)].when
    assert table.rows[0].area.key[0] == "deny"  # strictest first
    assert table.rows[-1].area.key[0] == "automate"
    ops = by_rule[("refund-ops-approval",)]
    assert ops.outcome.startswith("escalated to the Operations Manager (Priya Raman; James Whitfield while Priya "
                                  "is away 1 Dec to 4 Dec 2026)")
    assert "answer within 1 business day" in ops.sentence() and "attach invoice number" in ops.sentence()


def test_every_explained_region_is_what_the_engine_decides(example: Constitution, now) -> None:
    for action in example.compiled.rules_by_action:
        for row in explain_action(example, action, now).rows:
            decision = example.decide_dict(row.area.example, now, counterfactuals=False)
            assert decision["decision"] == row.area.key[0], (action, row.sentence())
            if not any(r["rule"] == "routing" for r in decision["reasons"]):  # people may move a stage up
                # a relative approver (the requester's manager, a unit's budget owner) is compared as explain names it
                roles = tuple(f"{s['approver']['relation']}:{s['approver']['of']}" if s.get("approver") else s["role"]
                              for s in decision["escalation"]["stages"]) if decision["escalation"] else ()
                assert roles == row.area.key[1], (action, row.sentence())


def test_explain_walks_a_procedure_with_its_gate(example: Constitution, now) -> None:
    walk = explain_sop(example, "refund-dispute", now)
    gates = [step for step in walk.steps if step["gate"]]
    assert [g["gate"]["action"] for g in gates] == ["refund.issue"]
    assert set(gates[0]["gate"]["then"]) == {"automate", "escalate", "deny", "needs_info"}
    assert walk.steps[0]["by"] == "the billing agent" and walk.steps[0]["sla"] == "4 business hours"
    assert "refund.issue" in walk.to_json()["gates"]


@pytest.mark.parametrize("case", QUESTIONS["questions"], ids=[c["q"] for c in QUESTIONS["questions"]])
def test_ask_finds_the_procedure_and_the_people(example: Constitution, now, case: dict) -> None:
    answer = ask(example, case["q"], now)
    topics = case["topic"] if isinstance(case["topic"], list) else [case["topic"]]
    assert answer.match and answer.match["id"] in topics, answer.text()
    text = answer.text()
    for person in case["people"]:
        assert person in text, (person, text)
    for path, value in case.get("facts", {}).items():
        assert answer.facts.get(path) == value, answer.facts
    if "decision" in case:
        assert answer.gates[0]["decision"] == case["decision"]
    if "note" in case:
        assert any(case["note"] in note for note in answer.notes)


@pytest.mark.parametrize("question", QUESTIONS["off_topic"])
def test_ask_says_when_nothing_fits_and_lists_the_closest_topics(example: Constitution, now, question: str) -> None:
    answer = ask(example, question, now)
    assert answer.match is None and len(answer.closest) == 3
    assert answer.text().splitlines()[1] == "Nothing in the constitution answers this question. The closest topics:"


def test_ask_is_deterministic(example: Constitution, now) -> None:
    question = QUESTIONS["questions"][0]["q"]
    assert ask(example, question, now).to_json() == ask(example, question, now).to_json()


def test_cli_explain_and_ask() -> None:
    done = invoke("explain", "refund.issue", "-c", str(EXAMPLE), "--now", "2026-11-24")
    assert done.returncode == 0 and "AUTOMATE   amount at or below $250" in done.stdout
    markdown = invoke("explain", "refund.issue", "-c", str(EXAMPLE), "--format", "markdown")
    assert "| decision | when | outcome | rules |" in markdown.stdout
    sop = invoke("explain", "--sop", "refund-dispute", "-c", str(EXAMPLE), "--format", "json")
    assert json.loads(sop.stdout)["id"] == "refund-dispute"
    unknown = invoke("explain", "refund.isue", "-c", str(EXAMPLE))
    assert unknown.returncode == 2 and "did you mean `refund.issue`?" in unknown.stderr
    asked = invoke("ask", "what happens when a customer disputes a refund of $800?", "-c", str(EXAMPLE),
                     "--format", "json")
    assert json.loads(asked.stdout)["match"]["id"] == "refund-dispute"


def test_readme_shows_a_real_ask_answer() -> None:
    readme = (TESTS.parent / "README.md").read_text()
    block = re.search(r"\$ aios ask \"(.+?)\" --now (\S+)\n(.*?)```", readme, re.DOTALL)
    assert block, "README must show one `aios ask` example with its output"
    done = invoke("ask", block.group(1), "--now", block.group(2), "-c", str(EXAMPLE))
    assert done.stdout.strip() == block.group(3).strip()
