"""aios against its peers: one expense-approval rule list, decided by every engine, side by side.

The workload is ONE rule list (`RULES`, data): 44 rules over an expense request's amount, department
(each with its own limits), category, whether the vendor is new and the agent's confidence, each with
an outcome (automate, escalate to a role, deny). From it this script generates

- an aios constitution in a temp folder (manifest, org chart with one person per role, the limits as
  named thresholds, one policy file per group of rules), loaded with `Constitution.load`;
- a zen-engine JDM decision table: one row per rule, one column per field, hit policy `collect`,
  each row's output the rule's index; the matched rows are then combined in Python (`combine`);
- a Cedar policy set: one policy per rule (`@id` the rule id), `forbid` for a deny rule and `permit`
  for the others, each `when { ... }` over the request's context. One `is_authorized` call: Deny with
  reasons means a deny rule matched; Deny without reasons means no rule matched; Allow's reasons are
  every permit rule that matched, combined in Python (`combine`) like zen's rows. Cedar has no
  floating-point numbers, so amounts go in as whole cents and confidences as thousandths (the rule
  list's cut points are whole cents and thousandths, so nothing is rounded across a cut);
- a hand-written if/else (`floor`, written from the table below, not generated): the oracle.

The semantics, as aios has them and `combine` writes them once for the two peers: any matched deny
rule denies; otherwise every matched escalation applies (the outcome is the set of their roles);
otherwise a matched automate rule automates, unless the agent's confidence is below the bar (0.8),
when the owner of the first matching automate rule's policy decides; no rule at all: the default
escalation. Engines are compared on the OUTCOME only: the decision and the set of roles.

Every engine is checked against the floor on every request before anything is timed; the first
disagreement aborts (exit 1) with the request printed. Then each call is timed alone with
perf_counter_ns: each round runs every engine over all the requests in turn, in an order reversed
from round to round, so drift on the machine hits them alike (`--interleave` takes turns request by
request instead: every call then starts with caches the other engines left cold). The timed call is
what a caller makes for the full answer: zen's `ZenEngine.evaluate` (the static-loader path:
`ZenDecision.evaluate` builds a tokio runtime per call and is ~25x slower) plus `combine`; Cedar's
context built, `is_authorized` with a pre-parsed `PolicySet` and `Entities`, plus `combine`; aios
`Constitution.decide_dict` (the whole decision: people, deadline, reasons, words; with and without
counterfactuals) and `Engine.outcome` (decision and roles only).

    python bench/peers.py [--requests 20000] [--rounds 3] [--seed 12] [--interleave] [--json]

The peers are the optional `bench` extra (`pip install -e '.[bench]'`); without them the script
says which are missing and measures the others.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import operator
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aios_policy.constitution.dates import parse_moment
from aios_policy.engine.facade import Constitution

REPO = Path(__file__).resolve().parent.parent
ACTION = "expense.submit"
AT = "2026-03-10T10:00:00-05:00"
ZONE = "America/New_York"

Outcome = tuple[str, frozenset[str]]  # the decision and the set of roles it escalates to
Request = dict[str, Any]

# the rule list: data ------------------------------------------------------------------------------
ROLES = {  # role: (title, authority, reports_to)
    "ceo": ("Chief Executive", 100, None),
    "cfo": ("Chief Financial Officer", 90, "ceo"),
    "finance_controller": ("Finance Controller", 80, "cfo"),
    "legal_counsel": ("Legal Counsel", 75, "ceo"),
    "compliance_officer": ("Compliance Officer", 70, "ceo"),
    "department_head": ("Department Head", 60, "ceo"),
    "procurement_lead": ("Procurement Lead", 55, "cfo"),
    "it_security": ("IT Security Lead", 50, "ceo"),
    "finance_ops": ("Finance Operations", 40, "finance_controller"),
    "team_manager": ("Team Manager", 30, "department_head"),
}
DEFAULT_ROLE = "finance_controller"  # no rule covers the request
BAR = 0.8  # an agent's confidence needed to automate
DEPARTMENTS = {  # department: (automated up to, team manager up to; above: the department head)
    "engineering": (500, 2500), "sales": (300, 2000), "marketing": (400, 3000), "finance": (250, 1500),
    "operations": (600, 3000), "legal": (200, 1500), "hr": (250, 1000), "support": (150, 800),
}
THRESHOLDS = {
    **{f"{d}.auto_limit": auto for d, (auto, _) in DEPARTMENTS.items()},
    **{f"{d}.manager_limit": manager for d, (_, manager) in DEPARTMENTS.items()},
    "expenses.controller_above": 10000, "expenses.cfo_above": 25000, "expenses.ceiling": 100000,
}
POLICIES = {  # id: (title, owner, summary); the order is the order of the policy files and of RULES
    "departments": ("Department limits", "finance_ops", "Each department automates small expenses; its "
                    "team manager and then its head approve larger ones."),
    "amounts": ("Amount tiers", "cfo", "Large expenses need the controller, then the CFO; the largest are refused."),
    "categories": ("Categories", "compliance_officer", "Some categories are refused, some need a specialist."),
    "vendors": ("New vendors", "procurement_lead", "New vendors are checked by procurement and legal."),
    "agents": ("Agent confidence", "compliance_officer", "Unsure agents get a person's eye."),
}


def _rule(id: str, policy: str, when: list[tuple[str, str, Any]], outcome: str, role: str | None = None,
          ) -> dict[str, Any]:
    """A rule: all of `when` ((field, op, value); a value {"threshold": name} reads THRESHOLDS) holds."""
    return {"id": id, "policy": policy, "when": when, "outcome": outcome, "role": role}


def _limit(name: str) -> dict[str, str]:
    return {"threshold": name}


RULES: list[dict[str, Any]] = [
    *[rule for d in DEPARTMENTS for rule in (
        _rule(f"{d}-auto", "departments", [("department", "eq", d), ("amount", "lte", _limit(f"{d}.auto_limit"))],
              "automate"),
        _rule(f"{d}-manager", "departments", [("department", "eq", d), ("amount", "gt", _limit(f"{d}.auto_limit")),
                                              ("amount", "lte", _limit(f"{d}.manager_limit"))],
              "escalate", "team_manager"),
        _rule(f"{d}-head", "departments", [("department", "eq", d), ("amount", "gt", _limit(f"{d}.manager_limit"))],
              "escalate", "department_head"))],
    _rule("amount-controller", "amounts", [("amount", "gt", _limit("expenses.controller_above"))],
          "escalate", "finance_controller"),
    _rule("amount-cfo", "amounts", [("amount", "gt", _limit("expenses.cfo_above"))], "escalate", "cfo"),
    _rule("amount-ceiling", "amounts", [("amount", "gt", _limit("expenses.ceiling"))], "deny"),
    _rule("category-prohibited", "categories", [("category", "in", ["alcohol", "gambling", "personal"])], "deny"),
    _rule("category-gifts", "categories", [("category", "eq", "gifts"), ("amount", "gt", 100)],
          "escalate", "compliance_officer"),
    _rule("category-entertainment", "categories", [("category", "eq", "entertainment"), ("amount", "gt", 500)],
          "escalate", "finance_controller"),
    _rule("category-consulting", "categories", [("category", "eq", "consulting")], "escalate", "procurement_lead"),
    _rule("category-hardware", "categories", [("category", "eq", "hardware"), ("amount", "gt", 2000)],
          "escalate", "it_security"),
    _rule("category-software", "categories", [("category", "eq", "software"), ("amount", "gt", 1000)],
          "escalate", "it_security"),
    _rule("category-meals", "categories", [("category", "eq", "meals"), ("amount", "gt", 250)],
          "escalate", "team_manager"),
    _rule("category-travel", "categories", [("category", "eq", "travel"), ("amount", "gt", 5000)],
          "escalate", "department_head"),
    _rule("category-training", "categories", [("category", "eq", "training"), ("amount", "lte", 2000)], "automate"),
    _rule("vendor-new", "vendors", [("vendor_is_new", "eq", True), ("amount", "gt", 1000)],
          "escalate", "procurement_lead"),
    _rule("vendor-new-large", "vendors", [("vendor_is_new", "eq", True), ("amount", "gt", 20000)],
          "escalate", "legal_counsel"),
    _rule("vendor-new-consulting", "vendors", [("vendor_is_new", "eq", True), ("category", "eq", "consulting")],
          "escalate", "legal_counsel"),
    _rule("vendor-new-hospitality", "vendors", [("vendor_is_new", "eq", True),
                                                ("category", "in", ["gifts", "entertainment"])], "deny"),
    _rule("vendor-known-petty", "vendors", [("vendor_is_new", "eq", False), ("amount", "lte", 50)], "automate"),
    _rule("agent-unsure", "agents", [("confidence", "lt", 0.6), ("amount", "gt", 1000)],
          "escalate", "finance_controller"),
    _rule("agent-guessing", "agents", [("confidence", "lt", 0.3)], "deny"),
    _rule("agent-unsure-new-vendor", "agents", [("confidence", "lt", 0.7), ("vendor_is_new", "eq", True)],
          "escalate", "compliance_officer"),
]
CATEGORIES = ("travel", "meals", "software", "hardware", "training", "office", "entertainment", "gifts",
              "consulting", "alcohol", "gambling", "personal")
OPS: dict[str, Callable[[Any, Any], bool]] = {"eq": operator.eq, "lt": operator.lt, "lte": operator.le,
                                              "gt": operator.gt, "in": lambda field, values: field in values}


def value_of(value: Any) -> Any:
    """A condition's value, with a threshold read from THRESHOLDS."""
    return THRESHOLDS[value["threshold"]] if isinstance(value, dict) else value


