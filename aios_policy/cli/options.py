"""Options shared by several `aios` commands, so each is spelt and documented once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, tzinfo
from typing import Any

import click

from aios_policy.constitution.dates import parse_day, parse_moment

constitution_option = click.option(
    "--constitution", "-c", "constitution", metavar="PATH", default="constitution", envvar="AIOS_CONSTITUTION",
    show_default=True, show_envvar=True, help="The constitution folder (holding constitution.json).")

ref_option = click.option(
    "--ref", metavar="REF",
    help="Read the constitution as it is at this git ref (branch, tag, commit) instead of the working tree.")


def constitution_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--constitution and --ref."""
    return constitution_option(ref_option(function))


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "output_format", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="Output format.")


def now_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--now", "now", metavar="DATE", help=help)


def moment(text: str, tz: tzinfo, option: str = "--now") -> datetime:
    """A moment a person typed: a date-time, or a bare date meaning noon that day in the company's time zone."""
    day = parse_day(text)
    found = datetime.combine(day, time(12), tz) if day else parse_moment(text, tz)
    if found is None:
        raise click.BadParameter(f"`{text}` is not a date (YYYY-MM-DD) or a date-time", param_hint=option)
    return found


def moment_or_now(text: str | None, tz: tzinfo, option: str = "--now") -> datetime:
    """The moment given, or the current time (to the second, so reports repeat within one)."""
    return moment(text, tz, option) if text else datetime.now(UTC).replace(microsecond=0)
