"""Who is calling: bearer tokens for `aios serve`, and the request as the caller's identity.

Tokens: a JSON file of SHA-256 hashes, each bound to one identity.

    {"format": "aios-tokens", "version": 1, "tokens": [
      {"sha256": "9f86d0...", "identity": {"id": "billing-agent", "kind": "agent"}, "created_at": "2026-11-10T15:00"},
      {"sha256": "2c26b4...", "identity": {"id": "priya.raman", "kind": "human"}, "created_at": "..."}]}

A token is `aios_` and 43 random URL-safe characters (256 bits). `aios token add` prints it once;
only its hash is stored, so a copy of the file lets nobody in. The file lives outside the
constitution (a constitution is committed and reviewed by everyone; tokens are not), is written
with mode 0600, and is replaced whole on every change, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from aios_policy.constitution.model import CompiledConstitution
from aios_policy.diagnostics import did_you_mean
from aios_policy.engine.people import actor_problem, person_of
from aios_policy.engine.shapes import Actor, Request
from aios_policy.errors import AiosError
from aios_policy.files import atomic_write

FORMAT = "aios-tokens"
VERSION = 1
PREFIX = "aios_"
KINDS = ("agent", "human")


class TokenError(AiosError):
    """The tokens file cannot be read or written, or an identity cannot have a token."""

    exit_code = 2


@dataclass(frozen=True)
class Identity:
    """Who holds a token: an agent by its name, or a person by their id in org.json."""

    id: str
    kind: Literal["agent", "human"]

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind}


@dataclass(frozen=True)
class TokenEntry:
    sha256: str
    identity: Identity
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "identity": self.identity.to_json(), "created_at": self.created_at}


class Tokens:
    """The tokens a server accepts, by hash. Never changed in place: a changed file becomes a new Tokens."""

    def __init__(self, entries: tuple[TokenEntry, ...]) -> None:
        self.entries = entries
        self._by_hash = {entry.sha256: entry.identity for entry in entries}

    def identify(self, token: str) -> Identity | None:
        """The identity a presented token belongs to, or None. The lookup is by the token's SHA-256, so the
        time it takes says nothing about how close a wrong token came to a right one."""
        return self._by_hash.get(token_hash(token))


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def default_tokens_path(constitution: str | os.PathLike[str]) -> Path:
    """`.aios/tokens.json` beside the constitution folder (next to the decision log, outside the constitution)."""
    folder = Path(constitution)
    if folder.name in ("", ".."):
        folder = folder.resolve()
    return folder.parent / ".aios" / "tokens.json"


def refuse_inside(tokens_path: str | os.PathLike[str], constitution: str | os.PathLike[str]) -> None:
    """Tokens are never kept in the constitution folder, where they would be committed and reviewed."""
    tokens, folder = Path(tokens_path).resolve(), Path(constitution).resolve()
    if folder == tokens or folder in tokens.parents:
        raise TokenError(f"the tokens file `{tokens_path}` is inside the constitution folder `{constitution}`",
                         "keep it outside the constitution, e.g. .aios/tokens.json beside it")


def load_tokens(path: str | os.PathLike[str]) -> Tokens:
    """Every token of the file; a TokenError saying what is wrong when it is not a tokens file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise TokenError(f"no tokens file at `{path}`",
                         f"create a token with `aios token add ID --kind agent --tokens {path}`") from error
    except (OSError, UnicodeDecodeError) as error:
        raise TokenError(f"cannot read the tokens file `{path}`: {error}", "check the file and its rights") from error
    try:
        document = json.loads(text)
    except ValueError as error:
        raise TokenError(f"`{path}` is not JSON: {error}",
                         "restore it, or move it away and add tokens again") from error
    is_tokens_file = isinstance(document, dict) and document.get("format") == FORMAT
    if not is_tokens_file or not isinstance(document.get("tokens"), list):
        raise TokenError(f"`{path}` is not an aios tokens file",
                         "pass --tokens PATH to a file made by `aios token add`")
    if document.get("version") != VERSION:
        raise TokenError(f"tokens file `{path}` has version {document.get('version')}; this aios-policy reads "
                         f"version {VERSION}", "use the aios-policy release that wrote it")
    return Tokens(tuple(_entry(item, path, number) for number, item in enumerate(document["tokens"])))


