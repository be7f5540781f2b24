"""Every region of the input space whose decision differs between two versions of a constitution.

For each action whose rules differ, the space is cut at every constant and threshold either version
mentions (numbers at each cut and between cuts, each enumerated value plus one mentioned nowhere,
flags, missing values), plus the actor's kind and the agents' confidence bars. Every cell is decided
under both versions; cells that change are merged into the fewest boxes we can describe in words,
each with an example request that reproduces both outcomes. Exact for structured conditions; where
a raw JMESPath expression or a regular expression takes part, the space is sampled and the result
is marked as such.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aios_policy.constitution.conditions import Comparison, RawExpression
from aios_policy.constitution.model import CompiledConstitution, Rule
from aios_policy.constitution.space import OTHER_TEXT, Dimension, dimension, dimensions
from aios_policy.constitution.values import MISSING, with_field
from aios_policy.engine.decide import Engine
from aios_policy.engine.history import NONE_EARLIER
from aios_policy.engine.outcome import Outcome, risk
from aios_policy.engine.request import request_problems
from aios_policy.words.numbers import interval_text, value_text
from aios_policy.words.outcome import outcome_text

MAX_CELLS = 200_000
SAMPLED_CELLS = 20_000
EXAMPLE_ACTOR = "region-example"
_IDENTIFIER = re.compile(r"(?<![`'\"\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?!\s*\()")
_RAW_SAMPLES = (0, 1, 100, 1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class Region:
    """A box of requests for one action, decided one way under BASE and another under HEAD."""

    action: str
    conditions: tuple[str, ...]
    base: Outcome
    head: Outcome
    risk: str  # loosened | tightened | re-routed
    example: dict[str, Any]
    sampled: bool

    def describe(self) -> str:
        where = " and ".join(self.conditions) if self.conditions else "any request"
        return f"{self.action} with {where}: {outcome_text(self.base)} → {outcome_text(self.head)}"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "when": list(self.conditions), "description": self.describe(),
                "base": outcome_text(self.base), "head": outcome_text(self.head), "risk": self.risk,
                "sampled": self.sampled, "example": self.example}


def _fingerprint(engine: Engine, action: str) -> tuple[Any, ...]:
    """Everything about an action that can change its outcome; equal fingerprints decide alike."""
    constitution = engine.constitution
    rules = engine.rules.get(action, ())
    roles = {s.role for r in rules if r.escalation for s in r.escalation.stages}
    roles |= {s.role for s in constitution.manifest.default_escalation.stages}
    roles |= {p.owner for p in constitution.policies.values() if action in p.actions}
    default = constitution.manifest.default_escalation
    return (tuple((r.id, r.outcome, r.condition.describe(), r.effective_from, r.effective_until, r.policy,
                   Outcome.of(r.outcome, r.escalation)) for r in rules),
            engine.bars.get(action), Outcome.of("escalate", default),
            tuple(sorted((role, constitution.roles[role].authority if role in constitution.roles else -1)
                         for role in roles)),
            tuple(sorted((p.id, p.owner) for p in constitution.policies.values() if action in p.actions)))


def changed_actions(base: Engine, head: Engine) -> list[str]:
    actions = sorted(set(base.constitution.rules_by_action) | set(head.constitution.rules_by_action))
    return [a for a in actions if _fingerprint(base, a) != _fingerprint(head, a)]


def _raw_paths(rules: list[Rule]) -> set[str]:
    """Fields a raw JMESPath expression may read (identifiers not called as functions)."""
    found: set[str] = set()
    for rule in rules:
        for node in _nodes(rule.condition):
            if isinstance(node, RawExpression):
                found.update(m.group(1) for m in _IDENTIFIER.finditer(re.sub(r"`[^`]*`|'[^']*'", "", node.source)))
    return found


def _nodes(condition: Any) -> list[Any]:
    children = getattr(condition, "children", None) or ([condition.child] if hasattr(condition, "child") else [])
    return [condition, *(n for c in children for n in _nodes(c))]


def _space(base: Engine, head: Engine, action: str) -> tuple[list[Dimension], bool]:
    rules = [*base.rules.get(action, ()), *head.rules.get(action, ())]
    comparisons: list[Comparison] = [c for r in rules for c in r.condition.comparisons()]
    # the agents' bar cuts confidence in both versions, whether or not some rule also compares it
    bars = sorted({b for b in (base.bars.get(action), head.bars.get(action)) if b is not None})
    comparisons += [Comparison("confidence", "gte", bar, None) for bar in bars]
    found = [d for d in dimensions(comparisons) if d.path != "action"]
    opaque = any(r.condition.opaque for r in rules)
    known = {d.path for d in found}
    for path in sorted(_raw_paths(rules) - known - {"action"}):
        found.append(dimension(path, set(_RAW_SAMPLES)))
    if "actor.kind" not in known:
        found.append(Dimension("actor.kind", ("agent", "human"), (None, None)))
    return found, opaque


def _cells(space: list[Dimension], action: str) -> tuple[Any, bool]:
    """Every cell of the space, or a fixed sample of it when there are too many; and whether sampled."""
    count = math.prod(len(d.examples) for d in space)
    if count <= MAX_CELLS:
        return itertools.product(*(range(len(d.examples)) for d in space)), False
    generator = random.Random(f"{action}:{count}")
    return sorted({tuple(generator.randrange(len(d.examples)) for d in space) for _ in range(SAMPLED_CELLS)}), True


def regions(base: Engine, head: Engine, action: str, now: datetime) -> list[Region]:
    """The changed regions of one action, merged into readable boxes."""
    space, opaque = _space(base, head, action)
    cells, too_many = _cells(space, action)
    start = {"action": action, "actor": {"id": EXAMPLE_ACTOR}, "at": now.isoformat()}
    changed: dict[tuple[Outcome, Outcome], list[tuple[int, ...]]] = defaultdict(list)
    for cell in cells:
        request = _request(start, space, cell, head.constitution)
        before, after = outcome(base, request, now), outcome(head, request, now)
        if before != after:
            changed[(before, after)].append(cell)
    base_authority = {r: role.authority for r, role in base.constitution.roles.items()}
    head_authority = {r: role.authority for r, role in head.constitution.roles.items()}
    found = []
    for (before, after), group in sorted(changed.items()):
        for box in _boxes(group, len(space)):
            example_cell = tuple(min(values) for values in box)
            found.append(Region(action, tuple(_conditions(space, box, base.constitution)), before, after,
                                risk(before, after, base_authority, head_authority),
                                _request(start, space, example_cell, head.constitution), opaque or too_many))
    return found


@dataclass(frozen=True)
class Area:
    """A box of requests for one action, all decided alike by one version."""

    conditions: tuple[str, ...]
    key: Outcome
    example: dict[str, Any]
    sampled: bool


def partition(engine: Engine, action: str, now: datetime, with_absent: bool = False) -> list[Area]:
    """The whole input space of one action cut into boxes of one outcome each (for `aios explain`).

    Without with_absent, every fact the rules read is taken as given (absent facts lead to needs_info,
    which explain states once rather than in every box)."""
    space, opaque = _space(engine, engine, action)
    if not with_absent:
        space = [_without_absent(d) for d in space]
    cells, too_many = _cells(space, action)
    start = {"action": action, "actor": {"id": EXAMPLE_ACTOR}, "at": now.isoformat()}
    grouped: dict[Outcome, list[tuple[int, ...]]] = defaultdict(list)
    for cell in cells:
        grouped[outcome(engine, _request(start, space, cell, engine.constitution), now)].append(cell)
    found = []
    for key, group in grouped.items():
        for box in _boxes(group, len(space)):
            example_cell = tuple(min(values) for values in box)
            found.append(Area(tuple(_conditions(space, box, engine.constitution)), key,
                              _request(start, space, example_cell, engine.constitution), opaque or too_many))
    return found


def _without_absent(dim: Dimension) -> Dimension:
    kept = [i for i, value in enumerate(dim.examples) if value is not MISSING]
    return Dimension(dim.path, tuple(dim.examples[i] for i in kept), tuple(dim.spans[i] for i in kept))


def _request(start: dict[str, Any], space: list[Dimension], cell: tuple[int, ...],
             constitution: CompiledConstitution | None = None) -> dict[str, Any]:
    request = start
    for dim, index in zip(space, cell, strict=True):
        value = dim.examples[index]
        if dim.path == "actor.kind" and value is MISSING:
            value = "agent"
        request = with_field(request, dim.path, value)
    role = request["actor"].get("role")
    if constitution is not None and isinstance(role, str):  # only a person holding a role may claim it
        holder = min((p.id for p in constitution.people.values() if role in p.roles), default=None)
        if holder is not None:
            request = with_field(request, "actor.id", holder)
    elif constitution is not None and request["actor"].get("kind") == "human":
        # a person of the org (only people are trusted as human), one with the least authority, so that
        # separation of duties re-routes nothing: the region speaks for the org's ordinary requesters
        person = _ordinary_person(constitution)
        if person is not None:
            request = with_field(request, "actor.id", person)
    return request


def _ordinary_person(constitution: CompiledConstitution) -> str | None:
    def authority(person: Any) -> tuple[int, str]:
        return (max((constitution.roles[r].authority for r in person.roles if r in constitution.roles), default=0),
                person.id)

    return min(constitution.people.values(), key=authority).id if constitution.people else None


def outcome(engine: Engine, request: dict[str, Any], now: datetime) -> Outcome:
    """What `aios decide` would answer, in outcome terms: a malformed request is escalated as the API does."""
    if request_problems(request, engine.constitution):
        return engine.outcome({"action": None}, now)
    return engine.outcome(request, now, NONE_EARLIER)  # a region speaks for a request with nothing before it


def _boxes(cells: list[tuple[int, ...]], width: int) -> list[tuple[frozenset[int], ...]]:
    """Cover the cells exactly with few boxes (products of per-dimension sets)."""
    projections = tuple(frozenset(cell[i] for cell in cells) for i in range(width))
    if math.prod(len(p) for p in projections) == len(set(cells)):
        return [projections]
    split = min((i for i in range(width) if len(projections[i]) > 1), key=lambda i: (len(projections[i]), i))
    groups: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for cell in cells:
        groups[cell[split]].append(cell)
    merged: dict[tuple[frozenset[int], ...], set[int]] = {}
    for value, group in sorted(groups.items()):
        for box in _boxes(group, width):
            rest = box[:split] + box[split + 1:]
            merged.setdefault(rest, set()).add(value)
    return [(*rest[:split], frozenset(values), *rest[split:]) for rest, values in merged.items()]


def _conditions(space: list[Dimension], box: tuple[frozenset[int], ...],
                constitution: CompiledConstitution) -> list[str]:
    words = []
    for dim, chosen in zip(space, box, strict=True):
        if len(chosen) == len(dim.examples):
            continue  # any value: not worth saying
        words.append(_dimension_words(dim, chosen, constitution.manifest.currency))
    return words


def _dimension_words(dim: Dimension, chosen: frozenset[int], currency: str) -> str:
    missing = next(i for i, v in enumerate(dim.examples) if v is MISSING) if MISSING in dim.examples else None
    absent = missing in chosen
    present = sorted(i for i in chosen if i != missing)
    if not present:
        return f"{dim.path} absent"
    suffix = " (or absent)" if absent else ""
    if all(dim.spans[i] is not None for i in present):
        return " or ".join(f"{dim.path} {interval_text(span, dim.path, currency)}"
                           for span in _runs(dim, present)) + suffix
    named = [i for i in range(len(dim.examples)) if i != missing and dim.spans[i] is None]
    values = [value_text(dim.examples[i]) for i in present if dim.examples[i] != OTHER_TEXT]
    if OTHER_TEXT in (dim.examples[i] for i in present):
        excluded = [value_text(dim.examples[i]) for i in named if i not in chosen]
        return f"{dim.path} is not {' or '.join(excluded)}{suffix}" if excluded else f"{dim.path} present{suffix}"
    return f"{dim.path} is {' or '.join(values)}{suffix}"


def _runs(dim: Dimension, indices: list[int]) -> list[Any]:
    """Consecutive intervals joined: [0, 250] and (250, 500] make [0, 500]."""
    runs: list[tuple[int, Any]] = []
    for index in indices:
        span = dim.spans[index]
        if runs and runs[-1][0] == index - 1:
            runs[-1] = (index, runs[-1][1].joined(span))
        else:
            runs.append((index, span))
    return [span for _, span in runs]
