"""The request an agent sends and the decision it gets: their one definition, as pydantic models.

schemas/request.schema.json and schemas/decision.schema.json are generated from these models
(`write_schemas()` rewrites them; a test fails when the committed files
differ), so types, limits and help texts cannot drift between the Python API, the JSON Schemas
agents validate against and the HTTP service's OpenAPI document. The engine itself works on plain
dicts; conversion happens only at the edges.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

Outcome = Literal["automate", "escalate", "deny", "needs_info"]
MOMENT_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
                  r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$")
DRAFT = "https://json-schema.org/draft/2020-12/schema"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the request ---------------------------------------------------------------------------------


class Actor(_Strict):
    """Who asks: an AI agent or a person."""

    id: str = Field(min_length=1, max_length=200, title="Actor id",
                    description="The agent's name or the person's id in org.json.")
    kind: Literal["agent", "human"] = Field(title="Kind", description="agent for an AI agent, human for a person.")
    role: str | None = Field(default=None, max_length=64, title="Role",
                             description="The role the actor acts in, if any.")


class Request(_Strict):
    """What an agent or person asks the engine: may this action be done?"""

    model_config = ConfigDict(title="aios-policy decision request")

    id: str | None = Field(default=None, max_length=200, title="Request id",
                           description="The caller's own id for this request, echoed in the decision.")
    action: str = Field(min_length=1, max_length=80, title="Action",
                        description="Dotted action name, e.g. refund.issue.")
    actor: Actor = Field(title="Actor", description="Who asks: an AI agent or a person.")
    amount: float | None = Field(default=None, ge=0, le=1e15, allow_inf_nan=False, title="Amount",
                                 description="Money involved, in currency (or the constitution's currency).")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", title="Currency",
                                 description="ISO 4217 code of amount; omitted: the constitution's currency.")
    attributes: dict[str, Any] | None = Field(
        default=None, max_length=200, title="Attributes",
        description='Facts about the case that rules look at, e.g. {"customer_tier": "gold", "vendor_is_new": true}.')
    confidence: float | None = Field(
        default=None, ge=0, le=1, allow_inf_nan=False, title="Confidence",
        description="How sure the agent is that the action is right, 0 to 1. Agents' requests are automated only "
                    "at or above the constitution's bar.")
    at: str | None = Field(default=None, pattern=MOMENT_PATTERN, title="At",
                           description="When the action happens (RFC 3339 date-time, or YYYY-MM-DD in the company's "
                                       "time zone); omitted: now.")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# --- the decision --------------------------------------------------------------------------------


class Approver(_Strict):
    """A person who may approve."""

    id: str = Field(title="Person id", description="Person id in org.json.")
    name: str = Field(title="Name", description="Full name.")
    email: str | None = Field(default=None, title="Email", description="Work email.")
    handles: dict[str, str] = Field(default_factory=dict, title="Handles", description="Contact handles by system.")
    covering_for: str | None = Field(default=None, title="Covering for",
                                     description="Person id this approver stands in for while they are away.")


class Timeout(_Strict):
    """What happens when nobody answers by due."""

    then: Literal["escalate", "deny", "approve"] = Field(title="Then", description="escalate, deny or approve.")
    role: str | None = Field(default=None, title="Role", description="With escalate: the role that takes over.")


class RelativeApprover(_Strict):
    """An approver found from the request."""

    relation: Literal["manager_of", "head_of", "budget_owner_of"] = Field(
        title="Relation", description="manager_of (the requester's manager), head_of or budget_owner_of (of a unit).")
    of: str = Field(title="Of", description="requester, or the request field that names the unit.")


class Stage(_Strict):
    """One stage of the escalation, resolved to people at decision time."""

    name: str | None = Field(default=None, title="Name", description="What this approval is for.")
    phase: str | None = Field(default=None, title="Phase",
                              description="Where the stage stands in the constitution's approval phases.")
    kind: Literal["approve", "sign", "advise", "notify"] = Field(
        default="approve", title="Kind",
        description="approve or sign: waited for; advise or notify: its people are told, nobody waits for them.")
    role: str = Field(title="Role", description="Role that approves at this stage (after separation of duties).")
    approver: RelativeApprover | None = Field(
        default=None, title="Approver relative to the request",
        description="Set when the stage's approver was found from the request (the requester's manager, a unit's "
                    "head or budget owner).")
    approvals: int = Field(title="Approvals needed",
                           description="How many approvers must approve (0 for advise and notify stages).")
    approvers: list[Approver] = Field(
        title="Approvers", description="People who may approve now: the role's people, away people replaced by their "
                                       "delegates, the requester and whoever stands in for them removed.")
    sla: str | None = Field(default=None, title="SLA", description="How long this stage has once it opens.")
    due: str | None = Field(
        default=None, title="Due",
        description="For the first stage that is waited for: when its SLA runs out (RFC 3339). Later stages get "
                    "theirs when they open.")
    on_timeout: Timeout | None = Field(default=None, title="On timeout",
                                       description="What happens when this stage's SLA passes.")
    rules: list[str] = Field(default_factory=list, title="Rules", description="The rules that asked for this stage.")


class Escalation(_Strict):
    """For escalate: who approves, what they need, by when."""

    role: str = Field(title="Role", description="Role of the first stage that is waited for.")
    stages: list[Stage] = Field(title="Approval stages", description="Approvals in order.")
    require: dict[str, Any] = Field(title="Information required",
                                    description="JSON Schema of what to attach for the approver.")
    sla: str | None = Field(title="SLA", description="How long the approvers have, e.g. 4 business hours.")
    due: str | None = Field(title="Due", description="When the SLA runs out (RFC 3339).")
    on_timeout: Timeout = Field(title="On timeout", description="What happens when nobody answers by due.")


class Reason(_Strict):
    """A rule that matched and what it said."""

    policy: str | None = Field(
        title="Policy", description="Policy id (null for the constitution's default or an engine safeguard).")
    rule: str = Field(title="Rule", description="Rule id, or a safeguard name such as default, confidence, error.")
    outcome: Outcome = Field(title="Outcome", description="What this rule alone would decide.")
    text: str = Field(title="Text", description="The rule's reason in plain English.")


class MissingOutcome(_Strict):
    """A value range and its decision."""

    when: str = Field(title="When", description="The values, in plain English.")
    decision: str = Field(title="Decision", description="The decision for those values.")


class Missing(_Strict):
    """A field to ask for."""

    field: str = Field(title="Field", description="Path of the field in the request, e.g. attributes.customer_tier.")
    outcomes: list[MissingOutcome] = Field(default_factory=list, title="Outcomes",
                                           description="For a few example values: the decision each would get.")


class Obligation(_Strict):
    """Notify, record or attach."""

    kind: Literal["notify", "record", "attach"] = Field(title="Kind", description="notify, record or attach.")
    role: str | None = Field(default=None, title="Role", description="For notify: the role to tell.")
    text: str = Field(title="Text", description="What to do.")
    rule: str = Field(title="Rule", description="The rule that asks for it.")


class Money(_Strict):
    """An amount converted into the constitution's currency before any limit judged it."""

    amount: float = Field(title="Amount", description="The amount as the request gave it.")
    currency: str = Field(title="Currency", description="The request's currency.")
    rate: float = Field(title="Rate", description="Units of the constitution's currency for one unit of it.")
    rate_from: str = Field(title="Rate from", description="The day that rate took effect (YYYY-MM-DD).")
    converted: float = Field(title="Converted", description="The amount the rules compared.")


