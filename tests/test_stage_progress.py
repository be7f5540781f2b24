"""The decision log resolves a multi-stage escalation stage by stage, in order, by kind.

Decisions are built by hand in the shape the engine writes (escalation.stages with kind, approvals,
approvers), logged with DecisionLog.append, then resolved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aios_policy.record.log import DecisionLog, LogError

AT = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
REQUEST = {"action": "vendor.pay", "actor": {"id": "buyer-bot", "kind": "agent"}, "amount": 12_000}


def stage(name: str, people: list[str], approvals: Any = 1, kind: str | None = "approve") -> dict[str, Any]:
    made = {"name": name, "phase": None, "role": f"{name}_role", "approver": None, "approvals": approvals,
            "approvers": [{"id": p, "name": p.title(), "email": f"{p}@example.com", "handles": {},
                           "covering_for": None} for p in people],
            "sla": "1 business day", "due": None, "on_timeout": {"then": "escalate", "role": "owner"},
            "rules": ["vendor-rule"]}
    if kind is not None:
        made["kind"] = kind
    return made


def escalation(number: int, *stages: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"dec_{number:04d}", "decided_at": "2026-11-20T14:00:00Z", "action": "vendor.pay",
            "decision": "escalate", "summary": "escalate vendor.pay", "reasons": [], "errors": [],
            "escalation": {"role": "ops_role", "stages": list(stages)},
            "constitution": {"name": "Test Co", "commit": None}}


OPERATIONAL = stage("operational review", ["dana", "sam"])
FINANCIAL = stage("financial review", ["fiona"])


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with DecisionLog(tmp_path / "decisions.sqlite") as opened:
        yield opened


def ids(people: list[dict[str, Any]]) -> list[str]:
    return [person["id"] for person in people]


def test_stages_are_approved_in_order(log: DecisionLog) -> None:
    log.append(escalation(1, OPERATIONAL, FINANCIAL), REQUEST)
    entry = log.get("dec_0001")
    assert ids(entry.awaiting) == ["dana", "sam"]
    assert entry.stage == {"index": 0, "name": "operational review", "kind": "approve", "approvals": 1,
                           "approved": 0}
    assert log.resolve("dec_0001", "approve", "dana", "ops ok", AT).status == "pending"
    entry = log.get("dec_0001")
    assert ids(entry.awaiting) == ["fiona"] and entry.stage is not None and entry.stage["index"] == 1
    assert log.resolve("dec_0001", "approve", "fiona", "budget ok", AT).status == "approved"
    settled = log.get("dec_0001")
    assert (settled.status, settled.awaiting, settled.stage) == ("approved", [], None)
    assert settled.to_json()["stage"] is None and log.verify() == []


def test_a_later_stage_approver_approving_early_is_refused_with_who_may_approve_now(log: DecisionLog) -> None:
    log.append(escalation(2, OPERATIONAL, FINANCIAL), REQUEST)
    with pytest.raises(LogError) as early:
        log.resolve("dec_0002", "approve", "fiona", "fine", AT)
    assert early.value.message == ("`fiona` approves at stage 2 (financial review), which opens when "
                                   "stage 1 (operational review) has its approvals")
    assert early.value.hint == ("who may approve now: `dana` (Dana), `sam` (Sam) at stage 1 (operational review); "
                                "who may deny it: `dana` (Dana), `sam` (Sam), `fiona` (Fiona); "
                                "`fiona` may deny it now")
    assert log.get("dec_0002").resolutions == ()  # nothing recorded
    assert log.resolve("dec_0002", "approve", "sam", "ok", AT).status == "pending"
    assert log.resolve("dec_0002", "approve", "fiona", "now it is my turn", AT).status == "approved"


def test_a_deny_at_the_current_stage_ends_the_escalation(log: DecisionLog) -> None:
    log.append(escalation(3, OPERATIONAL, FINANCIAL), REQUEST)
    assert log.resolve("dec_0003", "deny", "sam", "duplicate", AT).status == "denied"
    with pytest.raises(LogError, match=r"already denied \(`sam` denied\)"):
        log.resolve("dec_0003", "approve", "dana", "ok", AT)
    assert log.get("dec_0003").awaiting == [] and log.get("dec_0003").stage is None


def test_a_later_stage_approver_may_deny_early(log: DecisionLog) -> None:
    """A deny can only stop the action, and the later stage's approval would be needed anyway."""
    log.append(escalation(4, OPERATIONAL, FINANCIAL), REQUEST)
    assert log.resolve("dec_0004", "deny", "fiona", "not in budget", AT).status == "denied"


