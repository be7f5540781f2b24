"""Each action's input space cut into cells, so that a request is decided by finding its cell.

The cut is the analysis's (`constitution/space.py`): every simple field the action's rules compare is
split at each number they mention (one bisect finds the stretch a value falls in), each text they name
(one set lookup: that text, or any other), each flag; every field may be missing. Raw JMESPath, complex
paths and regular expressions are evaluated for the request itself, each a dimension of its own whose
value is its result. With the rules in effect at the request's moment and at now, whether the actor
is a person in org.json and whether the currency is still foreign (no amount to convert), that is the
cell: every request of one cell is decided alike, so what the first one worked out (`Engine.answer`:
the verdict, reasons, obligations, summary, what is missing; and its counterfactuals) serves all the
others, and `Engine.assemble` adds what is the request's own: its id,
money, the people on the day (kept by requester and day) and the deadline counted from now.

What the cells cannot place is decided rule by rule (`Engine.decide_by_rules`, also the oracle the tests
hold this to): a value of a kind some rule of its field would refuse (the error names the value), an
unreadable `at`, an amount in a currency with no rate, history conditions (the log changes with every
decision), an explained decision. Two things echo the request in an answer and are kept apart: the
stated confidence and a human actor's id in the confidence safeguard. An action whose rules read fields
opaquely keeps no answer that lacks a field, and works out counterfactuals for each request.

Caches are bounded (`MAX_CELLS` answers per action, `MAX_ROUTINGS` routings per answer: the oldest go).
"""

from __future__ import annotations

import contextlib
import math
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aios_policy.constitution.conditions import (
    ORDERING,
    Comparison,
    Condition,
    RawExpression,
    history_comparisons,
)
from aios_policy.constitution.space import DOMAINS
from aios_policy.constitution.values import MISSING, getter, is_number
from aios_policy.words.decision import printable

from .frozen import EMPTY
from .outcome import NEEDS_INFO, Outcome
from .people import canonical_id

if TYPE_CHECKING:
    from .decide import Answer, Engine, Routing

MAX_CELLS = 32_768
MAX_ROUTINGS = 64
MAX_MOMENTS = 4_096

FAIL: Any = object()  # a value the cells cannot place
_OTHER: Any = object()  # text no rule names
_ABSENT = "absent"  # an opaque path that is missing (a fact the decision may ask for)
_UNBUILT: Any = object()
_KINDS = {"a number": "n", "text": "s", "true or false": "b"}

Locate = Callable[[dict[str, Any]], Any]


