"""The decision log: every decision, and every resolution of an escalation, appended to one SQLite file.

Entries form one hash chain. Each stores the hash of the entry before it and a SHA-256 over that hash
and its own fields, so an edited entry no longer matches its hash and a removed or reordered one breaks
the link to its neighbour; `verify` recomputes the chain and names every break. The chain alone cannot
show that the newest entries were cut off, or that the whole file was replaced by another valid log: an
anchor file (JSON lines of the head's seq and hash, kept outside the log) can, with `check_anchors`.

Commits are durable: WAL with `synchronous = FULL`, so a committed transaction survives a crash of the
process and of the machine.

sqlite3 has its home here. The clock does not: callers pass the time a resolution is made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from aios_policy.constitution.values import group_key
from aios_policy.diagnostics import did_you_mean, one_line
from aios_policy.errors import AiosError

FORMAT = "aios-decision-log"
SCHEMA_VERSION = 1
GENESIS = "0" * 64
BUSY_TIMEOUT_SECONDS = 10
MAX_ANCHOR_LINE = 1024  # characters of one line of an anchor file (a head is about 120)
OUTCOMES = ("automate", "escalate", "deny", "needs_info")
ESCALATION_STATES = ("pending", "approved", "denied")
STATUSES = (*ESCALATION_STATES, *OUTCOMES)
RESOLUTIONS = ("approve", "deny")

# What an entry's hash covers, in this order, after the previous entry's hash. Never reorder: old logs
# would stop verifying. A new field goes at the end, with a new SCHEMA_VERSION.
HASHED_FIELDS = ("seq", "kind", "decision_id", "at", "action", "outcome", "actor_id", "actor_kind",
                 "constitution_commit", "request", "decision", "resolved_by", "note")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS aios_log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,           -- 'decision' or 'resolution'
        decision_id TEXT NOT NULL,    -- the decision, or the decision a resolution resolves
        at TEXT NOT NULL,             -- decided_at, or when the resolution was made (RFC 3339)
        action TEXT,
        outcome TEXT NOT NULL,        -- automate, escalate, deny, needs_info; or approve, deny
        actor_id TEXT,
        actor_kind TEXT,
        constitution_commit TEXT,
        request TEXT,                 -- canonical JSON (decisions only)
        decision TEXT,                -- canonical JSON (decisions only)
        resolved_by TEXT,             -- resolutions only
        note TEXT,                    -- resolutions only
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS one_entry_per_decision ON entries (decision_id) WHERE kind = 'decision'",
    "CREATE INDEX IF NOT EXISTS resolutions_of_decision ON entries (decision_id, seq) WHERE kind = 'resolution'",
)

T = TypeVar("T")


class LogError(AiosError):
    """The decision log cannot be read or written, or a resolution is refused."""

    exit_code = 1


@dataclass(frozen=True)
class Resolution:
    """A person's answer to an escalation, and the escalation's status once it was recorded."""

    decision_id: str
    outcome: str
    by: str
    note: str
    at: datetime
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "outcome": self.outcome, "by": self.by, "note": self.note,
                "at": self.at.isoformat(), "status": self.status}


@dataclass(frozen=True)
class Entry:
    """A logged decision with its resolutions. `status` is pending/approved/denied for an escalation,
    else the outcome itself."""

    seq: int
    id: str
    decided_at: str
    action: str
    outcome: str
    actor: str | None
    actor_kind: str | None
    commit: str | None
    request: dict[str, Any]
    decision: dict[str, Any]
    resolutions: tuple[Resolution, ...]
    status: str

    @property
    def awaiting(self) -> list[dict[str, Any]]:
        """The current stage's approvers whose approval would count now (none once the escalation is settled):
        a later stage's people are asked when their stage opens."""
        return [dict(a) for a in _progress_of(self).awaiting()] if self.status == "pending" else []

    @property
    def stage(self) -> dict[str, Any] | None:
        """The stage an escalation waits on: {index (in escalation.stages), name, kind, approvals (needed),
        approved (so far)}; None when settled, or for a decision that is not an escalation."""
        return _progress_of(self).where() if self.status == "pending" else None

    def to_json(self, full: bool = True) -> dict[str, Any]:
        brief = {"seq": self.seq, "id": self.id, "decided_at": self.decided_at, "action": self.action,
                 "outcome": self.outcome, "status": self.status,
                 "actor": {"id": self.actor, "kind": self.actor_kind}, "commit": self.commit,
                 "resolutions": [r.to_json() for r in self.resolutions]}
        return {**brief, "stage": self.stage, "request": self.request, "decision": self.decision} if full else brief


@dataclass(frozen=True)
class Break:
    """Where the chain does not hold: the entry and what is wrong with it."""

    seq: int
    decision_id: str | None
    kind: str
    problem: str

    def render(self) -> str:
        what = f" ({self.kind} of `{self.decision_id}`)" if self.kind == "resolution" else (
            f" (decision `{self.decision_id}`)" if self.decision_id else "")
        return f"entry {self.seq}{what}: {self.problem}"

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "decision_id": self.decision_id, "kind": self.kind, "problem": self.problem}


