"""Every region of the input space whose answer differs between two versions of a constitution.

For each action whose rules, escalations or org chart differ, the space is the product of the
request's fields (cut at every constant and threshold either version mentions: numbers at each cut
and between cuts, each enumerated value plus one mentioned nowhere, flags, missing values, and the
agents' confidence bars), the requester (an agent, an ordinary person, each person who can take one
of the action's stages) and the calendar (cut at every date either version changes at). Requests
are answered under both versions as their requester sees it (`seen.py`); those that change are
merged into the fewest boxes we can describe in words, each with an example request that
reproduces both answers. Exact for structured conditions; where a raw JMESPath expression or a
regular expression takes part, the space is sampled by the types the expression uses and the
result is marked as such. `partition` cuts one version's space the same way for `aios explain`.
"""
from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from aios_policy.constitution.conditions import UNTYPED, Comparison, RawExpression
from aios_policy.constitution.model import CompiledConstitution, Escalation, Rule
from aios_policy.constitution.space import OTHER_TEXT, Dimension, contains, dimension, dimensions
from aios_policy.constitution.values import MISSING, is_number, lookup, with_field
from aios_policy.engine.decide import Engine
from aios_policy.engine.history import NONE_EARLIER
from aios_policy.engine.outcome import Outcome, verdict
from aios_policy.engine.people import away, holders
from aios_policy.engine.request import request_problems
from aios_policy.words.numbers import interval_text, value_text
from aios_policy.words.outcome import outcome_text

from .seen import Seen, Sides, seen

MAX_CELLS = 200_000
SAMPLED_CELLS = 20_000
MAX_MOMENTS = 24  # the calendar is cut at most this many times; beyond, the analysis says it sampled
EXAMPLE_ACTOR = "region-example"
REQUESTER, MOMENT = "requester", "moment"  # the two dimensions that are not request fields
AGENT, ANYONE = "an agent", "a person with no approving role"  # requesters that are nobody in particular
_RAW_SAMPLES = (0, 1, 100, 1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class Region:
    """A box of requests for one action, answered one way under BASE and another under HEAD."""

    action: str
    conditions: tuple[str, ...]
    base: Outcome
    head: Outcome
    risk: str  # loosened | tightened | mixed | re-routed
    example: dict[str, Any]
    sampled: bool
    change: str = ""  # the move in words, with titles and people
    gist: str = ""  # the move with titles only: what the headlines group by
    work: tuple[str, ...] = ()  # the roles that gain or lose approvals
    space: tuple[Dimension, ...] = field(default=(), repr=False, compare=False)  # the box, exactly: the
    box: tuple[frozenset[int], ...] = field(default=(), repr=False, compare=False)  # regions of each dimension

    def holds(self, request: dict[str, Any], moment: datetime) -> bool:
        """Whether a request of this action, decided at moment, lies in the region."""
        if request.get("action") != self.action:
            return False
        return all(_place(dim, request, moment) in chosen for dim, chosen in zip(self.space, self.box, strict=True))

    def describe(self) -> str:
        where = " and ".join(self.conditions) if self.conditions else "any request"
        return f"{self.action} with {where}: {self.change}"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "when": list(self.conditions), "description": self.describe(),
                "base": outcome_text(self.base), "head": outcome_text(self.head), "change": self.change,
                "risk": self.risk, "roles_affected": list(self.work), "sampled": self.sampled,
                "example": self.example}


def _fingerprint(engine: Engine, action: str) -> tuple[Any, ...]:
    """Everything about an action that can change its outcome; equal fingerprints decide alike."""
    return (*_answering(engine, action), _org(engine.constitution))


def _answering(engine: Engine, action: str) -> tuple[Any, ...]:
    """What an action's answers depend on before they are routed to people: equal in two versions,
    every cell is answered alike by both (for a requester both take for a person, or neither)."""
    constitution = engine.constitution
    rules = engine.rules.get(action, ())
    roles = {s.who for r in rules if r.escalation for s in r.escalation.stages}
    roles |= {s.who for s in constitution.manifest.default_escalation.stages}
    roles |= {p.owner for p in constitution.policies.values() if action in p.actions}
    default = constitution.manifest.default_escalation
    return (tuple((r.id, r.outcome, r.condition.describe(), r.effective_from, r.effective_until, r.policy,
                   repr(r.escalation)) for r in rules),  # the whole escalation: stages, SLA, timeout, attachments
            engine.bars.get(action), repr(default), tuple(sorted(constitution.exchange_rates.items())),
            constitution.manifest.approval_phases, constitution.manifest.requester_may_sign,
            tuple(sorted((role, constitution.roles[role].authority if role in constitution.roles else -1)
                         for role in roles)),
            tuple(sorted((p.id, p.owner) for p in constitution.policies.values() if action in p.actions)))


