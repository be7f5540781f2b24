"""`aios decide` and `aios test`: thin commands over the Python API."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from aios_policy.constitution.pipeline import company_timezone
from aios_policy.engine.facade import Constitution
from aios_policy.errors import AiosError
from aios_policy.limits import MAX_INPUT_BYTES
from aios_policy.words.decision import decision_json, decision_text

from .options import constitution_option, format_option, moment, ref_option


class RequestInputError(AiosError):
    """The request text cannot be read as JSON."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _from_settings(settings: tuple[str, ...]) -> dict[str, Any]:
    request: dict[str, Any] = {}
    for setting in settings:
        key, separator, value = setting.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"`{setting}` is not KEY=VALUE", param_hint="--set")
        target = request
        parts = key.split(".")
        for part in parts[:-1]:
            existing = target.setdefault(part, {})
            if not isinstance(existing, dict):
                raise click.BadParameter(f"`{key}` sets inside `{part}`, which is already a value", param_hint="--set")
            target = existing
        if isinstance(target.get(parts[-1]), dict):
            raise click.BadParameter(f"`{key}` would replace the fields already set inside it", param_hint="--set")
        target[parts[-1]] = _parse_value(value)
    request.setdefault("actor", {"id": os.environ.get("USER") or "cli-user", "kind": "human"})
    return request


def _loads(text: str, name: str) -> Any:
    """JSON as JSON defines it: no NaN or Infinity, and a clear error for absurd nesting or a number too
    long to read (Python reads no integer past 4,300 digits; request_problems bounds the rest)."""
    def refuse(constant: str) -> None:
        raise RequestInputError(f"{name}: `{constant}` is not valid JSON", "send numbers as finite values")

    def integer(digits: str) -> int:
        limit = sys.get_int_max_str_digits()
        if limit and len(digits.lstrip("-")) > limit:
            raise RequestInputError(f"{name}: a number of {len(digits.lstrip('-')):,} digits is too long to read",
                                    "send numbers of at most 19 digits, or larger values as text")
        return int(digits)

    try:
        return json.loads(text, parse_constant=refuse, parse_int=integer)
    except RecursionError as error:
        raise RequestInputError(f"{name}: the JSON is nested too deeply", "flatten the request") from error


@dataclass(frozen=True)
class Unreadable:
    """A line of a batch that is not JSON: answered as a malformed request (escalated) and reported."""

    number: int
    problem: str
    hint: str | None
    text: str


def _read_text(source: str | None) -> tuple[str, str]:
    """The text of a request file or of standard input, and the name to report it by."""
    if source == "-" or source is None:
        text, name = sys.stdin.read(MAX_INPUT_BYTES + 1), "standard input"
    else:
        path = Path(source)
        if not path.is_file():
            raise RequestInputError(f"no request file `{source}`", "pass a JSON file, - for standard input, or --set")
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise RequestInputError(f"`{source}` is larger than {MAX_INPUT_BYTES} bytes", "split the batch")
        text, name = path.read_text(encoding="utf-8-sig", errors="replace"), source
    if len(text) > MAX_INPUT_BYTES:
        raise RequestInputError(f"{name} holds more than {MAX_INPUT_BYTES} bytes", "split the batch")
    return text, name


def _line(text: str, name: str, number: int) -> Any:
    """One line of JSON Lines: its value, or what makes it unreadable."""
    try:
        return _loads(text, f"{name}:{number}: line {number}")
    except json.JSONDecodeError as error:
        return Unreadable(number, f"{name}:{number}:{error.colno}: line {number} is not valid JSON: "
                                  f"{error.msg[0].lower()}{error.msg[1:]}",
                          "JSON Lines need one complete JSON object per line", text)
    except RequestInputError as error:
        return Unreadable(number, error.message, error.hint, text)