@dataclass(frozen=True)
class Head:
    """The newest entry of the chain: every entry before it is fixed by its hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Anchor:
    """A head written down outside the log, and where (`file:line`)."""

    seq: int
    hash: str
    at: str
    place: str


def default_anchor_path(log_path: str | os.PathLike[str]) -> Path:
    """`decisions.anchor` beside `decisions.sqlite`."""
    return Path(log_path).with_suffix(".anchor")


def append_anchor(log: DecisionLog, at: datetime, to: str | os.PathLike[str] | None = None) -> tuple[Head, Path]:
    """Append the log's head, as one JSON line {seq, hash, at}, to the anchor file; the head and the file."""
    if at.tzinfo is None:
        raise ValueError("the time of an anchor must carry its time zone")
    head, path = log.head(), Path(to) if to else default_anchor_path(log.path)
    line = json.dumps({"seq": head.seq, "hash": head.hash, "at": at.isoformat()}, separators=(",", ":"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as anchors:
            anchors.write(line + "\n")
            anchors.flush()
            os.fsync(anchors.fileno())
    except OSError as error:
        raise LogError(f"cannot append to anchor file `{path}`: {error.strerror}",
                       "pass --to FILE in a writable place") from error
    return head, path


def read_anchors(path: str | os.PathLike[str]) -> tuple[list[Anchor], list[str]]:
    """The anchors of an anchor file, and one line per line that is not an anchor (`file:line: problem`)."""
    anchors, problems = [], []
    try:
        with Path(path).open("r", encoding="utf-8", errors="replace", newline="") as lines:
            for number, text in enumerate(_bounded_lines(lines), start=1):
                anchor = _anchor_of(text, f"{path}:{number}")
                if isinstance(anchor, Anchor):
                    anchors.append(anchor)
                elif anchor:
                    problems.append(anchor)
    except OSError as error:
        raise LogError(f"cannot read anchor file `{path}`: {error.strerror}",
                       "pass --anchor FILE: a file written by `aios log anchor`") from error
    if not anchors and not problems:
        problems.append(f"{path}: holds no anchor; `aios log anchor --to {path}` writes one")
    return anchors, problems


def _bounded_lines(lines: Any) -> Iterator[str]:
    """Lines of at most MAX_ANCHOR_LINE characters; a longer one comes back cut, and fails to parse."""
    while True:
        text = lines.readline(MAX_ANCHOR_LINE + 1)
        if not text:
            return
        if len(text) > MAX_ANCHOR_LINE and not text.endswith("\n"):
            while (rest := lines.readline(MAX_ANCHOR_LINE)) and not rest.endswith("\n"):
                pass  # skip the rest of the over-long line
            yield text[:MAX_ANCHOR_LINE] + "\u2026"
            continue
        yield text


def _anchor_of(text: str, place: str) -> Anchor | str | None:
    """The anchor on one line, a one-line problem naming the place, or None for a blank line."""
    if not text.strip():
        return None
    fix = "a line of `aios log anchor` is {\"seq\": N, \"hash\": \"<64 hex>\", \"at\": \"<time>\"}"
    try:
        value = json.loads(text)
    except ValueError:
        return f"{place}: not an anchor (not JSON); {fix}"
    if not isinstance(value, dict):
        return f"{place}: not an anchor (not a JSON object); {fix}"
    seq, digest, at = value.get("seq"), value.get("hash"), value.get("at")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return f"{place}: `seq` is not a whole number of 0 or more; {fix}"
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return f"{place}: `hash` is not 64 lowercase hex digits; {fix}"
    shown = json.dumps(at, ensure_ascii=True)[1:-1][:64] if isinstance(at, str) else "no time"  # one line
    return Anchor(seq, digest, shown, place)


def default_log_path(constitution: str | os.PathLike[str]) -> Path:
    """`.aios/decisions.sqlite` in the folder that holds the constitution folder."""
    folder = Path(constitution)
    if folder.name in ("", ".."):  # `.` or `..`: name the folder, so the log is beside it, not inside it
        folder = folder.resolve()
    return folder.parent / ".aios" / "decisions.sqlite"


def canonical_json(value: Any) -> str:
    """The one text of a JSON value: sorted keys, no spaces, non-ASCII escaped (so even a lone
    surrogate in a hostile request is stored, and hashed, as the request sent it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous entry's hash and this entry's fields, in HASHED_FIELDS order."""
    payload = json.dumps([fields[name] for name in HASHED_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}{payload}".encode()).hexdigest()


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite's failures as one clear line about the file, never a traceback."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a constraint we rely on was broken by our own code: a bug, not the user's doing
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise LogError(f"decision log `{path}` is locked by another process (waited {BUSY_TIMEOUT_SECONDS} s)",
                           "try again in a moment") from error
        raise LogError(f"cannot use decision log `{path}`: {error}",
                       "check that the file and its folder exist and are writable") from error
    except sqlite3.DatabaseError as error:
        raise LogError(f"`{path}` is not an aios decision log: {error}",
                       "pass --log PATH to a decision log, or move this file away to start a new one") from error


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: DecisionLog, *args: Any, **kwargs: Any) -> T:
        with _sqlite_errors(self.path):
            return method(self, *args, **kwargs)
    return wrapper


class DecisionLog:
    """An append-only, hash-chained log of decisions and resolutions in one SQLite file.

    Safe with several writers in several processes: each append reads the last hash and inserts inside
    one `BEGIN IMMEDIATE` transaction, so no two entries ever chain to the same predecessor.
    """

    def __init__(self, path: str | os.PathLike[str], create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise LogError(f"no decision log at `{self.path}`",
                           "decisions are logged by `aios decide`; pass --log PATH")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise LogError(f"cannot create the folder of decision log `{self.path}`: {error.strerror}",
                               "pass --log PATH to a writable place") from error
        with _sqlite_errors(self.path):
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            try:
                self._open(create)
            except BaseException:
                self._db.close()
                raise

    def _open(self, create: bool) -> None:
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "aios_log_meta" not in tables and (tables or not create):
            raise LogError(f"`{self.path}` is not an aios decision log",
                           "pass --log PATH to a decision log, or move this file away to start a new one")
        self._use_wal()
        # FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power loss can undo the last
        # transactions, and a server answers a decision only once its transaction has committed
        self._db.execute("PRAGMA synchronous = FULL")
        if "aios_log_meta" not in tables:
            with self._transaction():
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.executemany("INSERT OR IGNORE INTO aios_log_meta (key, value) VALUES (?, ?)",
                                     [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION))])
        self._check_meta()

    def _use_wal(self) -> None:
        """Write-ahead logging, so readers never wait for writers. Switching a new file to it takes a lock
        SQLite does not wait for (several processes may create the log at once), so retry until the timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")  # a no-op once the file is in WAL mode
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _check_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM aios_log_meta").fetchall())
        if meta.get("format") != FORMAT:
            raise LogError(f"`{self.path}` is not an aios decision log",
                           "pass --log PATH to a decision log, or move this file away to start a new one")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise LogError(f"decision log `{self.path}` has schema version {meta.get('schema_version')}; "
                           f"this aios-policy reads version {SCHEMA_VERSION}",
                           "use the aios-policy release that wrote it")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction that holds the write lock from its first statement."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite rolls back by itself after some failures
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _insert(self, *rows: Mapping[str, Any]) -> list[int]:
        """Chain entries to the last one, one INSERT each (the hash is known before the row is written).
        Call inside _transaction()."""
        last = self._db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        used = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        seq = max(last["seq"] if last else 0, used["seq"] if used else 0)
        prev_hash = last["hash"] if last else GENESIS
        names = [name for name in HASHED_FIELDS if name != "seq"]
        sql = (f"INSERT INTO entries (seq, {', '.join(names)}, prev_hash, hash) "
               f"VALUES (?, {', '.join('?' * len(names))}, ?, ?)")
        seqs = []
        for fields in rows:
            seq += 1
            digest = entry_hash(prev_hash, {**fields, "seq": seq})
            self._db.execute(sql, [seq, *(fields[name] for name in names), prev_hash, digest])
            seqs.append(seq)
            prev_hash = digest
        # the head of the chain, kept apart, so removing the newest entries shows too
        self._db.execute("INSERT OR REPLACE INTO aios_log_meta (key, value) VALUES ('head', ?)",
                         (f"{seq}:{prev_hash}",))
        return seqs

    @_guarded
    def append(self, decision: Mapping[str, Any], request: Mapping[str, Any]) -> int:
        """Log a decision and the request it answered; returns its sequence number."""
        return self.append_many([(decision, request)])[0]

    @_guarded
    def append_many(self, pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[int]:
        """Log several decisions in one transaction (all or none); their sequence numbers, in order."""
        rows = [_decision_fields(decision, request) for decision, request in pairs]
        ids = [fields["decision_id"] for fields in rows]
        with self._transaction():
            known = None
            for start in range(0, len(ids), 500):  # SQLite bounds the number of parameters
                chunk = ids[start:start + 500]
                known = known or self._db.execute(
                    f"SELECT decision_id FROM entries WHERE kind = 'decision' AND decision_id IN "
                    f"({', '.join('?' * len(chunk))})", chunk).fetchone()
            counts = Counter(ids)
            repeated = known[0] if known else next((i for i in ids if counts[i] > 1), None)
            if repeated is not None:
                raise LogError(f"decision `{repeated}` is already in the decision log",
                               "every decision is logged once, under its own id")
            return self._insert(*rows)

    @_guarded
    def resolve(self, decision_id: str, outcome: str, by: str, note: str, at: datetime) -> Resolution:
        """Record a named approver's answer to an escalation; refused with a LogError saying who may."""
        if outcome not in RESOLUTIONS:
            raise ValueError(f"outcome must be one of {RESOLUTIONS}, not {outcome!r}")
        if at.tzinfo is None:
            raise ValueError("the time of a resolution must carry its time zone")
        with self._transaction():
            entry = self._get(decision_id)
            _refuse_unless_resolvable(entry, outcome, by)
            self._insert({"kind": "resolution", "decision_id": entry.id, "at": at.isoformat(),
                          "action": entry.action, "outcome": outcome, "actor_id": None, "actor_kind": None,
                          "constitution_commit": None, "request": None, "decision": None,
                          "resolved_by": by, "note": note})
            return self._get(decision_id).resolutions[-1]

    @_guarded
    def entries(self, limit: int = 50, action: str | None = None, status: str | None = None) -> list[Entry]:
        """Logged decisions, newest first, optionally of one action and one status."""
        if status is not None and status not in STATUSES:
            raise LogError(f"unknown status `{status}`",
                           did_you_mean(status, STATUSES) or f"one of {', '.join(STATUSES)}")
        sql, parameters = "SELECT * FROM entries WHERE kind = 'decision'", []
        if action is not None:
            sql, parameters = f"{sql} AND action = ?", [action]
        if status is not None:
            sql += " AND outcome = ?"
            parameters.append("escalate" if status in ESCALATION_STATES else status)
        found: list[Entry] = []
        for row in self._db.execute(f"{sql} ORDER BY seq DESC", parameters):
            if len(found) >= limit:
                break
            entry = self._entry(row)
            if status is None or entry.status == status or status == "escalate":
                found.append(entry)
        return found

    def logged_requests(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(decision id, decided at, request) of every logged decision, oldest first, streamed."""
        rows = self._db.execute("SELECT decision_id, at, request FROM entries WHERE kind = 'decision' ORDER BY seq")
        for decision_id, at, request in rows:
            try:
                yield decision_id, at, json.loads(request)
            except (TypeError, ValueError):
                continue  # a row that is not JSON any more: `aios log verify` reports it

    def history(self) -> LogHistory:
        """A HistoryView (aios_policy/engine/history.py) over the logged decisions, for history conditions.
        It reads through this log's connection, so use it in the thread that opened the log."""
        return LogHistory(self.history_total)

    @_guarded
    def history_total(self, action: str, measure: str, group_path: str, group_value: str, since: datetime,
                      until: datetime) -> float:
        """The sum of amounts (a decision's money.converted, else its request's amount) or the count of the
        decisions of action whose request holds group_value at group_path, made (the request's `at`, else
        decided_at) in [since, until]; only automated decisions and approved escalations count.

        SQLite selects the rows (by action, outcome and time, through its JSON functions), the group is
        compared in its canonical form; only the escalations among them are parsed, to replay their resolutions."""
        if measure not in ("sum", "count"):
            raise ValueError(f"measure must be sum or count, not {measure!r}")
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("the window of a history must carry its time zone")
        # the group compared in Python, in the one form history conditions use (SQLite folds ASCII only)
        wanted = group_key(group_value)
        rows = [row for row in self._db.execute(_HISTORY_ROWS, ("$." + group_path, action, _utc(since),
                                                                _utc(until))) if group_key(row["grp"]) == wanted]
        approved = self._approved([row["decision_id"] for row in rows if row["outcome"] == "escalate"], rows)
        total = 0.0
        for row in rows:
            if row["outcome"] == "escalate" and row["decision_id"] not in approved:
                continue
            if measure == "count":
                total += 1
                continue
            amount = row["converted"] if row["converted"] is not None else row["amount"]
            total += float(amount) if amount is not None else 0.0
        return total

    def _approved(self, ids: list[str], rows: list[sqlite3.Row]) -> set[str]:
        """Which of these escalations are approved, replaying their resolutions stage by stage."""
        if not ids:
            return set()
        decisions = {row["decision_id"]: row["decision"] for row in rows}
        progress: dict[str, _Progress] = {}
        for decision_id in ids:
            try:
                decision = json.loads(decisions[decision_id])
            except (TypeError, ValueError):
                continue  # an edited entry: `aios log verify` reports it; it never counts as approved
            progress[decision_id] = _Progress(_stages(decision) if isinstance(decision, dict) else [])
        for start in range(0, len(ids), 500):  # SQLite bounds the number of parameters
            chunk = ids[start:start + 500]
            for r in self._db.execute(f"SELECT decision_id, outcome, resolved_by FROM entries WHERE kind = "
                                      f"'resolution' AND decision_id IN ({', '.join('?' * len(chunk))}) ORDER BY seq",
                                      chunk):
                if r["decision_id"] in progress:
                    progress[r["decision_id"]].record(r["outcome"], r["resolved_by"])
        return {decision_id for decision_id, found in progress.items() if found.status == "approved"}

    @_guarded
    def get(self, decision_id: str) -> Entry:
        """One logged decision with its resolutions; LogError with a did-you-mean when unknown."""
        return self._get(decision_id)

    @_guarded
    def count(self) -> int:
        """How many entries (decisions and resolutions) the log holds."""
        return int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])

    @_guarded
    def head(self) -> Head:
        """The newest entry's seq and hash (seq 0 and the genesis hash for an empty log)."""
        last = self._db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return Head(last["seq"], last["hash"]) if last else Head(0, GENESIS)

    @_guarded
    def check_anchors(self, anchors: Sequence[Anchor]) -> list[Break]:
        """Every anchored head that the chain no longer holds (the same seq with the same hash) is a Break:
        the newest entries were cut off, or the log was replaced or rewritten from that entry on."""
        breaks = []
        for anchor in anchors:
            row = self._db.execute("SELECT hash FROM entries WHERE seq = ?", (anchor.seq,)).fetchone()
            if anchor.seq == 0 or (row is not None and row["hash"] == anchor.hash):
                continue
            if row is None:
                problem = (f"anchored at {anchor.place} ({anchor.at}), but the log no longer holds it: "
                           "the newest entries were cut off or the file replaced")
            else:
                problem = (f"its hash {row['hash'][:16]}... is not the {anchor.hash[:16]}... anchored at "
                           f"{anchor.place} ({anchor.at}): the log was replaced or rewritten from this entry on")
            breaks.append(Break(anchor.seq, None, "decision", problem))
        return breaks

    @_guarded
    def verify(self) -> list[Break]:
        """Recompute the chain; every entry that was edited, or follows a removed or moved one, is a Break."""
        breaks: list[Break] = []
        expected, last_seq = GENESIS, 0
        for row in self._db.execute("SELECT * FROM entries ORDER BY seq"):
            if row["prev_hash"] != expected:
                breaks.append(_break(row, "its prev_hash does not match the entry before it: "
                                          "an entry was removed or reordered"))
            if row["hash"] != entry_hash(row["prev_hash"], row):
                breaks.append(_break(row, "its hash does not match its contents: the entry was edited"))
            expected, last_seq = row["hash"], row["seq"]
        head = self._db.execute("SELECT value FROM aios_log_meta WHERE key = 'head'").fetchone()
        if head is not None and head["value"] != f"{last_seq}:{expected}":
            recorded = head["value"].split(":")[0]
            breaks.append(Break(last_seq, None, "decision",
                                f"the log's head names entry {recorded}, but the chain ends at entry {last_seq}: "
                                "the newest entries were removed or the last one replaced"))
        highest = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        if highest is not None and highest["seq"] > last_seq:
            breaks.append(Break(last_seq + 1, None, "decision",
                                f"missing: the log once reached entry {highest['seq']}, so the entries "
                                f"after {last_seq} were removed"))
        return breaks

    def _decision_row(self, decision_id: str) -> sqlite3.Row | None:
        return self._db.execute("SELECT * FROM entries WHERE kind = 'decision' AND decision_id = ?",
                                (decision_id,)).fetchone()

    def _get(self, decision_id: str) -> Entry:
        row = self._decision_row(decision_id)
        if row is None:
            known = [r[0] for r in self._db.execute("SELECT decision_id FROM entries WHERE kind = 'decision'")]
            raise LogError(f"no decision `{decision_id}` in the decision log `{self.path}`",
                           did_you_mean(decision_id, known) or "`aios log list` shows the latest decisions")
        return self._entry(row)

    def _entry(self, row: sqlite3.Row) -> Entry:
        request, decision = _json_of(row, "request"), _json_of(row, "decision")
        stages = _stages(decision)
        progress = _Progress(stages)
        resolutions = []
        for r in self._db.execute("SELECT * FROM entries WHERE kind = 'resolution' AND decision_id = ? "
                                  "ORDER BY seq", (row["decision_id"],)):
            progress.record(r["outcome"], r["resolved_by"])
            resolutions.append(Resolution(r["decision_id"], r["outcome"], r["resolved_by"], r["note"],
                                          _moment(r), progress.status))
        return Entry(row["seq"], row["decision_id"], row["at"], row["action"], row["outcome"], row["actor_id"],
                     row["actor_kind"], row["constitution_commit"], request, decision, tuple(resolutions),
                     progress.status if row["outcome"] == "escalate" else row["outcome"])