def _org(constitution: CompiledConstitution) -> tuple[Any, ...]:
    """The org chart as routing reads it: who holds which role, who is away when and who covers, what
    reports to what, the units: any change in it can re-route any action's escalations."""
    return (tuple(sorted((p.id, p.roles, tuple((a.first_day, a.last_day, a.delegate) for a in p.out_of_office),
                          p.unit) for p in constitution.people.values())),
            tuple(sorted((r.id, r.reports_to, r.authority) for r in constitution.roles.values())),
            tuple(sorted((u.id, u.head, u.budget_owner, u.parent) for u in constitution.units.values())))


def changed_actions(base: Engine, head: Engine) -> list[str]:
    actions = sorted(set(base.constitution.rules_by_action) | set(head.constitution.rules_by_action))
    return [a for a in actions if _fingerprint(base, a) != _fingerprint(head, a)]


def _raw_paths(rules: list[Rule]) -> dict[str, list[Any]]:
    """Fields raw JMESPath expressions read, each with the values that tell its cases apart (the
    literals it is compared with, true and false for a flag; UNTYPED where the expression does
    something else with it)."""
    found: dict[str, list[Any]] = {}
    for rule in rules:
        for node in _nodes(rule.condition):
            if isinstance(node, RawExpression):
                for path, values in node.literals().items():
                    known = found.setdefault(path, [])
                    known.extend(v for v in values if not any(type(k) is type(v) and k == v for k in known))
    return found


def _as_comparison(path: str, value: Any) -> Comparison:
    """A literal of a raw expression as the comparison that cuts its field alike: numbers are ordered,
    text and flags are named, a list's item is looked for."""
    if isinstance(value, list):
        return Comparison(path, "contains", value[0] if value else None, None)
    return Comparison(path, "gt" if is_number(value) else "eq", value, None)


def _raw_dimension(path: str, values: list[Any]) -> Dimension:
    """A field a raw expression reads in a way its literals cannot tell (inside another function, in
    arithmetic): sampled on a grid of numbers and both flags."""
    return dimension(path, set(_RAW_SAMPLES), [True, False])


def _nodes(condition: Any) -> list[Any]:
    children = getattr(condition, "children", None) or ([condition.child] if hasattr(condition, "child") else [])
    return [condition, *(n for c in children for n in _nodes(c))]


def _space(base: Engine, head: Engine, action: str, now: datetime | None = None) -> tuple[list[Dimension], bool]:
    """The dimensions of the action's input space, and whether it can only be sampled. With now (the
    diff), the requester ranges over everyone whose requests are routed differently (each person who
    can take one of the action's stages) and the calendar is cut from now at every date either version
    changes on; without (explain), requests come from an agent or an ordinary person, today."""
    rules = [*base.rules.get(action, ()), *head.rules.get(action, ())]
    comparisons: list[Comparison] = [c for r in rules for c in r.condition.comparisons()]
    # the agents' bar cuts confidence in both versions, whether or not some rule also compares it
    bars = sorted({b for b in (base.bars.get(action), head.bars.get(action)) if b is not None})
    comparisons += [Comparison("confidence", "gte", bar, None) for bar in bars]
    raw = _raw_paths(rules)  # a raw expression's literals cut its fields as a comparison's would
    comparisons += [_as_comparison(path, value) for path, values in raw.items() for value in values
                    if value is not UNTYPED]
    found = [d for d in dimensions(comparisons) if d.path not in ("action", "actor.kind")]
    opaque = any(r.condition.opaque for r in rules)
    known = {d.path for d in found}
    for path, values in sorted(raw.items()):
        if path not in known and path not in ("action", "actor.kind"):
            found.append(_raw_dimension(path, values))
    requesters, too_many = (AGENT, ANYONE), False
    if now is not None:
        requesters, too_many = _requesters(base, head, action)
    front = [Dimension(REQUESTER, requesters, (None,) * len(requesters))]
    if now is not None:
        moments, capped = _moments(base, head, action, now)
        too_many = too_many or capped
        if len(moments) > 1:
            front.append(Dimension(MOMENT, tuple(moments), (None,) * len(moments)))
    return [*front, *found], opaque or too_many