class Cells:
    """The cells of every action of one engine, built the first time an action is asked about."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._actions: dict[str, ActionCells | None] = {}
        self._moments: dict[str, datetime | None] = {}
        self._canonical: dict[str, str] = {}
        self._day: tuple[datetime, datetime, date] | None = None

    def _of(self, request: dict[str, Any]) -> ActionCells | None:
        """The cells of the request's action, built the first time; None when it has none."""
        action = request.get("action")
        if type(action) is not str:
            return None
        cells = self._actions.get(action, _UNBUILT)
        if cells is _UNBUILT:
            cells = self._actions[action] = ActionCells.of(self.engine, action)
        return cells

    def decide(self, request: dict[str, Any], now: datetime, counterfactuals: bool) -> dict[str, Any] | None:
        """The decision from the request's cell; None when the cells cannot place it."""
        cells = self._of(request)
        return cells.decide(request, now, counterfactuals, self) if cells is not None else None

    def known(self, request: dict[str, Any], at: datetime, judge: Callable[[], Outcome]) -> Outcome:
        """The outcome at `at` of a request near one being decided (the counterfactual walk), kept by its
        cell: cells that share a neighbour judge it once. judge() works it out when it is not kept."""
        action = request.get("action")
        cells = self._actions.get(action) if type(action) is str else None
        key = cells.key(request, at, at, self.requester(request.get("actor"))[1]) if cells is not None else None
        if key is None or cells is None:
            return judge()
        found = cells.outcomes.get(key)
        if found is None:
            found = judge()
            _keep(cells.outcomes, key, found, MAX_CELLS)
        return found

    def outcome(self, request: dict[str, Any], now: datetime) -> Outcome | None:
        """The outcome of the request's cell, when that cell has been worked out already; else None."""
        action = request.get("action")
        cells = self._actions.get(action) if type(action) is str else None
        return cells.outcome(request, now, self) if cells is not None else None

    def answer(self, request: dict[str, Any], now: datetime) -> Answer | None:
        """The answer of the request's cell (worked out when it is not yet): what every request of the
        cell shares before people and deadlines, the same object for each of them while it is kept.
        None where the cells cannot place the request or keep its answer."""
        cells = self._of(request)
        at = self.moment(request.get("at"), now)
        currency = request.get("currency")
        if cells is None or at is None or (currency is not None and currency != cells.currency):
            return None
        key = cells.key(request, at, now, self.requester(request.get("actor"))[1])
        if key is None:
            return None
        cell = cells.cells.get(key)
        if cell is None:
            cell = cells._work_out(key, request, at, now)
            if cells.cells.get(key) is not cell:
                return None  # not kept (an opaque rule lacks a field): not shared by the cell's requests
        return cell.answer

    def moment(self, text: Any, now: datetime) -> datetime | None:
        """The request's `at` as the engine reads it (kept by text); None when unreadable."""
        if text is None:
            return now
        found = self._moments.get(text, _UNBUILT) if type(text) is str else None
        if found is _UNBUILT:
            if len(self._moments) >= MAX_MOMENTS:
                self._moments.clear()
            found = self._moments[text] = self.engine._moment(text, now)
        return found

    def requester(self, actor: Any) -> tuple[str | None, bool]:
        """The actor's id in canonical form (None without one), and whether the actor is a person in
        org.json acting as one (kept by id: the canonical form is the costly part)."""
        if not isinstance(actor, dict):
            return None, False
        actor_id = actor.get("id")
        if not isinstance(actor_id, str):
            return None, False
        found = self._canonical.get(actor_id)
        if found is None:
            if len(self._canonical) >= MAX_MOMENTS:
                self._canonical.clear()
            found = self._canonical[actor_id] = canonical_id(actor_id)
        return found, actor.get("kind") == "human" and found in self.engine.constitution.people

    def day(self, now: datetime) -> date:
        """now's day in the company's time zone (the bounds of the last day found are kept, in UTC: an
        aware moment compares with them without asking a time zone for its offset)."""
        kept = self._day
        if kept is not None and kept[0] <= now < kept[1]:
            return kept[2]
        zone = self.engine.manifest.timezone
        day = now.astimezone(zone).date()
        start = datetime.combine(day, datetime.min.time(), zone)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        # kept only where both bounds are the day's own (a midnight that DST skips is not)
        if start.astimezone(zone).date() == day and (end - timedelta(microseconds=1)).astimezone(zone).date() == day:
            self._day = (start.astimezone(UTC), end.astimezone(UTC), day)
        return day


class _Cell:
    """What one cell worked out: its answer, its routings by requester and day, its counterfactuals; for
    a cell whose answer echoes the request (the confidence safeguard), one such per echoed value."""

    __slots__ = ("answer", "counterfactuals", "echoes", "routings", "template")

    def __init__(self, answer: Answer | None) -> None:
        self.answer = answer
        self.template: dict[str, Any] | None = None  # the decision of an answer that escalates to nobody
        self.routings: dict[tuple[Any, ...], _Routed] = {}
        self.counterfactuals: list[str] | None = None
        self.echoes: dict[tuple[Any, ...], _Cell] | None = None


