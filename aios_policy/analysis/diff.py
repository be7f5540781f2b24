"""The behavioural diff: what a change to the constitution does, before it merges.

One report, three lenses: what changed in the files (in the constitution's words), what changes in
behaviour (scenarios, replayed logged requests, every changed region of the input space), and the
risk (loosened, tightened, re-routed), with the owners who must review.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aios_policy.constitution.pipeline import check
from aios_policy.constitution.source import merge_base
from aios_policy.engine.facade import Constitution
from aios_policy.errors import AiosError, InvalidConstitution

from .changes import Change, file_changes
from .impact import Replay, ScenarioChange, replay, scenario_changes
from .regions import Region, changed_actions, regions, sampled

FAIL_ON = ("loosening", "any-change", "never")
RISK_ORDER = {"loosened": 0, "mixed": 1, "tightened": 2, "re-routed": 3}  # how reports list moves


@dataclass
class Side:
    """One version: the ref asked for (None for the working tree), its commit, whether it was dirty."""

    ref: str | None
    commit: str | None
    dirty: bool

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref or "working tree", "commit": self.commit, "dirty": self.dirty}

    @property
    def name(self) -> str:
        commit = f" ({self.commit[:12]})" if self.commit else ""
        if self.ref is None:
            return f"the working tree{commit}{' with edits' if self.dirty else ''}"
        return f"{self.ref}{commit}" if " " in self.ref else f"`{self.ref}`{commit}"


@dataclass
class DiffReport:
    base: Side
    head: Side
    changes: list[Change]
    scenarios: list[ScenarioChange]
    replay: Replay | None
    regions: list[Region]
    actions_analysed: list[str]
    actions_total: int
    owners: list[dict[str, Any]]
    sampled_actions: list[str]  # analysed actions whose space could only be sampled

    def headlines(self) -> list[dict[str, Any]]:
        """One line per distinct move, however many regions and actions it spans, riskiest first:
        what a reviewer reads before the regions."""
        moves: dict[tuple[str, str], list[Region]] = {}
        for region in self.regions:  # by titles: the same move with other people on other days is one line
            moves.setdefault((region.risk, region.gist), []).append(region)
        # the moves the author meant are those an updated scenario expectation shows; only when the
        # change updated some expectation can the others be told apart as side effects
        shown = [s for s in self.scenarios if s.expectation_updated and s.moment is not None]
        found = [{"risk": risk, "change": change, "regions": len(group),
                  "actions": sorted({r.action for r in group}),
                  "intended": (any(r.holds(s.request, s.moment) for r in group for s in shown
                                   if s.moment is not None) if shown else None)}
                 for (risk, change), group in moves.items()]
        return sorted(found, key=lambda h: (RISK_ORDER.get(h["risk"], len(RISK_ORDER)), -h["regions"], h["change"]))

    def count(self, risk: str) -> int:
        return sum(r.risk == risk for r in self.regions)

    @property
    def sampled(self) -> bool:
        """Whether part of the analysis could only be sampled (so no verdict over it is certain)."""
        return bool(self.sampled_actions)

    @property
    def stale_scenarios(self) -> list[ScenarioChange]:
        return [s for s in self.scenarios if s.stale]

    @property
    def loosens(self) -> bool:
        loosening = ("loosened", "mixed")  # a mixed move loosens some part
        return (any(self.count(r) for r in loosening) or any(s.risk in loosening for s in self.scenarios)
                or bool(self.replay and any(self.replay.risks[r] for r in loosening)))

    def summary(self) -> dict[str, Any]:
        changed = sorted({r.action for r in self.regions})
        return {"loosened": self.count("loosened"), "tightened": self.count("tightened"),
                "mixed": self.count("mixed"), "rerouted": self.count("re-routed"),
                "unchanged": self.actions_total - len(changed),
                "actions_changed": changed, "file_changes": len(self.changes),
                "scenarios_changed": len(self.scenarios), "stale_expectations": len(self.stale_scenarios),
                "replay_changed": self.replay.changed if self.replay else None,
                "sampled": self.sampled, "sampled_actions": self.sampled_actions, "owners": self.owners,
                "text": self.paragraph()}

    def paragraph(self) -> str:
        changed = sorted({r.action for r in self.regions})
        parts = []
        if not self.changes:
            parts.append("The two versions hold the same constitution.")
        elif not self.regions and not self.scenarios:
            parts.append(f"{len(self.changes)} change(s) in the files; no decision changes.")
        else:
            parts.append(f"{len(self.changes)} change(s) in the files alter {len(self.regions)} region(s) of "
                         f"{len(changed)} action(s) ({', '.join(f'`{a}`' for a in changed)}): "
                         f"{self.count('loosened')} loosened, {self.count('tightened')} tightened, "
                         f"{self.count('mixed')} mixed, {self.count('re-routed')} re-routed; "
                         f"{self.actions_total - len(changed)} action(s) unchanged.")
        if self.scenarios:
            stale = len(self.stale_scenarios)
            parts.append(f"{len(self.scenarios)} scenario(s) decide differently"
                         + (f", {stale} without an updated expectation." if stale else "."))
        if self.replay is None:
            parts.append("No decision log to replay.")
        else:
            money = f", {self.replay.newly_automated:,.2f} newly automated" if self.replay.newly_automated else ""
            parts.append(f"Replaying {self.replay.total} logged request(s): {self.replay.changed} would be decided "
                         f"differently{money}.")
        if self.owners:
            parts.append("Review: " + "; ".join(f"{o['title']} ({people(o)})" for o in self.owners) + ".")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base.to_json(), "head": self.head.to_json(), "summary": self.summary(),
                "headlines": self.headlines(), "changes": [c.to_json() for c in self.changes],
                "scenarios": [s.to_json() for s in self.scenarios],
                "replay": self.replay.to_json() if self.replay else None,
                "regions": [r.to_json() for r in self.regions]}

    def fails(self, fail_on: str) -> bool:
        if fail_on == "never":
            return False
        if self.stale_scenarios:
            return True
        if fail_on == "loosening":
            return self.loosens
        return bool(self.changes or self.regions or self.scenarios or (self.replay and self.replay.changed))


def people(owner: dict[str, Any]) -> str:
    """The people of an owner role as `Name @handle, ...`."""
    return ", ".join(p["name"] + (f" @{p['github']}" if p.get("github") else "") for p in owner["people"]) or "nobody"


def _load(path: str | os.PathLike[str], ref: str | None, which: str) -> Constitution:
    result = check(path, ref)
    if result.constitution is None:
        error = InvalidConstitution(result.diagnostics)
        raise AiosError(f"{which} ({ref or 'the working tree'}) is not a valid constitution: "
                        f"{len(result.errors)} error(s), the first: {result.errors[0].render()}",
                        f"run `aios validate{' --ref ' + ref if ref else ''}`") from error
    return Constitution(result)


def _owners(base: Constitution, head: Constitution, roles: set[str]) -> list[dict[str, Any]]:
    """Who reviews: each role's title and people in HEAD (in BASE for a role HEAD no longer has),
    highest authority first."""
    def version(role: str) -> Any:
        return head.compiled if role in head.compiled.roles or role not in base.compiled.roles else base.compiled

    found = []
    for role in sorted(roles, key=lambda r: (-(version(r).roles[r].authority if r in version(r).roles else 0), r)):
        compiled = version(role)
        people = [{"id": p.id, "name": p.name, "github": p.handles.get("github")}
                  for p in compiled.people.values() if role in p.roles]
        title = compiled.roles[role].title if role in compiled.roles else role
        found.append({"role": role, "title": title, "people": people})
    return found


def behavioural_diff(path: str | os.PathLike[str], base_ref: str | None, head_ref: str | None,
                     now: datetime, log: Path | None) -> DiffReport:
    """Compare BASE (default: where HEAD left the default branch) with HEAD (default: the working tree)."""
    label = base_ref
    if base_ref and head_ref is None and ".." in base_ref:  # git's range spellings: A...B and A..B
        first, dots, last = base_ref.partition("...") if "..." in base_ref else base_ref.partition("..")
        head_ref = last or "HEAD"
        label = f"where {head_ref} left {first or 'HEAD'}" if dots == "..." else (first or "HEAD")
        base_ref = merge_base(path, first or "HEAD", head_ref)[1] if dots == "..." else label
    if base_ref is None:
        branch, base_ref = merge_base(path)
        label = f"where HEAD left {branch}"
    base, head = _load(path, base_ref, "BASE"), _load(path, head_ref, "HEAD")
    changes = file_changes(base.result, head.result)
    analysed = changed_actions(base.engine, head.engine)
    found = [region for action in analysed for region in regions(base.engine, head.engine, action, now)]
    found.sort(key=lambda r: RISK_ORDER.get(r.risk, len(RISK_ORDER)))  # riskiest first, each action's order kept
    replayed = None
    if log is not None and log.is_file():
        from aios_policy.record.log import DecisionLog

        with DecisionLog(log, create=False) as opened:
            replayed = replay(base.engine, head.engine, opened.logged_requests(), str(log))
    all_actions = set(base.compiled.rules_by_action) | set(head.compiled.rules_by_action)
    scenarios = scenario_changes(base, head)
    # the owners of what changed in the files, and every role that gains or loses approvals
    owners = _owners(base, head, {role for change in changes for role in change.owners}
                     | {role for region in found for role in region.work})
    return DiffReport(Side(label, base.compiled.provenance.commit, base.compiled.provenance.dirty),
                      Side(head_ref, head.compiled.provenance.commit, head.compiled.provenance.dirty),
                      changes, scenarios, replayed, found, analysed, len(all_actions), owners,
                      [a for a in analysed if sampled(base.engine, head.engine, a, now)])
