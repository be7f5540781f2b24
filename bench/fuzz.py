"""A fuzz campaign: mutated constitutions and generated requests, hostile by design.

    python bench/fuzz.py [--constitutions 1000] [--requests 100000] [--seed 1] [--case-seconds 10]

Each mutated constitution (the bundled example or the small test fixture, with values replaced by
hostile ones, keys dropped or doubled, text cut short, types swapped) is validated in-process; each
generated request (a scenario request of the example, mutated the same way) is decided. Reported,
each of which must be zero:

- crashes: an exception escaped `check()` or `decide_dict()` (a user mistake must be a diagnostic
  or a fail-closed decision, never an exception);
- hangs: one case took longer than --case-seconds;
- unlocated errors: an error diagnostic without a file, or with a line/column outside the file;
- automated malformed requests: a request the checks refuse was automated anyway;
- unserialisable decisions: a decision JSON cannot carry.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aios_policy import Constitution, check  # noqa: E402
from aios_policy.engine.request import request_problems  # noqa: E402

SOURCES = [ROOT / "constitution", ROOT / "tests" / "fixtures" / "minimal"]
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


class Hang(Exception):
    """One case ran past the time limit of a case."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang


def hostile_values(rng: random.Random) -> Any:
    """One hostile JSON value, or a marker for text-level damage."""
    choices: list[Any] = [
        None, True, False, 0, -1, 10**400, -(10**30), 1e308, 2**63, 0.1, "", " ", "\n", "x" * 5000,
        "\ud800", "a\u202eb", "\x1b[31mred", "line\nbreak", "USD\n", "9999-12-31", "0000-01-01",
        "2026-02-30", "(a+)+$", "(a|aa)*b", "(?<=x)y", "\\1", "a{100000}", "[*][*][*][*]",
        "http://127.0.0.1:9/x.json", {"$ref": "http://127.0.0.1:9/x.json"}, {"$schema": "http://127.0.0.1:9/s"},
        [], {}, [[[[[[]]]]]], {"a": {"b": {"c": {}}}}, list(range(50)), {"threshold": "nope"},
        {"path": "amount", "op": "gt", "value": "x"}, {"jmespath": "length(@) > `1`"},
        {"jmespath": "attributes.*.*.*.*"}, {"all": []}, {"not": {"any": []}}, "finance_manager", "owner",
        "refund.issue", "9999 business days", "0 hours",
    ]
    return rng.choice(choices)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(value: Any, rng: random.Random) -> Any:
    """The value with one to three random places replaced, dropped or doubled."""
    value = copy.deepcopy(value)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(value) if p]
        if not paths:
            return hostile_values(rng)
        path = rng.choice(paths)
        parent: Any = value
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.random()
        if action < 0.6:
            parent[last] = hostile_values(rng)
        elif action < 0.8:
            del parent[last]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        else:
            parent[f"{last}"] = copy.deepcopy(parent[last])
            parent[f"{last}_copy"] = hostile_values(rng)
    return value


def _text_damage(text: str, rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return text[: rng.randrange(len(text) + 1)]  # cut short
    if kind == 1:  # a key twice (duplicate keys survive only as text)
        at = text.find('"', 1)
        return text[:at] + '"id": "twice", ' + text[at:] if at > 0 else text
    if kind == 2:
        return text.replace("1", "NaN", 1)
    if kind == 3:
        return text.replace('"', "'", 1)
    if kind == 4:
        return "[" * 5000 + "]" * 5000
    return text + ",}"


def fuzz_constitution(source: Path, rng: random.Random, scratch: Path) -> tuple[str | None, list[str]]:
    """Mutate one file of a copy of source and validate it; (what went wrong, if anything; unlocated errors)."""
    target = scratch / "constitution"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    files = sorted(target.rglob("*.json"))
    victim = rng.choice(files)
    text = victim.read_text(encoding="utf-8")
    if rng.random() < 0.2:
        damaged = _text_damage(text, rng)
    else:
        damaged = json.dumps(_mutate(json.loads(text), rng), ensure_ascii=rng.random() < 0.5, indent=2)
    victim.write_text(damaged, encoding="utf-8", errors="surrogatepass")
    result = check(target)
    lines = {f.relative_to(scratch).as_posix(): f.read_bytes().count(b"\n") + 1 for f in files}
    unlocated = []
    for diagnostic in result.errors:
        known = lines.get(diagnostic.file) or lines.get(diagnostic.file.removeprefix(str(scratch) + "/"))
        if not diagnostic.file or (known is not None and not 1 <= diagnostic.line <= known):
            unlocated.append(diagnostic.render())
    if result.constitution is not None and not result.errors:
        Constitution(result).decide_dict({"action": "refund.issue", "actor": {"id": "fuzz", "kind": "agent"},
                                          "amount": 100, "confidence": 1.0}, NOW)
    return None, unlocated


def requests_of(constitution: Constitution) -> list[dict[str, Any]]:
    return [s.request for s in constitution.compiled.scenarios]


def fuzz_request(constitution: Constitution, base: dict[str, Any], rng: random.Random) -> str | None:
    request: Any = _mutate(base, rng) if rng.random() < 0.9 else hostile_values(rng)
    malformed = bool(request_problems(request, constitution.compiled))
    decision = constitution.decide_dict(request, NOW)
    json.dumps(decision, allow_nan=False)
    if malformed and decision["decision"] == "automate":
        return "automated a malformed request: " + json.dumps(request, ensure_ascii=True)[:300]
    return None


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    signal.signal(signal.SIGALRM, _alarm)
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}

    def note(kind: str, text: str) -> None:
        counts[kind] += 1
        examples.setdefault(kind, [])
        if len(examples[kind]) < 5:
            examples[kind].append(text[:400])

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        for _ in range(args.constitutions):
            signal.setitimer(signal.ITIMER_REAL, args.case_seconds)
            try:
                _, unlocated = fuzz_constitution(rng.choice(SOURCES), rng, scratch)
                for line in unlocated:
                    note("unlocated errors", line)
            except Hang:
                note("hangs", "a constitution took longer than the case limit")
            except Exception as error:  # the campaign's very point: count what escapes
                note("crashes", f"check: {type(error).__name__}: {error}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    constitution_seconds = time.perf_counter() - started

    constitution = Constitution.load(ROOT / "constitution")
    bases = requests_of(constitution)
    started = time.perf_counter()
    for _ in range(args.requests):
        signal.setitimer(signal.ITIMER_REAL, args.case_seconds)
        try:
            problem = fuzz_request(constitution, rng.choice(bases), rng)
            if problem:
                note("automated malformed requests", problem)
        except Hang:
            note("hangs", "a request took longer than the case limit")
        except (TypeError, ValueError) as error:
            note("unserialisable decisions" if "JSON" in str(error) or "serializable" in str(error) else "crashes",
                 f"decide: {type(error).__name__}: {error}")
        except Exception as error:
            note("crashes", f"decide: {type(error).__name__}: {error}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    request_seconds = time.perf_counter() - started

    print(f"aios fuzz campaign, seed {args.seed}")
    print(f"  {args.constitutions:,} mutated constitutions validated in {constitution_seconds:.1f} s")
    print(f"  {args.requests:,} generated requests decided in {request_seconds:.1f} s")
    for kind in ("crashes", "hangs", "unlocated errors", "automated malformed requests", "unserialisable decisions"):
        print(f"  {kind:30} {counts[kind]}")
        for example in examples.get(kind, []):
            print(f"      e.g. {example}")
    return 1 if sum(counts.values()) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--constitutions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--case-seconds", type=float, default=10.0)
    sys.exit(run(parser.parse_args()))