MAX_REQUESTERS = 32  # people whose own requests are analysed one by one; beyond, the analysis samples


def _requesters(base: Engine, head: Engine, action: str) -> tuple[tuple[Any, ...], bool]:
    """An agent, an ordinary person, and each person (in either version) who holds a role the action's
    escalations can reach: separation of duties and delegation route their own requests elsewhere.
    When some stage is found from the requester (their manager, their unit's head), everyone."""
    roles, relative = _reachable(base, head, action)
    people = sorted({p.id for e in (base, head) for p in e.constitution.people.values()
                     if relative or roles & set(p.roles)})
    ordinary = _ordinary_person(head.constitution)
    plain = ordinary is not None and ordinary in people
    chosen = [AGENT, *([] if plain else [ANYONE]), *people]
    return tuple(chosen[:MAX_REQUESTERS]), len(chosen) > MAX_REQUESTERS


def _moments(base: Engine, head: Engine, action: str, now: datetime) -> tuple[list[datetime], bool]:
    """now, then each later moment either version changes at: a rule of the action coming into or going
    out of effect, someone's absence starting or ending (delegates take their stages). Each stands for
    the period up to the next."""
    tz = head.constitution.manifest.timezone
    found: set[datetime] = set()
    for engine in (base, head):
        for rule in engine.rules.get(action, ()):
            found.update(m for m in (rule.effective_from, rule.effective_until) if m is not None)
        for person in engine.constitution.people.values():
            for absence in person.out_of_office:
                for day in (absence.first_day, absence.last_day + timedelta(days=1)):
                    found.add(datetime.combine(day, time(0), tz))
    later = sorted(m for m in found if m > now)
    return [now, *later[:MAX_MOMENTS - 1]], len(later) > MAX_MOMENTS - 1


def _cells(space: list[Dimension], action: str) -> tuple[Any, bool]:
    """Every cell of the space, or a fixed sample of it when there are too many; and whether sampled."""
    count = math.prod(len(d.examples) for d in space)
    if count <= MAX_CELLS:
        return itertools.product(*(range(len(d.examples)) for d in space)), False
    generator = random.Random(f"{action}:{count}")
    return sorted({tuple(generator.randrange(len(d.examples)) for d in space) for _ in range(SAMPLED_CELLS)}), True