# the requests -------------------------------------------------------------------------------------
def generate_requests(count: int, seed: int = 12) -> list[Request]:
    """Expense requests from an agent: amounts (whole cents) at and around every cut the rules make and
    spread over 0.01..150,000; every department and category (and one of each the rules never name);
    new vendors one time in four; confidences at and around the rules' cuts and the bar."""
    rng = random.Random(seed)
    amount_cuts = sorted({value_of(v) for r in RULES for f, _, v in r["when"] if f == "amount"})
    confidence_cuts = sorted({value_of(v) for r in RULES for f, _, v in r["when"] if f == "confidence"} | {BAR})
    known, departments = list(DEPARTMENTS), [*DEPARTMENTS, "research"]
    categories = [*CATEGORIES, "other"]
    weights = [1 if c in ("alcohol", "gambling", "personal") else 8 for c in categories]  # refusals are rare
    requests = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.5:
            cents = round(rng.choice(amount_cuts) * 100) + rng.choice((-1, 0, 0, 1))
        elif roll < 0.8:
            cents = rng.randrange(1, 60_000)
        else:
            cents = round(math.exp(rng.uniform(0, math.log(15_000_000))))
        roll = rng.random()
        if roll < 0.3:
            confidence = round(rng.choice(confidence_cuts) + rng.choice((-0.001, 0, 0.001)), 3)
        elif roll < 0.8:
            confidence = round(rng.uniform(0.8, 1.0), 3)
        else:
            confidence = round(rng.uniform(0.2, 1.0), 3)
        requests.append({
            "id": f"exp-{index:05d}", "action": ACTION, "actor": {"id": "expense-agent", "kind": "agent"},
            "amount": max(cents, 1) / 100, "currency": "USD",
            "attributes": {"department": rng.choice(departments) if rng.random() < 0.1 else rng.choice(known),
                           "category": rng.choices(categories, weights)[0],
                           "vendor_is_new": rng.random() < 0.25},
            "confidence": confidence, "at": AT})
    return requests


