"""Answer "what happens when…" questions from the constitution itself: no network, no language model.

The question is matched (rapidfuzz, its one home) against the procedures and policies: their titles,
summaries, triggers, and the example questions and synonyms the constitution carries. What the
question states is pulled out (amounts such as "$800" or "30k", percentages, known values such as
"new vendor" or "key client", people "on vacation"); then the answer is the procedure, its steps,
the engine's decision at each gate for the stated case, the people and the deadlines, and what is
still unknown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz

from aios_policy.constitution.model import CompiledConstitution
from aios_policy.engine.facade import Constitution
from aios_policy.engine.history import NONE_EARLIER
from aios_policy.words.numbers import value_text

from .explain import explain_sop

MATCH = 62  # a topic scoring below this does not answer the question
TIE = 6  # two topics within this many points both answer it
_STOP = set("""a an the what whats happens happen when who whom how do does did i we you our my your is are be of
    for to in on at by with if can should need needs must it this that there about get gets someone somebody
    anyone us me please tell""".split())  # noqa: SIM905  (a word list reads better as words)
_AMOUNT = re.compile(r"(?:(?<![\w.])\$\s?|\busd\s?)(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million)?\b"
                     r"|\b(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million|dollars|usd)\b", re.IGNORECASE)
_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:%|percent\b)", re.IGNORECASE)
_NEGATION_WORD = re.compile(r"\b(not|no|never|isn't|isnt|aren't|wasn't|without)\b", re.IGNORECASE)
_AWAY = re.compile(r"\b(on vacation|on holiday|on leave|away|out of (?:the )?office|off sick|ooo)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(not|no|non|isn't|isnt|without|never|hasn't|doesn't|don't|lacks?)\s+(?:\w+\s+){0,3}$",
                       re.IGNORECASE)


def _words(text: str) -> str:
    return " ".join(w for w in re.findall(r"[a-z0-9$%]+", text.lower()) if w not in _STOP)


def _stem(word: str) -> str:
    """A crude stem, enough for `deletion` and `delete`, `asks` and `asked` to meet."""
    for suffix in ("ations", "ation", "ions", "ion", "ings", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z]+", text.lower().replace("_", " ")) if w not in _STOP and len(w) > 2]


@dataclass
class Topic:
    """A procedure or a policy, as words that questions about it use, weighted by where they appear."""

    kind: str  # sop | policy
    id: str
    title: str
    actions: list[str]
    questions: list[str]
    weights: dict[str, float]

    def to_json(self, score: float) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "title": self.title, "score": round(score, 1)}


def _weights(fields: list[tuple[float, str]]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for weight, text in fields:
        for term in _terms(text):
            weights[term] = max(weights.get(term, 0.0), weight)
    return weights


def topics(compiled: CompiledConstitution) -> list[Topic]:
    found = []
    for sop in compiled.sops.values():
        actions = [s.gate.action for s in sop.steps if s.gate]
        fields = [(3.0, sop.title), (3.0, " ".join(sop.synonyms)), (2.0, " ".join(sop.questions)),
                  (2.0, " ".join(actions)), (1.5, sop.trigger), (1.0, sop.summary)]
        found.append(Topic("sop", sop.id, sop.title, actions, list(sop.questions), _weights(fields)))
    for policy in compiled.policies.values():
        fields = [(3.0, policy.title), (3.0, " ".join(policy.synonyms)), (2.0, " ".join(policy.actions)),
                  (1.0, policy.summary)]
        found.append(Topic("policy", policy.id, policy.title, list(policy.actions), [], _weights(fields)))
    return found


class Matcher:
    """Scores questions against topics: weighted term overlap (rare words count more, typos forgiven)
    and closeness to the example questions, as a percentage."""

    def __init__(self, found: list[Topic]) -> None:
        self.topics = found
        counts: dict[str, int] = {}
        for topic in found:
            for term in topic.weights:
                counts[term] = counts.get(term, 0) + 1
        self.idf = {term: math.log(1 + len(found) / count) for term, count in counts.items()}
        self.vocabulary = sorted(self.idf)

    def _known(self, term: str) -> str | None:
        if term in self.idf:
            return term
        if len(term) < 5:
            return None
        best = max(self.vocabulary, key=lambda known: fuzz.ratio(term, known), default=None)
        return best if best is not None and fuzz.ratio(term, best) >= 88 else None  # "refnd", not "weather"

    def score(self, question: str, topic: Topic) -> float:
        asked = [t for t in (self._known(term) for term in _terms(question)) if t]
        unknown = len(_terms(question)) - len(asked)
        # words no topic uses count a little against the match (details such as "original card" should
        # not sink a clear question; a question with no known word at all matches nothing)
        possible = sum(3.0 * self.idf[t] for t in asked) + unknown * 0.75 * math.log(1 + len(self.topics))
        overlap = sum(topic.weights.get(t, 0.0) * self.idf[t] for t in asked) / possible if possible else 0.0
        phrasing = max((fuzz.token_sort_ratio(" ".join(_terms(question)), " ".join(_terms(q)))
                        for q in topic.questions), default=0.0)
        bonus = 2 if topic.kind == "sop" else 0
        return max(100 * min(1.0, 1.6 * overlap), phrasing if phrasing >= 75 else 0.0) + bonus


@dataclass
class Facts:
    """What the question states."""

    values: dict[str, Any] = field(default_factory=dict)
    away: list[str] = field(default_factory=list)  # person ids the question says are away
    people: list[str] = field(default_factory=list)  # person ids it names


def _number(digits: str, scale: str | None) -> float:
    value = float(digits.replace(",", ""))
    multiplier = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get((scale or "").lower(), 1)
    value *= multiplier
    return int(value) if value.is_integer() else value


def extract(question: str, compiled: CompiledConstitution, actions: list[str]) -> Facts:
    facts = Facts()
    lowered = question.lower()
    amount = _AMOUNT.search(question)
    if amount:
        digits, scale = (amount.group(1), amount.group(2)) if amount.group(1) else (amount.group(3), amount.group(4))
        facts.values["amount"] = _number(digits, scale)
    comparisons = [c for a in actions for r in compiled.rules_by_action.get(a, ()) for c in r.condition.comparisons()
                   if c.simple and c.path not in ("action", "amount", "confidence")]
    percent = _PERCENT.search(question)
    for comparison in comparisons:
        path, value = comparison.path, comparison.value
        literals = value if isinstance(value, list) else [value]
        name = path.rsplit(".", 1)[-1]
        if percent and name.endswith(("_pct", "_percent")):
            facts.values[path] = _number(percent.group(1), None)
        elif all(isinstance(v, bool) for v in literals):
            words = [w for w in name.split("_") if w not in ("is", "has", "to", "was", "in")]
            spots = [re.search(rf"\b{re.escape(w)}", lowered) for w in words]
            if words and all(spots):
                first = min(s.start() for s in spots if s)
                last = max(s.end() for s in spots if s)
                negated = _NEGATION.search(lowered[:first]) or _NEGATION_WORD.search(lowered[first:last])
                facts.values.setdefault(path, not negated)
        else:
            for literal in literals:
                if isinstance(literal, str) and len(literal) >= 3 and \
                        re.search(rf"\b{re.escape(literal.lower().replace('_', ' '))}\b", lowered):
                    facts.values.setdefault(path, literal)
    for person in compiled.people.values():
        first_name, *_ = person.name.split()
        if re.search(rf"\b({re.escape(person.name.lower())}|{re.escape(first_name.lower())})\b", lowered):
            facts.people.append(person.id)
            if _AWAY.search(lowered):
                facts.away.append(person.id)
    return facts


@dataclass
class Answer:
    question: str
    match: dict[str, Any] | None
    alternatives: list[dict[str, Any]]
    closest: list[dict[str, Any]]
    facts: dict[str, Any]
    procedure: dict[str, Any] | None
    gates: list[dict[str, Any]]
    people: list[str]
    notes: list[str]
    lines: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "match": self.match, "alternatives": self.alternatives,
                "closest": self.closest, "facts": self.facts, "procedure": self.procedure, "gates": self.gates,
                "people": self.people, "notes": self.notes, "text": self.text()}

    def text(self) -> str:
        return "\n".join(self.lines)


def _request(action: str, by_agent: bool, facts: Facts, now: datetime) -> dict[str, Any]:
    request: dict[str, Any] = {"action": action, "at": now.isoformat(),
                               "actor": {"id": "ask", "kind": "agent" if by_agent else "human"}}
    if by_agent:
        request["confidence"] = 1.0
    for path, value in facts.values.items():
        target = request
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return request


def _gate(constitution: Constitution, action: str, by_agent: bool, facts: Facts, now: datetime) -> dict[str, Any]:
    decision = constitution.decide_dict(_request(action, by_agent, facts, now), now, history=NONE_EARLIER)
    stages = (decision.get("escalation") or {}).get("stages", [])
    unknown = list(dict.fromkeys(f"{'' if o['when'].startswith('if ') else 'if '}{o['when']}: {o['decision']}"
                                 for m in decision["missing"] for o in m["outcomes"]))
    return {"action": action, "decision": decision["decision"], "summary": decision["summary"],
            "approvers": [{"role": s["role"], "people": [a["name"] for a in s["approvers"]]} for s in stages],
            "sla": (decision.get("escalation") or {}).get("sla"), "due": (decision.get("escalation") or {}).get("due"),
            "missing": [m["field"] for m in decision["missing"]], "unknown": unknown,
            "counterfactuals": decision["counterfactuals"],
            "rules": [r["rule"] for r in decision["reasons"] if r["policy"]]}


def _without_facts(question: str, compiled: CompiledConstitution) -> str:
    """The question without the facts it states (amounts, names, absences): what is left is the topic."""
    text = _PERCENT.sub(" ", _AMOUNT.sub(" ", question))
    text = _AWAY.sub(" ", text)
    for person in compiled.people.values():
        for name in (person.name, person.name.split()[0]):
            text = re.sub(rf"\b{re.escape(name)}\b", " ", text, flags=re.IGNORECASE)
    return text


def ask(constitution: Constitution, question: str, now: datetime) -> Answer:
    """The answer to a question in plain English, with the engine's decisions for the stated case."""
    compiled = constitution.compiled
    matcher = Matcher(topics(compiled))
    topic_words = _without_facts(question, compiled)
    scored = sorted(((matcher.score(topic_words, t), t) for t in matcher.topics),
                    key=lambda st: (-st[0], st[1].kind, st[1].id))
    best_score, best = scored[0] if scored else (0.0, None)
    if best is not None and best.kind == "policy":  # a procedure about the same actions answers "what happens" better
        same_actions = next(((sc, t) for sc, t in scored if t.kind == "sop" and set(t.actions) & set(best.actions)
                             and sc >= max(MATCH, best_score - 20)), None)
        if same_actions is not None:
            best_score, best = same_actions
    if best is None or best_score < MATCH:
        closest = [t.to_json(s) for s, t in scored[:3]]
        lines = [f"Q: {question}", "Nothing in the constitution answers this question. The closest topics:",
                 *(f"  - {c['title']} ({c['kind']} `{c['id']}`)" for c in closest)]
        return Answer(question, None, [], closest, {}, None, [], [], [], lines)
    alternatives = [t for s, t in scored[1:] if best_score - s <= TIE and t.id != best.id
                    and not set(t.actions) & set(best.actions)][:1]
    facts = extract(question, compiled, best.actions)
    lines = [f"Q: {question}"]
    procedure, gates, people = None, [], []
    if best.kind == "sop":
        walk = explain_sop(constitution, best.id, now)
        procedure = {k: v for k, v in walk.to_json().items() if k != "gates"}
        lines += [f"Procedure: {walk.sop.title} (`{best.id}`), owned by the {walk.owner}."
                  + (f" It takes at most {walk.sop.sla.text}." if walk.sop.sla else ""), f"When: {walk.sop.trigger}"]
        for step in walk.steps:
            sla = f", within {step['sla']}" if step["sla"] else ""
            lines.append(f"  {step['number']}. {step['title']}: {step['by']}{sla}")
            if step["role"]:
                people.append(step["by"])
            if step["gate"]:
                gate = _gate(constitution, step["gate"]["action"], bool(step["agent"]), facts, now)
                gates.append({"step": step["number"], **gate})
                lines += _gate_lines(gate, step["gate"]["then"])
    else:
        lines.append(f"Policy: {best.title} (`{best.id}`).")
        asked = set(_terms(question))
        hits = {a: len(asked & set(_terms(a.replace(".", " ")))) for a in best.actions}
        most = max(hits.values(), default=0)
        named = [a for a in best.actions if most and hits[a] == most]
        policy = compiled.policies[best.id]
        people.append(_role_people(compiled, policy.owner) + " (owns the policy)")
        roles = {s.role for r in policy.rules if r.escalation for s in r.escalation.stages if s.role in compiled.roles}
        people += [_role_people(compiled, role) for role in sorted(roles, key=lambda r: -compiled.roles[r].authority)]
        for action in named or best.actions:
            gate = _gate(constitution, action, True, facts, now)
            gates.append({"step": None, **gate})
            lines.append(f"  `{action}`:")
            lines += _gate_lines(gate, {})
    titles = {role.title: role_id for role_id, role in compiled.roles.items()}
    for gate in gates:
        people += [_role_people(compiled, stage["role"]) for stage in gate["approvers"]]
        for line in gate["unknown"]:  # the people who decide once the missing facts are known
            people += [_role_people(compiled, titles[t]) for t in titles if f"the {t}" in line]
    notes = _away_notes(compiled, facts)
    stated = ", ".join(f"{k} = {value_text(v)}" for k, v in facts.values.items())
    lines.insert(1, f"Facts taken from the question: {stated}." if stated else
                 "The question states no amount or other fact, so each gate says what it still needs.")
    lines += [f"Note: {n}" for n in notes]
    if alternatives:
        other = alternatives[0]
        lines.append(f"This might also be `{other.id}` ({other.title}): it applies when "
                     f"{_trigger(compiled, other)}, while `{best.id}` applies when {_trigger(compiled, best)}.")
    people = list(dict.fromkeys(people))
    if people:
        lines.append("People involved: " + "; ".join(people) + ".")
    rules = sorted({r for g in gates for r in g["rules"]})
    if rules:
        lines.append("Rules to look up: " + ", ".join(f"`{r}`" for r in rules) + " (aios explain ACTION).")
    return Answer(question, best.to_json(best_score), [t.to_json(best_score) for t in alternatives], [],
                  facts.values, procedure, gates, people, notes, lines)