def regions(base: Engine, head: Engine, action: str, now: datetime) -> list[Region]:
    """The changed regions of one action, merged into readable boxes.

    The space is the product of the requesters, the periods of the calendar and the cells of the
    request's fields, but it is not walked cell by cell: requests whose cells share an answer in each
    version (the engine's cells say which) differ only in who asks and when, so each such group is
    routed once per requester and period, and its changes are the group's cells times those."""
    space, sampled = _space(base, head, action, now)
    front = [d for d in space if d.path in (REQUESTER, MOMENT)]
    fields = space[len(front):]
    fields_cells, too_many = _cells(fields, action)
    sides = Sides(base.constitution, head.constitution)
    start = {"action": action, "actor": {"id": EXAMPLE_ACTOR}, "at": now.isoformat()}
    asked = _asked_by(space[0], base, head)
    periods = _periods(front[1] if len(front) > 1 else None, base, head, action)
    relative = _routing_paths(base, head, action)
    alike = _answering(base, action) == _answering(head, action)  # only the org chart or people changed
    # where only the org changed, the (requester, period) pairs whose routing cannot differ change nothing
    clean = _routed_alike(base, head, action, space[0], front[1] if len(front) > 1 else None, now) if alike \
        else set()
    if alike and clean is not None and len(clean) == len(space[0].examples) * (
            len(front[1].examples) if len(front) > 1 else 1):
        return []
    kept: dict[int, tuple[Any, Any]] = {}  # an answer's id -> (the answer, held so no id is reused; its routed part)
    groups: dict[tuple[Any, ...], list[tuple[int, ...]]] = defaultdict(list)
    # a person's confidence is never asked for when no rule reads it (only agents' bars do): their
    # answer is the same for every confidence region, worked out for the first and shared
    bar_only = next((i for i, d in enumerate(fields) if d.path == "confidence"), None)
    if bar_only is not None and any(c.path == "confidence" for e in (base, head)
                                    for c in e.comparisons.get(action, ())):
        bar_only = None
    for fields_cell in fields_cells:
        for kind, (requester, _) in asked.items():
            alike_confidence = bar_only is not None and kind == (True, True)
            if alike_confidence and fields_cell[bar_only] != 0:
                continue
            for flags, (moment_index, _) in periods.items():
                cell = (requester, *([moment_index] if len(front) > 1 else []), *fields_cell)
                request, moment = _request(start, space, cell, head.constitution, now)
                answer = base.cells.answer(request, moment)
                other = answer if alike and kind[0] == kind[1] else head.cells.answer(request, moment)
                if answer is None or other is None:  # the cells cannot place it: every cell decided alone
                    return _walked(base, head, action, now, space, sampled, sides)
                key = (kind, flags, _routed_part(answer, kept), _routed_part(other, kept),
                       *(lookup(request, p) for p in relative))
                if alike_confidence:
                    assert bar_only is not None
                    groups[key].extend((*fields_cell[:bar_only], index, *fields_cell[bar_only + 1:])
                                       for index in range(len(fields[bar_only].examples)))
                else:
                    groups[key].append(fields_cell)
    moves: dict[tuple[Seen, Seen], dict[tuple[frozenset[int], ...], set[tuple[int, ...]]]] = defaultdict(
        lambda: defaultdict(set))
    for key, members in groups.items():
        kind, flags = key[0], key[1]
        changed: dict[tuple[Seen, Seen], list[tuple[int, ...]]] = defaultdict(list)
        routed = key[2][0] == "escalate" or key[3][0] == "escalate"  # else nobody's people are involved
        constant: tuple[Seen, Seen] | None = None
        for requester in asked[kind][1]:
            for moment_index in periods[flags][1]:
                who_when = (requester, *([moment_index] if len(front) > 1 else []))
                if alike and clean and (requester, moment_index) in clean:
                    continue  # the same answer, routed alike
                if constant is None or routed:
                    request, moment = _request(start, space, (*who_when, *members[0]), head.constitution, now)
                    constant = (sides.renamed(seen(base, request, moment)), seen(head, request, moment))
                if constant[0] != constant[1]:
                    changed[constant].append(who_when)
        for move, who_whens in changed.items():
            for box in _boxes(who_whens, len(front)):
                moves[move][box].update(members)
    return [_region(action, space, (*who_when_box, *fields_box), before, after, sides, head.constitution, start,
                    now, sampled or too_many)
            for (before, after), by_who_when in sorted(moves.items())
            for who_when_box, members_set in by_who_when.items()
            for fields_box in _boxes(sorted(members_set), len(fields))]


def _walked(base: Engine, head: Engine, action: str, now: datetime, space: list[Dimension], sampled: bool,
            sides: Sides) -> list[Region]:
    """The changed regions found by deciding every cell of the whole space under both versions (or a
    fixed sample of them): for actions whose rules the cells cannot place (raw JMESPath, patterns)."""
    cells, too_many = _cells(space, action)
    start = {"action": action, "actor": {"id": EXAMPLE_ACTOR}, "at": now.isoformat()}
    changed: dict[tuple[Seen, Seen], list[tuple[int, ...]]] = defaultdict(list)
    for cell in cells:
        request, moment = _request(start, space, cell, head.constitution, now)
        before, after = sides.renamed(seen(base, request, moment)), seen(head, request, moment)
        if before != after:
            changed[(before, after)].append(cell)
    return [_region(action, space, box, before, after, sides, head.constitution, start, now, sampled or too_many)
            for (before, after), group in sorted(changed.items()) for box in _boxes(group, len(space))]


def _region(action: str, space: list[Dimension], box: tuple[frozenset[int], ...], before: Seen, after: Seen,
            sides: Sides, constitution: CompiledConstitution, start: dict[str, Any], now: datetime,
            sampled: bool) -> Region:
    example, _ = _request(start, space, tuple(min(values) for values in box), constitution, now)
    ways = set().union(*(sides.directions(before, after, q) for q in _people_of(space, box, constitution)))
    return Region(action, tuple(_conditions(space, box, constitution)), before.outcome, after.outcome,
                  verdict(ways), example, sampled, sides.text(before, after), sides.text(before, after, False),
                  tuple(sorted(sides.work(before, after))), tuple(space), box)