def rule_matches(requests: list[Request]) -> dict[str, int]:
    """How many of the requests each rule matches (a rule no request reaches measures nothing)."""
    counts = dict.fromkeys((rule["id"] for rule in RULES), 0)
    for request in requests:
        for rule in RULES:
            if all(OPS[op](_field(request, f), value_of(v)) for f, op, v in rule["when"]):
                counts[rule["id"]] += 1
    return counts


def _field(request: Request, name: str) -> Any:
    return request[name] if name in ("amount", "confidence") else request["attributes"][name]


# the combination, written once for the peers that return the matched rules ---------------------------
def combine(matched: list[int], confidence: float) -> Outcome:
    """The outcome of the rules at these indices of RULES (in any order): strictest wins, escalations combine."""
    rules = [RULES[i] for i in sorted(matched)]
    if any(r["outcome"] == "deny" for r in rules):
        return ("deny", frozenset())
    roles = frozenset(r["role"] for r in rules if r["outcome"] == "escalate")
    if roles:
        return ("escalate", roles)
    automate = next((r for r in rules if r["outcome"] == "automate"), None)
    if automate is None:
        return ("escalate", frozenset({DEFAULT_ROLE}))
    if not confidence >= BAR:
        return ("escalate", frozenset({POLICIES[automate["policy"]][1]}))
    return ("automate", frozenset())


