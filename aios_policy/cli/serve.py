"""`aios serve`, `aios mcp` and `aios token`: thin commands over the HTTP service, the MCP server and the
tokens file."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from .options import constitution_option

tokens_option = click.option(
    "--tokens", "tokens_file", metavar="FILE", envvar="AIOS_TOKENS", show_envvar=True,
    help="The tokens file (hashes only). Default: .aios/tokens.json beside the constitution folder.")

log_option = click.option("--log", "log_path", metavar="PATH",
                          help="The decision log. Default: .aios/decisions.sqlite beside the constitution folder.")

reload_option = click.option("--reload-interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
                             metavar="SECONDS", help="How often to look for a new commit of --ref.")


def _tokens_path(tokens_file: str | None, constitution: str) -> Path:
    from aios_policy.serve.identity import default_tokens_path

    return Path(tokens_file) if tokens_file else default_tokens_path(constitution)


def _server_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s", stream=sys.stderr)


@click.command()
@constitution_option
@click.option("--ref", default="main", show_default=True, metavar="REF",
              help="The git ref to serve and follow: each new valid commit is swapped in.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8181, show_default=True, help="The port to listen on.")
@tokens_option
@log_option
@reload_option
@click.option("--access-log", is_flag=True, help="Log every HTTP request (decisions are in the decision log anyway).")
@click.option("--anchor-every", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Append the decision log's head to an anchor file this often (see `aios log anchor`).")
@click.option("--anchor-to", metavar="FILE", help="The anchor file (default: decisions.anchor beside the log); "
              "copy it somewhere the log's writers cannot reach.")
def serve(constitution: str, ref: str, host: str, port: int, tokens_file: str | None, log_path: str | None,
          reload_interval: float, access_log: bool, anchor_every: float | None, anchor_to: str | None) -> None:
    """Serve decisions over HTTP, following a git ref as pull requests merge.

    POST /v1/decide, POST /v1/decide/batch, GET /v1/explain/ACTION, POST /v1/ask,
    GET /v1/constitution, GET /v1/health, GET /v1/escalations, POST
    /v1/escalations/ID/resolve; the OpenAPI document is at /openapi.json. Every call but
    /v1/health needs `Authorization: Bearer TOKEN` (see `aios token add`); the token's identity is
    the actor of every decision it asks for. A new commit of --ref that is invalid is refused and
    the last good one keeps serving; /v1/constitution says why.

    \b
    Examples:
      aios token add billing-agent --kind agent      # prints the token once
      aios serve --constitution constitution --ref main --port 8181
      curl -s -H "Authorization: Bearer $TOKEN" -d @request.json localhost:8181/v1/decide
    """
    import uvicorn

    from aios_policy.serve.http import create_app

    _server_logging()
    app = create_app(constitution, ref, _tokens_path(tokens_file, constitution), log_path, reload_interval,
                     anchor_every=anchor_every, anchor_to=anchor_to)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log, server_header=False,
                timeout_graceful_shutdown=10)


@click.command()
@constitution_option
@click.option("--ref", metavar="REF", help="Serve this git ref and follow it as commits land (default: the "
                                           "working tree, read once).")
@log_option
@click.option("--no-log", is_flag=True, help="Do not record decisions (resolving escalations then needs a log).")
@click.option("--actor", metavar="ID", help="Who this session is: a person in org.json (acts as human and may "
                                            "resolve escalations) or an agent's name. Default: the agent `mcp`. "
                                            "The requests' actors are always replaced; only actor.role is kept.")
@reload_option
def mcp(constitution: str, ref: str | None, log_path: str | None, no_log: bool, actor: str | None,
        reload_interval: float) -> None:
    """Serve the constitution to an agent over the Model Context Protocol (stdio).

    Tools: decide, explain, ask, list_escalations, resolve_escalation. Resources: every policy
    (policy://ID) and procedure (sop://ID), and constitution://overview. An agent framework starts
    it as a subprocess; its configuration needs one entry:

    \b
      {"command": "aios", "args": ["mcp", "--constitution", "/path/to/constitution"]}

    The session, not the request, says who asks: the agent `mcp` unless --actor names another
    agent or a person in org.json; a request's actor id and kind are replaced, as a bearer token's
    identity replaces them over HTTP. Only a session started as a person resolves escalations, as
    that person. Requests are checked as over HTTP: a malformed one is a tool error naming each
    problem, and nothing in it is coerced.

    \b
    Examples:
      aios mcp --constitution /srv/company/constitution
      aios mcp --constitution constitution --ref main --actor billing-agent
      aios mcp --constitution constitution --actor priya.raman
    """
    from aios_policy.record.log import default_log_path
    from aios_policy.serve.mcp import McpService, run_stdio

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout carries the protocol only
    log = None if no_log else (Path(log_path) if log_path else default_log_path(constitution))
    run_stdio(McpService(constitution, ref, log, reload_interval, actor))


@click.group()
def token() -> None:
    """Make, list and revoke the bearer tokens `aios serve` accepts.

    Tokens live in a JSON file outside the constitution (default .aios/tokens.json beside the
    constitution folder, or --tokens / $AIOS_TOKENS), which holds only their SHA-256 hashes, each
    bound to an identity: an agent's name, or a person's id in org.json. `aios serve` picks up
    changes to the file without a restart.

    \b
    Examples:
      aios token add billing-agent --kind agent
      aios token add priya.raman --kind human --tokens /etc/aios/tokens.json
      aios token list
      aios token revoke billing-agent
    """


@token.command("add")
@click.argument("identity_id", metavar="ID")
@click.option("--kind", type=click.Choice(["agent", "human"]), required=True,
              help="agent for an AI agent's name; human for a person's id in org.json.")
@tokens_option
@constitution_option
def add(identity_id: str, kind: str, tokens_file: str | None, constitution: str) -> None:
    """Make a token for an agent or a person and print it, once; only its hash is stored.

    The token goes to standard output alone (the notes go to standard error), so it can be
    captured straight into a secret store. A person's token needs their id in org.json.

    \b
    Examples:
      aios token add billing-agent --kind agent
      TOKEN=$(aios token add priya.raman --kind human)
    """
    from aios_policy.engine.facade import Constitution
    from aios_policy.serve.identity import Identity, add_token, check_identity, refuse_inside

    path = _tokens_path(tokens_file, constitution)
    refuse_inside(path, constitution)
    identity = Identity(identity_id, "human" if kind == "human" else "agent")
    check_identity(identity, Constitution.load(constitution).compiled)
    secret = add_token(path, identity, datetime.now(UTC).replace(microsecond=0))
    click.echo(f"token for {identity_id} ({kind}), stored as a hash in {path}; it is shown only now:", err=True)
    click.echo(secret)


@token.command("list")
@tokens_option
@constitution_option
def list_tokens(tokens_file: str | None, constitution: str) -> None:
    """List who holds tokens (the tokens themselves are not stored, so they cannot be shown).

    \b
    Examples:
      aios token list
      aios token list --tokens /etc/aios/tokens.json
    """
    from aios_policy.serve.identity import load_tokens

    entries = load_tokens(_tokens_path(tokens_file, constitution)).entries
    if not entries:
        click.echo("no tokens")
    for entry in entries:
        click.echo(f"{entry.identity.id}  {entry.identity.kind}  created {entry.created_at or '-'}  "
                   f"sha256 {entry.sha256[:12]}")


@token.command("revoke")
@click.argument("identity_id", metavar="ID")
@tokens_option
@constitution_option
def revoke(identity_id: str, tokens_file: str | None, constitution: str) -> None:
    """Remove every token of an agent or person; a running server stops accepting them within seconds.

    \b
    Examples:
      aios token revoke billing-agent
    """
    from aios_policy.serve.identity import revoke_tokens

    removed = revoke_tokens(_tokens_path(tokens_file, constitution), identity_id)
    click.echo(f"revoked {removed} token(s) of {identity_id}")
