"""The bodies the HTTP API takes and gives, as pydantic models, and the strict reading of a raw JSON body.

The request and the decision are the engine's own (`ServedRequest`, `Decision`); these are the rest.
FastAPI validates every body here, except the decide bodies: the engine judges any JSON a caller sends
to /v1/decide (`request_problems`, failing closed and naming every problem), so those routes read their
body with `read_json` and declare its schema with `json_body`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aios_policy.engine.shapes import Decision
from aios_policy.serve.identity import ServedRequest

from .errors import ApiError

MAX_BATCH = 1000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchRequest(_Body):
    requests: list[ServedRequest] = Field(min_length=1, max_length=MAX_BATCH,
                                          description=f"1 to {MAX_BATCH} requests, decided by one commit.")


class BatchDecisions(_Body):
    decisions: list[Decision] = Field(description="One decision per request, in order.")


class Question(_Body):
    question: str = Field(min_length=1, max_length=2000, description="A question in plain English.")


class ResolutionRequest(_Body):
    outcome: Literal["approve", "deny"] = Field(description="approve or deny the escalation.")
    note: str = Field(min_length=1, max_length=4000, description="Why; kept in the log beside the decision.")


class ReloadProblem(_Body):
    commit: str | None
    at: str
    message: str
    diagnostics: list[str]


class ConstitutionStatus(_Body):
    name: str
    commit: str | None = Field(description="The commit every decision is made at now.")
    ref: str | None = Field(description="The git ref the server follows.")
    loaded_at: str = Field(description="When that commit started serving.")
    counts: dict[str, int]
    reload_interval: float = Field(description="Seconds between looks at the ref.")
    reload_error: ReloadProblem | None = Field(description="Why the ref's newest commit is not serving, if it is not.")


class LogStatus(_Body):
    kind: Literal["sqlite"] = Field(description="What the decision log is kept in.")
    state: Literal["writing", "failing", "stopped"] = Field(
        description="writing; failing when a decision could not be written; stopped when its writer is not running.")
    queued: int
    written: int
    failed: int
    writer_alive: bool


class Health(_Body):
    status: Literal["ok", "degraded"]
    commit: str | None
    log: LogStatus


class Resolved(_Body):
    decision_id: str
    outcome: Literal["approve", "deny"]
    by: str
    note: str
    at: str
    status: str = Field(description="The escalation's status now: pending, approved or denied.")
    awaiting: list[dict[str, Any]] = Field(description="The approvers whose approval would still count.")


class EscalationItem(_Body):
    id: str
    decided_at: str
    action: str
    status: str
    actor: dict[str, Any]
    commit: str | None
    summary: str | None
    escalation: dict[str, Any] | None
    awaiting: list[dict[str, Any]]
    resolutions: list[dict[str, Any]]


class Escalations(_Body):
    escalations: list[EscalationItem]


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring model as the JSON body of a route that reads its body itself.

    The schema is the model's own (`model_json_schema`), its `$defs` inlined: FastAPI lists a model
    under components/schemas only when a route signature validates it, and these routes must not."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": _inlined(schema, definitions)}}}}


def _inlined(node: Any, definitions: dict[str, Any]) -> Any:
    """node with every `#/$defs/...` reference replaced by the definition (the models are not recursive)."""
    if isinstance(node, list):
        return [_inlined(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    inlined = {key: _inlined(value, definitions) for key, value in node.items() if key != "$ref"}
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        return {**_inlined(definitions[reference.removeprefix("#/$defs/")], definitions), **inlined}
    return {**inlined, **({"$ref": reference} if reference is not None else {})}


def read_json(body: bytes) -> Any:
    """A raw body as JSON, strictly: UTF-8, no NaN or Infinity, whatever the Content-Type says; 400 otherwise."""
    def refuse(constant: str) -> None:
        raise ValueError(f"`{constant}` is not a JSON number")

    try:
        return json.loads(body, parse_constant=refuse)
    except UnicodeDecodeError as error:
        raise ApiError(400, "the body is not UTF-8 text", "send JSON encoded as UTF-8") from error
    except RecursionError as error:
        raise ApiError(400, "the body's JSON is nested too deeply", "flatten the request") from error
    except ValueError as error:
        raise ApiError(400, f"the body is not valid JSON: {error}", "send one JSON object") from error