class HistoryFigure(_Strict):
    """A sum or count of earlier decisions that a history condition compared."""

    rule: str = Field(title="Rule", description="The rule whose condition read it.")
    action: str = Field(title="Action", description="The action whose decisions were summed or counted.")
    measure: Literal["sum", "count"] = Field(title="Measure", description="sum of amounts, or count of decisions.")
    group_by: str = Field(title="Group by", description="The request field the decisions were grouped by.")
    group: str = Field(title="Group", description="This request's value of that field.")
    window: str = Field(title="Window", description="How far back from the request's time, e.g. 365 days.")
    value: float = Field(title="Value", description="The sum or count, this request included when it is of that "
                                                    "action.")


class ConstitutionVersion(_Strict):
    """Which version of the constitution decided."""

    name: str = Field(title="Name", description="The company's name from the manifest.")
    commit: str | None = Field(title="Commit",
                               description="Git commit the constitution was loaded from (null outside git).")
    ref: str | None = Field(default=None, title="Ref", description="The ref asked for, if any.")
    dirty: bool = Field(title="Dirty", description="True when the files differed from the commit (uncommitted edits).")


class TraceEntry(_Strict):
    """One rule and how it went."""

    policy: str = Field(title="Policy", description="Policy id.")
    rule: str = Field(title="Rule", description="Rule id.")
    matched: bool = Field(title="Matched", description="Whether the rule applied.")
    why: str = Field(title="Why", description="The condition as evaluated, in plain English.")