def _gate_lines(gate: dict[str, Any], then: dict[str, str]) -> list[str]:
    lines = [f"     The engine decides `{gate['action']}`: {gate['summary']}"]
    for stage in gate["approvers"]:
        lines.append(f"     Approver ({stage['role']}): {', '.join(stage['people'])}"
                     + (f"; answer within {gate['sla']} (by {gate['due']})" if gate["sla"] else ""))
    if gate["unknown"]:
        lines.append("     Still unknown: " + "; ".join(gate["unknown"]) + ".")
    lines += [f"     {sentence[0].upper()}{sentence[1:]}." for sentence in gate["counterfactuals"]]
    outcome = {"automate": "automate", "escalate": "escalate", "deny": "deny", "needs_info": "needs_info"}
    if gate["decision"] in then:
        lines.append(f"     So next: {then[outcome[gate['decision']]]}.")
    return lines


def _role_people(compiled: CompiledConstitution, role: str) -> str:
    names = ", ".join(p.name for p in compiled.people.values() if role in p.roles) or "nobody"
    return f"the {compiled.roles[role].title if role in compiled.roles else role} ({names})"


def _away_notes(compiled: CompiledConstitution, facts: Facts) -> list[str]:
    notes = []
    for person_id in facts.away:
        person = compiled.people[person_id]
        delegates = {a.delegate for a in person.out_of_office}
        if delegates:
            names = ", ".join(compiled.people[d].name for d in delegates if d in compiled.people)
            notes.append(f"while {person.name} is away, {names} approves in their place "
                         "(the dates are in org.json)")
        else:
            notes.append(f"{person.name} has no out-of-office period on file: while away, approvals go to the "
                         "other people in their role, or one step up the chain")
    return notes


def _trigger(compiled: CompiledConstitution, topic: Topic) -> str:
    if topic.kind == "sop":
        trigger = compiled.sops[topic.id].trigger
        return trigger[0].lower() + trigger[1:].rstrip(".")
    return f"deciding {', '.join(f'`{a}`' for a in topic.actions)}"
