"""The `aios` command: a thin layer that parses options, calls one library function and renders."""

from __future__ import annotations

import errno
import io
import json
import os
import sys
import traceback
from typing import Any

import click

from aios_policy import diagnostics as dx
from aios_policy.constitution.pipeline import CheckResult, check
from aios_policy.errors import AiosError

from .options import constitution_option, constitution_options, format_option

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
# The reader of our output went away (`aios decide batch.jsonl | head`): 128 + SIGPIPE, as a shell reports
# any program the closed pipe stopped, so `set -o pipefail` can tell that not all output was read.
EXIT_CLOSED_PIPE = 141


def _closed_pipe(error: BaseException | None) -> bool:
    """Whether error is, or was caused by, writing to a pipe nobody reads any more."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, BrokenPipeError) or (isinstance(error, OSError) and error.errno == errno.EPIPE):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so flushing it at exit cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (click's CliRunner): nothing is flushed at exit


def _printable_streams() -> None:
    """Whatever we print can be encoded: a character the terminal's encoding lacks becomes an escape
    instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


class _Group(click.Group):
    """Turns a user's mistake into one clear line and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        _printable_streams()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            if _closed_pipe(error):  # the reader stopped reading: not an error of anyone's, say nothing
                _quiet_stdout()
                ctx.exit(EXIT_CLOSED_PIPE)
            if isinstance(error, AiosError):
                click.echo(f"aios: error: {error.message}", err=True)
                if error.hint:
                    click.echo(f"hint: {error.hint}", err=True)
                ctx.exit(error.exit_code)
            # a bug of ours, not the user's: say so plainly
            if os.environ.get("AIOS_DEBUG"):
                traceback.print_exc()
            click.echo(f"aios: internal error: {type(error).__name__}: {error}", err=True)
            click.echo("hint: this is a bug in aios-policy; set AIOS_DEBUG=1 to see the traceback and report it",
                       err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aios-policy")
def main() -> None:
    """aios-policy: a company's constitution as code.

    Policies, procedures, thresholds and people live as JSON files under constitution/; aios checks
    them, decides requests against them and shows what a change would do.
    """


def _where(result: CheckResult) -> str:
    snapshot = result.snapshot
    if snapshot.commit is None:
        return "no git commit: outside git, no commit yet, or the repository is unreadable"
    state = "with uncommitted changes" if snapshot.dirty else "clean"
    at = f"at `{snapshot.ref}`, " if snapshot.ref else ""
    return f"{at}commit {snapshot.commit[:12]}, {state}"


def _counts(result: CheckResult) -> dict[str, int]:
    kinds = [d.kind for d in result.documents]
    counts = {"files": len(result.snapshot.files)}
    if result.constitution is not None:
        c = result.constitution
        counts.update(policies=len(c.policies), rules=len(c.rules), sops=len(c.sops),
                      scenarios=len(c.scenarios), roles=len(c.roles), people=len(c.people),
                      thresholds=len(c.thresholds))
    else:
        counts.update(policies=kinds.count("policy"), sops=kinds.count("sop"))
    return counts


@main.command()
@constitution_options
@format_option("text", "json")
def validate(constitution: str, ref: str | None, output_format: str) -> None:
    """Check every file against its schema, then the whole constitution.

    Reports all problems at once, one a line, as `file:line:column: CODE message at /pointer; hint`,
    sorted by file and position. Exits 0 when there are no errors (warnings alone pass), 1 when there
    are errors, 2 on a usage error.

    \b
    Examples:
      aios validate
      aios validate --constitution path/to/constitution --format json
      aios validate --ref origin/main
    """
    result = check(constitution, ref)
    counts = _counts(result)
    if output_format == "json":
        click.echo(json.dumps({
            "ok": not result.errors,
            "constitution": {"path": result.snapshot.display_root, "ref": result.snapshot.ref,
                             "commit": result.snapshot.commit, "dirty": result.snapshot.dirty},
            "counts": counts,
            "errors": len(result.errors),
            "warnings": len(result.warnings),
            "diagnostics": [d.to_json() for d in result.diagnostics],
        }, indent=2, ensure_ascii=False))
    else:
        for diagnostic in result.diagnostics:
            click.echo(diagnostic.render())
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        verdict = (f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
                   if result.diagnostics else "no problems")
        click.echo(f"{result.snapshot.display_root}: {verdict} ({summary}; {_where(result)})")
    sys.exit(EXIT_FINDINGS if result.errors else EXIT_OK)


@main.command()
@constitution_option
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 when a file is not canonical.")
def fmt(constitution: str, check_only: bool) -> None:
    """Rewrite constitution files in one canonical layout.

    Keys in schema order, two-space indent, short lists on one line, a newline at the end. Values
    never change. Files that do not parse, or hold a key twice, are reported and left alone.

    \b
    Examples:
      aios fmt
      aios fmt --check        # in CI or a pre-commit hook
    """
    from aios_policy.constitution.fmt import format_constitution

    results, problems = format_constitution(constitution, check_only)
    for problem in problems:
        if problem.severity is dx.Severity.ERROR:
            click.echo(problem.render(), err=True)
    changed = [r.file for r in results if r.changed]
    for file in changed:
        click.echo(f"{'would reformat' if check_only else 'reformatted'} {file}")
    verb = "would be reformatted" if check_only else "reformatted"
    click.echo(f"{len(changed)} file(s) {verb}, {len(results) - len(changed)} already canonical"
               + (f", {len(problems)} not formatted (see above)" if problems else ""))
    failed = (check_only and changed) or dx.has_errors(problems)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


# The commands, each in its own module, registered here once `main` exists.
from .codeowners import codeowners  # noqa: E402
from .decide import decide, test_command  # noqa: E402
from .diff import diff  # noqa: E402
from .explain import ask, explain  # noqa: E402
from .handbook import handbook  # noqa: E402
from .log import log, resolve  # noqa: E402
from .serve import mcp, serve, token  # noqa: E402

for _command in (decide, test_command, log, resolve, diff, codeowners, explain, ask, handbook, serve, mcp, token):
    main.add_command(_command)
