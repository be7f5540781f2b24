"""Who approves: a role's people on a given day, with delegates for those away, never the requester.

Pure functions over the compiled org chart. A role nobody can take (everyone away without a
delegate, or only the requester) passes to the role it reports to; the top role is the last resort,
so a chain never dead-ends.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from aios_policy.constitution.model import CompiledConstitution, Person, RelativeApprover
from aios_policy.constitution.values import lookup
from aios_policy.words.decision import one_line


@dataclass(frozen=True)
class Approver:
    person: Person
    covering_for: str | None

    def to_json(self) -> dict[str, object]:
        return {"id": self.person.id, "name": self.person.name, "email": self.person.email,
                "handles": dict(sorted(self.person.handles.items())), "covering_for": self.covering_for}


@dataclass(frozen=True)
class Assignment:
    """The role that ends up approving, its approvers, and why it moved if it did."""

    role: str
    approvers: tuple[Approver, ...]
    notes: tuple[str, ...]


def canonical_id(text: str) -> str:
    """The one form in which a request's actor id is compared with people: NFKC, format characters
    (zero-width spaces, bidi marks, soft hyphens) dropped, case folded, outer spaces stripped, then NFKC
    again (casefold can undo it). `DAVID.OKAFOR`, ` david.okafor ` and its full-width form are all
    `david.okafor`. org.json's own ids follow `^[a-z][a-z0-9_.-]*$` (schemas/org.schema.json), a form this
    leaves unchanged, so they are looked up as written and shown as written."""
    if text.isascii():
        return text.lower().strip()  # the same answer for plain ids, without the Unicode walk
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", text.casefold()).strip()


def person_of(constitution: CompiledConstitution, actor_id: object) -> Person | None:
    """The person in org.json an actor id names, compared in canonical form; None for anyone else."""
    return constitution.people.get(canonical_id(actor_id)) if isinstance(actor_id, str) else None


def is_person(constitution: CompiledConstitution, actor: object) -> bool:
    """Whether the actor is a person in org.json acting as one. Anyone else, even an actor that says it
    is human, is trusted no more than an agent."""
    return (isinstance(actor, dict) and actor.get("kind") == "human"
            and person_of(constitution, actor.get("id")) is not None)


def actor_problem(constitution: CompiledConstitution, actor_id: str, kind: str, role: str | None = None) -> str | None:
    """The identity rules, in one place: a person in org.json (by canonical id) acts as a human, in a
    role they hold; anyone else may claim no role. Why an actor breaks them, or None."""
    person = person_of(constitution, actor_id)
    shown = one_line(actor_id)
    if person is not None:
        named = f"`{shown}`" if person.id == actor_id else f"`{shown}` (`{person.id}` in org.json)"
        if kind != "human":
            return f"{named} is a person in org.json, so they act as `human`, not `{one_line(kind)}`"
        if role is not None and role not in person.roles:
            return f"{named} does not hold role `{one_line(role)}` (org.json gives {', '.join(person.roles)})"
    elif role is not None:
        return f"actor `{shown}` is not a person in org.json, so it cannot act as `{one_line(role)}`"
    return None


def away(person: Person, day: date) -> str | None:
    """The delegate's id when the person is away that day, else None."""
    for absence in person.out_of_office:
        if absence.first_day <= day <= absence.last_day:
            return absence.delegate
    return None


def holders(constitution: CompiledConstitution, role: str) -> list[Person]:
    return [p for p in constitution.people.values() if role in p.roles]


def _available(constitution: CompiledConstitution, role: str, day: date, excluded: set[str]) -> list[Approver]:
    chosen: dict[str, Approver] = {}
    for person in holders(constitution, role):
        if person.id in excluded:
            continue  # the requester's own seat is not handed to their delegate
        current, covering, seen = person, None, set()
        while (delegate := away(current, day)) and delegate in constitution.people and current.id not in seen:
            seen.add(current.id)
            covering = covering or person.id
            current = constitution.people[delegate]
        if away(current, day):
            continue  # the delegate chain ends with someone away too
        if current.id not in excluded and current.id not in chosen:
            chosen[current.id] = Approver(current, covering)
    return list(chosen.values())


