"""One small broken fixture per diagnostic code: the code, the file, the line and the hint are right."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from aios_policy import check
from aios_policy.diagnostics import CODES, Severity

REFUNDS = "policies/refunds.json"
SOP = "sops/refund-dispute.json"
SCENARIOS = "scenarios/refunds.json"


@dataclass(frozen=True)
class Case:
    code: str
    file: str
    old: str
    new: str
    anchor: str  # text on the line the diagnostic must point at (in the edited file)
    hint: str | None

    @property
    def id(self) -> str:
        return f"{self.code}-{(self.anchor or self.new)[:24]}"


CASES = [
    Case("JSON001", "org.json", '["clerk"]}\n  ]', '["clerk"]},\n  ]', "  ]\n}", "trailing comma"),
    Case("JSON001", REFUNDS, '"title": "Refunds",', '"title": "Refunds,', '"title"', "close the string"),
    Case("JSON002", REFUNDS, '"title": "Refunds",', '"title": "Refunds",\n  "title": "Refunds again",',
         '"title": "Refunds again"', "JSON keeps only the last"),
    Case("SCHEMA001", REFUNDS, '"$schema": "../../../../schemas/policy.schema.json"',
         '"$schema": "../../../../schemas/org.schema.json"', '"$schema"', "policy.schema.json"),
    Case("SCHEMA002", REFUNDS, '"owner": "ops_manager",', '"ownr": "ops_manager",', '"ownr"',
         "did you mean `owner`?"),
    Case("SCHEMA002", REFUNDS, '"outcome": "automate",', '"outcome": "automat",', '"automat"',
         "did you mean `automate`?"),
    Case("SCHEMA002", REFUNDS, '  "title": "Refunds",\n', "", "{", "add `title`"),
    Case("SCHEMA002", REFUNDS, '"when": {"path": "amount", "op": "lte", "threshold": "refunds.auto_limit"},',
         '"when": {"path": "amount", "op": "lte", "threshold": "refunds.auto_limit", "all": []},',
         '"when": {"path"', "combine several conditions"),
    Case("REF001", REFUNDS, '"owner": "ops_manager"', '"owner": "ops_manger"', '"owner"',
         "did you mean `ops_manager`?"),
    Case("REF002", SCENARIOS, '"approvers": ["dana", "sam"]', '"approvers": ["dana", "samm"]', '"approvers"',
         "did you mean `sam`?"),
    Case("REF003", REFUNDS, '"op": "lte", "threshold": "refunds.auto_limit"',
         '"op": "lte", "threshold": "refunds.auto_limt"', "refunds.auto_limt", "did you mean `refunds.auto_limit`?"),
    Case("REF004", SOP, '"gate": {"action": "refund.issue"}', '"gate": {"action": "refund.isue"}',
         "refund.isue", "did you mean `refund.issue`?"),
    Case("REF005", SOP, '"policies": ["refunds"]', '"policies": ["refund"]', '"policies"',
         "did you mean `refunds`?"),
    Case("REF006", SCENARIOS, '"rules": ["refund-medium"]', '"rules": ["refund-mediun"]', "refund-mediun",
         "did you mean `refund-medium`?"),
    Case("REF007", SOP, '"escalate": "wait"', '"escalate": "wiat"', '"wiat"', "did you mean `wait`?"),
    Case("ID001", REFUNDS, '"id": "refund-large"', '"id": "refund-small"',
         '"id": "refund-small",\n      "when": {"path": "amount", "op": "gt"', "first defined at"),
    Case("ORG001", "org.json", '{"id": "owner", "title": "Owner", "authority": 100}',
         '{"id": "owner", "title": "Owner", "authority": 100, "reports_to": "clerk"}', '"reports_to": "clerk"}',
         "top role must report to nobody"),
    Case("ORG002", "org.json", '"delegate": "sam"', '"delegate": "samuel"', '"delegate": "samuel"',
         "did you mean `sam`?"),
    Case("ORG003", "org.json", '"reports_to": "ops_manager", "authority": 10',
         '"reports_to": "ops_manager", "authority": 70', '"authority": 70', "more authority than its reports"),
    Case("ORG004", "org.json", '{"id": "cleo", "name": "Cleo Clerk", "roles": ["clerk"]}',
         '{"id": "cleo", "name": "Cleo Clerk", "roles": ["ops_manager"]}', '{"id": "clerk"',
         "its escalations go to `ops_manager`"),
    Case("ORG005", "org.json", '"roles": ["owner"]', '"roles": ["ops_manager"]', '{"id": "owner"',
         "give the role to someone"),
    Case("DATE001", "org.json", '"until": "2026-12-03"', '"until": "2026-02-30"', '"until": "2026-02-30"',
         "YYYY-MM-DD"),
    Case("DATE001", "org.json", '"until": "2026-12-03"', '"until": "2026-11-03"', '"until": "2026-11-03"',
         "must not be before"),
    Case("MAN001", "constitution.json", '"timezone": "America/New_York"', '"timezone": "America/New_Yrok"',
         '"timezone"', "IANA name"),
    Case("COND001", REFUNDS, '{"path": "amount", "op": "gt", "threshold": "refunds.manager_limit"}',
         '{"jmespath": "amount >"}', '{"jmespath"', "jmespath.org"),
    Case("COND002", REFUNDS, '"op": "lte", "threshold": "refunds.auto_limit"}',
         '"op": "lte", "value": "lots"}', '"value": "lots"', None),
    Case("COND003", REFUNDS, '{"path": "amount", "op": "gt", "threshold": "refunds.manager_limit"}',
         '{"path": "attributes.note", "op": "matches", "value": "(a)\\\\1"}', '"matches"',
         "RE2 syntax"),
    Case("COND004", "thresholds.json", '"value": 250,', '"value": [250],', None, "use a threshold of the right kind"),
    Case("ESC001", REFUNDS, '"type": "object",\n          "required"', '"type": "objekt",\n          "required"',
         '"require": {', 'write e.g.'),
    Case("ESC002", REFUNDS, '"sla": "1 business day"', '"sla": "1 business day", "on_timeout": {"then": "deny", '
         '"role": "owner"}', '"on_timeout"', "set then to escalate"),
    Case("SOP001", SOP, '"gate": {"action": "refund.issue"},\n      "on": {"automate": "refund", "escalate": "wait", '
         '"deny": "end", "needs_info": "acknowledge"}', '"gate": {"action": "refund.issue"}', '{\n      "id": "decide"',
         "say which step follows"),
    Case("SOP002", SOP, '"escalate": "wait"', '"escalate": "refund"', '{"id": "wait"', "point a next or on at it"),
    Case("LINT001", REFUNDS, '"op": "gt", "threshold": "refunds.auto_limit"}', '"op": "gte", "value": 0}',
         None, "narrow the stricter rules"),
    Case("LINT002", "thresholds.json", '"threshold": "refunds.sla"', '"threshold": "refunds.sla"', None,
         "use it in a condition"),
    Case("LINT003", REFUNDS, '{"path": "amount", "op": "gt", "threshold": "refunds.manager_limit"}',
         '{"all": [{"path": "amount", "op": "gt", "value": 500}, {"path": "amount", "op": "lt", "value": 100}]}',
         '"all": [{"path": "amount", "op": "gt", "value": 500}', "contradict"),
]


def _apply(constitution: Path, case: Case) -> str:
    target = constitution / case.file
    text = target.read_text()
    assert case.old in text, f"fixture text not found: {case.old!r}"
    text = text.replace(case.old, case.new, 1)
    target.write_text(text)
    return text


def _line_of(text: str, anchor: str) -> int:
    offset = text.index(anchor)
    return text.count("\n", 0, offset) + 1


def test_every_code_has_a_case() -> None:
    assert {case.code for case in CASES} | {"FILE001", "FILE002", "FILE003"} == set(CODES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_diagnostic(constitution: Path, case: Case) -> None:
    if case.code == "COND004":  # a list threshold used where a number is compared
        text = _apply(constitution, case)
        policy = (constitution / REFUNDS).read_text()
        expected_file, line = REFUNDS, _line_of(policy, '"threshold": "refunds.auto_limit"')
    elif case.code == "LINT001":  # rule refund-small (automate) sits under refund-medium, now amount >= 0
        _apply(constitution, case)
        expected_file, line = REFUNDS, _line_of((constitution / REFUNDS).read_text(), '{\n      "id": "refund-small"')
    elif case.code == "LINT002":  # stop using refunds.sla: inline the duration instead
        policy = constitution / REFUNDS
        policy.write_text(policy.read_text().replace('{"threshold": "refunds.sla"}', '"4 business hours"'))
        text = (constitution / "thresholds.json").read_text()
        expected_file, line = "thresholds.json", _line_of(text, '"refunds.sla"')
    else:
        text = _apply(constitution, case)
        expected_file, line = case.file, _line_of(text, case.anchor)
    result = check(constitution)
    found = [d for d in result.diagnostics if d.code == case.code]
    assert found, f"no {case.code}; got: {[d.render() for d in result.diagnostics]}"
    diagnostic = found[0]
    assert diagnostic.file.endswith(expected_file)
    assert diagnostic.line == line, diagnostic.render()
    assert diagnostic.severity is CODES[case.code][0]
    if case.hint:
        assert case.hint in (diagnostic.hint or ""), diagnostic.render()
    if diagnostic.severity is Severity.WARNING:
        assert not result.errors, [d.render() for d in result.errors]


def test_malformed_json_reports_line_and_column(constitution: Path) -> None:
    (constitution / "org.json").write_text('{\n  "roles": [\n    {"id": "owner" "title": "x"}\n  ]\n}\n')
    [diagnostic] = [d for d in check(constitution).diagnostics if d.code == "JSON001"]
    assert (diagnostic.line, diagnostic.column) == (3, 20)
    assert "comma is missing" in diagnostic.hint


def test_missing_required_file_is_reported(constitution: Path) -> None:
    (constitution / "org.json").unlink()
    codes = [(d.code, Path(d.file).name) for d in check(constitution).diagnostics]
    assert ("FILE002", "org.json") in codes


def test_stray_json_file_is_a_warning(constitution: Path) -> None:
    (constitution / "notes.json").write_text("{}")
    [diagnostic] = [d for d in check(constitution).diagnostics if d.code == "FILE003"]
    assert diagnostic.file.endswith("notes.json") and diagnostic.severity is Severity.WARNING


def test_oversized_and_non_utf8_files_are_refused(constitution: Path) -> None:
    (constitution / "policies" / "huge.json").write_text('{"x": "' + "a" * (1024 * 1024 + 10) + '"}')
    (constitution / "policies" / "latin1.json").write_bytes(b'{"title": "caf\xe9"}')
    found = {Path(d.file).name: d for d in check(constitution).diagnostics if d.code == "FILE001"}
    assert "limit" in found["huge.json"].message
    assert "UTF-8" in found["latin1.json"].hint


def test_link_out_of_the_constitution_is_not_followed(constitution: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps({"secret": True}))
    (constitution / "policies" / "link.json").symlink_to(outside)
    found = [d for d in check(constitution).diagnostics if d.code == "FILE001"]
    assert found and "outside the constitution" in found[0].message


def test_all_problems_are_reported_at_once_sorted_by_file_and_line(constitution: Path) -> None:
    policy = constitution / REFUNDS
    policy.write_text(policy.read_text().replace('"owner": "ops_manager"', '"owner": "nobody"')
                      .replace('"stages": [{"role": "owner"}]', '"stages": [{"role": "boss"}]'))
    sop = constitution / SOP
    sop.write_text(sop.read_text().replace('"escalate": "wait"', '"escalate": "nowhere"'))
    diagnostics = check(constitution).diagnostics
    assert [d.code for d in diagnostics] == ["REF001", "REF001", "REF007", "SOP002"]
    keys = [(d.file, d.line, d.column) for d in diagnostics]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("text", "message"), [
    ('{"thresholds": {"x": {"value": 1e400, "description": "d"}}}', "too large"),
    ('{"thresholds": {"x": {"value": NaN, "description": "d"}}}', "not valid JSON"),
    ("[" * 70 + "]" * 70, "nested more than 64 levels"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_hostile_json_is_refused_with_a_clear_message(constitution: Path, text: str, message: str) -> None:
    (constitution / "thresholds.json").write_text(text)
    [diagnostic] = [d for d in check(constitution).diagnostics if d.code == "JSON001"]
    assert message in diagnostic.message and diagnostic.file.endswith("thresholds.json")


def test_a_byte_order_mark_is_accepted(constitution: Path) -> None:
    org = constitution / "org.json"
    org.write_bytes(b"\xef\xbb\xbf" + org.read_bytes())
    assert not check(constitution).diagnostics


def test_both_schema_engines_agree_on_every_case(constitution: Path) -> None:
    """jsonschema-rs settles valid files; jsonschema explains invalid ones: they must agree."""
    from aios_policy.constitution.schema import fast_validator, validator

    documents = [json.loads(p.read_text()) for p in constitution.rglob("*.json")]
    for case in CASES:
        target = constitution / case.file
        text = target.read_text().replace(case.old, case.new, 1)
        try:
            documents.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    kinds = {"constitution": "constitution", "org": "org", "thresholds": "thresholds"}
    for data in documents:
        kind = next((k for k in kinds if isinstance(data, dict) and k in str(data.get("$schema", ""))), None)
        kind = kind or ("policy" if "rules" in data else "sop" if "steps" in data else "scenario")
        assert fast_validator(kind).is_valid(data) == validator(kind).is_valid(data), data.get("id")