def _routed_alike(base: Engine, head: Engine, action: str, requesters: Dimension, moments: Dimension | None,
                  now: datetime) -> set[tuple[int, int]] | None:
    """The (requester, period) index pairs for which both versions route every escalation of the action
    alike: each role the action can reach (its stages, timeouts, policy owners and the default, up
    reports_to in either version) has the same manager, authority and holders, each holder the same
    cover that day, and the requester the same stand-in. None when a stage is found from the request
    (managers, units): then nothing is assumed."""
    roles, relative = _reachable(base, head, action)
    if relative:
        return None
    days = [m.astimezone(head.constitution.manifest.timezone).date() for m in (moments.examples if moments else (now,))]
    clean = set()
    for moment_index, day in enumerate(days):
        views = [_org_on(e.constitution, roles, day) for e in (base, head)]
        if views[0] != views[1]:
            continue
        for requester_index, value in enumerate(requesters.examples):
            person = _requester_id(value, head.constitution)
            sides = [_stand_in(e.constitution, person, day) for e in (base, head)]
            if sides[0] == sides[1]:
                clean.add((requester_index, moment_index))
    return clean


def _org_on(constitution: CompiledConstitution, roles: set[str], day: Any) -> tuple[Any, ...]:
    """What routing to these roles reads on a day: each role's manager, authority and holders, and who
    stands in for each holder (the whole chain of cover, with whether each is away)."""
    view: list[tuple[Any, ...]] = []
    for role in sorted(roles):
        found = constitution.roles.get(role)
        if found is None:
            view.append((role,))
            continue
        chains = []
        for holder in sorted(holders(constitution, role), key=lambda p: p.id):
            chain: list[tuple[str, str | None]] = []
            current: Any = holder
            seen_ids: set[str] = set()
            while current is not None and current.id not in seen_ids:
                seen_ids.add(current.id)
                delegate = away(current, day)
                chain.append((current.id, delegate))
                current = constitution.people.get(delegate) if delegate else None
            chains.append(tuple(chain))
        view.append((role, found.reports_to, found.authority, tuple(chains)))
    return tuple(view)


def _stand_in(constitution: CompiledConstitution, person: str | None, day: Any) -> tuple[Any, ...]:
    """The requester's side on a day: whether they are a person, and who stands in for them."""
    found = constitution.people.get(person) if person else None
    return (found is not None, away(found, day) if found is not None else None)


def _routed_part(answer: Any, kept: dict[int, tuple[Any, Any]]) -> Any:
    """What of an answer the requester and the day can change: the decision and, for an escalation,
    the escalation to route (cells with equal parts are routed alike). Kept by the answer's id."""
    found = kept.get(id(answer))
    if found is None:
        escalation = answer.verdict.escalation if answer.decision == "escalate" else None
        found = kept[id(answer)] = (answer, (answer.decision, repr(escalation)))
    return found[1]


def _asked_by(dim: Dimension, base: Engine, head: Engine) -> dict[tuple[bool, bool], tuple[int, list[int]]]:
    """The requesters grouped by whether each version takes them for a person in org.json (what the
    answer depends on; who they are matters only for routing): each group's first and all its indices."""
    found: dict[tuple[bool, bool], tuple[int, list[int]]] = {}
    for index, value in enumerate(dim.examples):
        person = _requester_id(value, head.constitution)
        kind = (person in base.constitution.people, person in head.constitution.people) if person else (False, False)
        found.setdefault(kind, (index, []))[1].append(index)
    return found


def _periods(dim: Dimension | None, base: Engine, head: Engine,
             action: str) -> dict[tuple[bool, ...], tuple[int, list[int]]]:
    """The periods of the calendar grouped by which of the action's rules are in effect in either
    version (what the answer depends on; the day matters only for routing)."""
    if dim is None:
        return {(): (0, [0])}
    rules = [*base.rules.get(action, ()), *head.rules.get(action, ())]
    found: dict[tuple[bool, ...], tuple[int, list[int]]] = {}
    for index, moment in enumerate(dim.examples):
        found.setdefault(tuple(r.in_effect(moment) for r in rules), (index, []))[1].append(index)
    return found