def assign(constitution: CompiledConstitution, role: str, day: date, requester: str | None,
           named: set[str] | frozenset[str] = frozenset(), needed: int = 1) -> Assignment:
    """The approvers of role on day: never the requester (the actor's id, compared in canonical form),
    nobody already named at an earlier stage, and at least `needed` of them, moving up reports_to
    until there are."""
    notes: list[str] = []
    requester = canonical_id(requester) if requester else None
    excluded = set(named) | _requester_side(constitution, requester, day)
    current, visited = role, set()
    while current in constitution.roles and current not in visited:
        visited.add(current)
        approvers = _available(constitution, current, day, excluded)
        if len(approvers) >= needed:
            return Assignment(current, tuple(approvers), tuple(notes))
        manager = constitution.roles[current].reports_to
        title = constitution.roles[current].title
        people = holders(constitution, current)
        reason = ("only the requester holds it" if people and all(p.id == requester for p in people)
                  else "its people already approve at an earlier stage" if people and any(p.id in named for p in people)
                  else f"fewer than {needed} of its people are available" if needed > 1 and approvers
                  else "nobody who holds it is available")
        if manager is None or manager not in constitution.roles:
            break
        notes.append(f"{title} passed to {constitution.roles[manager].title}: {reason}")
        current = manager
    # the top of the chain: its people even if away, still never the requester
    last = [Approver(p, None) for p in holders(constitution, current) if p.id not in excluded]
    if last:
        notes.append(f"nobody else can approve, so {constitution.roles[current].title} decides even while away")
        return Assignment(current, tuple(last), tuple(notes))
    top = holders(constitution, current)
    if any(p.id == requester for p in top):
        notes.append("separation of duties cannot be kept: the requester holds the top role and nobody else can "
                     "approve")
    else:  # the top role's people approve at an earlier stage already: this stage cannot get a second person
        notes.append(f"two-person control cannot be kept: the {constitution.roles[current].title}'s people already "
                     "approve at an earlier stage and nobody else can, so this stage waits for its timeout")
    return Assignment(current, tuple(Approver(p, None) for p in top), tuple(notes))


def _requester_side(constitution: CompiledConstitution, requester: str | None, day: date) -> set[str]:
    """Who may not approve a request: the requester, and whoever stands in for the requester that day."""
    if not requester:
        return set()
    person = constitution.people.get(requester)
    delegate = away(person, day) if person is not None else None
    return {requester, delegate} if delegate else {requester}


class RoutingError(Exception):
    """A stage's approver cannot be found from the request (no such unit, no manager): fail closed."""


def primary_role(constitution: CompiledConstitution, person: Person) -> str:
    """The person's first role in org.json: the one they hold the unit or the seat in."""
    return person.roles[0]


def assign_relative(constitution: CompiledConstitution, approver: RelativeApprover, request: dict[str, Any],
                    day: date, requester: str | None, named: set[str] | frozenset[str] = frozenset()) -> Assignment:
    """The person an approver relative to the request names: the requester's manager, or the head or
    budget owner of a unit. Separation of duties and delegation apply; RoutingError when nobody can be found."""
    requester = canonical_id(requester) if requester else None
    person = constitution.people.get(requester) if requester else None
    if approver.relation == "manager_of":
        if person is None:
            raise RoutingError(f"the requester `{one_line(requester or '?')}` is not a person in org.json, so they "
                               "have no manager to approve")
        claimed = a.get("role") if isinstance(a := request.get("actor"), dict) else None
        role = claimed if isinstance(claimed, str) and claimed in person.roles else primary_role(constitution, person)
        manager = constitution.roles[role].reports_to if role in constitution.roles else None
        if manager is None:
            raise RoutingError(f"`{role}` reports to nobody, so the requester has no manager to approve")
        return assign(constitution, manager, day, requester, named)
    unit_id = (person.unit if person else None) if approver.of == "requester" else lookup(request, approver.of)
    if not isinstance(unit_id, str) or unit_id not in constitution.units:
        where = "the requester's unit" if approver.of == "requester" else f"`{approver.of}`"
        shown = "nothing" if unit_id is None else f"`{one_line(unit_id)}`"
        raise RoutingError(f"{where} is {shown}, not a unit in org.json, so the "
                           f"{approver.relation.removesuffix('_of').replace('_', ' ')} cannot be found")
    excluded = set(named) | _requester_side(constitution, requester, day)
    notes: list[str] = []
    unit, seen = constitution.units[unit_id], set()
    while unit.id not in seen:
        seen.add(unit.id)
        chosen = (unit.budget_owner or unit.head) if approver.relation == "budget_owner_of" else unit.head
        found = constitution.people.get(chosen)
        if found is not None and found.id not in excluded:
            delegate = away(found, day)
            stand_in = constitution.people.get(delegate) if delegate else None
            if stand_in is not None and stand_in.id not in excluded:
                return Assignment(primary_role(constitution, found), (Approver(stand_in, found.id),), tuple(notes))
            return Assignment(primary_role(constitution, found), (Approver(found, None),), tuple(notes))
        if unit.parent is None or unit.parent not in constitution.units:
            if found is None:
                raise RoutingError(f"unit `{unit.id}` names `{chosen}`, who is not a person in org.json")
            notes.append(f"{unit.title}: its {approver.relation.removesuffix('_of').replace('_', ' ')} is the "
                         "requester or approves already, so one step up the chain approves")
            manager = constitution.roles[primary_role(constitution, found)].reports_to
            if manager is None:
                raise RoutingError(f"nobody above `{found.id}` can approve for unit `{unit.id}`")
            assignment = assign(constitution, manager, day, requester, named)
            return Assignment(assignment.role, assignment.approvers, (*notes, *assignment.notes))
        notes.append(f"{unit.title}: passed to {constitution.units[unit.parent].title}, the unit above it")
        unit = constitution.units[unit.parent]
    raise RoutingError(f"unit `{unit_id}` belongs to itself through its parents")
