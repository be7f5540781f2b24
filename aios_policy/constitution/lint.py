"""Warnings about a valid constitution: rules that can never decide, thresholds nobody uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from aios_policy import diagnostics as dx

from .conditions import EvaluationError, may_hold_for_action
from .load import Document
from .model import OUTCOME_RANK, CompiledConstitution, Rule
from .space import cells


def _matches(rule: Rule, request: dict[str, Any]) -> bool | None:
    try:
        return rule.condition.evaluate(request)
    except EvaluationError:
        return None


def _covers(stricter: Rule, rule: Rule) -> bool:
    """Whether stricter is in effect whenever rule is."""
    starts_ok = stricter.effective_from is None or (
        rule.effective_from is not None and stricter.effective_from <= rule.effective_from)
    ends_ok = stricter.effective_until is None or (
        rule.effective_until is not None and stricter.effective_until >= rule.effective_until)
    return starts_ok and ends_ok


def _judge(rule: Rule, action: str, rules: tuple[Rule, ...]) -> tuple[str, list[str]] | None:
    """("never", []) when rule never matches, ("shadowed", ids) when stricter rules always win, else None.

    First over the cells of the rule's own fields (other fields absent): exact for "never", and any
    cell where the rule matches and no stricter rule does proves it can decide. Only a rule that
    survives that is checked over the cells of every field the stricter rules read as well.
    """
    if rule.condition.opaque:
        return None
    dated = rule.effective_from is not None or rule.effective_until is not None
    stricter = [r for r in rules if OUTCOME_RANK[r.outcome] > OUTCOME_RANK[rule.outcome]
                and (not (dated or r.effective_from or r.effective_until) or _covers(r, rule))]
    base = {"action": action}
    own = _covering(rule, stricter, cells([rule.condition], base))
    if own is None or own[0] == "never":
        return own
    return _covering(rule, stricter, cells([rule.condition, *(r.condition for r in stricter)], base))


def _covering(rule: Rule, stricter: list[Rule],
              examples: Iterator[dict[str, Any]] | None) -> tuple[str, list[str]] | None:
    if examples is None:
        return None
    matched, winners = False, set()
    for request in examples:
        if not _matches(rule, request):
            continue
        matched = True
        covering = next((r.id for r in stricter if _matches(r, request)), None)
        if covering is None:
            return None
        winners.add(covering)
    return ("shadowed", sorted(winners)) if matched else ("never", [])


def _rule_warnings(constitution: CompiledConstitution, documents: dict[str, Document]) -> Iterator[dx.Diagnostic]:
    # per action, the rules that can hold for it and can be judged (not opaque), worked out once
    candidates = {action: tuple(r for r in rules if not r.condition.opaque and may_hold_for_action(r.condition, action))
                  for action, rules in constitution.rules_by_action.items()}
    for policy in constitution.policies.values():
        for rule in policy.rules:
            verdicts = [_judge(rule, action, candidates[action]) for action in policy.actions]
            if not verdicts or any(v is None for v in verdicts):
                continue
            judged = cast(list[tuple[str, list[str]]], verdicts)  # no None left: checked just above
            document = documents[rule.origin.file]
            if all(v[0] == "never" for v in judged):
                yield document.diagnostic("LINT003", f"rule `{rule.id}` can never match: no request satisfies "
                                          "its condition", rule.origin.pointer + "/when",
                                          "check the bounds: they contradict each other")
            else:
                winners = sorted({w for v in judged for w in v[1]})
                yield document.diagnostic(
                    "LINT001", f"rule `{rule.id}` can never decide: wherever it matches, stricter "
                    + ", ".join(f"`{w}`" for w in winners) + " also match", rule.origin.pointer,
                    "narrow the stricter rules or remove this one")


def _used_thresholds(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        if isinstance(value.get("threshold"), str):
            found.add(value["threshold"])
        for child in value.values():
            _used_thresholds(child, found)
    elif isinstance(value, list):
        for child in value:
            _used_thresholds(child, found)
    return found


def check(constitution: CompiledConstitution, documents: list[Document]) -> list[dx.Diagnostic]:
    by_file = {d.file: d for d in documents}
    found = list(_rule_warnings(constitution, by_file))
    used: set[str] = set()
    for document in documents:
        if document.kind != "thresholds":
            _used_thresholds(document.data, used)
    for name, threshold in constitution.thresholds.items():
        if name not in used:
            found.append(by_file[threshold.origin.file].diagnostic(
                "LINT002", f"threshold `{name}` is not used by any rule, SLA or confidence bar",
                threshold.origin.pointer, "use it in a condition, or remove it", key=True))
    return found
