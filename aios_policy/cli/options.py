"""Options shared by several `aios` commands, so each is spelt and documented once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

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
