"""`aios codeowners`: a thin command over `codeowners.generate`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aios_policy.analysis.owners import generate, same_rules
from aios_policy.errors import AiosError
from aios_policy.files import atomic_write, display_path

from .options import constitution_options


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise AiosError(f"cannot read `{display_path(path)}`: {error.strerror or error}", "check --output") from error


@click.command()
@constitution_options
@click.option("--output", "-o", metavar="PATH",
              help="Where to write the file (default: .github/CODEOWNERS at the root of the repository holding "
                   "the constitution, else of the current folder); - for standard output.")
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 1 when the file differs from what would be written.")
def codeowners(constitution: str, ref: str | None, output: str | None, check_only: bool) -> None:
    """Write GitHub's CODEOWNERS from the constitution, so a file's owner must approve changes to it.

    Each policy and SOP file is owned by the GitHub handles (handles.github in org.json) of the
    people holding its owner role; constitution.json, org.json and thresholds.json by the top
    role; each scenario file by the owners of the policies governing the actions it uses. A role
    whose people have no GitHub handle goes up reports_to, and the file says so. Paths are
    relative to the git repository's root. The first line names the commit; --check ignores it.

    \b
    Examples:
      aios codeowners                    # writes .github/CODEOWNERS at the repository root
      aios codeowners --output -         # prints it instead
      aios codeowners --check            # in CI or pre-commit: exit 1 when it is out of date
    """
    if check_only and output == "-":
        raise click.UsageError("--check compares the file on disk: give --output PATH, not -")
    generated, location = generate(constitution, ref)
    text = generated.render()
    if output == "-":
        click.echo(text, nl=False)
        return
    target = Path(output) if output else location.default_output
    if check_only:
        current = _read(target)
        if current is not None and same_rules(current, text):
            click.echo(f"{display_path(target)} is up to date with the constitution")
            return
        state = "does not exist" if current is None else "is out of date with the constitution"
        click.echo(f"{display_path(target)} {state}: run `aios codeowners` to rewrite it")
        sys.exit(1)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, text)
    except OSError as error:
        raise AiosError(f"cannot write `{display_path(target)}`: {error.strerror or error}",
                        "check --output") from error
    people = {handle for path in generated.paths for handle in path.owners.handles}
    click.echo(f"wrote {display_path(target)}: {len(generated.paths)} paths, {len(people)} owners")
