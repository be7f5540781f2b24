"""`aios explain` and `aios ask`: the constitution in plain English for the people who work by it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from aios_policy.engine.facade import Constitution

from .options import constitution_options, format_option, moment_or_now

if TYPE_CHECKING:  # for annotations only: the commands import explain when they run
    from aios_policy.guide.explain import ActionTable, SopWalk


@click.command()
@click.argument("action", required=False)
@click.option("--sop", "sop_id", metavar="ID", help="Walk a procedure instead: its steps, gates and outcomes.")
@click.option("--list", "list_topics", is_flag=True, help="List the actions and procedures that can be explained.")
@constitution_options
@format_option("text", "markdown", "json")
@click.option("--now", "now", metavar="DATE", help="Explain the rules and people as they are at this moment.")
def explain(action: str | None, sop_id: str | None, list_topics: bool, constitution: str, ref: str | None,
            output_format: str, now: str | None) -> None:
    """Explain an action's complete decision table, or walk a procedure.

    For ACTION: every region of requests and what happens to it, strictest first: who decides
    (with who stands in for whom while away), how fast, what to attach, and the rule ids it comes
    from. With --sop: each step, who does it, the gate it asks the engine and what follows each
    outcome, with SLAs.

    \b
    Examples:
      aios explain refund.issue
      aios explain --sop refund-dispute --format markdown
      aios explain --list
    """
    from aios_policy.guide.explain import explain_action, explain_sop

    loaded = Constitution.load(constitution, ref=ref)
    moment = moment_or_now(now, loaded.compiled.manifest.timezone)
    if list_topics or not (action or sop_id):
        compiled = loaded.compiled
        topics: dict[str, Any] = {"actions": sorted(compiled.rules_by_action),
                                  "sops": {s.id: s.title for s in compiled.sops.values()}}
        if output_format == "json":
            click.echo(json.dumps(topics, indent=2))
        else:
            click.echo("actions: " + ", ".join(topics["actions"]))
            click.echo("procedures: " + ", ".join(f"{i} ({t})" for i, t in topics["sops"].items()))
        return
    if action and sop_id:
        raise click.UsageError("give an ACTION or --sop ID, not both")
    if sop_id:
        result: ActionTable | SopWalk = explain_sop(loaded, sop_id, moment)
    else:
        assert action is not None  # with neither ACTION nor --sop, the topics were listed above
        result = explain_action(loaded, action, moment)
    if output_format == "json":
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(result.markdown() if output_format == "markdown" else result.text())


@click.command()
@click.argument("question")
@constitution_options
@format_option("text", "json")
@click.option("--now", "now", metavar="DATE", help="Answer as of this moment (people away, rules in effect).")
def ask(question: str, constitution: str, ref: str | None, output_format: str, now: str | None) -> None:
    """Answer a "what happens when…" question from the constitution.

    Deterministic and offline: the question is matched to the procedures and policies (their titles,
    summaries, example questions and synonyms); the facts it states (an amount such as $800 or 30k,
    a percentage, "new vendor", someone "on vacation") are taken into account; the answer is the
    procedure, its steps, the engine's decision at each gate for that case, the people and the
    deadlines, and what is still unknown. When nothing fits, it says so and lists the closest topics.

    \b
    Examples:
      aios ask "what happens when a customer disputes a refund of $800?"
      aios ask "who approves a new vendor for 30k?" --format json
    """
    from aios_policy.guide.ask import ask as answer

    loaded = Constitution.load(constitution, ref=ref)
    result = answer(loaded, question, moment_or_now(now, loaded.compiled.manifest.timezone))
    click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False) if output_format == "json"
               else result.text())
