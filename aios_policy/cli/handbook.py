"""`aios handbook`: a thin command over `handbook.build`."""

from __future__ import annotations

from pathlib import Path

import click

from aios_policy.constitution.source import file_history
from aios_policy.engine.facade import Constitution
from aios_policy.files import display_path
from aios_policy.guide.handbook.site import build

from .options import constitution_options, moment_or_now


@click.command()
@constitution_options
@click.option("--out", "-o", "out", metavar="DIR", required=True,
              help="The folder to write the handbook to (created if missing; pages of an earlier run are replaced).")
@click.option("--now", "now", metavar="DATE",
              help="Write the handbook as of this moment: who is away, which rules are in effect (default: now).")
def handbook(constitution: str, ref: str | None, out: str, now: str | None) -> None:
    """Write the constitution as a static HTML handbook for new hires.

    A home page by topic, a page per policy (summary, owner, decision table, every rule with its
    approvers, deadline and attachments, last change in git), a page per procedure (its steps as
    a flow, with the decision points and what follows each outcome), the org (roles, people, who
    covers whom) and a search box. Everything works offline: open index.html in a browser, or
    serve the folder with any static web server.

    \b
    Examples:
      aios handbook --out handbook && open handbook/index.html
      aios handbook --out site --ref origin/main --now 2026-12-02
      python -m http.server --directory handbook 8000
    """
    loaded = Constitution.load(constitution, ref=ref)
    moment = moment_or_now(now, loaded.compiled.manifest.timezone)
    written = build(loaded, moment, file_history(constitution, ref))
    target = Path(out)
    written.write(target)
    c = loaded.compiled
    index = target / "index.html"
    click.echo(f"handbook: {len(written.pages)} pages ({len(c.policies)} policies, {len(c.sops)} procedures, "
               f"the org) written to {display_path(target)}; open {display_path(index)}")
