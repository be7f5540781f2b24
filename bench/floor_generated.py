"""The floor for bench/decide.py on the generated constitution: bench/generate.py's template by hand.

`generate(root, policies=200, actions=50)` writes policy p for action `topic{a}.act` with a = p % 50
and tier t = p // 50, so every action has four policies (tiers 0 to 3), each with five rules:

    p{p}-auto      automate                 amount <= 100 + a and attributes.region == "r{t}"
    p{p}-manager   escalate [ops]           100 + a < amount <= 5000 + a
    p{p}-finance   escalate [ops, finance]  amount > 5000 + a
    p{p}-blocked   deny                     attributes.counterparty in ["blocked{t}", "sanctioned"]
    p{p}-vip       escalate [ops]           attributes.tier == "gold" and amount > 50 + t

(ops: an ops_manager approve stage, finance: a finance_manager one, neither with a phase.) Every
policy is owned by the ops manager with an agents' bar of 0.85 (the company-wide bar is 0.8); the
default escalation goes to the owner. Every matched escalation applies, so the combined stages are
always the ops manager's (asked for by every matched escalation), then the finance manager's when a
finance rule matched (asked for by those), then the owner's when an error added the default
escalation. Same semantics and the same shape of answer as bench/floor_example.py, and the same
things kept out (delegates, separation of duties, SLA due date, obligations, counterfactuals,
needs_info).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aios_policy.constitution.dates import parse_moment

POLICIES = 200
ACTIONS = 50
TIERS = POLICIES // ACTIONS
ZONE = ZoneInfo("America/New_York")
CURRENCY = "USD"
BAR = 0.85  # max(company 0.8, every policy's 0.85)
OWNER = "ops_manager"
DEFAULT_ROLE = "owner"
ROLES = ("owner", "finance_manager", "ops_manager", "team_lead")
APPROVERS = {role: tuple({"id": f"person{i}", "name": f"Person {i}"} for i in range(12) if ROLES[i % 4] == role)
             for role in ROLES}
PEOPLE = frozenset(f"person{i}" for i in range(12))

AUTO_REASON = "Small amounts are routine."
MANAGER_REASON = "Mid amounts need a manager."
FINANCE_REASON = "Large amounts need finance."
BLOCKED_REASON = "Blocked counterparties are refused."
VIP_REASON = "Key clients get a manager's eye."

# per action: its index; per tier: the region it automates, the counterparties it refuses, the VIP cut
ACTION_INDEX = {f"topic{a}.act": a for a in range(ACTIONS)}
REGION = tuple(f"r{t}" for t in range(TIERS))
BLOCKED = tuple(frozenset({f"blocked{t}", "sanctioned"}) for t in range(TIERS))
VIP_ABOVE = tuple(50 + t for t in range(TIERS))
# the rule ids of policy p: auto, manager, finance, blocked, vip
RULE_IDS = tuple((f"p{p}-auto", f"p{p}-manager", f"p{p}-finance", f"p{p}-blocked", f"p{p}-vip")
                 for p in range(POLICIES))


def _stage(role: str, rules: list[str]) -> dict[str, Any]:
    return {"kind": "approve", "role": role, "rules": rules, "approvers": APPROVERS[role]}


def _answer(action: Any, decision: str, deciding: str, stages: list[dict[str, Any]],
            matched: list[tuple[str, str, str]], note: str | None, errors: list[str]) -> dict[str, Any]:
    reasons = [{"rule": deciding, "text": note}] if note else []
    reasons += [{"rule": rule, "text": text} for rule, _, text in matched if rule == deciding]
    reasons += [{"rule": rule, "text": text} for rule, _, text in matched if rule != deciding]
    reasons += [{"rule": "error", "text": e} for e in errors]
    return {"action": action, "decision": decision, "rule": deciding, "role": stages[0]["role"] if stages else None,
            "stages": stages, "reasons": reasons}


def _default(action: Any, why: str, matched: list[tuple[str, str, str]], errors: list[str]) -> dict[str, Any]:
    return _answer(action, "escalate", "default", [_stage(DEFAULT_ROLE, [])], matched, why, errors)


def floor_decide(request: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The decision for request, at its `at` (or now when it has none)."""
    action = request.get("action")
    text = request.get("at")
    at = now if text is None else parse_moment(text, ZONE) if type(text) is str else None
    if at is None:
        return _default(action, "the request's time `at` cannot be read", [], [])
    a = ACTION_INDEX.get(action) if type(action) is str else None
    if a is None:
        return _default(action, f"no policy governs action `{action}`", [], [])
    errors: list[str] = []
    amount = request.get("amount")
    if amount is not None and not (type(amount) is int or (type(amount) is float and math.isfinite(amount))):
        errors.append("`amount` is not a number")
        amount = None
    attrs = request.get("attributes")
    if type(attrs) is not dict:
        attrs = {}
    region, counterparty, tier_name = attrs.get("region"), attrs.get("counterparty"), attrs.get("tier")
    if counterparty is not None and type(counterparty) is not str:
        errors.append("`attributes.counterparty` is not text")
    if tier_name is not None and type(tier_name) is not str:
        errors.append("`attributes.tier` is not text")
    gold = tier_name == "gold"
    auto_limit, manager_limit = 100 + a, 5000 + a
    if amount is not None and amount <= auto_limit and region is not None and type(region) is not str:
        errors.append("`attributes.region` is not text")

    matched: list[tuple[str, str, str]] = []  # (rule id, outcome, reason), in policy order
    for tier in range(TIERS):
        auto, manager, finance, blocked, vip = RULE_IDS[a + tier * ACTIONS]
        if amount is not None:
            if amount <= auto_limit:
                if region == REGION[tier]:
                    matched.append((auto, "automate", AUTO_REASON))
            elif amount <= manager_limit:
                matched.append((manager, "escalate", MANAGER_REASON))
            else:
                matched.append((finance, "escalate", FINANCE_REASON))
        if type(counterparty) is str and counterparty in BLOCKED[tier]:
            matched.append((blocked, "deny", BLOCKED_REASON))
        if gold and amount is not None and amount > VIP_ABOVE[tier]:
            matched.append((vip, "escalate", VIP_REASON))
    currency = request.get("currency")
    if currency is not None and currency != CURRENCY and "amount" in request:
        errors.append(f"the amount is in `{currency}` and there is no rate to {CURRENCY}")

    automate = None
    escalating: list[str] = []  # every escalation asks for the ops manager
    financing: list[str] = []  # the finance rules ask for the finance manager too
    for rule, outcome, _ in matched:
        if outcome == "deny":
            return _answer(action, "deny", rule, [], matched, None, errors)
        if outcome == "escalate":
            escalating.append(rule)
            if rule[-8:] == "-finance":
                financing.append(rule)
        elif automate is None:
            automate = rule
    if escalating:
        stages = [_stage(OWNER, escalating)]
        if financing:
            stages.append(_stage("finance_manager", financing))
        if errors:  # the default escalation joins: the owner's stage, after the others
            stages.append(_stage(DEFAULT_ROLE, []))
        return _answer(action, "escalate", escalating[0], stages, matched, None, errors)
    if errors or automate is None:
        why = "an error made the outcome uncertain" if errors else "no rule covers this request"
        return _default(action, why, matched, errors)
    actor = request.get("actor")
    if not (type(actor) is dict and actor.get("kind") == "human" and actor.get("id") in PEOPLE):
        confidence: Any = request.get("confidence")  # an agent, or anyone org.json does not know
        if not (type(confidence) in (int, float) and math.isfinite(confidence) and confidence >= BAR):
            return _answer(action, "escalate", "confidence", [_stage(OWNER, [])], matched,
                           f"the agent's confidence is below {BAR:g}, so the policy owner decides", errors)
    return _answer(action, "automate", automate, [], matched, None, errors)
