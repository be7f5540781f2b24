"""A decision in words: its one-line summary, what would change it, and the whole of it as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aios_policy.diagnostics import one_line as escaped

from .outcome import PAST

SHOWN_CHARACTERS = 120  # of a user's text quoted in a message


def one_line(text: Any, limit: int = SHOWN_CHARACTERS) -> str:
    """A user's text as a message may quote it: on one line and printable, whatever it holds (see
    `diagnostics.one_line`), and text longer than limit cut with `…`."""
    text = text if isinstance(text, str) else str(text)
    return escaped(text[:limit]) + ("…" if len(text) > limit else "")


def printable(text: str) -> str:
    """Text with every lone surrogate written as an escape, so it can be printed, logged and sent as UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def summary(action: str, decision: str, reason: str, rules: Sequence[str], escalated_to: str = "",
            missing: Sequence[str] = ()) -> str:
    """`refund.issue: escalated to the Operations Manager (rule `x`): Refunds above ... .`; with several
    contributing rules, `(rules `x`, `y`)` and the first one's reason."""
    if decision == "needs_info":
        return f"{action}: needs {', '.join(f'`{m}`' for m in missing)} before it can be decided."
    by = (f" (rule `{rules[0]}`)" if len(rules) == 1 else
          f" (rules {', '.join(f'`{r}`' for r in rules)})" if rules else "")
    done = f"escalated to {escalated_to}" if decision == "escalate" else PAST[decision]
    return f"{action}: {done}{by}: {reason.rstrip('.')}."


def would(outcome: str, path: str, values: str) -> str:
    """A counterfactual: `would automate at or below $250`, `would be denied with attributes.x above 3`."""
    subject = "" if path == "amount" else f"with {path} "
    return f"would {outcome} {subject}{values}"


def decision_json(decision: dict[str, Any], pretty: bool = True) -> str:
    """Stable JSON: the same decision always gives the same bytes."""
    if pretty:
        return json.dumps(decision, indent=2, ensure_ascii=False)
    return json.dumps(decision, separators=(",", ":"), ensure_ascii=False)


def _approver(approver: dict[str, Any]) -> str:
    contact = approver.get("email") or ", ".join(f"{k} {v}" for k, v in approver.get("handles", {}).items())
    covering = f", covering for {approver['covering_for']}" if approver.get("covering_for") else ""
    return f"{approver['name']} ({contact}{covering})" if contact else f"{approver['name']}{covering}"


def decision_text(decision: dict[str, Any]) -> str:
    lines = [f"{decision['decision'].upper()}  {decision['summary']}"]
    escalation = decision.get("escalation")
    if escalation:
        for number, stage in enumerate(escalation["stages"], 1):
            name = f" ({stage['name']})" if stage.get("name") else ""
            need = f"{stage['approvals']} of " if stage["approvals"] > 1 else ""
            people = "; ".join(_approver(a) for a in stage["approvers"])
            kind = {"sign": " signs", "advise": " is advised (not waited for)",
                    "notify": " is notified (not waited for)"}.get(stage.get("kind", "approve"), "")
            own = f", within {stage['sla']}" if stage.get("sla") and stage.get("sla") != escalation.get("sla") else ""
            lines.append(f"  stage {number}{name}: {stage['role']}{kind}: {need}{people}{own}")
        needed = escalation.get("require", {}).get("required", [])
        if needed:
            lines.append(f"  attach: {', '.join(needed)}")
        if escalation.get("due"):
            timeout = escalation["on_timeout"]
            then = f"escalate to {timeout['role']}" if timeout["then"] == "escalate" else timeout["then"]
            lines.append(f"  due: {escalation['due']} ({escalation['sla']}); if nobody answers: {then}")
    for missing in decision.get("missing", []):
        lines.append(f"  needs {missing['field']}:")
        lines.extend(f"    {o['when']}: {o['decision']}" for o in missing.get("outcomes", []))
    if decision["reasons"]:
        lines.append("  reasons:")
        for reason in decision["reasons"]:
            where = f"{reason['policy']}/{reason['rule']}" if reason["policy"] else reason["rule"]
            lines.append(f"    - {where} ({reason['outcome']}): {reason['text']}")
    lines.extend(f"  {sentence}" for sentence in decision.get("counterfactuals", []))
    for obligation in decision.get("obligations", []):
        role = f" {obligation['role']}" if obligation.get("role") else ""
        lines.append(f"  {obligation['kind']}{role}: {obligation['text']}")
    for entry in decision.get("trace") or []:
        lines.append(f"  trace {entry['policy']}/{entry['rule']}: {entry['why']}")
    version = decision["constitution"]
    commit = (version["commit"] or "no commit")[:12] + (" with uncommitted changes" if version["dirty"] else "")
    lines.append(f"  constitution: {version['name']} @ {commit}; decision {decision['id']}")
    return "\n".join(lines)