def _read_requests(source: str | None) -> tuple[list[Any], bool]:
    """The requests in a file or stdin: one JSON value, or JSON Lines (then batch is True). In a batch, a
    line that cannot be read is an Unreadable in its place; the lines around it are read as usual."""
    text, name = _read_text(source)
    try:
        return [_loads(text, name)], False
    except json.JSONDecodeError as error:
        whole: AiosError = RequestInputError(
            f"{name}:{error.lineno}:{error.colno}: the request is not valid JSON: "
            f"{error.msg[0].lower()}{error.msg[1:]}", "fix the JSON, or send one JSON object per line (JSON Lines)")
        lines_follow = error.msg.startswith("Extra data")
    except RequestInputError as error:
        whole, lines_follow = error, False
    # lines end at \n only: JSON text may hold U+2028 and other breaks str.splitlines() would cut at
    lines = [(number, line.removesuffix("\r")) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    requests = [_line(line, name, number) for number, line in lines]
    # JSON Lines when the text goes on after a first value, or when some other line is a whole object:
    # then a bad first line is one bad line of the batch, not the whole input
    if lines_follow or (len(lines) > 1 and any(isinstance(r, dict) for r in requests)):
        return requests, True
    raise whole


def _answer(loaded: Constitution, request: Any, when: datetime, explain: bool, history: Any) -> dict[str, Any]:
    if isinstance(request, Unreadable):
        return loaded.decide_unreadable(request.problem, when)
    return loaded.decide_dict(request, when, explain, history=history)


def _logged_request(request: Any) -> dict[str, Any]:
    """What the log records as the request: the request, or what was sent when it is not an object."""
    if isinstance(request, Unreadable):
        return {"invalid": request.text}
    return request if isinstance(request, dict) else {"invalid": request}


def _render(decision: dict[str, Any], output_format: str, batch: bool) -> str:
    if output_format == "text":
        return decision_text(decision) + ("\n" if batch else "")
    return decision_json(decision, pretty=not batch)


@click.command()
@click.argument("request_file", required=False, metavar="[REQUEST.json|-]")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Build the request from fields instead of a file: action=refund.issue amount=800 "
                   "attributes.customer_tier=gold. Values are read as JSON where they can be. Without "
                   "actor.* the actor is you, a person.")
@constitution_option
@ref_option
@click.option("--at", "at", metavar="DATE",
              help="Decide with the constitution as it stood on the default branch at DATE (git history), "
                   "judged at DATE. A bare date means noon that day in the company's time zone.")
@click.option("--now", "now", metavar="DATE", help="Decide as if it were this moment (default: the current time).")
@format_option("json", "text")
@click.option("--explain", is_flag=True, help="Add the trace: every rule considered and why it matched or not.")
@click.option("--log", "log_path", metavar="PATH", help="The decision log (default: .aios/decisions.sqlite beside "
              "the constitution folder).")
@click.option("--no-log", is_flag=True, help="Do not record the decisions.")
def decide(request_file: str | None, settings: tuple[str, ...], constitution: str, ref: str | None, at: str | None,
           now: str | None, output_format: str, explain: bool, log_path: str | None, no_log: bool) -> None:
    """Decide a request: automate, escalate, deny or needs_info, with who, why and by when.

    Reads one JSON request from REQUEST.json, from standard input (-), or from --set fields. A
    file of JSON Lines (one request per line) is a batch: one decision per non-blank line comes out,
    in order. A line that is not JSON is answered as a malformed request (escalated), reported on
    standard error with its line number, and makes the exit status 1; the other lines are decided
    as usual. Every decision is recorded in the decision log (unless --no-log) before it is printed.

    \b
    Examples:
      aios decide request.json
      aios decide --set action=refund.issue --set amount=800 --set actor.kind=agent \\
                  --set actor.id=billing-agent --set confidence=0.95 --format text
      cat requests.jsonl | aios decide - > decisions.jsonl
      aios decide request.json --at 2026-06-01 --explain
    """
    if settings and request_file:
        raise click.UsageError("give a request file or --set fields, not both")
    if ref and at:
        raise click.UsageError("give --ref or --at, not both")
    requests, batch = ([_from_settings(settings)], False) if settings else _read_requests(request_file)
    at_moment = moment(at, company_timezone(constitution), "--at") if at else None
    loaded = Constitution.load(constitution, ref=ref, at=at_moment)
    tz = loaded.compiled.manifest.timezone
    when = moment(now, tz) if now else at_moment or datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        log = None
        if not no_log:
            from aios_policy.record.log import DecisionLog, default_log_path

            log = stack.enter_context(DecisionLog(Path(log_path) if log_path else default_log_path(constitution)))
        for start in range(0, len(requests), BATCH_CHUNK):
            _decide_chunk(loaded, requests[start:start + BATCH_CHUNK], when, explain, log, output_format, batch)
    unreadable = [r for r in requests if isinstance(r, Unreadable)]
    if unreadable:
        numbers = ", ".join(str(r.number) for r in unreadable[:20]) + (", …" if len(unreadable) > 20 else "")
        lines = "lines" if len(unreadable) > 1 else "line"
        click.echo(f"aios: error: {len(unreadable)} of {len(requests)} lines could not be read as JSON ({lines} "
                   f"{numbers}); each was answered as a malformed request and escalated", err=True)
        click.echo("hint: JSON Lines need one complete JSON object per line", err=True)
        sys.exit(1)


BATCH_CHUNK = 500  # requests decided, then logged in one transaction, then printed, at a time


