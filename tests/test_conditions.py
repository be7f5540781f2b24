"""The two evaluators of a compiled condition give the same answers.

`Condition.test` is the fast path, a closure built once (what `evaluate(request)` runs with no `missing`
list); `Condition.track(request, missing)` also notes which absent fields the answer depends on. For
generated conditions over every operator, nested in all/any/not, and generated requests with fields of
the wrong kind, bools where numbers are expected, non-finite numbers and missing fields, both must
raise EvaluationError or both return the same bool.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aios_policy.constitution.conditions import Condition, EvaluationError, compile_condition

THRESHOLDS = {"limit": 3, "tier": "gold"}
PATHS = ["amount", "confidence", "attributes.tier", "attributes.tags", "attributes.deep.level",
         'attributes."quoted"',  # another spelling of a plain field
         "attributes.tags[0]"]  # a JMESPath, read through jmespath

texts = st.sampled_from(["gold", "silver", "", "g", "old", "12", "a|b"])
numbers = st.integers(-5, 5) | st.floats(-10, 10, allow_nan=False) | st.sampled_from([0, 3, 3.0, -0.0, 10**20])
scalars = st.booleans() | numbers | texts


def _comparison(path: str, op: str, data: st.DataObject) -> dict[str, Any]:
    raw: dict[str, Any] = {"path": path, "op": op}
    if op in ("lt", "lte", "gt", "gte"):
        if data.draw(st.booleans(), label="threshold"):
            raw["threshold"] = "limit"
        else:
            raw["value"] = data.draw(numbers)
    elif op in ("in", "not_in"):
        raw["value"] = data.draw(st.lists(scalars, max_size=4))
    elif op == "exists":
        flag = data.draw(st.sampled_from([None, True, False]))
        if flag is not None:
            raw["value"] = flag
    elif op == "matches":
        raw["value"] = data.draw(st.sampled_from(["^g", "ld$", "[0-9]+", "a|b", "", "^$"]))
    elif op in ("eq", "ne") and data.draw(st.booleans(), label="threshold"):
        raw["threshold"] = data.draw(st.sampled_from(sorted(THRESHOLDS)))
    else:  # eq, ne, contains
        raw["value"] = data.draw(scalars)
    return raw


comparisons = st.builds(lambda path, op, data: _comparison(path, op, data), st.sampled_from(PATHS),
                        st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains",
                                         "exists", "matches"]), st.data())
conditions = st.recursive(
    comparisons,
    lambda inner: (st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3))
                   | st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3))
                   | st.builds(lambda c: {"not": c}, inner)),
    max_leaves=6)

non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
present = (scalars | non_finite | st.lists(scalars | non_finite, max_size=3)
           | st.dictionaries(texts, scalars, max_size=2))  # every kind a field may be sent as, never absent
anything = present | st.none()


def _request(value: st.SearchStrategy[Any], optional: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Requests holding every field a condition reads; with optional, any of them may be left out (or be
    null, or sit under something that is not an object). Without, `attributes.tags` is a list, so that
    the JMESPath `attributes.tags[0]` finds a value too."""
    def mapping(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({} if optional else fields, optional=fields if optional else None)

    deep = mapping({"level": value})
    tags = value if optional else st.lists(value, min_size=1, max_size=3)
    attributes = mapping({"tier": value, "tags": tags, "quoted": value, "deep": deep | value if optional else deep})
    return mapping({"amount": value, "confidence": value,
                    "attributes": attributes | value if optional else attributes})


def _compiled(raw: dict[str, Any]) -> Condition:
    condition, problems = compile_condition(raw, THRESHOLDS)
    assert condition is not None and not problems, problems
    return condition


def _answer(run: Any) -> bool | str:
    try:
        result = run()
    except EvaluationError:
        return "EvaluationError"
    assert isinstance(result, bool), result
    return result


def _fast(condition: Condition, request: dict[str, Any]) -> bool | str:
    return _answer(lambda: condition.evaluate(request))


def _tracked(condition: Condition, request: dict[str, Any]) -> tuple[bool | str, list[str]]:
    missing: list[str] = []
    return _answer(lambda: condition.evaluate(request, missing)), missing


SETTINGS = settings(max_examples=1_000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@SETTINGS
@given(raw=conditions, request=_request(present, optional=False))
def test_both_evaluators_agree_when_every_field_is_present(raw: dict[str, Any], request: dict[str, Any]) -> None:
    condition = _compiled(raw)
    assert _fast(condition, request) == _tracked(condition, request)[0], (condition.describe(), request)


@SETTINGS
@given(raw=conditions, request=_request(anything, optional=True))
def test_with_missing_fields_the_answers_agree_and_a_fast_error_is_an_error_when_tracking(
        raw: dict[str, Any], request: dict[str, Any]) -> None:
    condition = _compiled(raw)
    fast, (tracked, missing) = _fast(condition, request), _tracked(condition, request)
    if fast == "EvaluationError" or tracked != "EvaluationError":
        assert fast == tracked, (condition.describe(), request, missing)
    # else: the disagreement written out below, found by this test's first version


@SETTINGS
@given(raw=comparisons, request=_request(anything, optional=True))
def test_a_single_comparison_agrees_whatever_is_missing(raw: dict[str, Any], request: dict[str, Any]) -> None:
    condition = _compiled(raw)
    tracked, missing = _tracked(condition, request)
    assert _fast(condition, request) == tracked, (condition.describe(), request)
    assert missing in ([], [condition.path]), missing


@pytest.mark.xfail(strict=True, reason=(
    "All.track and AnyOf.track keep evaluating past a child whose answer hung on a missing field, so a later "
    "child that cannot be judged raises EvaluationError where the fast path has already answered False "
    "(all) or True (any); the engine then sees a rule error when it tracks missing fields and a plain "
    "no-match (or match) when it does not, and the trace disagrees with the decision"))
@pytest.mark.parametrize(("raw", "fast"), [
    ({"all": [{"path": "amount", "op": "gt", "value": 5}, {"path": "attributes.tier", "op": "eq", "value": "gold"}]},
     False),
    ({"any": [{"not": {"path": "amount", "op": "gt", "value": 5}},
              {"path": "attributes.tier", "op": "eq", "value": "gold"}]}, True),
], ids=["all", "any"])
@example(request={"attributes": {"tier": 5}})  # no amount; a tier that is a number, compared with text
@given(request=st.just({"attributes": {"tier": 5}}))
def test_a_missing_field_before_a_field_of_the_wrong_kind(raw: dict[str, Any], fast: bool,
                                                          request: dict[str, Any]) -> None:
    condition = _compiled(raw)
    assert _fast(condition, request) is fast
    assert _tracked(condition, request)[0] == fast, "the tracking evaluator raises EvaluationError"


@pytest.mark.parametrize(("raw", "request_", "answer"), [
    ({"path": "amount", "op": "gt", "value": 1}, {"amount": True}, "EvaluationError"),  # a bool is no number
    ({"path": "amount", "op": "eq", "value": 1}, {"amount": True}, "EvaluationError"),
    ({"path": "attributes.flag", "op": "eq", "value": True}, {"attributes": {"flag": 1}}, "EvaluationError"),
    ({"path": "amount", "op": "lte", "value": 250}, {"amount": math.nan}, "EvaluationError"),
    ({"path": "amount", "op": "gte", "value": 0}, {"amount": math.inf}, "EvaluationError"),
    ({"path": "amount", "op": "eq", "value": 3}, {"amount": 3.0}, True),  # 3 and 3.0 are the same number
    ({"path": "amount", "op": "in", "value": [1, 2]}, {"amount": 2.0}, True),
    ({"path": "amount", "op": "in", "value": [1, 2]}, {"amount": "2"}, "EvaluationError"),
    ({"path": "amount", "op": "gt", "value": 1}, {"amount": None}, False),  # null is absent
    ({"path": "amount", "op": "exists", "value": False}, {"amount": None}, True),
    ({"path": "attributes.tags", "op": "contains", "value": 1}, {"attributes": {"tags": [True, 1.0]}}, True),
    ({"path": "attributes.tags", "op": "contains", "value": 1}, {"attributes": {"tags": [True]}}, False),
    ({"path": "attributes.tags", "op": "contains", "value": "x"}, {"attributes": {"tags": 7}}, "EvaluationError"),
    ({"path": "attributes.tier", "op": "matches", "value": "^g"}, {"attributes": {"tier": 7}}, "EvaluationError"),
    ({"path": "attributes.tier", "op": "ne", "value": "gold"}, {"attributes": "gold"}, False),  # not an object
])
def test_hand_picked_kinds_get_the_same_answer_from_both(raw: dict[str, Any], request_: dict[str, Any],
                                                          answer: bool | str) -> None:
    condition = _compiled(raw)
    assert _fast(condition, request_) == answer
    assert _tracked(condition, request_)[0] == answer