# the floor: hand-written if/else, the oracle -------------------------------------------------------
FLOOR_LIMITS = {"engineering": (500, 2500), "sales": (300, 2000), "marketing": (400, 3000),
                "finance": (250, 1500), "operations": (600, 3000), "legal": (200, 1500), "hr": (250, 1000),
                "support": (150, 800)}
DENY: Outcome = ("deny", frozenset())
AUTOMATE: Outcome = ("automate", frozenset())


def floor(request: Request) -> Outcome:
    """The rules above by hand, as someone would write them without an engine."""
    amount, confidence = request["amount"], request["confidence"]
    attributes = request["attributes"]
    department, category, new = attributes["department"], attributes["category"], attributes["vendor_is_new"]
    if (amount > 100000 or category in ("alcohol", "gambling", "personal") or confidence < 0.3
            or (new and category in ("gifts", "entertainment"))):
        return DENY
    roles = set()
    owner = None  # of the first automate rule that matches
    limits = FLOOR_LIMITS.get(department)
    if limits is not None:
        if amount <= limits[0]:
            owner = "finance_ops"
        elif amount <= limits[1]:
            roles.add("team_manager")
        else:
            roles.add("department_head")
    if amount > 10000:
        roles.add("finance_controller")
        if amount > 25000:
            roles.add("cfo")
    if category == "gifts":
        if amount > 100:
            roles.add("compliance_officer")
    elif category == "entertainment":
        if amount > 500:
            roles.add("finance_controller")
    elif category == "consulting":
        roles.add("procurement_lead")
        if new:
            roles.add("legal_counsel")
    elif category == "hardware":
        if amount > 2000:
            roles.add("it_security")
    elif category == "software":
        if amount > 1000:
            roles.add("it_security")
    elif category == "meals":
        if amount > 250:
            roles.add("team_manager")
    elif category == "travel":
        if amount > 5000:
            roles.add("department_head")
    elif category == "training" and amount <= 2000 and owner is None:
        owner = "compliance_officer"
    if new:
        if amount > 1000:
            roles.add("procurement_lead")
            if amount > 20000:
                roles.add("legal_counsel")
        if confidence < 0.7:
            roles.add("compliance_officer")
    elif amount <= 50 and owner is None:
        owner = "procurement_lead"
    if confidence < 0.6 and amount > 1000:
        roles.add("finance_controller")
    if roles:
        return ("escalate", frozenset(roles))
    if owner is None:
        return ("escalate", frozenset({DEFAULT_ROLE}))
    if confidence < 0.8:
        return ("escalate", frozenset({owner}))
    return AUTOMATE


# a generic Python rule list: the same data interpreted in a loop -------------------------------------
def rule_list_decider() -> Callable[[Request], Outcome]:
    """Each condition compiled to a closure once; a request runs every rule's closures until one fails."""
    def test(field: str, op: str, value: Any) -> Callable[[Request], bool]:
        compare, limit = OPS[op], value_of(value)
        if field in ("amount", "confidence"):
            return lambda request: compare(request[field], limit)
        return lambda request: compare(request["attributes"][field], limit)
    compiled = [(index, [test(*condition) for condition in rule["when"]]) for index, rule in enumerate(RULES)]

    def decide(request: Request) -> Outcome:
        matched = []
        for index, tests in compiled:
            for holds in tests:
                if not holds(request):
                    break
            else:
                matched.append(index)
        return combine(matched, request["confidence"])
    return decide