def _routing_paths(base: Engine, head: Engine, action: str) -> list[str]:
    """The request fields routing reads besides the requester: the role claimed, and the units a stage's
    approver is found from."""
    paths = {"actor.role"}
    paths.update(s.approver.of for e in _escalations(base, head, action) for s in e.stages
                 if s.approver is not None and s.approver.of != "requester")
    return sorted(paths)


def _escalations(base: Engine, head: Engine, action: str) -> list[Escalation]:
    """Every escalation a request of the action can reach in either version: its rules', the policy
    owners' (an agent below the bar), the manifest's default."""
    found: list[Escalation] = []
    for engine in (base, head):
        constitution = engine.constitution
        found += [r.escalation for r in engine.rules.get(action, ()) if r.escalation]
        found += [engine.owner_escalation[p.id] for p in constitution.policies.values() if action in p.actions]
        found.append(constitution.manifest.default_escalation)
    return found


def _reachable(base: Engine, head: Engine, action: str) -> tuple[set[str], bool]:
    """The roles the action's escalations can reach in either version (their stages and timeout
    targets, and every role above them: a role nobody can take passes up reports_to), and whether
    some stage is found from the request instead (a manager, a unit's head)."""
    roles: set[str] = set()
    relative = False
    for escalation in _escalations(base, head, action):
        for stage in escalation.stages:
            relative = relative or stage.approver is not None
            roles.update(r for r in (stage.role, (stage.on_timeout or escalation.on_timeout).role) if r)
    frontier = list(roles)
    while frontier:
        role = frontier.pop()
        for engine in (base, head):
            found = engine.constitution.roles.get(role)
            if found is not None and found.reports_to and found.reports_to not in roles:
                roles.add(found.reports_to)
                frontier.append(found.reports_to)
    return roles, relative


def sampled(base: Engine, head: Engine, action: str, now: datetime) -> bool:
    """Whether the diff of this action can only sample its space (a raw JMESPath or regular expression,
    too many cells, requesters or moments), so that finding no change there proves nothing."""
    space, partial = _space(base, head, action, now)
    return partial or math.prod(len(d.examples) for d in space) > MAX_CELLS


def _place(dim: Dimension, request: dict[str, Any], moment: datetime) -> int | None:
    """The index of the region of dim that holds the request (decided at moment), None for none."""
    if dim.path == MOMENT:
        return max(i for i, m in enumerate(dim.examples) if i == 0 or m <= moment)
    if dim.path == REQUESTER:
        actor = a if isinstance(a := request.get("actor"), dict) else {}
        if actor.get("kind") != "human":
            return dim.examples.index(AGENT)
        ids = [i for i, v in enumerate(dim.examples) if v == actor.get("id")]
        return ids[0] if ids else dim.examples.index(ANYONE) if ANYONE in dim.examples else None
    value = lookup(request, dim.path)
    if value is None:
        return dim.examples.index(MISSING) if MISSING in dim.examples else None
    for index, (example, span) in enumerate(zip(dim.examples, dim.spans, strict=True)):
        if span is not None and is_number(value) and contains(span, value):
            return index
        if span is None and example is not MISSING and type(example) is type(value) and example == value:
            return index
    return dim.examples.index(OTHER_TEXT) if OTHER_TEXT in dim.examples and isinstance(value, str) else None


def _people_of(space: list[Dimension], box: tuple[frozenset[int], ...],
               constitution: CompiledConstitution) -> list[str | None]:
    """The requesters of a box, as person ids (None for an agent)."""
    for dim, chosen in zip(space, box, strict=True):
        if dim.path == REQUESTER:
            return [_requester_id(dim.examples[i], constitution) for i in sorted(chosen)]
    return [None]


def _requester_id(value: Any, constitution: CompiledConstitution) -> str | None:
    if value == AGENT:
        return None
    return _ordinary_person(constitution) if value == ANYONE else value


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
        grouped[outcome(engine, _request(start, space, cell, engine.constitution, now)[0], now)].append(cell)
    found = []
    for key, group in grouped.items():
        for box in _boxes(group, len(space)):
            example_cell = tuple(min(values) for values in box)
            found.append(Area(tuple(_conditions(space, box, engine.constitution)), key,
                              _request(start, space, example_cell, engine.constitution, now)[0],
                              opaque or too_many))
    return found