# The rows a history reads, JSON read by SQLite: a JSON function runs only on valid JSON (nested CASE, which
# SQLite evaluates in order, unlike the terms of a WHERE), a number counts only when JSON holds one (not
# true/false), and times compare as moments (julianday reads the offset), not as text. Only the rows of
# the action are looked at, only their requests parsed, and decisions only for the rows that match.
_HISTORY_ROWS = """
    SELECT decision_id, outcome, decision,
           CASE WHEN json_valid(decision) THEN
               CASE WHEN json_type(decision, '$.money.converted') IN ('integer', 'real')
                    THEN json_extract(decision, '$.money.converted') END END AS converted,
           CASE WHEN json_type(request, '$.amount') IN ('integer', 'real')
                THEN json_extract(request, '$.amount') END AS amount,
           CASE WHEN json_valid(request) AND json_type(request, ?1) = 'text'
                THEN json_extract(request, ?1) END AS grp,
           CASE WHEN json_valid(request) THEN
               julianday(CASE WHEN json_type(request, '$.at') = 'text' THEN json_extract(request, '$.at')
                              ELSE at END) END AS moment
    FROM entries
    WHERE kind = 'decision' AND action = ?2 AND outcome IN ('automate', 'escalate')
      AND grp IS NOT NULL AND moment >= julianday(?3) AND moment <= julianday(?4)
"""


