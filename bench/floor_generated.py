"""The floor for bench/decide.py on the generated constitution: bench/generate.py's template by hand.

`generate(root, policies=200, actions=50)` writes policy p for action `topic{a}.act` with a = p % 50
and tier t = p // 50, so every action has four policies (tiers 0 to 3), each with five rules:

    p{p}-auto      automate               amount <= 100 + a and attributes.region == "r{t}"
    p{p}-manager   escalate ops_manager   100 + a < amount <= 5000 + a
    p{p}-finance   escalate ops_manager   amount > 5000 + a   (then finance_manager)
    p{p}-blocked   deny                   attributes.counterparty in ["blocked{t}", "sanctioned"]
    p{p}-vip       escalate ops_manager   attributes.tier == "gold" and amount > 50 + t

Every policy is owned by the ops manager with an agents' bar of 0.85 (the company-wide bar is 0.8);
the default escalation goes to the owner. Same semantics and the same shape of answer as
bench/floor_example.py, and the same things kept out (delegates, separation of duties, SLA due
date, obligations, counterfactuals, needs_info).
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


def _answer(action: Any, decision: str, deciding: str, role: str | None, matched: list[tuple[str, str, str]],
            note: str | None, errors: list[str]) -> dict[str, Any]:
    reasons = [{"rule": deciding, "text": note}] if note else []
    reasons += [{"rule": rule, "text": text} for rule, _, text in matched if rule == deciding]
    reasons += [{"rule": rule, "text": text} for rule, _, text in matched if rule != deciding]
    reasons += [{"rule": "error", "text": e} for e in errors]
    return {"action": action, "decision": decision, "rule": deciding, "role": role, "reasons": reasons,
            "approvers": list(APPROVERS[role]) if role else []}


def floor_decide(request: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The decision for request, at its `at` (or now when it has none)."""
    action = request.get("action")
    text = request.get("at")
    at = now if text is None else parse_moment(text, ZONE) if type(text) is str else None
    if at is None:
        return _answer(action, "escalate", "default", DEFAULT_ROLE, [], "the request's time `at` cannot be read", [])
    a = ACTION_INDEX.get(action) if type(action) is str else None
    if a is None:
        return _answer(action, "escalate", "default", DEFAULT_ROLE, [], f"no policy governs action `{action}`", [])
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
        errors.append(f"the amount is in `{currency}`, not {CURRENCY}")

    automate = escalate = None
    for rule, outcome, _ in matched:
        if outcome == "deny":
            return _answer(action, "deny", rule, None, matched, None, errors)
        if outcome == "escalate":
            escalate = escalate or rule  # every stage starts with the ops manager: the first one decides
        elif automate is None:
            automate = rule
    if escalate is not None:
        return _answer(action, "escalate", escalate, "ops_manager", matched, None, errors)
    if errors or automate is None:
        why = "an error made the outcome uncertain" if errors else "no rule covers this request"
        return _answer(action, "escalate", "default", DEFAULT_ROLE, matched, why, errors)
    actor = request.get("actor")
    if type(actor) is dict and actor.get("kind") == "agent":
        confidence: Any = request.get("confidence")
        if not (type(confidence) in (int, float) and math.isfinite(confidence) and confidence >= BAR):
            return _answer(action, "escalate", "confidence", OWNER, matched,
                           f"the agent's confidence is below {BAR:g}, so the policy owner decides", errors)
    return _answer(action, "automate", automate, None, matched, None, errors)
