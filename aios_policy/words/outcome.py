"""Outcomes in words: the one place that says what automate, escalate, deny and needs_info read as.

Each function takes the parts of an outcome (any object with `decision`, `roles`, `approvals` and
`timeout`, such as `aios_policy.engine.outcome.Outcome`) and a function naming a role, so the same
sentence can name role ids (for a reviewer comparing files) or titles (for a person).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class OutcomeParts(Protocol):
    @property
    def decision(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def approvals(self) -> tuple[int, ...]: ...

    @property
    def timeout(self) -> str: ...


# after "would": "would automate", "would be denied"
INFINITIVE = {"automate": "automate", "escalate": "escalate", "deny": "be denied", "needs_info": "need more facts"}
# what happened: "automated", "denied"
PAST = {"automate": "automated", "escalate": "escalated", "deny": "denied", "needs_info": "needs more facts"}
# a heading or a badge
HEADING = {"automate": "Automated", "escalate": "Escalated", "deny": "Denied", "needs_info": "Needs info"}
TIMEOUT_NOTE = {"approve": " (approved if nobody answers in time)", "deny": " (denied if nobody answers in time)"}


_RELATIONS = {"manager_of": "manager of", "head_of": "head of", "budget_owner_of": "budget owner of"}


def approver_text(key: str) -> str:
    """A relative approver's key in words: `budget_owner_of:attributes.cost_center` → `budget owner of the
    cost center` (a role id comes back as it is)."""
    relation, _, of = key.partition(":")
    if relation not in _RELATIONS:
        return key
    subject = "the requester" if of == "requester" else "the " + of.rsplit(".", 1)[-1].replace("_", " ")
    return f"{_RELATIONS[relation]} {subject}"


def stages_text(outcome: OutcomeParts, name: Callable[[str], str], article: str = "") -> str:
    """`the Operations Manager then the Finance Manager (2 approvals)`: who approves, stage by stage."""
    return " then ".join(f"{article}{name(role)}" + (f" ({count} approvals)" if count > 1 else "")
                         for role, count in zip(outcome.roles, outcome.approvals, strict=True))


def outcome_text(outcome: OutcomeParts, name: Callable[[str], str] = str, article: str = "") -> str:
    """The outcome after "would": `automate`, `be denied`, `escalate to ops_manager then finance_manager
    (denied if nobody answers in time)`. With name=titles and article="the ", in a person's words."""
    if outcome.decision != "escalate":
        return INFINITIVE[outcome.decision]
    return f"escalate to {stages_text(outcome, name, article)}{TIMEOUT_NOTE.get(outcome.timeout, '')}"