def _utc(moment: datetime) -> str:
    """A moment as SQLite's julianday reads it exactly: UTC, to the millisecond."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LogHistory:
    """The decision log as a HistoryView (aios_policy/engine/history.py).

    `read` answers from the committed log (`DecisionLog.history_total`, or a call through the server's
    writer thread); each answer is kept for the life of this view, so make one per decision or per batch.
    Decisions made but not logged yet (the earlier requests of a batch, logged together at its end) are
    `add`ed, and count as the log would count them: three orders in one batch are one history."""

    def __init__(self, read: Callable[[str, str, str, str, datetime, datetime], float]) -> None:
        self._read = read
        self._answers: dict[tuple[Any, ...], float] = {}
        self._unlogged: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []

    def add(self, decision: Mapping[str, Any], request: Mapping[str, Any]) -> None:
        """A decision made and not logged yet, to count with the logged ones."""
        if decision.get("decision") == "automate":  # an escalation just made is pending, so it does not count
            self._unlogged.append((decision, request))

    def total(self, action: str, measure: str, group_path: str, group_value: str, since: datetime,
              until: datetime) -> float:
        key = (action, measure, group_path, group_value, since, until)
        if key not in self._answers:
            self._answers[key] = self._read(*key)
        unlogged = [(d, r) for d, r in self._unlogged if d.get("action") == action
                    and isinstance(g := _field(r, group_path), str) and group_key(g) == group_key(group_value)
                    and _in_window(d, r, since, until)]
        if measure == "count":
            return self._answers[key] + len(unlogged)
        return self._answers[key] + sum(_amount(d, r) for d, r in unlogged)


def _field(request: Mapping[str, Any], path: str) -> Any:
    value: Any = request
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) else None


def _in_window(decision: Mapping[str, Any], request: Mapping[str, Any], since: datetime, until: datetime) -> bool:
    text = request.get("at") if isinstance(request.get("at"), str) else decision.get("decided_at")
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return False
    if moment is None:
        return False
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # as julianday reads it
    return since <= moment <= until


def _amount(decision: Mapping[str, Any], request: Mapping[str, Any]) -> float:
    money = decision.get("money")
    converted = money.get("converted") if isinstance(money, Mapping) else None
    amount = converted if _is_number(converted) else request.get("amount")
    return float(amount) if _is_number(amount) else 0.0


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _break(row: sqlite3.Row, problem: str) -> Break:
    return Break(row["seq"], row["decision_id"], row["kind"], problem)


def _moment(row: sqlite3.Row) -> datetime:
    try:
        return datetime.fromisoformat(row["at"])
    except (TypeError, ValueError) as error:
        raise LogError(f"entry {row['seq']} of the decision log holds no valid time",
                       "run `aios log verify`: the entry was probably edited") from error


def _json_of(row: sqlite3.Row, column: str) -> dict[str, Any]:
    try:
        value = json.loads(row[column])
    except (TypeError, ValueError) as error:
        raise LogError(f"entry {row['seq']} of the decision log holds no valid {column} JSON",
                       "run `aios log verify`: the entry was probably edited") from error
    if not isinstance(value, dict):
        raise LogError(f"entry {row['seq']} of the decision log holds no valid {column} JSON",
                       "run `aios log verify`: the entry was probably edited")
    return value


def _decision_fields(decision: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields of a decision entry, all but seq."""
    missing = [key for key in ("id", "decided_at", "action", "decision") if not isinstance(decision.get(key), str)]
    if missing:
        raise ValueError(f"a decision to log needs text in {missing}")
    actor = a if isinstance(a := request.get("actor"), Mapping) else {}  # invalid requests are logged too
    constitution = c if isinstance(c := decision.get("constitution"), Mapping) else {}
    return {"kind": "decision", "decision_id": decision["id"], "at": decision["decided_at"],
            "action": _text(decision["action"]), "outcome": decision["decision"], "actor_id": _text(actor.get("id")),
            "actor_kind": _text(actor.get("kind")), "constitution_commit": _text(constitution.get("commit")),
            "request": canonical_json(request), "decision": canonical_json(decision),
            "resolved_by": None, "note": None}