def test_advise_and_notify_stages_are_never_waited_for(log: DecisionLog) -> None:
    log.append(escalation(5, stage("legal advice", ["lena"], kind="advise"), OPERATIONAL,
                          stage("controller notice", ["carl"], kind="notify")), REQUEST)
    entry = log.get("dec_0005")
    assert ids(entry.awaiting) == ["dana", "sam"] and entry.stage is not None and entry.stage["index"] == 1
    for person, outcome in (("lena", "approve"), ("lena", "deny"), ("carl", "approve"), ("carl", "deny")):
        with pytest.raises(LogError) as refused:
            log.resolve("dec_0005", outcome, person, "my view", AT)
        assert refused.value.message.startswith(f"`{person}` may not resolve decision `dec_0005`: stage ")
        assert refused.value.message.endswith("not to approve or deny")
    assert log.resolve("dec_0005", "approve", "dana", "ok", AT).status == "approved"


def test_an_escalation_of_only_advise_and_notify_stages_is_never_approved(log: DecisionLog) -> None:
    """The engine refuses such a rule (ESC003); a hand-built one still must not approve itself."""
    log.append(escalation(6, stage("advice", ["lena"], kind="advise"), stage("notice", ["carl"], kind="notify")),
               REQUEST)
    entry = log.get("dec_0006")
    assert (entry.status, entry.awaiting, entry.stage) == ("pending", [], None)
    with pytest.raises(LogError, match="not to approve or deny"):
        log.resolve("dec_0006", "approve", "lena", "ok", AT)


def test_a_sign_stage_counts_signatures_as_approvals(log: DecisionLog) -> None:
    log.append(escalation(7, OPERATIONAL, stage("signature", ["olivia", "owen"], approvals=2, kind="sign")), REQUEST)
    with pytest.raises(LogError) as early:
        log.resolve("dec_0007", "approve", "olivia", "signed", AT)
    assert early.value.message.startswith("`olivia` signs at stage 2 (signature), which opens when stage 1")
    log.resolve("dec_0007", "approve", "dana", "ok", AT)
    assert log.get("dec_0007").stage == {"index": 1, "name": "signature", "kind": "sign", "approvals": 2,
                                         "approved": 0}
    signed = log.resolve("dec_0007", "approve", "olivia", "signed", AT)
    assert (signed.outcome, signed.status) == ("approve", "pending")
    assert log.resolve("dec_0007", "approve", "owen", "signed", AT).status == "approved"


def test_a_quorum_of_two_at_one_stage_needs_two_people(log: DecisionLog) -> None:
    log.append(escalation(8, stage("board", ["ada", "bo", "cy"], approvals=2), FINANCIAL), REQUEST)
    assert log.resolve("dec_0008", "approve", "ada", "yes", AT).status == "pending"
    entry = log.get("dec_0008")
    assert ids(entry.awaiting) == ["bo", "cy"] and entry.stage is not None and entry.stage["approved"] == 1
    with pytest.raises(LogError, match="`ada` already resolved"):
        log.resolve("dec_0008", "approve", "ada", "yes again", AT)
    with pytest.raises(LogError, match="opens when stage 1 \\(board\\) has its approvals"):
        log.resolve("dec_0008", "approve", "fiona", "yes", AT)
    assert log.resolve("dec_0008", "approve", "cy", "yes", AT).status == "pending"
    with pytest.raises(LogError, match="the approval of `bo` is not needed"):
        log.resolve("dec_0008", "approve", "bo", "yes", AT)
    assert log.resolve("dec_0008", "approve", "fiona", "yes", AT).status == "approved"


def test_stages_logged_without_a_kind_all_approve(log: DecisionLog) -> None:
    log.append(escalation(9, stage("functional", ["dana"], kind=None), stage("financial", ["fiona"], kind=None)),
               REQUEST)
    with pytest.raises(LogError, match="`fiona` approves at stage 2 \\(financial\\)"):
        log.resolve("dec_0009", "approve", "fiona", "ok", AT)
    assert log.resolve("dec_0009", "approve", "dana", "ok", AT).status == "pending"
    assert log.resolve("dec_0009", "approve", "fiona", "ok", AT).status == "approved"