def _decide_chunk(loaded: Constitution, chunk: list[Any], when: datetime, explain: bool, log: Any,
                  output_format: str, batch: bool) -> None:
    """Decide, log, then print: every decision printed is in the log. Should deciding one request fail
    (a bug of ours), those decided before it are still logged and printed before the error goes on."""
    decided: list[tuple[Any, dict[str, Any]]] = []
    # history conditions read the log, and the chunk's earlier decisions, logged with it at its end; with
    # --no-log there is no history, and such rules fail closed
    history = log.history() if log is not None else None
    try:
        for request in chunk:
            decided.append((request, _answer(loaded, request, when, explain, history)))
            if history is not None:
                history.add(decided[-1][1], _logged_request(request))
    finally:
        if log is not None and decided:
            log.append_many([(decision, _logged_request(request)) for request, decision in decided])
        for request, decision in decided:
            if isinstance(request, Unreadable):
                click.echo(f"aios: error: {request.problem}", err=True)
            click.echo(_render(decision, output_format, batch))


@click.command(name="test")
@constitution_option
@ref_option
@click.option("--min-coverage", type=click.FloatRange(0, 100), metavar="N",
              help="Fail when scenarios exercise less than N percent of the rules.")
@format_option("text", "json")
def test_command(constitution: str, ref: str | None, min_coverage: float | None, output_format: str) -> None:
    """Run every scenario and report each failure with expected against actual.

    Each scenario's request is decided at its own `at`. Coverage is reported in business terms:
    rules no scenario exercised, thresholds no exercised rule compares with, escalation targets
    never reached. Exits 1 on any failure or when coverage is below --min-coverage.

    \b
    Examples:
      aios test
      aios test --min-coverage 90
      aios test --ref origin/main --format json
    """
    from aios_policy.analysis.scenarios import coverage, run

    loaded = Constitution.load(constitution, ref=ref)
    outcomes = run(loaded)
    measured = coverage(loaded, outcomes)
    failed = [o for o in outcomes if not o.passed]
    too_low = min_coverage is not None and measured.percent < min_coverage
    if output_format == "json":
        click.echo(json.dumps({
            "passed": len(outcomes) - len(failed), "failed": len(failed),
            "failures": [{"scenario": o.scenario.id, "file": o.scenario.origin.file,
                          "mismatches": [{"what": m.what, "expected": m.expected, "actual": m.actual}
                                         for m in o.mismatches],
                          "decision": o.decision} for o in failed],
            "coverage": {"percent": round(measured.percent, 1), "rules": len(measured.rules),
                         "untested_rules": measured.untested_rules,
                         "untested_thresholds": measured.untested_thresholds,
                         "untested_escalation_targets": measured.untested_roles},
        }, indent=2, ensure_ascii=False))
    else:
        for outcome in failed:
            click.echo(_failure_text(outcome))
        click.echo(_coverage_text(measured))
        click.echo(f"{len(outcomes)} scenarios: {len(outcomes) - len(failed)} passed, {len(failed)} failed")
        if too_low:
            click.echo(f"coverage {measured.percent:.1f}% is below the minimum {min_coverage:g}%")
    sys.exit(1 if failed or too_low else 0)


def _failure_text(outcome: Any) -> str:
    scenario, decision = outcome.scenario, outcome.decision
    lines = [f"FAIL {scenario.id} ({scenario.origin.file} at {scenario.origin.pointer}): {scenario.description}"]
    for mismatch in outcome.mismatches:
        # `stages: expected 3, got 2 (missing: ...)`; a place already named reads on: `stage 2 (x): role expected ...`
        what = f"{_show(mismatch.what)} " if ": " in mismatch.what else f"{_show(mismatch.what)}: "
        note = f" ({_show(mismatch.note)})" if mismatch.note else ""
        lines.append(f"  {what}expected {_show(mismatch.expected)}, got {_show(mismatch.actual)}{note}")
    lines.append(f"  the engine said: {decision['summary']}")
    lines.extend(f"    - {r['rule']} ({r['outcome']}): {r['text']}" for r in decision["reasons"][1:])
    return "\n".join(lines)


def _show(value: Any) -> str:
    """A value on one line: a list as `a, b`, nothing for none, and any line break in user text as a space."""
    if isinstance(value, list):
        return ", ".join(map(_show, value)) or "nothing"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # a converted 864.0 reads 864, as the scenario wrote it
    return "nothing" if value is None else " ".join(str(value).split())


def _coverage_text(measured: Any) -> str:
    exercised = len(measured.rules) - len(measured.untested_rules)
    lines = [f"coverage: {exercised} of {len(measured.rules)} rules exercised ({measured.percent:.1f}%)"]
    for label, names in (("rules no scenario exercised", measured.untested_rules),
                         ("thresholds no scenario exercised", measured.untested_thresholds),
                         ("escalation targets no scenario reached", measured.untested_roles)):
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    return "\n".join(lines)