def _text(value: Any) -> str | None:
    """A column's value as SQLite will give it back: text or NULL (a number in a TEXT column comes back as
    text, and would no longer match its hash)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate becomes \\udxxx
    return None if value is None else canonical_json(value)


def _stages(decision: Mapping[str, Any]) -> list[_Stage]:
    """The escalation's stages as the progress reads them; [] for a decision that is not an escalation."""
    escalation = decision.get("escalation") if decision.get("decision") == "escalate" else None
    stages = escalation.get("stages") if isinstance(escalation, Mapping) else None
    return [_Stage.of(index, stage) for index, stage in enumerate(stages)] if isinstance(stages, list) else []


WAITED_KINDS = ("approve", "sign")  # their approvals are waited for; advise and notify stages only inform
INFORMED_KINDS = ("advise", "notify")


@dataclass(frozen=True)
class _Stage:
    """One stage of an escalation, read defensively: the log takes any decision a caller appends, and an
    odd stage must make the escalation harder to approve, never easier."""

    index: int
    name: str
    kind: str
    needed: int
    approvers: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, index: int, stage: Any) -> _Stage:
        if not isinstance(stage, Mapping):  # nobody can approve it, so the escalation never gets approved
            return cls(index, f"stage {index + 1}", "approve", 1, ())
        approvers = tuple(a for a in stage.get("approvers") or [] if isinstance(a, Mapping)
                          and isinstance(a.get("id"), str)) if isinstance(stage.get("approvers"), list) else ()
        kind = stage.get("kind", "approve")  # decisions logged before stages had kinds: every stage approves
        kind = kind if kind in (*WAITED_KINDS, *INFORMED_KINDS) else "approve"  # an unknown kind is waited for
        label = next((v for v in (stage.get("name"), stage.get("role")) if isinstance(v, str) and v.strip()),
                     f"stage {index + 1}")
        return cls(index, one_line(label), kind, _needed(stage.get("approvals", 1), len(approvers)), approvers)

    @property
    def waited(self) -> bool:
        return self.kind in WAITED_KINDS

    @property
    def ids(self) -> list[str]:
        return [approver["id"] for approver in self.approvers]

    def label(self) -> str:
        return f"stage {self.index + 1} ({self.name})"