def test_an_early_approval_logged_before_stages_opened_in_order_still_counts(log: DecisionLog) -> None:
    """A log written before this rule may hold a later stage's approval given first: replaying it keeps the
    status it had."""
    log.append(escalation(10, stage("functional", ["dana"], kind=None), stage("financial", ["fiona"], kind=None)),
               REQUEST)
    with log._transaction():  # write, as the earlier release accepted it, an approval given out of order
        log._insert({"kind": "resolution", "decision_id": "dec_0010", "at": AT.isoformat(), "action": "vendor.pay",
                     "outcome": "approve", "actor_id": None, "actor_kind": None, "constitution_commit": None,
                     "request": None, "decision": None, "resolved_by": "fiona", "note": "early"})
    assert ids(log.get("dec_0010").awaiting) == ["dana"]
    assert log.resolve("dec_0010", "approve", "dana", "ok", AT).status == "approved"
    assert log.verify() == []


def test_a_person_named_at_two_stages_fills_only_one_of_them(log: DecisionLog) -> None:
    """Each person resolves once: one approval never fills two stages (four eyes stay four eyes)."""
    log.append(escalation(11, stage("functional", ["dana", "sam"]), stage("financial", ["dana", "fiona"])), REQUEST)
    assert log.resolve("dec_0011", "approve", "dana", "ops ok", AT).status == "pending"
    assert ids(log.get("dec_0011").awaiting) == ["fiona"]
    with pytest.raises(LogError, match="`dana` already resolved decision `dec_0011`"):
        log.resolve("dec_0011", "approve", "dana", "budget ok too", AT)
    assert log.resolve("dec_0011", "approve", "fiona", "budget ok", AT).status == "approved"
    # when someone else fills the first stage, the person approves at the second
    log.append(escalation(12, stage("functional", ["dana", "sam"]), stage("financial", ["dana", "fiona"])), REQUEST)
    log.resolve("dec_0012", "approve", "sam", "ops ok", AT)
    assert log.resolve("dec_0012", "approve", "dana", "budget ok", AT).status == "approved"


def test_a_stage_left_with_nobody_waits_for_its_timeout_and_says_so(log: DecisionLog) -> None:
    log.append(escalation(13, stage("functional", ["dana"]), stage("financial", ["dana"])), REQUEST)
    log.resolve("dec_0013", "approve", "dana", "ops ok", AT)
    entry = log.get("dec_0013")
    assert (entry.status, entry.awaiting) == ("pending", [])
    with pytest.raises(LogError) as refused:
        log.resolve("dec_0013", "approve", "dana", "budget ok", AT)
    assert refused.value.hint == "who may resolve it: nobody"


@pytest.mark.parametrize("approvals", [0, -3, True, 1.5, "all", {"threshold": "x"}, None])
def test_an_odd_approval_count_never_lowers_the_bar(log: DecisionLog, approvals: Any) -> None:
    log.append(escalation(14, stage("board", ["ada", "bo"], approvals=approvals)), REQUEST)
    log.resolve("dec_0014", "approve", "ada", "yes", AT)
    needed = 1 if approvals in (0, -3) else 2  # at least one; a count that is not a whole number: everyone
    assert log.get("dec_0014").status == ("approved" if needed == 1 else "pending")