def _entry(item: Any, path: Path, number: int) -> TokenEntry:
    try:
        identity = item["identity"]
        entry = TokenEntry(item["sha256"], Identity(identity["id"], identity["kind"]), item.get("created_at", ""))
    except (TypeError, KeyError) as error:
        raise TokenError(f"token {number} of `{path}` lacks `sha256` or `identity` (`id`, `kind`)",
                         "restore the file, or remove that entry") from error
    valid_hash = isinstance(entry.sha256, str) and len(entry.sha256) == 64
    if not valid_hash or entry.identity.kind not in KINDS or not isinstance(entry.identity.id, str):
        raise TokenError(f"token {number} of `{path}` is malformed", "restore the file, or remove that entry")
    return entry


def check_identity(identity: Identity, constitution: CompiledConstitution) -> None:
    """A person's token names a person in org.json; an agent's token never does."""
    problem = identity_problem(identity, constitution)
    if problem:
        unknown = identity.kind == "human" and identity.id not in constitution.people
        raise TokenError(problem, did_you_mean(identity.id, constitution.people) if unknown else None
                         or ("a human token names a person's id" if unknown else "agents have their own names"))


def add_token(path: str | os.PathLike[str], identity: Identity, now: datetime) -> str:
    """Store a new token's hash for identity and return the token: the only time anyone sees it."""
    if not identity.id or len(identity.id) > 200:
        raise TokenError("an identity's id is 1 to 200 characters", "name the agent or the person")
    path = Path(path)
    existing = load_tokens(path).entries if path.exists() else ()
    token = new_token()
    entry = TokenEntry(token_hash(token), identity, now.isoformat())
    _write(path, (*existing, entry))
    return token


def revoke_tokens(path: str | os.PathLike[str], identity_id: str) -> int:
    """Remove every token of an identity; how many were removed."""
    entries = load_tokens(path).entries
    kept = tuple(e for e in entries if e.identity.id != identity_id)
    if len(kept) == len(entries):
        raise TokenError(f"no token for `{identity_id}` in `{path}`",
                         did_you_mean(identity_id, [e.identity.id for e in entries]) or "`aios token list` shows them")
    _write(Path(path), kept)
    return len(entries) - len(kept)


def _write(path: Path, entries: tuple[TokenEntry, ...]) -> None:
    """Replace the file whole (a temporary file renamed over it), readable by its owner only."""
    document = {"format": FORMAT, "version": VERSION, "tokens": [e.to_json() for e in entries]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(document, indent=2) + "\n", mode=0o600)
    except OSError as error:
        raise TokenError(f"cannot write the tokens file `{path}`: {error.strerror or error}",
                         "pass --tokens PATH to a writable place") from error


class ServedRequest(Request):
    """A request sent to `aios serve` or `aios mcp`: a Request whose actor is whoever is calling.

    The server sets `actor.id` and `actor.kind` from the caller's identity (the bearer token's);
    what the body says there is replaced. `actor.role` may still name the role a person acts in.
    """

    actor: Actor | None = Field(  # type: ignore[assignment]  # optional here: the server fills it in
        default=None, description="Replaced by the caller's identity; only `role` is kept from it.")


def without_nulls(request: Any) -> Any:
    """A null field is an absent one, as `Request.to_dict()` has it for the Python API (top level and actor)."""
    if not isinstance(request, dict):
        return request
    kept = {key: value for key, value in request.items() if value is not None}
    if isinstance(kept.get("actor"), dict):
        kept["actor"] = {key: value for key, value in kept["actor"].items() if value is not None}
    return kept


def acting_as(request: Any, identity: Identity) -> Any:
    """The request with its actor's id and kind set to the caller's identity (anything else is left for
    request_problems to judge). Null fields count as absent."""
    request = without_nulls(request)
    if not isinstance(request, dict):
        return request
    claimed = request.get("actor")
    if claimed is not None and not isinstance(claimed, dict):
        return request  # left as sent, so request_problems refuses it: an actor is an object
    kept = {k: v for k, v in (claimed or {}).items() if k not in ("id", "kind")}
    return {**request, "actor": {"id": identity.id, "kind": identity.kind, **kept}}


def identity_problem(identity: Identity, constitution: CompiledConstitution) -> str | None:
    """Why this identity may not act under this version of the constitution, if it may not."""
    if identity.kind == "human" and person_of(constitution, identity.id) is None:
        return f"`{identity.id}` is not a person in org.json at this commit, so a person's token cannot name them"
    return actor_problem(constitution, identity.id, identity.kind)