# aios: a constitution in a folder ------------------------------------------------------------------
AIOS_PATHS = {"amount": "amount", "confidence": "confidence", "department": "attributes.department",
              "category": "attributes.category", "vendor_is_new": "attributes.vendor_is_new"}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def _aios_comparison(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"path": AIOS_PATHS[field], "op": op, **(value if isinstance(value, dict) else {"value": value})}


def _aios_rule(rule: dict[str, Any]) -> dict[str, Any]:
    comparisons = [_aios_comparison(*condition) for condition in rule["when"]]
    written: dict[str, Any] = {
        "id": rule["id"], "when": comparisons[0] if len(comparisons) == 1 else {"all": comparisons},
        "outcome": rule["outcome"], "reason": f"Rule {rule['id']} of the peer benchmark."}
    if rule["outcome"] == "escalate":
        written["escalation"] = {"stages": [{"role": rule["role"]}], "sla": "1 business day"}
    return written


def write_constitution(root: Path) -> Path:
    """The rule list as an aios constitution under root/constitution (schemas beside it); its path."""
    shutil.copytree(REPO / "schemas", root / "schemas", dirs_exist_ok=True)
    folder = root / "constitution"
    _write(folder / "constitution.json", {
        "$schema": "../schemas/constitution.schema.json", "schema_version": 1, "name": "Peer Benchmark Co",
        "currency": "USD", "timezone": ZONE, "agents": {"min_confidence": BAR},
        "default_escalation": {"stages": [{"role": DEFAULT_ROLE}], "sla": "1 business day"}})
    _write(folder / "org.json", {
        "$schema": "../schemas/org.schema.json",
        "roles": [{"id": role, "title": title, "authority": authority, **({"reports_to": boss} if boss else {})}
                  for role, (title, authority, boss) in ROLES.items()],
        "people": [{"id": f"{role.replace('_', '-')}-1", "name": f"The {title}", "roles": [role]}
                   for role, (title, _, _) in ROLES.items()]})
    _write(folder / "thresholds.json", {
        "$schema": "../schemas/thresholds.schema.json",
        "thresholds": {name: {"value": value, "unit": "USD", "description": f"Peer benchmark limit {name}."}
                       for name, value in THRESHOLDS.items()}})
    for number, (policy, (title, owner, summary)) in enumerate(POLICIES.items(), start=1):
        _write(folder / "policies" / f"{number:02d}-{policy}.json", {
            "$schema": "../../schemas/policy.schema.json", "id": policy, "title": title, "owner": owner,
            "summary": summary, "actions": [ACTION],
            "rules": [_aios_rule(rule) for rule in RULES if rule["policy"] == policy]})
    return folder


def aios_decision_outcome(decision: dict[str, Any]) -> Outcome:
    escalation = decision["escalation"] or {}
    return (decision["decision"], frozenset(stage["role"] for stage in escalation.get("stages", ())))


# zen-engine: a JDM decision table -------------------------------------------------------------------
ZEN_FIELDS = {"amount": "amount", "department": "attributes.department", "category": "attributes.category",
              "vendor_is_new": "attributes.vendor_is_new", "confidence": "confidence"}
ZEN_OPS = {"lt": "<", "lte": "<=", "gt": ">"}


def _zen_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _zen_cell(conditions: list[tuple[str, Any]]) -> str:
    """One cell of a row: a unary test of its column (`$` is the field), conditions joined by `and`."""
    parts = []
    for op, value in conditions:
        if op == "eq":
            parts.append(_zen_literal(value))
        elif op == "in":
            parts.append(", ".join(_zen_literal(v) for v in value))
        else:
            parts.append(f"{ZEN_OPS[op]} {value_of(value)}")
    return " and ".join(parts)


