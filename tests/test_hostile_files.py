"""Hostile constitution files, generated: each class of value that once crashed or hung validation is
written at many places of the small fixture constitution (alone, and as the value of a repeated key),
and validation must answer with located, one-line diagnostics, in bounded time, never an exception.
Files that are not regular files, strict patterns (one verdict from both validators), dates at the
end of the calendar and long reports_to chains are generated the same way.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MINIMAL, run_aios

from aios_policy.constitution.jsonpos import Positions
from aios_policy.constitution.pipeline import check
from aios_policy.constitution.schema import fast_validator
from aios_policy.diagnostics import make
from aios_policy.engine.facade import Constitution
from aios_policy.engine.request import request_problems
from aios_policy.limits import MAX_JSON_DEPTH

FILES = ["constitution.json", "org.json", "thresholds.json", "policies/refunds.json", "sops/refund-dispute.json",
         "scenarios/refunds.json"]

HOSTILE = {  # raw JSON text of each class of value
    "nan": "NaN",
    "infinity": "-Infinity",
    "huge float": "1e999",
    "4,000-digit integer": "1" * 4000,
    "integer past 64 bits": str(2**63),
    "deep nesting": "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5),
    "very deep nesting": "[" * 50_000 + "]" * 50_000,
    "lone surrogate": '"a\\ud800b"',
    "lone low surrogate": '"\\udc00"',
}
PLACES_PER_CLASS = 12


def _values(value: Any, pointer: str = "") -> Iterator[str]:
    yield pointer
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _values(child, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")


def _places(seed: str) -> list[tuple[str, str, bool]]:
    """(file, pointer, is an object) for a sample of JSON places over every file of the fixture."""
    places = []
    for name in FILES:
        data = json.loads((MINIMAL / name).read_text())
        for pointer in _values(data):
            target: Any = data
            for part in filter(None, pointer.split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target[int(part)] if isinstance(target, list) else target[part]
            places.append((name, pointer, isinstance(target, dict)))
    return random.Random(seed).sample(places, PLACES_PER_CLASS)


def _replace(text: str, pointer: str, raw: str) -> str:
    start = Positions(text).values[pointer]
    _, end = json.JSONDecoder().raw_decode(text, start)
    return text[:start] + raw + text[end:]


def _assert_refused(folder: Path, file: str) -> None:
    started = time.monotonic()
    result = check(folder)
    assert time.monotonic() - started < 5
    errors = result.errors
    assert errors and result.constitution is None
    assert any(d.file.endswith(file) for d in errors), [d.render() for d in errors]
    for diagnostic in result.diagnostics:
        assert diagnostic.line >= 1 and diagnostic.file and "\n" not in diagnostic.render()


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_each_hostile_value_at_many_places_is_a_located_error(constitution: Path, kind: str) -> None:
    for file, pointer, _ in _places(kind):
        original = (constitution / file).read_text()
        (constitution / file).write_text(_replace(original, pointer, HOSTILE[kind]))
        _assert_refused(constitution, file)
        (constitution / file).write_text(original)


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_each_hostile_value_under_a_repeated_key_is_a_located_error(constitution: Path, kind: str) -> None:
    for file, pointer, is_object in _places("duplicate " + kind):
        if not is_object:
            continue
        original = (constitution / file).read_text()
        start = Positions(original).values[pointer] + 1
        for twice in (f'"dup": {HOSTILE[kind]}, "dup": 1, ', f'"dup": 1, "dup": {HOSTILE[kind]}, '):
            (constitution / file).write_text(original[:start] + twice + original[start:])
            _assert_refused(constitution, file)
        (constitution / file).write_text(original)


def _strings(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield pointer, value
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _strings(child, f"{pointer}/{key}")


LINE_ENDS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85"]


def test_a_line_end_after_any_pattern_checked_text_of_a_file_is_refused_where_it_is(constitution: Path) -> None:
    """Every string of the fixture with a line end appended: where jsonschema-rs (ECMA-262: `$` is the
    very end) refuses the file, validation reports SCHEMA002 at that place, whatever Python's re says."""
    kinds = {"constitution.json": "constitution", "org.json": "org", "thresholds.json": "thresholds",
             "policies/refunds.json": "policy", "sops/refund-dispute.json": "sop", "scenarios/refunds.json": "scenario"}
    refused = 0
    for file in FILES:
        original = (constitution / file).read_text()
        data = json.loads(original)
        for pointer, value in _strings(data):
            if pointer.endswith("$schema"):
                continue
            for end in LINE_ENDS[:2] if refused > 20 else LINE_ENDS:
                changed = _replace(original, pointer, json.dumps(value + end))
                if fast_validator(kinds[file]).is_valid(json.loads(changed)):
                    continue  # free text: a line end is fine there
                refused += 1
                (constitution / file).write_text(changed)
                result = check(constitution)
                assert result.constitution is None, (file, pointer, end)
                assert any(d.code == "SCHEMA002" and d.file.endswith(file) for d in result.errors), (file, pointer)
        (constitution / file).write_text(original)
    assert refused > 10  # ids, roles, currency, time zone, dates, durations, actions...


def _request(**fields: Any) -> dict[str, Any]:
    return {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 100,
            "confidence": 0.99, "at": "2026-11-10T10:00:00-05:00", **fields}