def _without_absent(dim: Dimension) -> Dimension:
    kept = [i for i, value in enumerate(dim.examples) if value is not MISSING]
    return Dimension(dim.path, tuple(dim.examples[i] for i in kept), tuple(dim.spans[i] for i in kept))


def _request(start: dict[str, Any], space: list[Dimension], cell: tuple[int, ...],
             constitution: CompiledConstitution, now: datetime) -> tuple[dict[str, Any], datetime]:
    """The request a cell stands for, and the moment it is decided at."""
    request, moment = start, now
    for dim, index in zip(space, cell, strict=True):
        value = dim.examples[index]
        if dim.path == MOMENT:
            moment = value
            request = {**request, "at": value.isoformat()}
        elif dim.path == REQUESTER:
            person = _requester_id(value, constitution)
            actor = {"id": person, "kind": "human"} if person else {"id": EXAMPLE_ACTOR, "kind": "agent"}
            request = {**request, "actor": actor}
        else:
            request = with_field(request, dim.path, value)
    role = request["actor"].get("role")
    if isinstance(role, str):  # only a person holding a role may claim it: the requester, or its first holder
        own = constitution.people.get(request["actor"].get("id") or "")
        holder = min((p.id for p in constitution.people.values() if role in p.roles), default=None)
        if holder is not None and (own is None or role not in own.roles):
            request = with_field(with_field(request, "actor.id", holder), "actor.kind", "human")
    return request, moment


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
        words.append(_dimension_words(dim, chosen, constitution))
    return words


def _dimension_words(dim: Dimension, chosen: frozenset[int], constitution: CompiledConstitution) -> str:
    if dim.path == REQUESTER:
        return _requester_words(dim, chosen, constitution)
    if dim.path == MOMENT:
        return _moment_words(dim, chosen, constitution)
    currency = constitution.manifest.currency
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


def _requester_words(dim: Dimension, chosen: frozenset[int], constitution: CompiledConstitution) -> str:
    """`requested by an agent`, `requested by a person`, `requested by Fiona Finance (Finance Manager)`,
    `requested by a person other than Fiona Finance (Finance Manager)`: whichever is shorter."""
    def name(value: Any) -> str:
        if value in (AGENT, ANYONE):
            return value
        person = constitution.people.get(value)
        if person is None:
            return f"`{value}` (not in this version's org.json)"
        titles = ", ".join(constitution.roles[r].title for r in person.roles if r in constitution.roles)
        return f"{person.name} ({titles})" if titles else person.name

    agent = dim.examples.index(AGENT)
    humans = [i for i in range(len(dim.examples)) if i != agent]
    chosen_humans = [i for i in humans if i in chosen]
    if not chosen_humans:
        return "requested by an agent"
    prefix = "an agent or " if agent in chosen else ""
    if len(chosen_humans) == len(humans):
        who = "a person"
    elif len(humans) - len(chosen_humans) < len(chosen_humans):
        who = "a person other than " + " or ".join(name(dim.examples[i]) for i in humans if i not in chosen)
    else:
        who = " or ".join(name(dim.examples[i]) for i in chosen_humans)
    return f"requested by {prefix}{who}"


def _moment_words(dim: Dimension, chosen: frozenset[int], constitution: CompiledConstitution) -> str:
    """`from 2027-02-01`, `until 2027-01-31`, `from 2026-12-20 until 2026-12-31`: the calendar periods
    chosen, each the span from its moment to the next one's, with its last day shown inclusive."""
    tz = constitution.manifest.timezone
    moments = dim.examples
    texts = []
    for first, last in _consecutive(sorted(chosen)):
        begin = moments[first].astimezone(tz)
        start = "" if first == 0 else f"from {_moment_text(begin)}"
        if last + 1 < len(moments):
            end = moments[last + 1].astimezone(tz)
            final = end - timedelta(days=1) if end.time() == time(0) else end
            until = f"until {_moment_text(final)}" if end.time() == time(0) else f"before {_moment_text(end)}"
        else:
            until = ""
        texts.append(" ".join(t for t in (start, until) if t))
    return " or ".join(texts)


def _moment_text(moment: datetime) -> str:
    return moment.date().isoformat() if moment.time() == time(0) else moment.strftime("%Y-%m-%d %H:%M")


def _consecutive(indices: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs
