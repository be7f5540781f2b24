"""Conditions that would run for ever: regular expressions and JMESPath, generated, never a hang.

`matches` patterns are RE2 (linear in the text): generated patterns with nested and overlapping
repetitions run against 1,000-character adversarial fields in milliseconds, and RE2 gives the same
answers as Python's `re` where both can run; syntax RE2 refuses (backreferences, lookaround,
possessive quantifiers, huge repeats) is COND003 through `aios validate`. JMESPath is bounded at
compile time (COND001: size, depth, nested projections, an allow-list of functions) and at run
time (an evaluation budget that fails closed, in the fast closures and the tracking evaluator alike,
and in the engine as an escalation).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke

import aios_policy
from aios_policy.constitution.conditions import FUNCTIONS, Condition, OverBudget, compile_condition
from aios_policy.limits import (
    MAX_EVALUATION_STEPS,
    MAX_EXPRESSION,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_NODES,
    MAX_NESTED_PROJECTIONS,
    MAX_PATTERN,
    MAX_REPEAT,
)

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
HANG_GUARD = 5.0  # seconds for a whole batch: far above what it takes, far below a hang


# regular expressions ------------------------------------------------------------------------------

_ATOMS = ["a", "a?", "aa", ".", "[a-z]", r"\w", "(?:a|a)", "(?:a|aa)", "a*", "[ab]"]
# each quantifier applies to a group, so that no shape writes `a**` or a possessive `a?+` by accident
_SHAPES = ["({0})+", "({0})*", "({0}|{0})*", "({0}|{0}{0})*", "((?:{0})+(?:{0})+)+", "(.*(?:{0}))*",
           "(?:(?:{0})*)*", "(?:{0}){{2,6}}", "({0}|(?:{0})?)+", "(?:{0}|a)+"]
_TAILS = ["", "$", "b", "x", "!", "y$", "(.*)*x"]


def evil_patterns(count: int = 200, seed: int = 10, levels: int = 3, atoms: list[str] = _ATOMS) -> list[str]:
    """Patterns whose backtracking explodes: repetitions of repetitions, of overlapping alternatives."""
    rng, found = random.Random(seed), dict[str, None]()
    while len(found) < count:
        pattern = rng.choice(atoms)
        for _ in range(rng.randint(1, levels)):
            pattern = rng.choice(_SHAPES).format(pattern)
        pattern = rng.choice(["", "^"]) + pattern + rng.choice(_TAILS)
        if len(pattern) <= MAX_PATTERN:
            found[pattern] = None
    return list(found)


ADVERSARIAL = ["a" * 1000, "a" * 999 + "!", "ab" * 500, "a" * 500 + "x" * 500, "x" * 1000, "é" * 1000,
               "a" * 5000 + "b"]  # the last is cut at MAX_MATCHED_TEXT characters before matching


def _matches(pattern: str) -> Condition:
    condition, problems = compile_condition({"path": "attributes.note", "op": "matches", "value": pattern}, {})
    assert condition is not None and not problems, (pattern, problems)
    return condition


def test_generated_evil_patterns_compile_and_match_1000_characters_in_linear_time() -> None:
    patterns = evil_patterns()
    assert len(patterns) == 200 and any("(a|a)" in p or "(?:a|a)" in p for p in patterns)
    conditions = [_matches(p) for p in patterns]
    started = time.perf_counter()
    for condition, note in itertools.product(conditions, ADVERSARIAL):
        request = {"attributes": {"note": note}}
        fast, tracked = condition.evaluate(request), condition.evaluate(request, [])
        assert fast is tracked
    assert time.perf_counter() - started < HANG_GUARD


def test_re2_searches_anywhere_as_python_re_did_where_both_can_run() -> None:
    # one level of nesting, atoms that cannot match nothing, texts of up to 5 characters: past that,
    # Python's backtracking hangs the test (`^((?:a?)+(?:a?)+)+y$` takes 7 s on these texts; RE2 5 ms)
    texts = ["".join(t) for n in range(6) for t in itertools.product("ab!x", repeat=n)]
    solid = [atom for atom in _ATOMS if not re.fullmatch(atom, "")]
    plain = ["b", "^a", "a$", r"\d+", "(?i)A", "a|b", "[^a]", "^$"]
    for pattern in [*evil_patterns(60, seed=11, levels=1, atoms=solid), *plain]:
        condition, compiled = _matches(pattern), re.compile(pattern)
        for text in texts:
            expected = compiled.search(text) is not None
            assert condition.evaluate({"attributes": {"note": text}}) is expected, (pattern, text)


def test_a_field_is_matched_on_its_first_1000_characters_only() -> None:
    condition = _matches("b$")
    assert condition.evaluate({"attributes": {"note": "a" * 999 + "b"}}) is True
    assert condition.evaluate({"attributes": {"note": "a" * 1000 + "b"}}) is False


def unsupported_patterns() -> list[tuple[str, str]]:
    """Syntax RE2 refuses, with what the message must say; generated over several atoms."""
    forms = [(r"({0})\1", "backreferences"), ("(?={0})", "lookahead"), ("(?!{0})b", "lookahead"),
             ("(?<={0})b", "lookbehind"), ("(?<!{0})b", "lookbehind"), ("{0}++", "possessive"),
             ("{0}*+", "possessive"), ("{0}?+", "possessive"), ("(?P<n>{0})(?P=n)", "invalid perl operator"),
             ("{0}{{1001}}", f"at most {MAX_REPEAT:,} times"), ("{0}{{100000}}", f"at most {MAX_REPEAT:,} times"),
             ("{0}{{2,5000}}", f"at most {MAX_REPEAT:,} times"), ("({0}{{40}}){{40}}", f"at most {MAX_REPEAT:,} times"),
             ("({0}", "missing )"), ("{0}[", "missing ]")]
    return [(form.format(atom), said) for form, said in forms for atom in ["a", "[a-z]", r"\d", "(?:ab)"]]


def test_unsupported_syntax_is_cond003_with_a_one_line_reason_and_the_re2_hint() -> None:
    for pattern, said in unsupported_patterns():
        condition, problems = compile_condition({"path": "attributes.note", "op": "matches", "value": pattern}, {})
        [problem] = problems
        assert condition is None and problem.code == "COND003" and problem.pointer == "/value", pattern
        assert said in problem.message and "\n" not in problem.message, (pattern, problem.message)
        assert problem.hint == "RE2 syntax: see https://github.com/google/re2/wiki/Syntax"
    _, [long] = compile_condition({"path": "a", "op": "matches", "value": "a" * (MAX_PATTERN + 1)}, {})
    assert long.code == "COND003" and f"the limit is {MAX_PATTERN}" in long.message


def _policy(rules: list[dict[str, Any]]) -> str:
    return json.dumps({"$schema": "../../../../schemas/policy.schema.json", "id": "hostile", "title": "Hostile",
                       "owner": "owner", "summary": "Conditions written to run for ever.",
                       "actions": ["hostile.check"], "rules": rules}, indent=2)


def _deny(number: int, when: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"hostile-{number}", "when": when, "outcome": "deny", "reason": "A hostile condition."}


def test_aios_validate_reports_every_unsupported_pattern_as_cond003(constitution: Path) -> None:
    bad = unsupported_patterns()
    rules = [_deny(i, {"path": "attributes.note", "op": "matches", "value": p}) for i, (p, _) in enumerate(bad)]
    (constitution / "policies" / "hostile.json").write_text(_policy(rules))
    done = invoke("validate", "-c", str(constitution))
    assert done.returncode == 1, done.stdout + done.stderr
    found = [line for line in done.stdout.splitlines() if " COND003 " in line]
    assert len(found) == len(bad), done.stdout
    for number, line in enumerate(found):
        assert re.match(r".*policies/hostile\.json:\d+:\d+: COND003 ", line), line
        assert f"/rules/{number}/when/value" in line and "RE2 syntax" in line, line


# JMESPath: refused at compile time ----------------------------------------------------------------

def refused_expressions() -> list[tuple[str, str]]:
    """JMESPath bombs generated by shape and size, each with what its COND001 message says."""
    nested, big = f"nests {MAX_NESTED_PROJECTIONS + 1}", "parts|levels deep"  # a big tree is often deep too
    shapes: list[tuple[str, str]] = []
    for k in range(MAX_NESTED_PROJECTIONS + 1, 40, 3):
        shapes += [("attributes.a" + "[*]" * k, "projections"), ("attributes.a" + "[]" * k, "projections"),
                   ("attributes.a" + "[*].b" * k, "projections"), ("attributes.a" + ".*" * k, "projections"),
                   ("length(attributes.a" + "[?b]" * k + ") > `0`", "projections")]
    shapes += [("attributes.a[*].b[*].c[*]", nested), ("attributes.a[].b[].c[]", nested)]
    for k in range(MAX_EXPRESSION_NODES // 2 + 1, MAX_EXPRESSION // 4, 11):
        shapes += [(" | ".join(["a"] * k), big), (" || ".join(["a.b"] * (k // 2 + 1)), big)]
    for k in range(MAX_EXPRESSION_NODES + 1, MAX_EXPRESSION // 2 - 2, 17):
        shapes += [("[" + ",".join(["a"] * k) + "][0]", big), ("`[" + ",".join(["0"] * k) + "]`", big)]
    for k in range(MAX_EXPRESSION_DEPTH + 1, MAX_EXPRESSION // 2, 23):
        shapes += [("!" * k + "a", big), ("[" * k + "a" + "]" * k, big), (" && ".join(["a"] * min(k, 99)), big)]
    for size in (MAX_EXPRESSION + 1, 10_000, 1_000_000):
        shapes += [("a" * size + "[0]", "characters"), ("(" * (size // 2) + "a" + ")" * (size // 2), "characters")]
    every = {"abs", "avg", "ceil", "contains", "ends_with", "floor", "join", "keys", "length", "map", "max",
             "max_by", "merge", "min", "min_by", "not_null", "reverse", "sort", "sort_by", "starts_with", "sum",
             "to_array", "to_number", "to_string", "type", "values"}
    for name in sorted(every - FUNCTIONS):
        shapes += [(f"length({name}(attributes.a)) > `0`", f"`{name}` is not allowed"),
                   (f"attributes.a[*].{name}(@, @)", f"`{name}` is not allowed")]
    shapes += [("sort_by(attributes.a, &b)[0]", "not allowed"), ("&a", "not allowed")]
    return shapes


def test_jmespath_bombs_are_refused_at_compile_time_with_a_reason_and_a_hint() -> None:
    started = time.perf_counter()
    for source, said in refused_expressions():
        for raw, pointer in (({"jmespath": source}, "/jmespath"), ({"path": source, "op": "exists"}, "/path")):
            condition, problems = compile_condition(raw, {})
            [problem] = problems
            assert condition is None and problem.code == "COND001" and problem.pointer == pointer, source[:80]
            assert re.search(said, problem.message) and "\n" not in problem.message, (source[:80], problem.message)
            assert problem.hint and len(problem.message) < 300, problem
    assert time.perf_counter() - started < HANG_GUARD


def test_conditions_a_policy_needs_still_compile() -> None:
    for source in ["amount <= attributes.salary_band_max", "length(attributes.line_items) > `20`",
                   "contains(attributes.tags, 'vip') && amount > `100`", "attributes.lines[*].amount | max(@) > `5`",
                   "length(attributes.orders[*].lines[]) > `3`", "starts_with(actor.id, 'agent-')",
                   "sum(attributes.lines[?kind == 'fee'].amount) > `10`", "!not_null(attributes.po)",
                   "to_number(attributes.band) >= `3`", "abs(attributes.delta) < `1`"]:
        condition, problems = compile_condition({"jmespath": source}, {})
        assert condition is not None and not problems, (source, problems)


def test_aios_validate_reports_jmespath_bombs_as_cond001(constitution: Path) -> None:
    bombs = refused_expressions()[::7]
    rules = [_deny(i, {"jmespath": source}) for i, (source, _) in enumerate(bombs) if len(source) < 2000]
    (constitution / "policies" / "hostile.json").write_text(_policy(rules))
    done = invoke("validate", "-c", str(constitution))
    assert done.returncode == 1, done.stdout + done.stderr
    found = [line for line in done.stdout.splitlines() if " COND001 " in line]
    assert len(found) == len(rules), done.stdout
    assert all(re.match(r".*policies/hostile\.json:\d+:\d+: COND001 ", line) for line in found), found


# JMESPath: failing closed at run time -------------------------------------------------------------

def budget_bombs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(condition, request) pairs that compile but multiply their input past the evaluation budget."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for width, fan in ((200, 100), (1000, 20), (60, 400)):
        wide = {"a": [{"b": list(range(fan)), "x": 1} for _ in range(width)], "n": list(range(width * fan))}
        request = {"action": "hostile.check", "attributes": wide}
        for source in ["length(attributes.a[*].b[*]) > `0`", "length(attributes.a[].b[]) > `0`",
                       "length(attributes.a[*].b[]) > `0`", "contains(attributes.n, `-1`)",
                       "max(attributes.n) > `0`", "length(attributes.a[?contains(b, `-1`)]) > `0`",
                       "length(attributes.a[?x > `0` && contains(b, `-1`)].b) > `0`", "sum(attributes.n[::1]) > `0`",
                       "length([" + ",".join(["attributes.n"] * 8) + "][]) > `0`",
                       "length([" + ",".join(["attributes.a"] * 8) + "][].b[]) > `0`"]:
            pairs.append(({"jmespath": source}, request))
        for path in ["attributes.a[*].b[*]", "attributes.a[].b[]", "attributes.n[::1]"]:
            pairs.append(({"path": path, "op": "contains", "value": -1}, request))
    return pairs


def test_jmespath_that_multiplies_its_input_fails_closed_in_both_evaluators_in_bounded_time() -> None:
    started = time.perf_counter()
    for raw, request in budget_bombs():
        condition, problems = compile_condition(raw, {})
        assert condition is not None and not problems, (raw, problems)
        for missing in (None, []):  # the fast closure, then the tracking evaluator
            with pytest.raises(OverBudget, match=f"went past its evaluation budget of {MAX_EVALUATION_STEPS:,} steps"):
                condition.evaluate(request, missing)
    assert time.perf_counter() - started < HANG_GUARD


def test_the_same_expressions_answer_on_a_request_of_ordinary_size() -> None:
    small = {"action": "hostile.check", "attributes": {"a": [{"b": [1, 2], "x": 1}] * 5, "n": [1, 2, 3]}}
    for raw, _ in budget_bombs()[:13]:
        condition, _ = compile_condition(raw, {})
        assert condition is not None
        assert condition.evaluate(small) is condition.evaluate(small, [])


def test_a_rule_whose_expression_blows_the_budget_escalates_never_automates(constitution: Path) -> None:
    policy = constitution / "policies" / "refunds.json"
    text = json.loads(policy.read_text())
    bombs = ["length(attributes.lines[*].tags[*]) > `1000000`", "contains(attributes.ids, 'none')",
             "length([" + ",".join(["attributes.lines"] * 6) + "][*][*]) > `1000000`"]
    text["rules"] += [{"id": f"refund-bomb-{i}", "when": {"jmespath": source}, "outcome": "deny",
                       "reason": "A hostile expression."} for i, source in enumerate(bombs)]
    policy.write_text(json.dumps(text, indent=2))
    loaded = aios_policy.Constitution.load(constitution)
    small = {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 100,
             "confidence": 0.95, "at": "2026-11-10T10:00:00-05:00"}
    assert loaded.decide_dict({**small, "attributes": {"lines": [], "ids": []}}, NOW)["decision"] == "automate"
    for width, fan in ((300, 50), (50, 300), (20_000, 1)):
        hostile = {**small, "attributes": {"lines": [{"tags": ["t"] * fan}] * width, "ids": ["x"] * width * fan}}
        started = time.perf_counter()
        for explain in (False, True):
            decision = loaded.decide_dict(hostile, NOW, explain=explain)
            assert decision["decision"] == "escalate", decision
            assert "evaluation budget" in json.dumps(decision), decision
        assert time.perf_counter() - started < HANG_GUARD
