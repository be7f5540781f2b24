"""`aios log` and `aios resolve`: thin commands over the decision log. Parse options, call, render."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from aios_policy.record.log import (
    RESOLUTIONS,
    STATUSES,
    DecisionLog,
    Entry,
    append_anchor,
    default_log_path,
    read_anchors,
)

from .options import constitution_option, format_option

log_file_option = click.option(
    "--log", "log_file", metavar="PATH",
    help="The decision log. Default: .aios/decisions.sqlite beside the constitution folder.")


def log_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--constitution and --log."""
    return constitution_option(log_file_option(function))


def _existing_log(constitution: str, log_file: str | None) -> DecisionLog:
    return DecisionLog(log_file or default_log_path(constitution), create=False)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _people(approvers: list[dict[str, Any]]) -> str:
    return ", ".join(f"{a['id']} ({a['name']})" for a in approvers)


def _stage_line(stage: dict[str, Any]) -> str:
    """`name: 2 of people` for an approve stage; sign stages count signatures, advise/notify stages inform."""
    name, people, kind = stage.get("name") or stage["role"], _people(stage["approvers"]) or "nobody", stage.get("kind")
    if kind in ("advise", "notify"):
        return f"{name}: {kind} {people} (not waited for)"
    return f"{name}: {stage['approvals']} {'signature(s) ' if kind == 'sign' else ''}of {people}"


@click.group()
def log() -> None:
    """Read and check the decision log.

    Every decision made through aios is appended to a SQLite file, by default
    .aios/decisions.sqlite beside the constitution folder, with the request, the commit that
    decided and the resolutions of escalations. Entries are hash-chained, so an edited or removed
    entry shows in `aios log verify`; `aios log anchor` writes the chain's head down elsewhere, so
    cutting off the newest entries or replacing the file shows too.

    \b
    Examples:
      aios log list --status pending
      aios log show dec_01J2ZK3M4N
      aios log anchor --to /mnt/backup/decisions.anchor
      aios log verify --log /var/lib/aios/decisions.sqlite --anchor /mnt/backup/decisions.anchor
    """