class Decision(_Strict):
    """The engine's answer to a request: automate, escalate, deny or needs_info, with who, why, what to attach,
    by when, and the commit that decided. id and decided_at differ between runs; everything else is
    byte-identical for the same constitution, request and time."""

    model_config = ConfigDict(title="aios-policy decision")

    id: str = Field(title="Decision id",
                    description="Unique id of this decision in the decision log (differs between runs).")
    decided_at: str = Field(title="Decided at",
                            description="When the decision was made (RFC 3339; differs between runs).")
    request_id: str | None = Field(default=None, title="Request id",
                                   description="The caller's id from the request, if it gave one.")
    action: str = Field(title="Action", description="The action decided.")
    decision: Outcome = Field(
        title="Decision", description="automate: go ahead. escalate: hand off to the approvers named. deny: do not do "
                                      "it. needs_info: ask for the missing fields and ask again.")
    summary: str = Field(title="Summary", description="The decision in one plain-English sentence.")
    escalation: Escalation | None = Field(default=None, title="Escalation",
                                          description="For escalate: who approves, what they need, by when.")
    missing: list[Missing] = Field(
        default_factory=list, title="Missing facts",
        description="For needs_info: the fields the outcome depends on that the request lacks, with what each value "
                    "would lead to.")
    reasons: list[Reason] = Field(title="Reasons",
                                  description="Every rule that matched (or the default), deciding rules first.")
    counterfactuals: list[str] = Field(
        default_factory=list, title="Counterfactuals",
        description="What would change the decision, e.g. would automate at or below $250.")
    obligations: list[Obligation] = Field(title="Obligations",
                                          description="What must also happen, from the deciding rules.")
    errors: list[str] = Field(
        title="Errors", description="Problems met while deciding; any error makes the decision at least an escalation.")
    money: Money | None = Field(default=None, title="Money",
                                description="The currency conversion made, when the request's amount was in another "
                                            "currency.")
    history: list[HistoryFigure] = Field(
        default_factory=list, title="History",
        description="The figures history conditions compared: each a sum or count of earlier decisions.")
    constitution: ConstitutionVersion = Field(title="Constitution",
                                              description="Which version of the constitution decided.")
    trace: list[TraceEntry] | None = Field(
        default=None, title="Trace", description="With explain: every rule considered and why it matched or not.")


# --- the JSON Schemas ----------------------------------------------------------------------------


class _AbsentNotNull(GenerateJsonSchema):
    """A request's optional field is absent, never null: `str | None = None` becomes just `str`."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        if generated.get("default", ...) is None:
            generated.pop("default")
        return generated


def json_schemas() -> dict[str, dict[str, Any]]:
    """The request and decision schemas (draft 2020-12), as committed under schemas/."""
    request = Request.model_json_schema(schema_generator=_AbsentNotNull)
    decision = Decision.model_json_schema()
    return {"request": {"$schema": DRAFT, **_titled(request, request)},
            "decision": {"$schema": DRAFT, **_titled(decision, decision)}}


def _titled(node: Any, root: dict[str, Any]) -> Any:
    """Every property that only points at a model ($ref) carries that model's title and description too,
    so editors show help on it (pydantic leaves them on the model alone)."""
    if isinstance(node, list):
        return [_titled(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _titled(value, root) for key, value in node.items()}
    for name, child in found.get("properties", {}).items():
        refs = [child] if "$ref" in child else [b for b in child.get("anyOf", []) if "$ref" in b]
        if refs and "description" not in child:
            model = root["$defs"][refs[0]["$ref"].rsplit("/", 1)[-1]]
            found["properties"][name] = {"title": model.get("title", name), "description": model["description"],
                                         **child}
    return found


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: str | Path = "schemas") -> list[Path]:
    """Rewrite the generated schemas in folder (run from a checkout after changing a model above)."""
    written = []
    for kind, generated in json_schemas().items():
        target = Path(folder) / f"{kind}.schema.json"
        target.write_text(schema_text(generated), encoding="utf-8")
        written.append(target)
    return written