class ActionCells:
    """One action's cells: how a request is placed, and what each cell has worked out so far."""

    def __init__(self, engine: Engine, action: str, locators: list[Locate], opaque: list[Condition],
                 relative: list[Callable[[Any], Any]]) -> None:
        self.engine, self.action = engine, action
        self.locators, self.opaque = locators, opaque
        rules = engine.rules[action]
        self.dated = [r for r in rules if r.effective_from is not None or r.effective_until is not None]
        self.relative = relative  # the fields relative approvers are found from
        self.cells: dict[tuple[Any, ...], _Cell] = {}
        self.outcomes: dict[tuple[Any, ...], Outcome] = {}  # verdicts at `at` of the counterfactual walk
        self.currency = engine.manifest.currency
        self._in_effect: dict[datetime, tuple[bool, ...]] = {}  # which dated rules hold at a moment

    @classmethod
    def of(cls, engine: Engine, action: str) -> ActionCells | None:
        """The cells of action; None when its requests must be decided rule by rule (no rules govern
        it, so every request takes the default; or its rules read history)."""
        rules = engine.rules.get(action)
        if not rules or any(history_comparisons(rule.condition) for rule in rules):
            return None
        by_path: dict[str, list[Comparison]] = {}
        opaque: dict[int, Condition] = {}
        for rule in rules:
            for leaf in _leaves(rule.condition):
                if leaf.opaque:
                    opaque.setdefault(id(leaf), leaf)
                elif isinstance(leaf, Comparison):
                    by_path.setdefault(leaf.path, []).append(leaf)
        by_path.setdefault("confidence", [])  # the agents' bar cuts it too
        locators = [_locator(path, comparisons, {engine.bars[action]} if path == "confidence" else set())
                    for path, comparisons in sorted(by_path.items())]
        paths = sorted({s.approver.of for r in rules if r.escalation for s in r.escalation.stages
                        if s.approver is not None and s.approver.of != "requester"}
                       | {s.approver.of for s in engine.manifest.default_escalation.stages
                          if s.approver is not None and s.approver.of != "requester"})
        return cls(engine, action, locators, list(opaque.values()), [getter(p) for p in paths])

    # placing a request ------------------------------------------------------------------------------
    def key(self, request: dict[str, Any], at: datetime, now: datetime, person: bool) -> tuple[Any, ...] | None:
        parts = [locate(request) for locate in self.locators]
        if FAIL in parts:
            return None
        for leaf in self.opaque:
            if isinstance(leaf, Comparison) and leaf.lookup(request) is MISSING:
                parts.append(_ABSENT)
                continue
            try:
                parts.append(leaf.test(request))
            except Exception:  # an error's text names the value: decided rule by rule
                return None
        if self.dated:
            parts.append(self._effective(at))
            parts.append(self._effective(now))
        currency = request.get("currency")  # still foreign only without an amount: a varied one is not judged
        parts.append(currency is not None and currency != self.currency)
        parts.append(person)
        return tuple(parts)

    def _effective(self, moment: datetime) -> tuple[bool, ...]:
        """Which of the dated rules are in effect at moment (kept by moment, bounded)."""
        found = self._in_effect.get(moment)
        if found is None:
            if len(self._in_effect) >= MAX_MOMENTS:
                self._in_effect.clear()
            found = self._in_effect[moment] = tuple(r.in_effect(moment) for r in self.dated)
        return found

    def outcome(self, request: dict[str, Any], now: datetime, cells: Cells) -> Outcome | None:
        at = cells.moment(request.get("at"), now)
        if at is None:
            return None
        currency = request.get("currency")
        if currency is not None and currency != self.currency:
            request, money = self.engine._in_currency(request, at)
            if money is None and "amount" in request:
                return None
        key = self.key(request, at, now, cells.requester(request.get("actor"))[1])
        cell = self.cells.get(key) if key is not None else None
        if cell is None or cell.answer is None:
            return None
        return NEEDS_INFO if cell.answer.missing else cell.answer.verdict.key

    def decide(self, request: dict[str, Any], now: datetime, counterfactuals: bool,
               cells: Cells) -> dict[str, Any] | None:
        engine = self.engine
        at = cells.moment(request.get("at"), now)
        if at is None:
            return None
        money = None
        currency = request.get("currency")
        if currency is not None and currency != self.currency:
            request, money = engine._in_currency(request, at)
            if money is None and "amount" in request:
                return None  # no rate: the error names the currency
        actor = request.get("actor")
        requester, person = cells.requester(actor)
        key = self.key(request, at, now, person)
        if key is None:
            return None
        cell = self.cells.get(key)
        if cell is None:
            cell = self._work_out(key, request, at, now)
        own = self._echo(cell, request, at, now) if cell.echoes is not None else cell
        answer = own.answer
        assert answer is not None  # an answer is worked out for every cell, before it is kept
        if answer.decision == "escalate":
            role = actor.get("role") if isinstance(actor, dict) else None
            routed = self._routing(own, answer, request, now, cells,
                                   (requester, role if isinstance(role, str) else None, cells.day(now)))
            decision = self._filled(routed, answer, request, now, money)
        else:
            template = own.template
            if template is None:
                template = own.template = engine.assemble(answer, None, request, now, None, EMPTY)
            decision = template.copy()
            decision["decided_at"] = now.isoformat()
            decision["request_id"] = _echo_id(request)
            decision["money"] = money
        if counterfactuals and not answer.missing:
            found = cell.counterfactuals
            if found is None:
                found = engine.counterfactuals(answer, request, cells.known)
                if not self.opaque:
                    cell.counterfactuals = found
            decision["counterfactuals"] = found
        return decision

    def _filled(self, routed: _Routed, answer: Answer, request: dict[str, Any], now: datetime,
                money: dict[str, Any] | None) -> dict[str, Any]:
        """The decision from the routing's template: the request's id, money, moment and deadline."""
        routing = routed.routing
        due = None
        if routing.sla is not None:
            written: list[str] = []
            due = self.engine._due(now, routing.sla, written)
            if written:  # no date can hold the deadline: the errors say so, as rule by rule
                return self.engine.assemble(answer, routing, request, now, money, EMPTY)
        template = routed.template
        if template is None:
            template = routed.template = self.engine.assemble(answer, routing, request, now, None, EMPTY)
        decision = template.copy()
        decision["decided_at"] = now.isoformat()
        decision["request_id"] = _echo_id(request)
        decision["escalation"] = routing.escalation(due)
        decision["money"] = money
        return decision

    def _work_out(self, key: tuple[Any, ...], request: dict[str, Any], at: datetime, now: datetime) -> _Cell:
        engine = self.engine
        verdict, judged_at = engine._judged(request, at, now)
        answer = engine.answer(request, judged_at, verdict)
        cell = _Cell(answer)
        if verdict.safeguard is not None and verdict.safeguard[0] == "confidence":
            cell.echoes = {_echoed(request): _Cell(answer)}
        if self.opaque and verdict.missing:
            return cell  # what is missing is worked out by varying fields the opaque rules read: not kept
        _keep(self.cells, key, cell, MAX_CELLS)
        return cell

    def _echo(self, cell: _Cell, request: dict[str, Any], at: datetime, now: datetime) -> _Cell:
        """The cell's answer for this request's stated confidence and actor (its safeguard says both)."""
        assert cell.echoes is not None
        echoed = _echoed(request)
        found = cell.echoes.get(echoed)
        if found is None:
            verdict, judged_at = self.engine._judged(request, at, now)
            found = _Cell(self.engine.answer(request, judged_at, verdict))
            _keep(cell.echoes, echoed, found, MAX_ROUTINGS)
        return found

    def _routing(self, cell: _Cell, answer: Answer, request: dict[str, Any], now: datetime, cells: Cells,
                 who: tuple[Any, ...]) -> _Routed:
        """The answer routed for this requester (canonical id, claimed role), day and relative approvers."""
        key = (*who, *(_hashable(read(request)) for read in self.relative)) if self.relative else who
        found = cell.routings.get(key)
        if found is None:
            found = _Routed(self.engine.routing(answer, request, now))
            if FAIL not in key:
                _keep(cell.routings, key, found, MAX_ROUTINGS)
        return found