def _needed(approvals: Any, people: int) -> int:
    """How many approvals a stage waits for: the resolved count, never below 1 (a stage of `all` that found
    nobody does not approve itself). A count that is not a whole number (a hand-built decision) waits for
    everyone the stage names, the strictest reading."""
    if isinstance(approvals, int) and not isinstance(approvals, bool):
        return max(1, approvals)
    if approvals == "majority":
        return people // 2 + 1
    return max(1, people)


class _Progress:
    """An escalation's resolutions so far, stage by stage, in order.

    Only the first approve/sign stage that still needs approvals (the current stage) takes approvals; a
    later stage opens when every one before it has its count. advise and notify stages are never waited
    for: their people are informed, and may neither approve nor deny. A sign stage counts like an approve
    stage: a signature is recorded as an approval by a named signer. A deny by anyone named at an
    approve/sign stage who has not resolved the escalation yet ends it as denied, also by a person of a
    later stage (a deny can only stop the action, and that person's approval would be needed anyway). Each
    person resolves once, so one approval counts for one stage: a person named at two stages fills one of
    them. An escalation with no approve/sign stage is never approved (nobody can approve it).
    """

    def __init__(self, stages: Sequence[_Stage]) -> None:
        self.stages = stages
        self.got = [0 for _ in stages]
        self.denied = False
        self.resolved_by: list[str] = []

    def current(self) -> _Stage | None:
        """The stage that takes approvals now; None once every approve/sign stage has its approvals."""
        return next((s for s in self.stages if s.waited and self.got[s.index] < s.needed), None)

    def record(self, outcome: str, person: str) -> None:
        """Replay one logged resolution. An approval counts for the current stage; one logged before stages
        opened in order (by a later stage's approver) counts, as it did then, for the first stage still
        waiting that names its giver: the log keeps the status every earlier resolution was given."""
        self.resolved_by.append(person)
        if outcome == "deny":
            self.denied = True
            return
        stage = next((s for s in self.stages if s.waited and self.got[s.index] < s.needed and person in s.ids), None)
        if stage is not None:
            self.got[stage.index] += 1

    @property
    def status(self) -> str:
        if self.denied:
            return "denied"
        settled = any(s.waited for s in self.stages) and self.current() is None
        return "approved" if settled else "pending"

    def _unresolved(self, stages: Sequence[_Stage]) -> list[Mapping[str, Any]]:
        """The people of these stages who have not resolved the escalation, each once, in stage order."""
        seen = set(self.resolved_by)
        found = []
        for stage in stages:
            for approver in stage.approvers:
                if approver["id"] not in seen:
                    seen.add(approver["id"])
                    found.append(approver)
        return found

    def named(self) -> list[Mapping[str, Any]]:
        """Everyone who may still resolve the escalation (deny it, or approve it once their stage opens)."""
        return self._unresolved([s for s in self.stages if s.waited])

    def awaiting(self) -> list[Mapping[str, Any]]:
        """The current stage's people whose approval would count now."""
        current = self.current()
        return self._unresolved([current]) if current is not None and self.status == "pending" else []

    def later_stage_of(self, person: str) -> _Stage | None:
        """The first stage after the current one, still waiting, that names `person`."""
        current = self.current()
        if current is None:
            return None
        return next((s for s in self.stages[current.index + 1:]
                     if s.waited and self.got[s.index] < s.needed and person in s.ids), None)

    def where(self) -> dict[str, Any] | None:
        """The current stage for an inbox: its index in escalation.stages, name, kind, count and approvals so
        far; None once the escalation is settled."""
        current = self.current()
        if current is None or self.status != "pending":
            return None
        return {"index": current.index, "name": current.name, "kind": current.kind,
                "approvals": current.needed, "approved": self.got[current.index]}