def test_log_show_and_resolve_name_the_stage_that_waits(tmp_path: Path) -> None:
    path = tmp_path / "decisions.sqlite"
    with DecisionLog(path) as log:
        log.append(escalation(15, stage("advice", ["lena"], kind="advise"), OPERATIONAL,
                              stage("signature", ["olivia"], kind="sign")), REQUEST)
    done = invoke("resolve", "dec_0015", "approve", "--by", "dana", "--note", "ok", "--log", str(path))
    assert (done.returncode, done.stdout) == (0, "recorded: dana approved dec_0015; the escalation is now pending; "
                                                 "awaiting olivia (Olivia)\n")
    shown = invoke("log", "show", "dec_0015", "--log", str(path)).stdout
    assert "  stage       advice: advise lena (Lena) (not waited for)\n" in shown
    assert "  stage       operational review: 1 of dana (Dana), sam (Sam)\n" in shown
    assert "  stage       signature: 1 signature(s) of olivia (Olivia)\n" in shown
    assert "  waiting on  stage 3 (signature): 0 of 1 signatures\n  awaiting    olivia (Olivia)\n" in shown
    early = invoke("resolve", "dec_0015", "approve", "--by", "lena", "--note", "ok", "--log", str(path))
    assert early.returncode == 1 and early.stderr.splitlines()[0] == (
        "aios: error: `lena` may not resolve decision `dec_0015`: stage 1 (advice) names them to advise, "
        "not to approve or deny")


# Generated: random stage lists and random resolution sequences.

PEOPLE = ["ada", "bo", "cy", "dee"]
KINDS = ["approve", "sign", "advise", "notify", None, "veto", 7]


@st.composite
def stages(draw: st.DrawFn) -> list[Any]:
    made: list[Any] = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 20)) == 0:
            made.append(draw(st.sampled_from([None, "stage", 3, [], {"approvers": "dana"}])))  # hostile
            continue
        people = draw(st.lists(st.sampled_from(PEOPLE), max_size=3))
        approvals = draw(st.one_of(st.integers(-1, 4), st.sampled_from(["all", "majority", None, 2.0, True])))
        name = draw(st.sampled_from([f"s{len(made)}", "two\nlines", "", "\u202eevil"]))
        made.append(stage(name, people, approvals, draw(st.sampled_from(KINDS))))
    return made


def expected_status(stage_list: list[Any], accepted: list[tuple[str, str]]) -> str:
    """An independent model: approve/sign stages filled strictly in order, each person once."""
    waited = []
    for item in stage_list:
        if not isinstance(item, dict):
            waited.append((1, set()))
            continue
        if item.get("kind", "approve") in ("advise", "notify"):
            continue
        people = [a["id"] for a in item["approvers"]] if isinstance(item["approvers"], list) else []
        count = item.get("approvals", 1)
        if isinstance(count, int) and not isinstance(count, bool):
            count = max(1, count)
        elif count == "majority":
            count = len(people) // 2 + 1
        else:
            count = max(1, len(people))
        waited.append((count, set(people)))
    deciders = set().union(*(people for _, people in waited))
    assert all(person in deciders for _, person in accepted), "someone not named at an approve/sign stage resolved"
    if any(outcome == "deny" for outcome, _ in accepted):
        assert [outcome for outcome, _ in accepted][-1] == "deny", "a resolution was accepted after a deny"
        return "denied"
    if not waited:
        return "pending"
    position, got = 0, 0
    for _, person in accepted:
        assert position < len(waited), "an approval was accepted after every stage was filled"
        assert person in waited[position][1], f"{person} approved outside the current stage"
        got += 1
        while position < len(waited) and got >= waited[position][0]:
            position, got = position + 1, 0
    return "approved" if position == len(waited) else "pending"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stage_list=stages(), attempts=st.lists(st.tuples(st.sampled_from(["approve", "deny"]),
                                                        st.sampled_from([*PEOPLE, "zed", "ev\nil"])), max_size=8))
def test_random_stages_and_resolutions_only_ever_refuse_with_a_log_error(
        tmp_path_factory: pytest.TempPathFactory, stage_list: list[Any], attempts: list[tuple[str, str]]) -> None:
    with DecisionLog(tmp_path_factory.mktemp("log") / "decisions.sqlite") as log:
        log.append(escalation(1, *stage_list), REQUEST)
        accepted: list[tuple[str, str]] = []
        for outcome, person in attempts:
            try:
                log.resolve("dec_0001", outcome, person, "why", AT)
            except LogError as refused:
                assert "\n" not in refused.message and "\n" not in (refused.hint or "")
                continue
            accepted.append((outcome, person))
        entry = log.get("dec_0001")
        assert entry.status == expected_status(stage_list, accepted)
        assert len({person for _, person in accepted}) == len(accepted)  # each person once
        if entry.status != "pending":
            assert entry.awaiting == [] and entry.stage is None
        assert log.verify() == []