def zen_table() -> dict[str, Any]:
    """The rule list as one decision table (hit policy collect); each row outputs its rule's index."""
    inputs = [{"id": f"in_{name}", "name": name, "field": path} for name, path in ZEN_FIELDS.items()]
    rows = []
    for index, rule in enumerate(RULES):
        row = {"_id": rule["id"], "out_rule": str(index)}
        for name in ZEN_FIELDS:
            row[f"in_{name}"] = _zen_cell([(op, v) for f, op, v in rule["when"] if f == name])
        rows.append(row)
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {"id": "rules", "type": "decisionTableNode", "name": "Expense rules", "position": {"x": 300, "y": 0},
             "content": {"hitPolicy": "collect", "inputs": inputs,
                         "outputs": [{"id": "out_rule", "name": "rule", "field": "rule"}], "rules": rows}},
            {"id": "response", "type": "outputNode", "name": "Response", "position": {"x": 600, "y": 0}}],
        "edges": [{"id": "e1", "sourceId": "request", "targetId": "rules", "type": "edge"},
                  {"id": "e2", "sourceId": "rules", "targetId": "response", "type": "edge"}]}


def zen_decider() -> Callable[[Request], Outcome]:
    import zen  # the bench extra

    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"expenses.json": zen_table()}}})
    evaluate = engine.evaluate

    def decide(request: Request) -> Outcome:
        rows = evaluate("expenses.json", request)["result"]
        return combine([int(row["rule"]) for row in rows], request["confidence"])
    return decide


# Cedar: a policy set ----------------------------------------------------------------------------------
CEDAR_SCALE = {"amount": 100, "confidence": 1000}  # Cedar has no floats: whole cents, thousandths


def _cedar_literal(field: str, value: Any) -> str:
    if field in CEDAR_SCALE:
        return str(round(value_of(value) * CEDAR_SCALE[field]))
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _cedar_test(field: str, op: str, value: Any) -> str:
    here = f"context.{field}"
    if op == "in":
        return f"[{', '.join(_cedar_literal(field, v) for v in value)}].contains({here})"
    symbol = {"eq": "==", "lt": "<", "lte": "<=", "gt": ">"}[op]
    return f"{here} {symbol} {_cedar_literal(field, value)}"


def cedar_policies() -> str:
    """The rule list as Cedar policies, in its order (Cedar names them policy0, policy1, ...)."""
    policies = []
    for rule in RULES:
        effect = "forbid" if rule["outcome"] == "deny" else "permit"
        tests = " && ".join(_cedar_test(*condition) for condition in rule["when"])
        policies.append(f'@id("{rule["id"]}")\n{effect} (principal, action == Action::"submit", resource)\n'
                        f"when {{ {tests} }};")
    return "\n".join(policies) + "\n"


def cedar_decider() -> Callable[[Request], Outcome]:
    import cedarpy  # the bench extra

    policy_set = cedarpy.PolicySet.from_str(cedar_policies())
    entities = cedarpy.Entities.from_json_str("[]")
    index = {f"policy{i}": i for i in range(len(RULES))}
    allow, is_authorized = cedarpy.Decision.Allow, cedarpy.is_authorized

    def decide(request: Request) -> Outcome:
        attributes = request["attributes"]
        context = {"amount": round(request["amount"] * 100), "confidence": round(request["confidence"] * 1000),
                   "department": attributes["department"], "category": attributes["category"],
                   "vendor_is_new": attributes["vendor_is_new"]}
        result = is_authorized({"principal": 'Agent::"expense-agent"', "action": 'Action::"submit"',
                                "resource": f'Expense::"{request["id"]}"', "context": context}, policy_set, entities)
        diagnostics = result.diagnostics
        if diagnostics.errors:  # a policy that could not be evaluated: fail closed, as the others do
            return ("escalate", frozenset({DEFAULT_ROLE}))
        if result.decision != allow:
            return DENY if diagnostics.reasons else ("escalate", frozenset({DEFAULT_ROLE}))
        return combine([index[reason] for reason in diagnostics.reasons], request["confidence"])
    return decide


# the contestants -------------------------------------------------------------------------------------
def _as_is(answer: Any) -> Outcome:
    return answer  # the peers' calls answer an Outcome already


class Contestant:
    """A name, the call that is timed, and how its answer becomes an Outcome (not timed)."""

    def __init__(self, name: str, call: Callable[[Request, datetime], Any],
                 outcome: Callable[[Any], Outcome] = _as_is) -> None:
        self.name, self.call, self.outcome = name, call, outcome


def _ignoring_now(decide: Callable[[Request], Outcome]) -> Callable[[Request, datetime], Outcome]:
    return lambda request, now: decide(request)