def _progress_of(entry: Entry) -> _Progress:
    progress = _Progress(_stages(entry.decision))
    for resolution in entry.resolutions:
        progress.record(resolution.outcome, resolution.by)
    return progress


_PAST = {"approve": "approved", "deny": "denied"}
_DOES = {"approve": "approves", "sign": "signs", "advise": "advises", "notify": "is notified"}


def _people(approvers: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"`{one_line(a['id'])}` ({one_line(n if isinstance(n := a.get('name'), str) else a['id'])})"
                     for a in approvers) or "nobody"


def _who_may(progress: _Progress) -> str:
    """Who may resolve the escalation now, split when approving and denying differ."""
    named, awaiting, current = progress.named(), progress.awaiting(), progress.current()
    if [a["id"] for a in named] == [a["id"] for a in awaiting]:
        return f"who may resolve it: {_people(named)}"
    now = f"{_people(awaiting)} at {current.label()}" if current is not None and awaiting else (
        f"nobody: everyone {current.label()} names has resolved it, so it waits for its timeout"
        if current is not None else "nobody")
    return f"who may approve now: {now}; who may deny it: {_people(named)}"


def _refuse_unless_resolvable(entry: Entry, outcome: str, by: str) -> None:
    """Raise a LogError naming the decision and who may resolve it, unless `by` may record `outcome`."""
    if entry.outcome != "escalate":
        raise LogError(f"decision `{entry.id}` is `{entry.outcome}`, not an escalation: there is nothing to resolve",
                       f"`aios log show {entry.id}` shows it")
    progress = _progress_of(entry)
    if progress.status != "pending":
        history = ", ".join(f"`{one_line(r.by)}` {_PAST[r.outcome]}" for r in entry.resolutions)
        raise LogError(f"decision `{entry.id}` is already {progress.status} ({history})",
                       "a settled escalation takes no more resolutions: nobody may resolve it")
    who, person = _who_may(progress), one_line(by)
    if not any(by in stage.ids for stage in progress.stages if stage.waited):
        informed = next((s for s in progress.stages if by in s.ids), None)
        if informed is not None:
            raise LogError(f"`{person}` may not resolve decision `{entry.id}`: {informed.label()} names them to "
                           f"{informed.kind}, not to approve or deny", who)
        raise LogError(f"`{person}` may not resolve decision `{entry.id}`: not one of the approvers it named", who)
    if by in progress.resolved_by:
        earlier = next(r for r in entry.resolutions if r.by == by)
        raise LogError(f"`{person}` already resolved decision `{entry.id}` ({earlier.outcome}, "
                       f"{earlier.at.isoformat()})", who)
    current = progress.current()
    if outcome != "approve" or current is None or by in current.ids:
        return
    if (later := progress.later_stage_of(by)) is not None:
        has = "its signatures" if current.kind == "sign" else "its approvals"
        raise LogError(f"`{person}` {_DOES[later.kind]} at {later.label()}, which opens when {current.label()} "
                       f"has {has}", f"{who}; `{person}` may deny it now")
    raise LogError(f"the approval of `{person}` is not needed for decision `{entry.id}`: "
                   "their stages already have their approvals",
                   f"who may still approve it: {_people(progress.awaiting())}; `{person}` may still deny it")
