"""`aios diff`: the behavioural impact of a constitution change, for people and for CI."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import constitution_option, format_option, moment_or_now


@click.command()
@click.argument("base", required=False, metavar="[BASE")
@click.argument("head", required=False, metavar="[HEAD]]")
@constitution_option
@format_option("text", "markdown", "json")
@click.option("--log", "log_path", metavar="PATH",
              help="The decision log whose requests to replay (default: .aios/decisions.sqlite beside the "
                   "constitution folder, when it exists).")
@click.option("--fail-on", type=click.Choice(["loosening", "any-change", "never"]), default="loosening",
              show_default=True, help="Exit 1 when the change loosens control, or changes anything.")
@click.option("--now", "now", metavar="DATE", help="Analyse the rules in effect at this moment (default: now).")
def diff(base: str | None, head: str | None, constitution: str, output_format: str, log_path: str | None,
         fail_on: str, now: str | None) -> None:
    """Show what a change to the constitution does, before it merges.

    BASE and HEAD are git refs; HEAD omitted means the working tree, and BASE omitted means where
    HEAD left the default branch. One report: a summary with the owners who must review, what
    changed in the files, the scenarios whose decision changes, the logged requests replayed, and
    every region of the input space whose decision changes, each with an example request. A scenario
    whose decision changed while its expectation did not fails the diff (except with --fail-on never).

    \b
    Examples:
      aios diff                                  # this branch's changes, working tree included
      aios diff origin/main HEAD --format markdown --fail-on loosening
      aios diff v1.4 v1.5 --format json --log .aios/decisions.sqlite
    """
    from aios_policy.analysis.diff import behavioural_diff
    from aios_policy.analysis.report import as_json, as_markdown, as_text
    from aios_policy.constitution.pipeline import company_timezone
    from aios_policy.record.log import default_log_path

    moment = moment_or_now(now, company_timezone(constitution, head))
    log = Path(log_path) if log_path else default_log_path(constitution)
    if log_path and not log.is_file():
        raise click.BadParameter(f"no decision log at `{log}`", param_hint="--log")
    from aios_policy.record.log import LogError

    try:
        report = behavioural_diff(constitution, base, head, moment, log)
    except LogError as error:  # a bad --log is a usage error (2), never to be mistaken for "loosens" (1)
        raise click.BadParameter(f"{error.message}" + (f"; {error.hint}" if error.hint else ""),
                                 param_hint="--log") from error
    render = {"text": as_text, "markdown": as_markdown, "json": as_json}[output_format]
    click.echo(render(report), nl=False)
    sys.exit(1 if report.fails(fail_on) else 0)
