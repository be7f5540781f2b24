"""Build the compiled constitution from schema-valid documents; compile every condition once.

Problems found while compiling (conditions that do not compile, thresholds of the wrong kind) are
returned as diagnostics. The model is returned only when the manifest and org could be read.
"""

from __future__ import annotations

import functools
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

from aios_policy import diagnostics as dx

from .conditions import compile_condition
from .dates import Duration, parse_day, parse_duration, parse_moment, zone
from .load import Document
from .model import (
    Absence,
    BusinessHours,
    CompiledConstitution,
    Escalation,
    Gate,
    Manifest,
    Obligation,
    Origin,
    Person,
    Policy,
    Provenance,
    RelativeApprover,
    Role,
    Rule,
    Scenario,
    Sop,
    Stage,
    Step,
    Threshold,
    Timeout,
    Unit,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MIN_CONFIDENCE = 0.9


class _Compiler:
    def __init__(self, documents: list[Document], unreadable_kinds: set[str]) -> None:
        self.documents = documents
        self.unreadable_kinds = unreadable_kinds
        self.diagnostics: list[dx.Diagnostic] = []
        self.thresholds: dict[str, Threshold] = {}
        self.tz: ZoneInfo = ZoneInfo("UTC")

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.kind == kind]

    def report(self, document: Document, code: str, pointer: str, message: str, hint: str | None = None) -> None:
        if code == "REF003" and "thresholds" in self.unreadable_kinds:
            return  # thresholds.json did not parse; that one problem is reported already
        self.diagnostics.append(document.diagnostic(code, message, pointer, hint))

    # thresholds -------------------------------------------------------------------------------
    @functools.cached_property
    def values(self) -> dict[str, Any]:
        """Each threshold's value by name, built once (every rule's conditions read it)."""
        return {name: t.value for name, t in self.thresholds.items()}

    def read_thresholds(self) -> None:
        for document in self.of_kind("thresholds"):
            for name, raw in document.data["thresholds"].items():
                origin = Origin(document.file, dx.pointer("thresholds", name))
                self.thresholds.setdefault(name, Threshold(name, raw["value"], raw.get("unit"),
                                                           raw["description"], origin))

    def named(self, document: Document, pointer: str, name: str) -> Threshold | None:
        """The threshold a {"threshold": name} reference names; REF003 when there is none."""
        threshold = self.thresholds.get(name)
        if threshold is None:
            self.report(document, "REF003", f"{pointer}/threshold", f"unknown threshold `{name}`",
                        dx.did_you_mean(name, self.thresholds) or "define it in thresholds.json")
        return threshold

    def duration(self, document: Document, pointer: str, raw: Any) -> tuple[Duration | None, str | None]:
        """A duration written inline or named as a threshold."""
        if raw is None:
            return None, None
        if isinstance(raw, str):
            return parse_duration(raw), None
        name = raw["threshold"]
        threshold = self.named(document, pointer, name)
        if threshold is None:
            return None, name
        parsed = parse_duration(threshold.value)
        if parsed is None:
            self.report(document, "COND004", f"{pointer}/threshold", f"threshold `{name}` is "
                        f"`{threshold.value}`, not a duration", 'write durations like "4 business hours"')
        return parsed, name

    def confidence(self, document: Document, pointer: str, raw: Any) -> tuple[float | None, str | None]:
        """A confidence bar written inline or named as a threshold."""
        if raw is None or isinstance(raw, int | float):
            return raw, None
        name = raw["threshold"]
        threshold = self.named(document, pointer, name)
        if threshold is None:
            return None, name
        value = threshold.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.report(document, "COND004", f"{pointer}/threshold",
                        f"threshold `{name}` is `{value}`, not a confidence from 0 to 1", "use a number such as 0.9")
            return None, name
        return float(value), name

    # shared pieces ----------------------------------------------------------------------------
    def escalation(self, document: Document, pointer: str, raw: dict[str, Any]) -> Escalation:
        stages = tuple(self.stage(document, f"{pointer}/stages/{i}", s) for i, s in enumerate(raw["stages"]))
        sla, sla_threshold = self.duration(document, f"{pointer}/sla", raw.get("sla"))
        timeout = raw.get("on_timeout", {"then": "escalate"})
        return Escalation(stages, raw.get("require", {"type": "object"}), sla, sla_threshold,
                          Timeout(timeout["then"], timeout.get("role")))

    def stage(self, document: Document, pointer: str, raw: dict[str, Any]) -> Stage:
        approver = None
        if "approver" in raw:
            ((relation, of),) = raw["approver"].items()
            approver = RelativeApprover(relation, of)
        count: Any = raw.get("approvals", 1)
        quorum: str | None = None
        if isinstance(count, str):
            quorum, count = count, 1
        elif isinstance(count, dict):
            threshold = self.named(document, f"{pointer}/approvals", count["threshold"])
            value = threshold.value if threshold else 1
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
                self.report(document, "COND004", f"{pointer}/approvals/threshold", f"threshold "
                            f"`{count['threshold']}` is `{value}`, not a number of approvals from 1 to 10",
                            "use a whole number such as 2")
                value = 1
            count = value
        sla, _ = self.duration(document, f"{pointer}/sla", raw.get("sla"))
        timeout = raw.get("on_timeout")
        return Stage(raw.get("role"), count, raw.get("name"), approver, raw.get("kind", "approve"), raw.get("phase"),
                     quorum, sla, Timeout(timeout["then"], timeout.get("role")) if timeout else None)

    def moment(self, raw: str | None, end_of_day: bool = False):
        return parse_moment(raw, self.tz, end_of_day) if raw else None

    # files ------------------------------------------------------------------------------------
    def manifest(self) -> Manifest | None:
        documents = self.of_kind("constitution")
        if not documents:
            return None
        document, data = documents[0], documents[0].data
        self.tz = zone(data["timezone"]) or ZoneInfo("UTC")
        hours = data.get("business_hours", {"days": list(WEEKDAYS[:5]), "start": "09:00", "end": "17:00"})
        business = BusinessHours(frozenset(WEEKDAYS.index(d) for d in hours["days"]),
                                 time.fromisoformat(hours["start"]), time.fromisoformat(hours["end"]))
        holidays = frozenset(filter(None, (parse_day(h) for h in data.get("holidays", []))))
        phases = tuple(data.get("approval_phases", Manifest.approval_phases))
        return Manifest(data["name"], data.get("description", ""), data["currency"], self.tz, business, holidays,
                        float(data.get("agents", {}).get("min_confidence", DEFAULT_MIN_CONFIDENCE)),
                        self.escalation(document, "/default_escalation", data["default_escalation"]), phases,
                        bool(data.get("signing", {}).get("requester_may_sign", False)))

    def org(self) -> tuple[dict[str, Role], dict[str, Person], dict[str, Unit]] | None:
        documents = self.of_kind("org")
        if not documents:
            return None
        document = documents[0]
        roles: dict[str, Role] = {}
        for index, raw in enumerate(document.data["roles"]):
            roles.setdefault(raw["id"], Role(raw["id"], raw["title"], raw["authority"], raw.get("reports_to"),
                                             raw.get("description", ""), Origin(document.file, f"/roles/{index}")))
        people: dict[str, Person] = {}
        for index, raw in enumerate(document.data["people"]):
            absences = tuple(Absence(first, last, a["delegate"], a.get("note", ""))
                             for a in raw.get("out_of_office", [])
                             if (first := parse_day(a["from"])) and (last := parse_day(a["until"])))
            people.setdefault(raw["id"], Person(raw["id"], raw["name"], tuple(raw["roles"]), raw.get("email"),
                                                dict(raw.get("handles", {})), absences,
                                                Origin(document.file, f"/people/{index}"), raw.get("unit")))
        units: dict[str, Unit] = {}
        for index, raw in enumerate(document.data.get("units", [])):
            units.setdefault(raw["id"], Unit(raw["id"], raw["title"], raw.get("kind"), raw["head"],
                                             raw.get("budget_owner"), raw.get("parent"),
                                             Origin(document.file, f"/units/{index}")))
        return roles, people, units

    def exchange_rates(self) -> dict[str, tuple[tuple[date, float], ...]]:
        rates: dict[str, tuple[tuple[date, float], ...]] = {}
        for document in self.of_kind("thresholds"):
            for currency, periods in document.data.get("exchange_rates", {}).items():
                dated = [(day, float(p["rate"])) for p in periods if (day := parse_day(p["from"]))]
                rates[currency] = tuple(sorted(dated, reverse=True))
        return rates

    def policies(self) -> dict[str, Policy]:
        policies: dict[str, Policy] = {}
        for document in self.of_kind("policy"):
            data = document.data
            rules = tuple(filter(None, (self.rule(document, data, index, raw)
                                        for index, raw in enumerate(data["rules"]))))
            bar, bar_threshold = self.confidence(document, "/min_confidence", data.get("min_confidence"))
            policies.setdefault(data["id"], Policy(
                data["id"], data["title"], data["owner"], data["summary"], tuple(data["actions"]),
                tuple(data.get("synonyms", [])), bar, bar_threshold, rules, Origin(document.file, ""),
                data.get("topic")))
        return policies

    def rule(self, document: Document, policy: dict[str, Any], index: int, raw: dict[str, Any]) -> Rule | None:
        pointer = f"/rules/{index}"
        condition, problems = compile_condition(raw.get("when"), self.values, f"{pointer}/when")
        for problem in problems:
            self.report(document, problem.code, problem.pointer, problem.message, problem.hint)
        escalation = self.escalation(document, f"{pointer}/escalation", raw["escalation"]) \
            if "escalation" in raw else None
        obligations = tuple(Obligation(o["kind"], o["text"], o.get("role")) for o in raw.get("obligations", []))
        starts = [self.moment(v) for v in (policy.get("effective_from"), raw.get("effective_from")) if v]
        ends = [self.moment(v, True) for v in (policy.get("effective_until"), raw.get("effective_until")) if v]
        if condition is None:
            return None
        return Rule(raw["id"], policy["id"], raw["outcome"], raw["reason"], condition, escalation, obligations,
                    max(filter(None, starts), default=None), min(filter(None, ends), default=None),
                    Origin(document.file, pointer))

    def sops(self) -> dict[str, Sop]:
        sops: dict[str, Sop] = {}
        for document in self.of_kind("sop"):
            data = document.data
            steps = []
            for index, raw in enumerate(data["steps"]):
                sla, _ = self.duration(document, f"/steps/{index}/sla", raw.get("sla"))
                gate = Gate(raw["gate"]["action"], raw["gate"].get("question")) if "gate" in raw else None
                steps.append(Step(raw["id"], raw["title"], raw.get("role"), raw.get("agent"),
                                  raw.get("instructions", ""), sla, gate, dict(raw.get("on", {})), raw.get("next")))
            sla, _ = self.duration(document, "/sla", data.get("sla"))
            sops.setdefault(data["id"], Sop(
                data["id"], data["title"], data["owner"], data["summary"], data["trigger"],
                tuple(data.get("questions", [])), tuple(data.get("synonyms", [])), sla,
                tuple(data.get("policies", [])), tuple(steps), Origin(document.file, ""),
                data.get("topic")))
        return sops

    def scenarios(self) -> list[Scenario]:
        return [Scenario(raw["id"], raw["description"], raw["request"], raw["expect"],
                         Origin(document.file, f"/scenarios/{index}"))
                for document in self.of_kind("scenario") for index, raw in enumerate(document.data["scenarios"])]


def build(documents: list[Document], provenance: Provenance,
          unreadable_kinds: frozenset[str] = frozenset()) -> tuple[CompiledConstitution | None, list[dx.Diagnostic]]:
    """The compiled constitution (None without a readable manifest and org) and compile problems."""
    compiler = _Compiler(documents, set(unreadable_kinds))
    compiler.read_thresholds()
    manifest = compiler.manifest()
    org = compiler.org()
    policies, sops, scenarios = compiler.policies(), compiler.sops(), compiler.scenarios()
    if manifest is None or org is None:
        return None, compiler.diagnostics
    roles, people, units = org
    return CompiledConstitution(manifest, roles, people, compiler.thresholds, policies, sops, scenarios,
                                provenance, units, compiler.exchange_rates()), compiler.diagnostics
