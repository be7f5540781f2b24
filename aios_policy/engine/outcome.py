"""What a decision comes to, as one comparable value: the `Outcome` and its two orders.

An outcome is the decision and, for an escalation, who approves stage by stage, how many approvals
each stage needs and what happens when nobody answers. The engine ranks outcomes by *strictness*
(which of two matched outcomes stands); the behavioural diff ranks a move between two outcomes by
*risk* (loosened, tightened or re-routed). Both orders are written here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from aios_policy.constitution.model import Escalation

# deny > escalate > needs_info > automate: how strict each kind of decision is
DECISION_RANK = {"automate": 0, "needs_info": 1, "escalate": 2, "deny": 3}
# what happens when nobody answers in time: approving is the least strict
TIMEOUT_RANK = {"approve": 0, "escalate": 1, "deny": 2, "": 1}


class Outcome(NamedTuple):
    """The decision, and for an escalation its stages' roles and approval counts and its timeout."""

    decision: str  # automate | escalate | deny | needs_info
    roles: tuple[str, ...] = ()
    approvals: tuple[int, ...] = ()
    timeout: str = ""  # escalate | deny | approve, for escalations
    kinds: tuple[str, ...] = ()  # each stage's kind, with its quorum when it has one (`approve:all`)

    @classmethod
    def of(cls, decision: str, escalation: Escalation | None) -> Outcome:
        if escalation is None:
            return cls(decision)
        stages = escalation.stages
        kinds = tuple(s.kind + (f":{s.quorum}" if s.quorum else "") for s in stages)
        return cls(decision, tuple(s.who for s in stages), tuple(s.approvals for s in stages),
                   escalation.on_timeout.then, kinds if any(k != "approve" for k in kinds) else ())

    def waited(self) -> list[tuple[str, int]]:
        """(approver, approvals) of the stages that hold the escalation: approve and sign, not advise or notify."""
        kinds = self.kinds or ("approve",) * len(self.roles)
        return [(r, n) for r, n, k in zip(self.roles, self.approvals, kinds, strict=True)
                if k.split(":")[0] in ("approve", "sign")]

    def strictness(self, authority: Callable[[str], int]) -> tuple[int, int, int, int, int]:
        """The key that orders outcomes from least to most strict: the decision, then the highest
        authority reached, then more stages that are waited for, more approvals, and a stricter timeout."""
        waited = self.waited()
        return (DECISION_RANK[self.decision], max((authority(r) for r, _ in waited), default=0), len(waited),
                sum(n for _, n in waited), TIMEOUT_RANK.get(self.timeout, 1))


NEEDS_INFO = Outcome("needs_info")


def risk(base: Outcome, head: Outcome, base_authority: Mapping[str, int], head_authority: Mapping[str, int]) -> str:
    """loosened, tightened, mixed or re-routed: how a move from base to head changes control."""
    return verdict(directions(base, head, base_authority, head_authority))


def directions(base: Outcome, head: Outcome, base_authority: Mapping[str, int],
               head_authority: Mapping[str, int]) -> set[str]:
    """Which ways the move goes, part by part: a less strict decision loosens whatever else changes; between
    two escalations, a lower approver, fewer stages, fewer approvals and approval on timeout each loosen
    and their opposites tighten, so a change that does both is seen as both."""
    before_rank, after_rank = DECISION_RANK[base.decision], DECISION_RANK[head.decision]
    if before_rank != after_rank:
        return {"loosened" if after_rank < before_rank else "tightened"}
    if base.decision != "escalate":
        return set()
    old_waited, new_waited = base.waited(), head.waited()
    before = max((base_authority.get(r, 0) for r, _ in old_waited), default=0)
    after = max((head_authority.get(r, 0) for r, _ in new_waited), default=0)
    found = set()
    for old, new in ((before, after), (len(old_waited), len(new_waited)),
                     (sum(n for _, n in old_waited), sum(n for _, n in new_waited)),
                     (TIMEOUT_RANK.get(base.timeout, 1), TIMEOUT_RANK.get(head.timeout, 1))):
        if old != new:
            found.add("loosened" if new < old else "tightened")
    return found


def verdict(found: set[str]) -> str:
    """One word for the directions of a move: both ways is mixed, neither is re-routed."""
    if len(found) > 1:
        return "mixed"
    return next(iter(found), "re-routed")
