"""History conditions: cumulative limits and split purchases, read from the decision log the caller passes in."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import committed, invoke

from aios_policy import Constitution
from aios_policy.constitution.pipeline import check
from aios_policy.record.log import DecisionLog

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

PURCHASING = {
    "$schema": "../../../../schemas/policy.schema.json",
    "id": "purchasing", "title": "Purchasing", "owner": "ops_manager",
    "summary": "Orders up to $5,000 are automatic, unless one vendor gets more than $10,000 in a week.",
    "actions": ["purchase.order"],
    "rules": [
        {"id": "order-small", "when": {"path": "amount", "op": "lte", "value": 5000}, "outcome": "automate",
         "reason": "Small orders are routine."},
        {"id": "order-large", "when": {"path": "amount", "op": "gt", "value": 5000}, "outcome": "escalate",
         "escalation": {"stages": [{"role": "ops_manager"}], "sla": "1 business day"},
         "reason": "Large orders need the operations manager."},
        {"id": "vendor-weekly",
         "when": {"history": {"action": "purchase.order", "measure": "sum", "window": "7 days",
                              "group_by": "attributes.vendor"}, "op": "gt", "threshold": "purchases.vendor_weekly"},
         "outcome": "escalate", "escalation": {"stages": [{"role": "owner"}], "sla": "1 business day"},
         "reason": "More than the weekly limit to one vendor, this order included, needs the owner."},
        {"id": "vendor-burst",
         "when": {"history": {"action": "purchase.order", "measure": "count", "window": "12 hours",
                              "group_by": "attributes.vendor"}, "op": "gte", "value": 4},
         "outcome": "escalate", "escalation": {"stages": [{"role": "owner"}], "sla": "1 business day"},
         "reason": "Four orders to one vendor within 12 hours look like a split purchase."},
        {"id": "vendor-blocked", "when": {"path": "attributes.vendor", "op": "eq", "value": "blocked-co"},
         "outcome": "deny", "reason": "We do not buy from this vendor."},
    ],
}


@pytest.fixture
def purchasing(constitution: Path) -> Path:
    (constitution / "policies" / "purchasing.json").write_text(json.dumps(PURCHASING, indent=2))
    thresholds = json.loads((constitution / "thresholds.json").read_text())
    thresholds["thresholds"]["purchases.vendor_weekly"] = {"value": 10000, "unit": "USD",
                                                           "description": "Most to one vendor in 7 days."}
    (constitution / "thresholds.json").write_text(json.dumps(thresholds, indent=2))
    return constitution


@pytest.fixture
def company(purchasing: Path) -> Constitution:
    return Constitution.load(purchasing)


def order(amount: Any = 4000, vendor: Any = "acme", at: datetime = MONDAY, **extra: Any) -> dict[str, Any]:
    request = {"action": "purchase.order", "actor": {"id": "buyer-agent", "kind": "agent"}, "amount": amount,
               "confidence": 0.95, "attributes": {"vendor": vendor}, "at": at.isoformat(), **extra}
    if vendor is ...:
        del request["attributes"]["vendor"]
    return request


class FakeHistory:
    """A history view that answers a fixed total and remembers what it was asked."""

    def __init__(self, answer: Any = 0.0) -> None:
        self.answer = answer
        self.asked: list[tuple[Any, ...]] = []

    def total(self, action: str, measure: str, group_path: str, group_value: str, since: datetime,
              until: datetime) -> float:
        self.asked.append((action, measure, group_path, group_value, since, until))
        if isinstance(self.answer, BaseException):
            raise self.answer
        if isinstance(self.answer, dict):
            return self.answer[measure]  # type: ignore[no-any-return]
        return self.answer  # type: ignore[no-any-return]  # hostile answers are the point of some tests


def decide(company: Constitution, request: dict[str, Any], history: Any) -> dict[str, Any]:
    return company.decide_dict(request, when(request), history=history)


def when(request: dict[str, Any]) -> datetime:
    """Decided at the moment the request names, as an agent asking in real time would be."""
    at = request.get("at")
    return datetime.fromisoformat(at) if isinstance(at, str) and "T" in at else NOW


# a fake view ------------------------------------------------------------------------------------

def test_a_sum_over_the_limit_including_this_order_escalates_to_the_owner(company: Constitution) -> None:
    view = FakeHistory({"sum": 7000.0, "count": 0.0})
    decision = decide(company, order(4000), view)
    assert decision["decision"] == "escalate"
    assert [r["rule"] for r in decision["reasons"]] == ["vendor-weekly", "order-small"]
    assert decision["escalation"]["role"] == "owner"
    assert ("purchase.order", "sum", "attributes.vendor", "acme", MONDAY - timedelta(days=7), MONDAY) in view.asked
    assert ("purchase.order", "count", "attributes.vendor", "acme", MONDAY - timedelta(hours=12), MONDAY) in view.asked


def test_the_decision_names_every_figure_it_compared(company: Constitution) -> None:
    decision = decide(company, order(4000), FakeHistory(3.0))
    assert decision["history"] == [
        {"rule": "vendor-weekly", "action": "purchase.order", "measure": "sum", "group_by": "attributes.vendor",
         "group": "acme", "window": "7 days", "value": 4003.0},
        {"rule": "vendor-burst", "action": "purchase.order", "measure": "count", "group_by": "attributes.vendor",
         "group": "acme", "window": "12 hours", "value": 4.0}]
    assert decision["decision"] == "escalate" and decision["reasons"][0]["rule"] == "vendor-burst"
    assert company.decide(order(4000), NOW, history=FakeHistory(0.0)).history[0].value == 4000.0  # the model


def test_the_view_is_asked_once_per_decision_whatever_counterfactuals_try(company: Constitution) -> None:
    view = FakeHistory(0.0)
    assert decide(company, order(4000), view)["decision"] == "automate"
    assert len(view.asked) == len(set(view.asked)) == 2


def test_within_the_limit_automates_and_the_window_ends_at_the_requests_time(company: Constitution) -> None:
    view = FakeHistory({"sum": 6000.0, "count": 2.0})
    assert decide(company, order(4000), view)["decision"] == "automate"  # 10,000 is not over 10,000
    later = MONDAY + timedelta(days=30)
    decide(company, order(4000, at=later), view)
    assert view.asked[-1][4:] == (later - timedelta(hours=12), later)


# failing closed ---------------------------------------------------------------------------------

def test_without_a_history_the_rule_fails_closed_with_a_clear_error(company: Constitution) -> None:
    decision = company.decide_dict(order(100), NOW)
    assert decision["decision"] == "escalate"
    assert decision["escalation"]["role"] == "owner"  # the manifest's default escalation
    assert any("reads the decision log's history, and none was given" in e for e in decision["errors"])
    assert decision["history"] == []


@pytest.mark.parametrize("failure", [RuntimeError("disk on fire"), OSError(), ValueError("bad"), KeyError("k")])
def test_a_view_that_raises_escalates_with_its_error(company: Constitution, failure: BaseException) -> None:
    decision = decide(company, order(100), FakeHistory(failure))
    assert decision["decision"] == "escalate"
    assert any("the history could not be read" in e for e in decision["errors"])
    assert all("\n" not in e for e in decision["errors"])


@pytest.mark.parametrize("answer", [math.nan, math.inf, -math.inf, -1, "12", None, [1], True])
def test_a_view_that_answers_nonsense_escalates(company: Constitution, answer: Any) -> None:
    decision = decide(company, order(100), FakeHistory(answer))
    assert decision["decision"] == "escalate"
    assert any("not a number of 0 or more" in e for e in decision["errors"])


def test_deny_still_wins_when_the_history_cannot_be_read(company: Constitution) -> None:
    assert company.decide_dict(order(100, vendor="blocked-co"), NOW)["decision"] == "deny"
    assert decide(company, order(100, vendor="blocked-co"), FakeHistory(OSError("x")))["decision"] == "deny"


def _hostile_vendors() -> list[Any]:
    """Every kind of value a request may hold where text is expected, generated: none of them is a group."""
    found: list[Any] = [..., None, True, False, 0, -1, 4000, 1.5, [], {}, ["acme"], {"id": "acme"}]
    for depth in range(1, 4):
        nested: Any = "acme"
        for _ in range(depth):
            nested = [nested] if depth % 2 else {"v": nested}
        found.append(nested)
    return found


@pytest.mark.parametrize("vendor", _hostile_vendors(), ids=repr)
def test_a_group_field_absent_or_not_text_never_automates(company: Constitution, vendor: Any) -> None:
    view = FakeHistory(0.0)
    decision = decide(company, order(100, vendor=vendor), view)
    # escalated, or (when the vendor is absent) asked for: the deny rule for a blocked vendor reads it too
    assert decision["decision"] == ("needs_info" if vendor in (..., None) else "escalate"), vendor
    assert any("groups by `attributes.vendor`" in e for e in decision["errors"])
    if vendor not in (..., None):  # (needs_info's what-ifs try vendors, and ask the view about those)
        assert view.asked == []


@pytest.mark.parametrize("amount", [..., None, "4000", [4000], {"value": 4000}])
def test_a_sum_without_an_amount_never_automates(company: Constitution, amount: Any) -> None:
    request = order(amount)
    if amount is ...:
        del request["amount"]
    decision = decide(company, request, FakeHistory(0.0))
    assert decision["decision"] in ("escalate", "needs_info") and decision["decision"] != "automate"


def test_hostile_attributes_generated_never_automate_when_the_history_cannot_be_judged(company: Constitution) -> None:
    shapes: list[Any] = [None, 1, "x", [], {}, [{}], {"vendor": None}, {"vendor": 7}, {"other": "acme"}]
    for attributes in shapes:
        request = {**order(100), "attributes": attributes}
        decision = decide(company, request, FakeHistory(0.0))
        assert decision["decision"] != "automate", attributes


# a real decision log ----------------------------------------------------------------------------

def _decide_and_log(company: Constitution, log: DecisionLog, request: dict[str, Any]) -> dict[str, Any]:
    decision = company.decide_dict(request, when(request), history=log.history())
    log.append(decision, request)
    return decision


def test_three_orders_of_4000_to_one_vendor_in_a_week_pass_the_10k_limit_on_the_third(
        company: Constitution, tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "decisions.sqlite") as log:
        first = _decide_and_log(company, log, order(4000, at=MONDAY))
        second = _decide_and_log(company, log, order(4000, at=MONDAY + timedelta(days=2)))
        other = _decide_and_log(company, log, order(4000, vendor="globex", at=MONDAY + timedelta(days=3)))
        third = _decide_and_log(company, log, order(4000, at=MONDAY + timedelta(days=4)))
        late = order(4000, at=MONDAY + timedelta(days=9, hours=1))
        after = company.decide_dict(late, when(late), history=log.history())
    assert [d["decision"] for d in (first, second, other)] == ["automate"] * 3
    assert [f["value"] for f in first["history"]] == [4000.0, 1.0]
    assert second["history"][0]["value"] == 8000.0
    assert third["decision"] == "escalate" and third["escalation"]["role"] == "owner"
    assert [r["rule"] for r in third["reasons"]] == ["vendor-weekly", "order-small"]
    assert third["history"][0] == {"rule": "vendor-weekly", "action": "purchase.order", "measure": "sum",
                                   "group_by": "attributes.vendor", "group": "acme", "window": "7 days",
                                   "value": 12000.0}
    # a week after the second order only it has left the window... and the third (pending) never counted
    assert after["decision"] == "automate" and after["history"][0]["value"] == 4000.0


# the second set begins with the name in full-width letters
@pytest.mark.parametrize("spellings", [("acme", "ACME", " Acme "), ("\uff21\uff43\uff4d\uff45", "acme", "acme  ")])
def test_spelling_a_vendor_differently_does_not_split_the_limit(company: Constitution, tmp_path: Path,
                                                                spellings: tuple[str, str, str]) -> None:
    with DecisionLog(tmp_path / "decisions.sqlite") as log:
        decided = [_decide_and_log(company, log, order(4000, vendor=name, at=MONDAY + timedelta(days=day)))
                   for day, name in enumerate(spellings)]
    assert [d["decision"] for d in decided] == ["automate", "automate", "escalate"]
    assert decided[2]["history"][0]["value"] == 12000.0


def test_only_automated_and_approved_decisions_count(company: Constitution, tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "decisions.sqlite") as log:
        approved = _decide_and_log(company, log, order(6000, at=MONDAY))
        pending = _decide_and_log(company, log, order(5500, at=MONDAY + timedelta(hours=1)))
        denied = _decide_and_log(company, log, order(5600, at=MONDAY + timedelta(hours=2)))
        assert [d["decision"] for d in (approved, pending, denied)] == ["escalate"] * 3
        resolved = log.resolve(approved["id"], "approve", "dana", "needed for the project", NOW)
        assert resolved.status == "approved"
        log.resolve(denied["id"], "deny", "dana", "no", NOW)
        view = log.history()
        until = MONDAY + timedelta(days=1)
        assert view.total("purchase.order", "sum", "attributes.vendor", "acme", MONDAY, until) == 6000.0
        assert view.total("purchase.order", "count", "attributes.vendor", "acme", MONDAY, until) == 1.0
        following = order(4500, at=until)
        next_order = company.decide_dict(following, when(following), history=log.history())
    assert next_order["decision"] == "escalate" and next_order["history"][0]["value"] == 10500.0


def test_converted_amounts_and_requests_without_a_time_count_as_the_log_holds_them(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "decisions.sqlite") as log:
        def logged(amount: Any, request_at: str | None, decided_at: str, money: Any = None, **attrs: Any) -> None:
            request = {"action": "purchase.order", "amount": amount, "attributes": {"vendor": "acme", **attrs}}
            if request_at is not None:
                request["at"] = request_at
            log.append({"id": f"dec_{len(log.entries(1000))}", "decided_at": decided_at, "action": "purchase.order",
                        "decision": "automate", "money": money}, request)
        logged(800, "2026-03-02T09:00:00+01:00", "2026-03-05T00:00:00+00:00",
               money={"amount": 800, "currency": "EUR", "rate": 1.5, "rate_from": "2026-01-01", "converted": 1200.0})
        logged(100, None, "2026-03-02T08:30:00Z")  # no `at`: its decision time
        logged(True, "2026-03-02T08:45:00Z", "2026-03-02T08:45:00Z")  # not a number: counts, adds nothing
        logged(7, "2026-03-02T07:59:59.999Z", "2026-03-02T08:00:00Z")  # just before the window
        logged(9, "2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z")  # at the window's end: inside (a split
        # purchase sent at the very same moment is counted)
        logged(11, "not a time", "2026-03-02T08:40:00Z")
        total = log.history().total
        since, until = datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC)
        assert total("purchase.order", "sum", "attributes.vendor", "acme", since, until) == 1309.0
        assert total("purchase.order", "count", "attributes.vendor", "acme", since, until) == 4.0
        assert total("purchase.order", "count", "attributes.vendor", " ACME ", since, until) == 4.0  # one vendor
        assert total("refund.issue", "count", "attributes.vendor", "acme", since, until) == 0.0


def test_the_history_of_a_large_log_is_read_quickly(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "decisions.sqlite") as log:
        pairs = []
        for n in range(20_000):
            at = (MONDAY - timedelta(minutes=n)).isoformat()
            action = "purchase.order" if n % 2 else "refund.issue"
            pairs.append(({"id": f"dec_{n}", "decided_at": at, "action": action,
                           "decision": "automate" if n % 3 else "escalate"},
                          {"action": action, "amount": 10, "at": at, "attributes": {"vendor": f"v{n % 50}"}}))
        log.append_many(pairs)
        started = time.perf_counter()
        found = log.history().total("purchase.order", "sum", "attributes.vendor", "v1", MONDAY - timedelta(days=30),
                                    MONDAY + timedelta(seconds=1))
        elapsed = time.perf_counter() - started
    assert found == 10 * sum(1 for n in range(1, 20_000, 2) if n % 50 == 1 and n % 3)
    assert elapsed < 2.0


# validation -------------------------------------------------------------------------------------

def _codes(purchasing: Path, condition: dict[str, Any]) -> list[tuple[str, str]]:
    policy = {**PURCHASING, "rules": [*PURCHASING["rules"], {"id": "extra", "when": condition,
                                                              "outcome": "escalate", "reason": "x",
                                                              "escalation": {"stages": [{"role": "owner"}]}}]}
    (purchasing / "policies" / "purchasing.json").write_text(json.dumps(policy))
    return [(d.code, d.pointer) for d in check(purchasing).diagnostics if d.severity == "error"]


def _history(**changes: Any) -> dict[str, Any]:
    spec = {"action": "purchase.order", "measure": "count", "window": "30 days", "group_by": "attributes.vendor"}
    return {"history": {**spec, **changes}, "op": "gt", "value": 3}


def test_a_history_of_an_unknown_action_is_ref004(purchasing: Path) -> None:
    assert _codes(purchasing, {"not": {"any": [_history(action="purchase.ordre")]}}) == [
        ("REF004", "/rules/5/when/not/any/0/history/action")]


@pytest.mark.parametrize("condition", [
    _history(window="2 business days"), _history(window="a year"), _history(measure="avg"),
    _history(group_by="attributes[0]"), {**_history(), "op": "in", "value": [1]}, {**_history(), "path": "amount"},
    {"history": {"action": "purchase.order", "measure": "sum", "window": "7 days"}, "op": "gt", "value": 1},
])
def test_malformed_history_conditions_are_refused(purchasing: Path, condition: dict[str, Any]) -> None:
    assert _codes(purchasing, condition), condition


def test_a_history_compared_with_text_is_refused(purchasing: Path) -> None:
    assert [c for c, _ in _codes(purchasing, {**_history(), "value": "three"})] == ["COND002"]


# the command line -------------------------------------------------------------------------------

def _cli(purchasing: Path, log: Path, request: dict[str, Any] | str, *args: str) -> Any:
    text = request if isinstance(request, str) else json.dumps(request)
    done = invoke("decide", "-", "--constitution", str(purchasing), "--log", str(log), "--now", NOW.isoformat(),
                  *args, input=text)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()] if "\n{" in done.stdout \
        else json.loads(done.stdout)


def test_aios_decide_reads_the_log_it_writes(purchasing: Path, tmp_path: Path) -> None:
    log = tmp_path / "decisions.sqlite"
    outcomes = [_cli(purchasing, log, order(4000, at=MONDAY + timedelta(days=day)))["decision"] for day in (0, 1, 2)]
    assert outcomes == ["automate", "automate", "escalate"]


def test_aios_decide_counts_the_earlier_orders_of_one_batch(purchasing: Path, tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(order(4000, at=MONDAY + timedelta(hours=hour))) for hour in (0, 1, 2)) + "\n"
    decisions = _cli(purchasing, tmp_path / "decisions.sqlite", lines)
    assert [d["decision"] for d in decisions] == ["automate", "automate", "escalate"]
    assert [d["history"][0]["value"] for d in decisions] == [4000.0, 8000.0, 12000.0]


def test_aios_decide_without_a_log_has_no_history_and_escalates(purchasing: Path, tmp_path: Path) -> None:
    done = invoke("decide", "-", "--constitution", str(purchasing), "--no-log", input=json.dumps(order(100)))
    decision = json.loads(done.stdout)
    assert decision["decision"] == "escalate" and any("none was given" in e for e in decision["errors"])


# the HTTP server --------------------------------------------------------------------------------

def test_the_server_reads_the_history_through_its_log_writer(purchasing: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from aios_policy.serve.http import create_app
    from aios_policy.serve.identity import Identity, add_token

    root = tmp_path / "repo"
    committed(root, purchasing, "purchasing")
    tokens = root / "secrets" / "tokens.json"
    token = add_token(tokens, Identity("buyer-agent", "agent"), NOW)
    app = create_app(root / "constitution", tokens=tokens, log=root / "logs" / "decisions.sqlite")

    def sent(amount: int, vendor: str, hours: int) -> dict[str, Any]:
        request = order(amount, vendor, MONDAY + timedelta(hours=hours))
        del request["actor"]  # the server takes the actor from the token
        return request

    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        singles = [client.post("/v1/decide", json=sent(4000, "acme", hours)).json() for hours in (0, 1, 2)]
        batch = client.post("/v1/decide/batch", json={"requests": [sent(4000, "initech", h) for h in (0, 1, 2)]})
    assert [d["decision"] for d in singles] == ["automate", "automate", "escalate"]
    assert singles[2]["history"][0]["value"] == 12000.0
    assert [d["decision"] for d in batch.json()["decisions"]] == ["automate", "automate", "escalate"]


def test_a_backdated_request_is_counted_with_the_orders_decided_now(company: Constitution) -> None:
    """The window reaches from before the earlier of the request's `at` and now to the later: dating an order a
    month back does not move it away from this week's orders."""
    view = FakeHistory({"sum": 7000.0, "count": 0.0})
    backdated = order(4000, at=NOW - timedelta(days=30))
    company.decide_dict(backdated, NOW, history=view)
    since, until = view.asked[-1][4:]
    assert until == NOW and since <= NOW - timedelta(days=30)
