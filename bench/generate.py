"""Generate a large, valid constitution for benchmarks: N policies over M actions.

Every policy has tiered rules on amount (automate / escalate / escalate higher / deny), an agent
confidence bar, attribute conditions and an obligation, like the bundled example's policies.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def _schema(path: Path, root: Path, kind: str) -> str:
    depth = len(path.relative_to(root).parts)
    return "../" * depth + f"schemas/{kind}.schema.json"


def generate(root: Path, policies: int = 1000, actions: int = 50) -> Path:
    """Write the constitution under root/constitution (with root/schemas beside it); return its path."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(SCHEMAS, root / "schemas")
    folder = root / "constitution"
    roles = [
        {"id": "owner", "title": "Owner", "authority": 100},
        {"id": "finance_manager", "title": "Finance Manager", "authority": 80, "reports_to": "owner"},
        {"id": "ops_manager", "title": "Operations Manager", "authority": 60, "reports_to": "finance_manager"},
        {"id": "team_lead", "title": "Team Lead", "authority": 40, "reports_to": "ops_manager"},
    ]
    people = [{"id": f"person{i}", "name": f"Person {i}", "roles": [roles[i % len(roles)]["id"]],
               "handles": {"github": f"person{i}"}} for i in range(12)]
    _write(folder / "constitution.json", {
        "$schema": "../schemas/constitution.schema.json", "schema_version": 1, "name": "Generated Co",
        "currency": "USD", "timezone": "America/New_York", "agents": {"min_confidence": 0.8},
        "default_escalation": {"stages": [{"role": "owner"}], "sla": "1 business day"}})
    _write(folder / "org.json", {"$schema": "../schemas/org.schema.json", "roles": roles, "people": people})
    thresholds = {}
    for a in range(actions):
        thresholds[f"topic{a}.auto_limit"] = {"value": 100 + a, "unit": "USD", "description": "Automated up to here."}
        thresholds[f"topic{a}.manager_limit"] = {"value": 5000 + a, "unit": "USD", "description": "Manager limit."}
    _write(folder / "thresholds.json", {"$schema": "../schemas/thresholds.schema.json", "thresholds": thresholds})
    for p in range(policies):
        a = p % actions
        limit, manager = {"threshold": f"topic{a}.auto_limit"}, {"threshold": f"topic{a}.manager_limit"}
        tier = p // actions  # policies sharing an action cut amount at different points
        path = folder / "policies" / f"policy{p:04d}.json"
        escalation = {"stages": [{"role": "ops_manager"}], "sla": "4 business hours",
                      "require": {"type": "object", "required": ["ticket"],
                                  "properties": {"ticket": {"type": "string"}}}}
        _write(path, {
            "$schema": _schema(path, folder, "policy"), "id": f"policy{p:04d}", "title": f"Policy {p}",
            "owner": "ops_manager", "summary": f"Generated policy {p} for action {a}.",
            "actions": [f"topic{a}.act"], "min_confidence": 0.85,
            "rules": [
                {"id": f"p{p}-auto", "outcome": "automate", "reason": "Small amounts are routine.",
                 "when": {"all": [{"path": "amount", "op": "lte", **limit},
                                  {"path": "attributes.region", "op": "eq", "value": f"r{tier}"}]}},
                {"id": f"p{p}-manager", "outcome": "escalate", "reason": "Mid amounts need a manager.",
                 "escalation": escalation,
                 "when": {"all": [{"path": "amount", "op": "gt", **limit},
                                  {"path": "amount", "op": "lte", **manager}]}},
                {"id": f"p{p}-finance", "outcome": "escalate", "reason": "Large amounts need finance.",
                 "escalation": {"stages": [{"role": "ops_manager"}, {"role": "finance_manager"}],
                                "sla": "1 business day"},
                 "when": {"path": "amount", "op": "gt", **manager},
                 "obligations": [{"kind": "notify", "role": "owner", "text": "Tell the owner."}]},
                {"id": f"p{p}-blocked", "outcome": "deny", "reason": "Blocked counterparties are refused.",
                 "when": {"path": "attributes.counterparty", "op": "in", "value": [f"blocked{tier}", "sanctioned"]}},
                {"id": f"p{p}-vip", "outcome": "escalate", "reason": "Key clients get a manager's eye.",
                 "escalation": escalation,
                 "when": {"all": [{"path": "attributes.tier", "op": "eq", "value": "gold"},
                                  {"path": "amount", "op": "gt", "value": 50 + tier}]}},
            ]})
    return folder


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "bench" / "out" / "generated"
    print(generate(target))
