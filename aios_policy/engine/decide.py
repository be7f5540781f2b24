"""The decision engine: a request and a moment in, automate / escalate / deny / needs_info out.

Pure: no I/O, no clock, no global state. `Engine(compiled)` prepares once (rules by action,
confidence bars, people); `Engine.decide(request, now)` reads only its arguments. It fails closed:
no matching rule, an unknown action, an unreadable request or any error while evaluating gives at
least an escalation, never an automation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aios_policy.constitution.conditions import Comparison, EvaluationError, HistoryReading, may_hold_for_action
from aios_policy.constitution.dates import Deadlines, Duration, parse_moment
from aios_policy.constitution.model import CompiledConstitution, Escalation, Rule, Stage, Timeout
from aios_policy.constitution.space import DOMAINS, Interval, contains, field_values, intervals, numeric_points
from aios_policy.constitution.values import MISSING, is_finite_number, lookup, with_field
from aios_policy.words.decision import one_line, printable, summary, would
from aios_policy.words.numbers import interval_text, value_text
from aios_policy.words.outcome import approver_text, outcome_text

from .cells import Cells
from .combine import combine
from .frozen import EMPTY, frozen
from .history import HistoryView, reading
from .history import figures as history_figures
from .outcome import NEEDS_INFO, Outcome
from .people import Assignment, RoutingError, assign, assign_relative, canonical_id, is_person

MAX_VARIED_FIELDS = 6


@dataclass
class Verdict:
    """The outcome of the rules for one request, before people and deadlines are worked out."""

    decision: str  # automate | escalate | deny
    matched: list[Rule]
    deciding: Rule | None
    escalation: Escalation | None
    safeguard: tuple[str, str | None, str] | None  # (rule name, policy, text) when no rule decides alone
    errors: list[str]
    missing: list[str] = field(default_factory=list)
    results: dict[str, bool | str] = field(default_factory=dict)  # rule id -> matched, or why it failed
    blocked: list[tuple[Rule, tuple[str, ...]]] = field(default_factory=list)  # false only for lack of fields

    @property
    def key(self) -> Outcome:
        """What the outcome is, for comparing outcomes: the decision, who approves stage by stage, how
        many approvals each stage needs, and what happens when nobody answers."""
        return Outcome.of(self.decision, self.escalation)


@dataclass(frozen=True)
class Answer:
    """What a verdict comes to, before people and deadlines: the same for every request of one cell."""

    verdict: Verdict
    at: datetime  # the moment the verdict was judged at (the request's, or now when that was stricter)
    decision: str
    missing: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    obligations: list[dict[str, Any]]
    errors: list[str]
    summary: str


@dataclass(frozen=True)
class Routing:
    """An answer's escalation routed to people for one requester on one day, its deadline not yet set."""

    stages: list[dict[str, Any]]
    due_at: int | None  # the stage whose clock starts at the decision
    sla: Duration | None  # that stage's SLA
    first: int  # the first stage that approves or signs (the escalation's role, SLA and due are its own)
    require: dict[str, Any]
    reasons: list[dict[str, Any]]  # the answer's, with the routing's errors and notes
    errors: list[str]
    notes: int  # how many of the reasons, at the end, are routing notes

    def escalation(self, due: str | None) -> dict[str, Any]:
        """The decision's `escalation`, with the deadline set on the stage whose clock starts now (that
        stage and the list of stages are the decision's own; what they hold is shared)."""
        stages = self.stages
        index = self.due_at
        if self.sla is not None:
            assert index is not None  # an SLA is taken from the stage that has the deadline
            stages = [*stages[:index], {**stages[index], "due": due}, *stages[index + 1:]]
        first = stages[self.first]
        return {"role": first["role"], "stages": stages, "require": self.require, "sla": first["sla"],
                "due": first["due"], "on_timeout": first["on_timeout"]}


def _cuts(comparisons: list[Comparison]) -> dict[str, list[Interval]]:
    """Each simple numeric field the comparisons read, cut at every number they compare it with (one
    pass over the comparisons), by path."""
    by_path: dict[str, list[Comparison]] = {}
    for comparison in comparisons:
        if comparison.simple:
            by_path.setdefault(comparison.path, []).append(comparison)
    cuts = {}
    for path in sorted(by_path):
        points = numeric_points(by_path[path], path)
        if points:
            cuts[path] = intervals(points, DOMAINS.get(path))
    return cuts