@log.command("list")
@log_options
@click.option("--action", metavar="ACTION", help="Only decisions of this action, e.g. refund.issue.")
@click.option("--status", type=click.Choice(STATUSES),
              help="Only escalations in this state (pending, approved, denied), or decisions with this outcome.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@format_option("text", "json")
def list_decisions(constitution: str, log_file: str | None, action: str | None, status: str | None, limit: int,
                   output_format: str) -> None:
    """List logged decisions, newest first.

    \b
    Examples:
      aios log list
      aios log list --status pending --action refund.issue
      aios log list --limit 200 --format json
    """
    with _existing_log(constitution, log_file) as decision_log:
        entries = decision_log.entries(limit=limit, action=action, status=status)
    if output_format == "json":
        click.echo(_json([entry.to_json(full=False) for entry in entries]))
    elif not entries:
        click.echo("no decisions match" if action or status else "no decisions logged yet")
    else:
        rows = [["SEQ", "DECIDED AT", "ID", "ACTION", "OUTCOME", "STATUS", "ACTOR", "COMMIT"]]
        rows += [[str(e.seq), e.decided_at, e.id, e.action or "-", e.outcome, e.status, e.actor or "-",
                  (e.commit or "-")[:12]] for e in entries]
        for line in _table(rows):
            click.echo(line)


@log.command()
@click.argument("decision_id")
@log_options
@format_option("text", "json")
def show(decision_id: str, constitution: str, log_file: str | None, output_format: str) -> None:
    """Show one logged decision, the request it answered and its resolutions.

    \b
    Examples:
      aios log show dec_01J2ZK3M4N
      aios log show dec_01J2ZK3M4N --format json
    """
    with _existing_log(constitution, log_file) as decision_log:
        entry = decision_log.get(decision_id)
    click.echo(_json(entry.to_json()) if output_format == "json" else "\n".join(_render(entry)))


def _render(entry: Entry) -> list[str]:
    decision, commit = entry.decision, entry.commit or "none (outside git)"
    lines = [f"decision {entry.id} (entry {entry.seq})",
             f"  decided at  {entry.decided_at}",
             f"  action      {entry.action or '-'}",
             f"  outcome     {entry.outcome}" + (f", {entry.status}" if entry.outcome == "escalate" else ""),
             f"  actor       {entry.actor or '-'} ({entry.actor_kind or 'unknown kind'})",
             f"  commit      {commit}",
             f"  summary     {decision.get('summary', '')}"]
    lines += [f"  reason      {r.get('policy') or '-'}/{r.get('rule')}: {r.get('text')}"
              for r in decision.get("reasons", [])]
    for stage in (decision.get("escalation") or {}).get("stages", []):
        lines.append(f"  stage       {_stage_line(stage)}")
    if entry.stage is not None:
        current = entry.stage
        lines.append(f"  waiting on  stage {current['index'] + 1} ({current['name']}): {current['approved']} of "
                     f"{current['approvals']} {'signatures' if current['kind'] == 'sign' else 'approvals'}")
    if entry.awaiting:
        lines.append(f"  awaiting    {_people(entry.awaiting)}")
    lines.append("resolutions" if entry.resolutions else "resolutions: none")
    lines += [f"  {r.at.isoformat()}  {r.outcome} by {r.by}: {r.note} (now {r.status})" for r in entry.resolutions]
    lines.append("request")
    lines += [f"  {line}" for line in _json(entry.request).splitlines()]
    return lines


PROVES = ("the chain proves no entry was edited, removed from the middle or reordered; it cannot by itself "
          "prove that the newest entries were not cut off or the whole file replaced: "
          "`aios log anchor` writes the head elsewhere and `aios log verify --anchor FILE` checks it")


@log.command()
@log_options
@click.option("--anchor", "anchor_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="An anchor file (`aios log anchor`): every head in it must still be in the chain.")
def verify(constitution: str, log_file: str | None, anchor_file: str | None) -> None:
    """Check the hash chain: exit 0 when intact, 1 with one line per problem.

    An entry whose hash does not match its contents was edited; one whose prev_hash does not
    match the entry before it follows an entry that was removed or moved. The chain cannot show
    by itself that the newest entries were cut off, or that the whole file was replaced by another
    valid log: with --anchor FILE, every head `aios log anchor` wrote to FILE must still be in the
    chain (same entry number, same hash), which shows both.

    \b
    Examples:
      aios log verify
      aios log verify --log backups/decisions.sqlite
      aios log verify --anchor /mnt/backup/decisions.anchor
    """
    anchors, problems = read_anchors(anchor_file) if anchor_file else ([], [])
    with _existing_log(constitution, log_file) as decision_log:
        breaks = decision_log.verify() + decision_log.check_anchors(anchors)
        count, head = decision_log.count(), decision_log.head()
    entries = f"{count} {'entry' if count == 1 else 'entries'}"
    problems = [problem.render() for problem in breaks] + problems
    if not problems:
        click.echo(f"decision log intact: {entries}")
        click.echo(f"head: entry {head.seq}, hash {head.hash}")
        if anchor_file:
            newest = max(anchor.seq for anchor in anchors)
            click.echo(f"anchors: all {len(anchors)} head(s) in `{anchor_file}` are in the chain "
                       f"(the newest: entry {newest}); nothing anchored was cut off or replaced")
        else:
            click.echo(PROVES)
        return
    for problem in problems:
        click.echo(problem)
    click.echo(f"decision log broken: {len(problems)} problem(s) in {entries}")
    sys.exit(1)


@log.command()
@log_options
@click.option("--to", "anchor_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="The anchor file to append to. Default: decisions.anchor beside the log.")
def anchor(constitution: str, log_file: str | None, anchor_file: str | None) -> None:
    """Append the chain's head (entry number and hash) to an anchor file, one JSON line.

    The head fixes every entry before it. Keep the anchor file where whoever could change the
    log cannot: commit it, or copy it to another machine. `aios log verify --anchor FILE` then
    fails when the newest entries were cut off or the log was replaced.

    \b
    Examples:
      aios log anchor
      aios log anchor --log /var/lib/aios/decisions.sqlite --to /mnt/backup/decisions.anchor
    """
    with _existing_log(constitution, log_file) as decision_log:
        head, path = append_anchor(decision_log, datetime.now(UTC), anchor_file)
    click.echo(f"anchored entry {head.seq}, hash {head.hash}, in `{path}`")
    if anchor_file is None:
        click.echo(f"copy `{path}` where the log's writers cannot change it (commit it, or ship it to "
                   f"another machine); `aios log verify --anchor {path}` checks it")


@click.command()
@click.argument("decision_id")
@click.argument("outcome", type=click.Choice(RESOLUTIONS))
@click.option("--by", required=True, metavar="PERSON",
              help="Your person id in org.json; one of the approvers the decision named.")
@click.option("--note", required=True, metavar="TEXT", help="Why; kept in the log beside the decision.")
@log_options
def resolve(decision_id: str, outcome: str, by: str, note: str, constitution: str, log_file: str | None) -> None:
    """Record an approver's answer to an escalation in the decision log.

    Only the approvers the decision named may resolve it, each once. Stages open in order: only
    the current stage's people may approve (a sign stage's people sign, recorded as an approval);
    advise and notify stages are never waited for. One deny by anyone named at an approve or sign
    stage ends it as denied; it is approved when every approve and sign stage has its approvals.
    Exits 1 when refused, saying who may resolve it.

    \b
    Examples:
      aios resolve dec_01J2ZK3M4N approve --by dana --note "order checked, refund is fair"
      aios resolve dec_01J2ZK3M4N deny --by sam --note "duplicate of an earlier refund"
    """
    with _existing_log(constitution, log_file) as decision_log:
        resolution = decision_log.resolve(decision_id, outcome, by, note, datetime.now(UTC))
        entry = decision_log.get(decision_id)
    waiting = f"; awaiting {_people(entry.awaiting)}" if entry.awaiting else ""
    click.echo(f"recorded: {by} {'approved' if outcome == 'approve' else 'denied'} {decision_id}; "
               f"the escalation is now {resolution.status}{waiting}")