def contestants(constitution: Constitution) -> tuple[list[Contestant], list[str]]:
    """Every engine that can run here, and the peers that are missing (with why)."""
    rule_list = rule_list_decider()
    found = [Contestant("hand-written if/else", lambda request, now: floor(request)),
             Contestant("python rule list", lambda request, now: rule_list(request))]
    missing = []
    for label, package, make in (("zen-engine", "zen-engine", zen_decider), ("cedarpy", "cedarpy", cedar_decider)):
        try:
            decide = make()
        except ImportError:
            missing.append(f"{label} (pip install {package}, or the `bench` extra: pip install -e '.[bench]')")
            continue
        found.append(Contestant(label, _ignoring_now(decide)))
    engine = constitution.engine
    found += [
        Contestant("aios decide_dict (full)", constitution.decide_dict, aios_decision_outcome),
        Contestant("aios decide_dict (no counterfactuals)",
                   lambda request, now: constitution.decide_dict(request, now, counterfactuals=False),
                   aios_decision_outcome),
        Contestant("aios Engine.outcome", engine.outcome, lambda key: (key.decision, frozenset(key.roles))),
    ]
    return found, missing


def verify(found: list[Contestant], requests: list[Request], nows: list[datetime]) -> str | None:
    """Every contestant against the floor on every request; the first disagreement, described."""
    for request, now in zip(requests, nows, strict=True):
        expected = floor(request)
        for contestant in found:
            got = contestant.outcome(contestant.call(request, now))
            if got != expected:
                return (f"{contestant.name} disagrees with the floor on {json.dumps(request)}: "
                        f"{_shown(got)}, the floor says {_shown(expected)}")
    return None


def _shown(outcome: Outcome) -> str:
    decision, roles = outcome
    return decision + (f" to {', '.join(sorted(roles))}" if roles else "")


@contextmanager
def _collected() -> Iterator[None]:
    gc.collect()
    yield
    gc.collect()


def measure(found: list[Contestant], requests: list[Request], nows: list[datetime], rounds: int,
            interleave: bool = False, warmup: int = 500) -> dict[str, list[int]]:
    """Nanoseconds per call. Each round runs every contestant over all the requests in turn, in an order
    reversed from round to round (each engine warm, as in a loop of its own); interleave: the
    contestants take turns request by request instead (each call then starts with caches the others
    left cold, which costs the smallest engines most). Request i is decided at nows[i]."""
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = {c.name: [] for c in found}
    pairs = list(zip(requests, nows, strict=True))
    for contestant in found:  # warm every path before the first sample
        for request, now in pairs[:warmup]:
            contestant.call(request, now)
    for round_ in range(rounds):
        order = [(samples[c.name].append, c.call) for c in (found if round_ % 2 == 0 else found[::-1])]
        if interleave:
            with _collected():
                for request, now in pairs:
                    for keep, call in order:
                        started = clock()
                        call(request, now)
                        keep(clock() - started)
            continue
        for keep, call in order:
            with _collected():
                for request, now in pairs:
                    started = clock()
                    call(request, now)
                    keep(clock() - started)
    return samples


def first_pass(rounds: int, requests: list[Request], nows: list[datetime]) -> dict[str, list[int]]:
    """Nanoseconds per full decision on an engine that has decided nothing yet, once per round: each
    request's cell is worked out the first time a request falls in it (what a freshly started server
    pays), and the count of distinct cells is what this pass learns."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as scratch:
            constitution = Constitution.load(write_constitution(Path(scratch)))
        decide = constitution.decide_dict
        with _collected():
            for request, now in zip(requests, nows, strict=True):
                started = clock()
                decide(request, now)
                samples.append(clock() - started)
    return {"aios decide_dict (full, first pass)": samples}


def moments(count: int) -> list[datetime]:
    """The moment each request is decided at: the real clock's kind (UTC), one every 3.7 s from a
    Tuesday morning, so a long run crosses closing time and the next day as a server's clock would."""
    start = parse_moment(AT, ZoneInfo(ZONE))
    assert start is not None
    start = start.astimezone(UTC)
    return [start + timedelta(seconds=3.7 * index) for index in range(count)]