def _readers(rules: tuple[Rule, ...], comparisons: list[Comparison]) -> dict[str, list[Rule]]:
    """For each path the rules compare: the rules, in order, whose result can change with it (an opaque
    rule can change with any). One pass over the rules."""
    readers: dict[str, list[Rule]] = {path: [] for path in {c.path for c in comparisons}}
    for rule in rules:
        paths = readers if rule.condition.opaque else {c.path for c in rule.condition.comparisons()}
        for path in paths:
            readers[path].append(rule)
    return readers


# where the outcomes of requests near one being decided are kept: (request, at, how to judge it) -> outcome
Known = Callable[[dict[str, Any], datetime, Callable[[], Outcome]], Outcome]


class Engine:
    """A compiled constitution prepared for deciding many requests."""

    def __init__(self, constitution: CompiledConstitution) -> None:
        self.constitution = constitution
        self.manifest = constitution.manifest
        # for each action, the rules that can hold for it (a rule guarded by `action = other` never can)
        self.rules = {action: tuple(r for r in rules if may_hold_for_action(r.condition, action))
                      for action, rules in constitution.rules_by_action.items()}
        self.bars = {action: self._bar(action) for action in self.rules}
        self.comparisons = {action: [c for rule in rules for c in rule.condition.comparisons()]
                            for action, rules in self.rules.items()}
        # for each action: the numeric fields its rules compare, and where they cut the number line
        self.cuts = {action: _cuts(comparisons) for action, comparisons in self.comparisons.items()}
        # the fields to look for before deciding whether tracking missing fields is worth it; None when
        # a rule reads a field through a path we cannot look up directly (then we always track)
        self.paths = {action: None if any(not c.simple for c in comparisons)
                      else sorted({c.path for c in comparisons})
                      for action, comparisons in self.comparisons.items()}
        # for each action and path: the rules whose result can change with it (opaque rules always can)
        self.readers = {action: _readers(rules, self.comparisons[action]) for action, rules in self.rules.items()}
        self._combinations: dict[tuple[str, ...], Escalation] = {}
        self._values: dict[tuple[str, str], list[Any]] = {}  # (action, path) -> a value per region of path
        hours = self.manifest.business_hours
        self.deadlines = Deadlines(self.manifest.timezone, hours.days, hours.start, hours.end, self.manifest.holidays)
        provenance = constitution.provenance
        self.stamp = frozen({"name": self.manifest.name, "commit": provenance.commit, "ref": provenance.ref,
                             "dirty": provenance.dirty})
        self.cells = Cells(self)
        default = self.manifest.default_escalation
        self.owner_escalation = {
            policy.id: Escalation((Stage(policy.owner, 1, "confidence review"),), default.require, default.sla,
                                  default.sla_threshold, default.on_timeout)
            for policy in constitution.policies.values()}

    def _bar(self, action: str) -> float:
        bars = [p.min_confidence for p in self.constitution.policies.values()
                if action in p.actions and p.min_confidence is not None]
        return max([self.manifest.min_confidence, *bars])

    # the outcome of the rules ------------------------------------------------------------------
    def verdict(self, request: dict[str, Any], at: datetime, track_missing: bool = False,
                base: Verdict | None = None, varied: str | None = None) -> Verdict:
        """The outcome of the rules. With base and varied, only the rules that read the varied path
        are evaluated again; the others keep their result from base (the counterfactual fast path)."""
        action = request.get("action")
        rules = self.rules.get(action) if isinstance(action, str) else None
        if rules is None:
            return self._default(f"no policy governs action `{action}`", [], [])
        assert isinstance(action, str)  # only a text action finds rules
        missing: list[str] | None = [] if track_missing else None
        blocked: list[tuple[Rule, tuple[str, ...]]] = []
        reuse = base is not None and bool(base.results)
        results = dict(base.results) if reuse and base is not None else {}
        # with no varied path, every rule is evaluated again (as .get(None, rules) gave)
        for rule in self.readers[action].get(varied, rules) if reuse and varied is not None else rules:
            if not rule.in_effect(at):
                results[rule.id] = False
                continue
            before = len(missing) if missing is not None else 0
            try:
                results[rule.id] = rule.condition.evaluate(request, missing)
            except EvaluationError as error:
                results[rule.id] = f"rule `{rule.id}` could not be evaluated: {error}"
            if missing is not None and results[rule.id] is False and len(missing) > before:
                blocked.append((rule, tuple(dict.fromkeys(missing[before:]))))
        matched = [rule for rule in rules if results[rule.id] is True]
        errors = [result for rule in rules if isinstance(result := results[rule.id], str)]
        verdict = self._strictest(request, matched, errors + self._currency_errors(request))
        verdict.missing, verdict.results, verdict.blocked = missing or [], results, blocked
        return verdict

    def _currency_errors(self, request: dict[str, Any]) -> list[str]:
        """An amount still in another currency here had no rate to convert it: no limit can judge it."""
        currency = request.get("currency")
        if "amount" in request and currency is not None and currency != self.manifest.currency:
            return [f"the amount is in `{one_line(currency)}` and thresholds.json has no exchange rate from it to "
                    f"{self.manifest.currency} on the request's date, so no limit can judge it; add one under "
                    "`exchange_rates`, or convert the amount before asking"]
        return []

    def _in_currency(self, request: dict[str, Any], at: datetime) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The request with its amount in the constitution's currency, at the rate in effect on its day, and
        the conversion made (None when none was needed or no rate exists: then `_currency_errors` says so)."""
        currency, amount = request.get("currency"), request.get("amount")
        if currency is None or currency == self.manifest.currency or not is_finite_number(amount):
            return request, None
        day = at.astimezone(self.manifest.timezone).date()
        rate = next(((start, value) for start, value in self.constitution.exchange_rates.get(currency, ())
                     if start <= day), None) if isinstance(currency, str) else None
        if rate is None:
            return request, None
        converted = round(amount * rate[1], 2)
        return ({**request, "amount": converted, "currency": self.manifest.currency},
                {"amount": amount, "currency": currency, "rate": rate[1], "rate_from": rate[0].isoformat(),
                 "converted": converted})

    def _strictest(self, request: dict[str, Any], matched: list[Rule], errors: list[str]) -> Verdict:
        deny = next((r for r in matched if r.outcome == "deny"), None)
        if deny is not None:
            return Verdict("deny", matched, deny, None, None, errors)
        escalations = [r for r in matched if r.outcome == "escalate"]
        if escalations or errors:
            # every matched requirement applies: all matched escalations together, and the default one as
            # well when an error made the outcome uncertain
            parts: tuple[tuple[str | None, Escalation], ...] = tuple(
                (r.id, r.escalation) for r in escalations if r.escalation is not None)
            if errors:
                parts += ((None, self.manifest.default_escalation),)
            safeguard = None if escalations else ("default", None,
                                                  "an error made the outcome uncertain, so a person decides")
            return Verdict("escalate", matched, escalations[0] if escalations else None, self._combined(parts),
                           safeguard, errors)
        automate = next((r for r in matched if r.outcome == "automate"), None)
        if automate is None:
            return self._default("no rule covers this request", matched, errors)
        actor = request.get("actor")
        if not is_person(self.constitution, actor):  # an agent, or anyone org.json does not know
            bar, confidence = self.bars[request["action"]], request.get("confidence")
            if not is_finite_number(confidence) or not confidence >= bar:
                stated = "no confidence" if not is_finite_number(confidence) else f"confidence {confidence:g}"
                who = "the agent" if not isinstance(actor, dict) or actor.get("kind") != "human" else (
                    f"`{one_line(actor.get('id'))}` is not a person in org.json, so it is held to the agents' "
                    "bar: it")
                text = f"{who} stated {stated}; automating needs at least {bar:g}, so the policy owner decides"
                return Verdict("escalate", matched, None, self.owner_escalation[automate.policy],
                               ("confidence", automate.policy, text), errors)
        return Verdict("automate", matched, automate, None, None, errors)

    def _combined(self, parts: tuple[tuple[str | None, Escalation], ...]) -> Escalation:
        """The combination of these escalations, worked out once for each set of matched rules."""
        key = tuple(rule or "" for rule, _ in parts)
        found = self._combinations.get(key)
        if found is None:
            if len(self._combinations) >= 4096:
                self._combinations.clear()
            found = self._combinations[key] = combine(parts, self.manifest.approval_phases)
        return found

    def _default(self, text: str, matched: list[Rule], errors: list[str]) -> Verdict:
        return Verdict("escalate", matched, None, self.manifest.default_escalation, ("default", None, text), errors)

    def _authority(self, role: str) -> int:
        found = self.constitution.roles.get(role)
        return found.authority if found else -1

    # the full decision -------------------------------------------------------------------------
    def decide(self, request: dict[str, Any], now: datetime, explain: bool = False,
               problems: list[str] | tuple[str, ...] = (), counterfactuals: bool = True,
               history: HistoryView | None = None) -> dict[str, Any]:
        """The decision for request at now, as a dict following decision.schema.json (without id).

        problems: why the request is malformed, found at the edge; such a request is escalated.
        counterfactuals: False skips working out what would change the decision (the costliest part).
        history: the earlier decisions history conditions read (None: such rules fail closed).

        A request is placed in its cell of the action's input space (`cells.py`) and decided from what
        that cell's first request worked out; what the cells cannot place is decided rule by rule.
        The lists and dicts of the decision are shared with the engine's caches: read-only (frozen.py).
        """
        if not explain and not problems:
            found = self.cells.decide(request, now, counterfactuals)
            if found is not None:
                return found
        return self.decide_by_rules(request, now, explain, problems, counterfactuals, history)

    def decide_by_rules(self, request: dict[str, Any], now: datetime, explain: bool = False,
                        problems: list[str] | tuple[str, ...] = (), counterfactuals: bool = True,
                        history: HistoryView | None = None) -> dict[str, Any]:
        """`decide` evaluating every rule for this request alone: the oracle the cells are tested against,
        and the path of whatever they cannot place."""
        with reading(history, self._moment(request.get("at"), now) or now, now) as found:
            return self._decide(request, now, explain, problems, counterfactuals, found)

    def _decide(self, request: dict[str, Any], now: datetime, explain: bool, problems: list[str] | tuple[str, ...],
                counterfactuals: bool, found: HistoryReading) -> dict[str, Any]:
        at = self._moment(request.get("at"), now)
        money = None
        if problems:
            verdict = self._default("the request is malformed, so a person decides", [], list(problems))
            at = now
        elif at is None:
            verdict = self._default("the request's time `at` cannot be read", [],
                                    [f"`at` is `{request.get('at')}`, not a date or date-time"])
            at = now
        else:
            request, money = self._in_currency(request, at)
            verdict, at = self._judged(request, at, now)
        action = request.get("action")
        figures = history_figures(found, self.rules.get(action, ()) if isinstance(action, str) else ())
        answer = self.answer(request, at, verdict)
        routing = self.routing(answer, request, now) if answer.decision == "escalate" else None
        decision = self.assemble(answer, routing, request, now, money, figures)
        if counterfactuals and not answer.missing and not problems:
            decision["counterfactuals"] = self.counterfactuals(answer, request)
        if explain:
            decision["trace"] = self._trace(request, at)
        return decision

    def answer(self, request: dict[str, Any], at: datetime, verdict: Verdict) -> Answer:
        """What the verdict comes to for a request, before people and deadlines: the decision, what is
        missing, the reasons, obligations and summary. The same for every request of one cell."""
        missing = self._needed(request, at, verdict) if verdict.missing else []
        decision = "needs_info" if missing else verdict.decision
        return Answer(verdict, at, decision, frozen(missing), frozen(self._reasons(verdict, verdict.errors)),
                      frozen(self._obligations(verdict) if decision != "needs_info" else []),
                      frozen(list(verdict.errors)), self._summary(decision, verdict, missing, request))

    def counterfactuals(self, answer: Answer, request: dict[str, Any], known: Known | None = None) -> list[str]:
        """What would change the answer; known: where the outcomes of nearby requests are kept (the cells),
        None to judge each one rule by rule."""
        return frozen(self._counterfactuals(request, answer.at, answer.verdict, known))

    def routing(self, answer: Answer, request: dict[str, Any], now: datetime) -> Routing:
        """Who takes each stage of the answer's escalation for this requester on now's day, with the
        reasons and errors the routing adds; the stages without their deadline (`assemble` sets it)."""
        verdict = answer.verdict
        errors = list(verdict.errors)
        stages, due_at, notes = self._escalation(verdict, request, now, errors)
        reasons = self._reasons(verdict, errors) + [{"policy": None, "rule": "routing", "outcome": "escalate",
                                                     "text": note} for note in notes]
        first = next((i for i, s in enumerate(stages) if s["kind"] in ("approve", "sign")), 0)
        assert verdict.escalation is not None  # every escalate verdict carries the escalation it routes to
        sla = verdict.escalation.stages[due_at].sla if due_at is not None else None
        return Routing(frozen(stages), due_at, sla, first, frozen(verdict.escalation.require), frozen(reasons),
                       frozen(errors), len(notes))

    def assemble(self, answer: Answer, routing: Routing | None, request: dict[str, Any], now: datetime,
                 money: dict[str, Any] | None, figures: list[dict[str, Any]]) -> dict[str, Any]:
        """The decision, its counterfactuals left empty: the answer, with the routing's people and the
        deadline counted from now (or, when no date can hold it, an error saying so)."""
        escalation = None
        reasons, errors = answer.reasons, answer.errors
        if routing is not None:
            reasons, errors = routing.reasons, routing.errors
            written: list[str] = []
            due = self._due(now, routing.sla, written) if routing.sla is not None else None
            if written:  # past the last date that can be written: the approver sets one
                reasons = frozen([*reasons[:len(reasons) - routing.notes], *self._errors(written),
                                  *reasons[len(reasons) - routing.notes:]])
                errors = frozen([*errors, *written])
            escalation = routing.escalation(due)
        return {
            "id": None,
            "decided_at": now.isoformat(),
            # echoed text is printable: a malformed request may hold lone surrogates
            "request_id": printable(request["id"]) if isinstance(request.get("id"), str) else None,
            "action": printable(request["action"]) if isinstance(request.get("action"), str) else "",
            "decision": answer.decision,
            "summary": answer.summary,
            "escalation": escalation,
            "missing": answer.missing,
            "reasons": reasons,
            "counterfactuals": EMPTY,
            "obligations": answer.obligations,
            "errors": errors,
            "money": money,
            "history": figures,
            "constitution": self.stamp,
        }

    def _lacks_a_field(self, request: dict[str, Any]) -> bool:
        """Whether some field the action's rules read is absent (only then is tracking worth its cost)."""
        paths = self.paths.get(action) if isinstance(action := request.get("action"), str) else None
        return paths is None or any(lookup(request, path) is None for path in paths)

    def _moment(self, value: Any, now: datetime) -> datetime | None:
        if value is None:
            return now
        return parse_moment(value, self.manifest.timezone) if isinstance(value, str) else None

    def _escalation(self, verdict: Verdict, request: dict[str, Any], now: datetime,
                    errors: list[str]) -> tuple[list[dict[str, Any]], int | None, list[str]]:
        """The escalation's stages resolved to people on now's day (their deadlines not yet set), the
        index of the stage whose clock starts now (None: no waited-for stage has an SLA), and notes on any
        re-routing; what cannot be routed is added to errors."""
        escalation = verdict.escalation
        assert escalation is not None  # every escalate verdict carries the escalation it routes to
        actor = a if isinstance(a := request.get("actor"), dict) else {}
        # whoever the actor claims to be is never their own approver, whatever the kind or the spelling
        requester = canonical_id(actor["id"]) if isinstance(actor.get("id"), str) else None
        day = now.astimezone(self.manifest.timezone).date()
        stages: list[dict[str, Any]] = []
        notes: list[str] = []
        named: set[str] = set()  # one person approves at one stage only, or two-person control is lost
        # the first stage that is waited for starts its clock now; the others when they open
        due_at = next((i for i, s in enumerate(escalation.stages) if s.waited_for), None)
        if due_at is not None and escalation.stages[due_at].sla is None:
            due_at = None
        for stage in escalation.stages:
            assignment, found = self._assignment(stage, request, day, requester, named, errors)
            if stage.waited_for and found:  # a fallback stands in for nobody: it takes no one from later stages
                named.update(a.person.id for a in assignment.approvers)
            notes.extend(assignment.notes)
            people = len(assignment.approvers)
            needed = max(stage.approvals, people if stage.quorum == "all" else
                         people // 2 + 1 if stage.quorum == "majority" else 0) if stage.waited_for else 0
            timeout = stage.on_timeout or escalation.on_timeout
            stages.append({"name": stage.name, "phase": stage.phase, "kind": stage.kind, "role": assignment.role,
                           "approver": ({"relation": stage.approver.relation, "of": stage.approver.of}
                                        if stage.approver else None),
                           "approvals": needed, "approvers": [a.to_json() for a in assignment.approvers],
                           "sla": stage.sla.text if stage.sla else None, "due": None,
                           "on_timeout": self._timeout(timeout, assignment.role), "rules": list(stage.rules)})
        return stages, due_at, list(dict.fromkeys(notes))

    def _assignment(self, stage: Stage, request: dict[str, Any], day: date, requester: str | None,
                    named: set[str], errors: list[str]) -> tuple[Assignment, bool]:
        """Who takes a stage: its role's people, or the approver the request points at. An approver that
        cannot be found fails closed: the manifest's default escalation takes the stage, and the reason is
        an error of the decision."""
        signer = stage.kind == "sign" and self.manifest.requester_may_sign
        excluded_requester = None if signer else requester
        taken = named if stage.waited_for else set()
        if stage.approver is not None:  # found from the requester: never the requester themself
            try:
                return assign_relative(self.constitution, stage.approver, request, day, requester,
                                       taken), True
            except RoutingError as error:
                errors.append(f"stage `{stage.name or self._title(stage.who)}`: {error}")
                fallback = self.manifest.default_escalation.stages[0]
                assert fallback.role is not None  # the manifest's default escalation names roles
                return assign(self.constitution, fallback.role, day, requester), False
        assert stage.role is not None  # a stage names a role or an approver
        return assign(self.constitution, stage.role, day, excluded_requester, taken, stage.approvals), True

    def _timeout(self, timeout: Timeout, role: str) -> dict[str, Any]:
        """What happens when a stage's SLA passes; escalating with no role named goes one step up."""
        if timeout.then != "escalate":
            return {"then": timeout.then, "role": None}
        found = self.constitution.roles.get(role)
        return {"then": "escalate", "role": timeout.role or (found.reports_to if found and found.reports_to else role)}

    def _due(self, now: datetime, sla: Duration, errors: list[str]) -> str | None:
        """When the SLA runs out; None, with the reason added to errors, when no date can hold that moment
        (near the year 9999). The decision stays the escalation it is: a person sets the deadline."""
        try:
            return self.deadlines.due(now, sla).isoformat()
        except (OverflowError, ValueError):  # a date past year 9999 (or before year 1) cannot be made
            errors.append(f"the deadline {sla.text} after {now.isoformat()} is past the last date "
                          "that can be written, so the escalation has no due time; the approver sets one")
            return None

    def _reasons(self, verdict: Verdict, errors: list[str]) -> list[dict[str, Any]]:
        ordered = ([verdict.deciding] if verdict.deciding else []) + [r for r in verdict.matched
                                                                       if r is not verdict.deciding]
        reasons: list[dict[str, Any]] = [{"policy": r.policy, "rule": r.id, "outcome": r.outcome, "text": r.reason}
                                         for r in ordered]
        if verdict.safeguard:
            name, policy, text = verdict.safeguard
            reasons.insert(0, {"policy": policy, "rule": name, "outcome": "escalate", "text": text})
        reasons.extend(self._errors(errors))
        return reasons

    @staticmethod
    def _errors(errors: list[str]) -> list[dict[str, Any]]:
        return [{"policy": None, "rule": "error", "outcome": "escalate", "text": e} for e in errors]

    def _obligations(self, verdict: Verdict) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for rule in verdict.matched:
            if rule.outcome != verdict.decision or (verdict.safeguard and rule.outcome == "automate"):
                continue
            for obligation in rule.obligations:
                entry = {"kind": obligation.kind, "role": obligation.role, "text": obligation.text, "rule": rule.id}
                if entry not in found:
                    found.append(entry)
        return found

    def _trace(self, request: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
        trace = []
        action = request.get("action")
        for rule in self.constitution.rules_by_action.get(action, ()) if isinstance(action, str) else ():
            condition = rule.condition.describe()
            if not rule.in_effect(at):
                why, matched = f"not in effect at {at.isoformat()}", False
            else:
                try:
                    matched = rule.condition.evaluate(request)
                    why = f"{'matched' if matched else 'did not match'}: {condition}"
                except EvaluationError as error:
                    matched, why = False, f"could not be evaluated: {error}"
            trace.append({"policy": rule.policy, "rule": rule.id, "matched": matched, "why": why})
        return trace

    # what the outcome depends on ---------------------------------------------------------------
    def _variants(self, request: dict[str, Any], at: datetime, path: str) -> list[tuple[Any, Outcome]]:
        """The outcome at `at` for each region of path's values (kept by cell: requests of neighbouring
        cells that lack the same field judge each variant once)."""
        action: Any = request.get("action")  # text: only a request whose action has rules lacks fields
        values = self._values.get((action, path))
        if values is None:  # bounded: one entry per field an action's rules read
            comparisons = [c for c in self.comparisons.get(action, []) if c.path == path]
            values = self._values[(action, path)] = field_values(comparisons).get(path, [MISSING])
        base = self.verdict(request, at)

        def judge(varied: dict[str, Any]) -> Callable[[], Outcome]:
            return lambda: self.verdict(varied, at, base=base, varied=path).key

        found = []
        for value in values:
            varied = with_field(request, path, value)
            found.append((value, self.cells.known(varied, at, judge(varied))))
        return found

    def _needed(self, request: dict[str, Any], at: datetime, verdict: Verdict,
                words: bool = True) -> list[dict[str, Any]]:
        """The missing fields whose value would change the outcome, with what each value leads to."""
        needed = []
        for path in list(dict.fromkeys(verdict.missing))[:MAX_VARIED_FIELDS]:
            variants = self._variants(request, at, path)
            if len({key for _, key in variants}) < 2:
                continue
            outcomes = self._outcomes_by_value(path, variants, request.get("action")) if words else []
            needed.append({"field": path, "outcomes": outcomes})
        # a stricter rule that needs several absent fields at once: varying one at a time cannot show it
        asked = {entry["field"] for entry in needed}
        for rule, fields in verdict.blocked:
            rule_key = Outcome.of(rule.outcome, rule.escalation)
            if self._strictness(rule_key) <= self._strictness(verdict.key):
                continue
            for path in fields:
                if path not in asked:
                    asked.add(path)
                    when = f"if rule `{rule.id}` applies (it reads {', '.join(fields)})"
                    needed.append({"field": path, "outcomes": [{"when": when, "decision": self._outcome_text(rule_key)}]
                                   if words else []})
        return needed

    def _judged(self, request: dict[str, Any], at: datetime, now: datetime) -> tuple[Verdict, datetime]:
        """The verdict at the request's `at`; when some rule's effective dates differ between `at` and
        now, the stricter of the two, so a back- or forward-dated request cannot dodge a rule in force."""
        track = self._lacks_a_field(request)
        verdict = self.verdict(request, at, track_missing=track)
        action: Any = request.get("action")  # unchecked: whatever the request holds
        rules = self.rules.get(action, ()) if isinstance(action, str) else ()
        if at != now and any(r.in_effect(at) != r.in_effect(now) for r in rules):
            other = self.verdict(request, now, track_missing=track)
            if self._strictness(other.key) > self._strictness(verdict.key):
                return other, now
        return verdict, at

    def _strictness(self, key: Outcome) -> tuple[int, int, int, int, int]:
        return key.strictness(self._authority)

    def outcome(self, request: dict[str, Any], now: datetime, history: HistoryView | None = None) -> Outcome:
        """Only what the decision would be (and, for escalations, to which roles, stage by stage):
        no people, deadline or words. What the behavioural diff compares, cheaply: from the request's
        cell when a decision has worked it out, else rule by rule."""
        found = self.cells.outcome(request, now)
        return found if found is not None else self.outcome_by_rules(request, now, history)

    def outcome_by_rules(self, request: dict[str, Any], now: datetime, history: HistoryView | None = None) -> Outcome:
        """`outcome` evaluating every rule for this request alone (the oracle, and the cold path)."""
        at = self._moment(request.get("at"), now)
        if at is None:
            return self._default("", [], []).key
        with reading(history, at, now):
            return self._outcome(request, at, now)

    def _outcome(self, request: dict[str, Any], at: datetime, now: datetime) -> Outcome:
        request, _ = self._in_currency(request, at)
        verdict, at = self._judged(request, at, now)
        if verdict.missing and self._needed(request, at, verdict, words=False):
            return NEEDS_INFO
        return verdict.key

    def _outcomes_by_value(self, path: str, variants: list[tuple[Any, Outcome]], action: Any) -> list[dict[str, str]]:
        if any(is_finite_number(v) for v, _ in variants):
            by_value = dict(variants)
            return [{"when": f"{path} {interval_text(interval, path, self.manifest.currency)}",
                     "decision": self._outcome_text(key)}
                    for interval, key in self._ranges(path, action, by_value.get)]
        grouped: dict[Outcome, list[str]] = {}
        for value, key in variants:
            if value is not MISSING:
                grouped.setdefault(key, []).append(value_text(value))
        return [{"when": f"{path} is {' or '.join(values)}", "decision": self._outcome_text(key)}
                for key, values in grouped.items()]

    def _ranges(self, path: str, action: Any, key_of: Callable[[float], Any]) -> list[tuple[Interval, Any]]:
        """The number line of path cut where the rules cut it, merged where key_of gives the same outcome."""
        merged: list[tuple[Interval, Any]] = []
        for interval in intervals(numeric_points(self.comparisons.get(action, []), path), DOMAINS.get(path)):
            key = key_of(interval.example)
            if key is None:
                continue
            if merged and merged[-1][1] == key:
                merged[-1] = (merged[-1][0].joined(interval), key)
            else:
                merged.append((interval, key))
        return merged

    def _counterfactuals(self, request: dict[str, Any], at: datetime, verdict: Verdict,
                         known: Known | None = None) -> list[str]:
        """What would change the decision: the nearest number ranges with another outcome."""
        action = request.get("action")
        if not isinstance(action, str) or action not in self.rules:
            return []
        sentences: list[str] = []
        if verdict.safeguard and verdict.safeguard[0] == "confidence":
            sentences.append(f"would automate with confidence {self.bars[action]:g} or higher")
        numeric = [(path, cuts) for path, cuts in self.cuts[action].items() if is_finite_number(lookup(request, path))]
        for path, cuts in numeric[:3]:
            sentences.extend(self._nearest_changes(request, at, verdict, path, cuts, known))
        return sentences

    def _nearest_changes(self, request: dict[str, Any], at: datetime, verdict: Verdict, path: str,
                         cuts: list[Interval], known: Known | None = None) -> list[str]:
        """Below and above the current value of path: the first range with another outcome."""
        current = lookup(request, path)
        here = next((i for i, interval in enumerate(cuts) if contains(interval, current)), None)
        if here is None:
            return []

        def key_at(index: int) -> Outcome:
            varied = with_field(request, path, cuts[index].example)
            if known is not None:
                return known(varied, at, lambda: self.verdict(varied, at, base=verdict, varied=path).key)
            return self.verdict(varied, at, base=verdict, varied=path).key

        sentences = []
        for step in (-1, 1):  # walk away from the current value to the first other outcome
            index = here + step
            # a change of who decides or what is decided, not only of the timeout or approval count
            while 0 <= index < len(cuts) and (key := key_at(index))[:2] == verdict.key[:2]:
                index += step
            if not 0 <= index < len(cuts):
                continue
            span = cuts[index]
            while 0 <= index + step < len(cuts) and key_at(index + step) == key:
                index += step
                span = span.joined(cuts[index]) if step > 0 else cuts[index].joined(span)
            sentences.append(would(self._outcome_text(key), path, interval_text(span, path, self.manifest.currency)))
        return sentences

    def _outcome_text(self, key: Outcome) -> str:
        """The outcome in a person's words: `escalate to the Operations Manager`, `be denied`."""
        return outcome_text(key, self._title, "the ")

    def _title(self, role: str) -> str:
        found = self.constitution.roles.get(role)
        return found.title if found else approver_text(role)

    def _summary(self, decision: str, verdict: Verdict, missing: list[dict[str, Any]],
                 request: dict[str, Any]) -> str:
        action = printable(a) if isinstance(a := request.get("action"), str) else "the request"
        if verdict.safeguard:
            reason = verdict.safeguard[2]
        elif verdict.deciding is not None:
            reason = verdict.deciding.reason
        else:
            reason = ""
        contributing = ([r.id for r in verdict.matched if r.outcome == "escalate"] if decision == "escalate"
                        and verdict.deciding is not None else [verdict.deciding.id] if verdict.deciding else [])
        return summary(action, decision, reason, contributing,
                       self._outcome_text(verdict.key).removeprefix("escalate to ") if decision == "escalate" else "",
                       [m["field"] for m in missing])
