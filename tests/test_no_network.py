"""Nothing in a constitution ever reaches the network: a `require` schema that names a URL (in `$ref`,
`$dynamicRef`, `$schema` or `$id`, at any depth) is refused with ESC001, and validate, test, decide and
explain finish at once. A server on 127.0.0.1 that never answers counts every connection it is offered.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_aios

from aios_policy.constitution.pipeline import check
from aios_policy.constitution.schema import check_instance, fast_validator, is_valid_schema, validator

REFUNDS = "policies/refunds.json"


class SilentServer:
    """Accepts connections on 127.0.0.1, records them, and never answers."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.socket.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections.append(connection)

    def url(self, name: str = "x.json") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for connection in self.connections:
            connection.close()
        self.socket.close()


@pytest.fixture
def server() -> Iterator[SilentServer]:
    listening = SilentServer()
    yield listening
    listening.close()


def hostile_schemas(url: str) -> list[dict[str, object]]:
    """A `require` schema naming url in every keyword that can name a resource, at the top and nested."""
    shapes: list[dict[str, object]] = []
    for keyword in ("$ref", "$dynamicRef", "$schema", "$id"):
        shapes.append({"type": "object", keyword: url})
        shapes.append({"type": "object", "properties": {"order_id": {keyword: url}}})
        shapes.append({"type": "object", "allOf": [{"items": {"anyOf": [{keyword: url}]}}]})
        shapes.append({"type": "object", "$defs": {"x": {keyword: url + "#/a"}}, "$ref": "#/$defs/x"})
    shapes.append({"$ref": "other.json"})  # relative: resolved against a base, so never fetched either
    return shapes


def test_is_valid_schema_refuses_every_reference_out_of_the_schema_without_a_request(server: SilentServer) -> None:
    started = time.monotonic()
    for shape in hostile_schemas(server.url()):
        problem = is_valid_schema(shape)
        assert problem is not None, shape
        message, fix = problem
        assert "nothing is" in message and fix, problem
    assert time.monotonic() - started < 5
    time.sleep(0.3)
    assert server.connections == []


@pytest.mark.parametrize("schema", [
    {"type": "object", "required": ["order_id"]},
    {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
    {"$defs": {"id": {"type": "string"}}, "properties": {"order_id": {"$ref": "#/$defs/id"}}},
    {"properties": {"$ref": {"type": "string"}}},  # a property named `$ref` is not a reference
    True,
])
def test_local_references_and_the_draft_are_valid(schema: object) -> None:
    assert is_valid_schema(schema) is None


def test_a_local_reference_that_does_not_resolve_is_refused() -> None:
    assert is_valid_schema({"$ref": "#/$defs/missing"}) is not None


def test_both_validators_of_our_own_schemas_refuse_to_retrieve_anything(server: SilentServer) -> None:
    for kind in ("policy", "request"):
        assert not fast_validator(kind).is_valid({"$ref": server.url()})
        assert list(validator(kind).iter_errors({"$ref": server.url()}))
        assert check_instance(kind, {"$schema": server.url()})
    time.sleep(0.3)
    assert server.connections == []


def _write_require(constitution: Path, require: object) -> None:
    policy = constitution / REFUNDS
    data = json.loads(policy.read_text())
    data["rules"][1]["escalation"]["require"] = require
    policy.write_text(json.dumps(data, indent=2))


def test_check_reports_esc001_with_the_place_for_each_hostile_require(constitution: Path,
                                                                     server: SilentServer) -> None:
    for shape in hostile_schemas(server.url()):
        _write_require(constitution, shape)
        started = time.monotonic()
        result = check(constitution)
        assert time.monotonic() - started < 5, shape
        found = [d for d in result.errors if d.code == "ESC001"]
        assert found and result.constitution is None, shape
        assert found[0].file.endswith(REFUNDS) and found[0].pointer == "/rules/1/escalation/require"
        assert found[0].line > 1 and "\n" not in found[0].render()
    time.sleep(0.3)
    assert server.connections == []


@pytest.mark.parametrize("keyword", ["$ref", "$schema"])
def test_every_command_that_loads_the_constitution_finishes_without_a_request(constitution: Path,
                                                                           server: SilentServer,
                                                                           keyword: str) -> None:
    _write_require(constitution, {"type": "object", keyword: server.url()})
    request = constitution.parent / "request.json"
    request.write_text(json.dumps({"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"},
                                   "amount": 800, "confidence": 0.95}))
    commands = [("validate",), ("test",), ("decide", str(request), "--no-log"), ("explain", "refund.issue")]
    for command in commands:
        started = time.monotonic()
        done = run_aios(*command, "--constitution", str(constitution), cwd=constitution.parent)
        assert time.monotonic() - started < 20, command
        assert done.returncode == 1, (command, done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        if command[0] == "validate":
            assert "ESC001" in done.stdout + done.stderr and server.url() in done.stdout + done.stderr
    time.sleep(0.3)
    assert server.connections == []