@pytest.mark.parametrize("end", LINE_ENDS)
def test_a_line_end_in_a_pattern_checked_request_field_is_a_problem_and_never_automated(end: str) -> None:
    engine = Constitution.load(MINIMAL)
    automated = engine.decide_dict(_request(), now=None)
    assert automated["decision"] == "automate"  # the unbroken request, for contrast
    for field, value in (("currency", "USD"), ("at", "2026-11-10T10:00:00-05:00"), ("action", "refund.issue")):
        request = _request(**{field: value + end})
        if field == "currency":
            del request["amount"]
        if fast_validator("request").is_valid(request):
            continue
        assert request_problems(request), (field, end)
        assert engine.decide_dict(request)["decision"] != "automate", (field, end)


@pytest.mark.parametrize("field", ["effective_until", "effective_from"])
@pytest.mark.parametrize("day", ["9999-12-31", "9000-12-31", "0001-01-01", "9999-12-31T23:59:59+00:00"])
def test_dates_at_the_end_of_the_calendar_are_located_errors_or_valid(constitution: Path, field: str,
                                                                      day: str) -> None:
    policy = constitution / "policies/refunds.json"
    data = json.loads(policy.read_text())
    data[field] = day
    data["rules"][0][field] = day
    policy.write_text(json.dumps(data, indent=2))
    manifest = constitution / "constitution.json"
    manifest.write_text(manifest.read_text().replace('"2026-12-25"', f'"{day[:10]}"'))
    result = check(constitution)
    if day.startswith("9000"):
        assert not result.errors or all(d.code == "DATE001" for d in result.errors)
    else:
        assert any(d.code == "DATE001" for d in result.errors), [d.render() for d in result.diagnostics]


def test_absences_at_the_end_of_the_calendar_are_located_errors(constitution: Path) -> None:
    org = constitution / "org.json"
    data = json.loads(org.read_text())
    data["people"][0]["out_of_office"] = [{"from": "9999-12-30", "until": "9999-12-31", "delegate": "sam"}]
    org.write_text(json.dumps(data, indent=2))
    assert any(d.code == "DATE001" and d.file.endswith("org.json") for d in check(constitution).errors)


def test_files_that_are_not_regular_files_are_reported_and_never_block(constitution: Path) -> None:
    policies = constitution / "policies"
    os.mkfifo(policies / "fifo.json")
    os.symlink("loop.json", policies / "loop.json")
    os.symlink("a.json", policies / "b.json")
    os.symlink("b.json", policies / "a.json")
    os.symlink(str(constitution / "sops"), policies / "folder.json")
    os.symlink(str(constitution / "sops"), constitution / "more")
    os.symlink("/dev/zero", policies / "zero.json")
    os.symlink("/etc/hostname", policies / "outside.json")
    started = time.monotonic()
    result = check(constitution)
    assert time.monotonic() - started < 5
    unreadable = {d.file.rsplit("/", 1)[-1] for d in result.errors if d.code == "FILE001"}
    assert unreadable >= {"fifo.json", "loop.json", "a.json", "b.json", "folder.json", "more", "zero.json",
                          "outside.json"}
    done = run_aios("validate", "--constitution", str(constitution), cwd=constitution.parent)
    assert done.returncode == 1 and "Traceback" not in done.stderr


def _org_with_chain(roles: int, loop: bool) -> dict[str, Any]:
    chain = [{"id": f"r{i}", "title": f"Role {i}", "authority": 1 + i * 99 // roles, **({"reports_to": f"r{i + 1}"}
              if i + 1 < roles or loop else {})} for i in range(roles)]
    if loop:
        chain[-1]["reports_to"] = "r0"
    data = json.loads((MINIMAL / "org.json").read_text())
    data["roles"].extend(chain)
    return data


@pytest.mark.parametrize("loop", [False, True])
def test_a_long_reports_to_chain_is_checked_in_linear_time(constitution: Path, loop: bool) -> None:
    timings = []
    for roles in (1500, 3000):
        (constitution / "org.json").write_text(json.dumps(_org_with_chain(roles, loop), indent=1))
        started = time.monotonic()
        result = check(constitution)
        timings.append(time.monotonic() - started)
        assert any(d.code == "ORG001" for d in result.errors) == loop
    assert timings[1] < 5, timings


@pytest.mark.parametrize("text", ["a\nb", "a\r\nb", "\x1b[31mred", "\u202eevil", "\u2028", "\x85", "\x7f", "\u2066x"])
def test_a_diagnostic_renders_user_text_on_one_line_and_keeps_it_raw_in_json(text: str) -> None:
    diagnostic = make("REF001", f"unknown role `{text}`", f"org{text}.json", f"/roles/{text}", hint=text)
    rendered = diagnostic.render()
    assert len(rendered.splitlines()) == 1
    assert not any(ch in rendered for ch in "\n\r\x1b\u202e\u2028\x85\x7f\u2066")
    assert diagnostic.to_json()["message"] == f"unknown role `{text}`"


def test_hostile_values_through_the_real_command_exit_1_with_one_line_each(tmp_path: Path) -> None:
    for kind in ("nan", "4,000-digit integer", "lone surrogate"):
        folder = tmp_path / kind.replace(" ", "-").replace(",", "")
        shutil.copytree(MINIMAL, folder)
        policy = folder / "policies/refunds.json"
        text = policy.read_text()
        start = text.index("{", 1)
        policy.write_text(text[:start + 1] + f'"x": {HOSTILE[kind]}, "x": 1, ' + text[start + 1:])
        started = time.monotonic()
        done = run_aios("validate", "--constitution", str(folder), cwd=tmp_path)
        assert time.monotonic() - started < 20
        assert done.returncode == 1, (kind, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert "refunds.json:" in done.stdout + done.stderr