def _p99(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def summarise(samples: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    stats = {name: {"p50_us": statistics.median(v) / 1000, "p99_us": _p99(v) / 1000,
                    "mean_us": statistics.fmean(v) / 1000, "samples": len(v)} for name, v in samples.items()}
    zen = stats.get("zen-engine")
    for figures in stats.values():
        for key in ("p50", "p99", "mean"):
            figures[f"x_zen_{key}"] = figures[f"{key}_us"] / zen[f"{key}_us"] if zen else math.nan
    return stats


def timer_overhead(samples: int = 100_000) -> float:
    """The median cost of one perf_counter_ns pair, in microseconds (inside every sample)."""
    clock = time.perf_counter_ns
    gaps = []
    for _ in range(samples):
        started = clock()
        gaps.append(clock() - started)
    return statistics.median(gaps) / 1000


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("aios-policy", "zen-engine", "cedarpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "missing"
    return found


def render(report: dict[str, Any]) -> str:
    lines = [f"Python {report['python']}, {report['cpus']} CPUs, load average (1, 5, 15 min) {report['load_start']} "
             f"at the start; versions {', '.join(f'{k} {v}' for k, v in report['versions'].items())}",
             f"{report['rules']} rules, {report['requests']} requests (seed {report['seed']}: "
             f"{', '.join(f'{v} {k}' for k, v in report['outcomes'].items())}), {report['rounds']} rounds "
             f"({report['order']}, the order reversed each round); "
             f"every engine agreed with the floor on every request; timer overhead "
             f"{report['timer_overhead_us']:.2f} us per sample, included"]
    lines += [f"missing peer: {name}" for name in report["missing"]]
    if report["rules_never_matched"]:
        lines.append(f"rules no request matched: {', '.join(report['rules_never_matched'])}")
    lines.append(f"  {'':40}{'p50 us':>10}{'p99 us':>10}{'mean us':>10}{'x zen p50':>11}{'x zen p99':>11}"
                 f"{'x zen mean':>12}")
    for name, f in report["timings"].items():
        ratios = ("" if math.isnan(f["x_zen_p50"]) else
                  f"{f['x_zen_p50']:>10.2f}x{f['x_zen_p99']:>10.2f}x{f['x_zen_mean']:>11.2f}x")
        lines.append(f"  {name:40}{f['p50_us']:>10.2f}{f['p99_us']:>10.2f}{f['mean_us']:>10.2f}{ratios}")
    lines.append(f"load average at the end {report['load_end']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="how many generated requests")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over all the requests")
    parser.add_argument("--seed", type=int, default=12, help="seed of the generated requests")
    parser.add_argument("--interleave", action="store_true",
                        help="take turns request by request instead of engine by engine within a round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args(argv)
    report: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(), "load_start": _load(),
                              "versions": _versions(), "rules": len(RULES), "requests": options.requests,
                              "seed": options.seed, "rounds": options.rounds,
                              "order": "request by request" if options.interleave else "engine by engine"}
    if not options.json:
        print(f"Python {report['python']}, {report['cpus']} CPUs, load average {report['load_start']}", flush=True)
    requests = generate_requests(options.requests, options.seed)
    nows = moments(len(requests))
    with tempfile.TemporaryDirectory() as scratch:
        constitution = Constitution.load(write_constitution(Path(scratch)))
    found, report["missing"] = contestants(constitution)
    for name in report["missing"]:
        print(f"missing peer, not measured: {name}", file=sys.stderr)
    disagreement = verify(found, requests, nows)
    if disagreement:
        print(f"DISAGREEMENT: {disagreement}", file=sys.stderr)
        return 1
    report["outcomes"] = {}
    for request in requests:
        decision = floor(request)[0]
        report["outcomes"][decision] = report["outcomes"].get(decision, 0) + 1
    report["rules_never_matched"] = [rule for rule, count in rule_matches(requests).items() if not count]
    report["timer_overhead_us"] = timer_overhead()
    report["timings"] = summarise({**measure(found, requests, nows, options.rounds, options.interleave),
                                   **first_pass(options.rounds, requests, nows)})
    report["load_end"] = _load()
    print(json.dumps(report, indent=2) if options.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