class _Routed:
    """A routing, and the decision it gives before the request's own parts are filled in."""

    __slots__ = ("routing", "template")

    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self.template: dict[str, Any] | None = None


def _echo_id(request: dict[str, Any]) -> str | None:
    found = request.get("id")
    return printable(found) if isinstance(found, str) else None


def _keep(kept: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """kept[key] = value, the oldest entry dropped first when kept holds limit (another thread may be
    doing the same: then one of the two drops)."""
    if len(kept) >= limit:
        with contextlib.suppress(RuntimeError, StopIteration):
            kept.pop(next(iter(kept)), None)
    kept[key] = value


def _echoed(request: dict[str, Any]) -> tuple[Any, ...]:
    """What the confidence safeguard says of the request: the confidence as written, a human actor's id."""
    confidence = request.get("confidence")
    actor = request.get("actor")
    human = isinstance(actor, dict) and actor.get("kind") == "human"
    return (f"{confidence:g}" if is_number(confidence) else None,
            repr(actor.get("id")) if human and isinstance(actor, dict) else None)


def _hashable(value: Any) -> Any:
    return value if value is None or type(value) in (str, int, float, bool) else FAIL


def _leaves(condition: Condition) -> list[Condition]:
    children = getattr(condition, "children", None)
    if children is not None:
        return [leaf for child in children for leaf in _leaves(child)]
    child = getattr(condition, "child", None)
    if child is not None:
        return _leaves(child)
    return [condition] if isinstance(condition, Comparison | RawExpression) else []


def _accepted(comparison: Comparison) -> set[str]:
    """The kinds of value a comparison judges without an error (n: number, s: text, b: flag, l: list,
    o: object)."""
    op = comparison.op
    if op == "exists":
        return {"n", "s", "b", "l", "o"}
    if op in ORDERING:
        return {"n"}
    if op == "contains":
        return {"l", "s"} if isinstance(comparison.value, str) else {"l"}
    return {_KINDS[kind] for kind in comparison.kinds if kind in _KINDS}


def _locator(path: str, comparisons: list[Comparison], extra: set[float]) -> Locate:
    """How a request's value at path is placed among the regions the comparisons cut: a value standing
    for the region (FAIL for a kind some comparison would refuse, None when missing)."""
    read = getter(path)
    accepted = {"n", "s", "b", "l", "o"}
    for comparison in comparisons:
        accepted &= _accepted(comparison)
    if path == "confidence":
        accepted &= {"n"}  # the bar compares a number
    points: set[float] = set(extra)
    texts: set[str] = set()
    for comparison in comparisons:
        literals = comparison.value if isinstance(comparison.value, list) else [comparison.value]
        points.update(v for v in literals if is_number(v))
        texts.update(v for v in literals if isinstance(v, str))
    low, high = DOMAINS.get(path, (None, None))
    points.update(b for b in (low, high) if b is not None)
    cuts = sorted(points)
    named = frozenset(texts)
    searching = [c for c in comparisons if c.op == "contains"]

    def number(value: float) -> int:
        index = bisect_left(cuts, value)
        return 2 * index + (index < len(cuts) and cuts[index] == value)

    if accepted == {"n"}:
        def locate_number(request: dict[str, Any]) -> Any:
            value = read(request)
            if value is None:
                return None
            kind = type(value)
            if (kind is int or kind is float) and math.isfinite(value):
                return number(value)
            return FAIL
        return locate_number
    if accepted == {"s"} and not searching:
        def locate_text(request: dict[str, Any]) -> Any:
            value = read(request)
            if value is None:
                return None
            if type(value) is str:
                return value if value in named else _OTHER
            return FAIL
        return locate_text

    def locate(request: dict[str, Any]) -> Any:
        value = read(request)
        if value is None:
            return None
        kind = type(value)
        if kind is int or kind is float:
            return ("n", number(value)) if "n" in accepted and math.isfinite(value) else FAIL
        if kind is str:
            if "s" not in accepted:
                return FAIL
            return ("s", value if value in named else _OTHER, tuple(c.test(request) for c in searching))
        if kind is bool:
            return ("b", value) if "b" in accepted else FAIL
        if kind is list:
            return ("l", tuple(c.test(request) for c in searching)) if "l" in accepted else FAIL
        if kind is dict:
            return ("o",) if "o" in accepted else FAIL
        return FAIL
    return locate
