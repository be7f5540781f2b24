"""How fast the behavioural diff is, on the example constitution.

1. Exhaustive analysis of a threshold change (refunds.auto_limit 250 → 500): find the changed actions,
   cut their input space into cells (fields, requesters, periods of the calendar), decide every cell
   under both versions, merge the changed cells into regions. Target: under 1 s. Baseline in the same
   run: loading and compiling the constitution.
   Then every single change of one kind a pull request makes: each threshold moved, each rule taken
   out of effect, each person given a week away, each role reporting one step higher. Target: each under 1 s; the
   slowest is named.
2. Replay of logged requests through both versions (1,000,000 by default, generated from the
   scenario requests with varied amounts). Target: at least half the throughput of single-version
   `decide` (the full decision, as `aios decide` makes it), measured in the same run.

    python bench/diff.py [--requests 1000000] [--json] [--no-single-changes]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aios_policy import Constitution
from aios_policy.analysis.impact import replay
from aios_policy.analysis.regions import changed_actions, regions
from aios_policy.constitution.dates import parse_moment
from aios_policy.engine.decide import Engine
from aios_policy.errors import InvalidConstitution

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


def _changed_copy(scratch: Path) -> Path:
    target = scratch / "constitution"
    shutil.copytree(REPO / "constitution", target)
    thresholds = target / "thresholds.json"
    data = json.loads(thresholds.read_text())
    data["thresholds"]["refunds.auto_limit"]["value"] = 500
    thresholds.write_text(json.dumps(data, indent=2))
    return target


def _edited(source: Path, target: Path, relative: str, change) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    path = target / relative
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))
    return target


def single_changes(source: Path) -> list[tuple[str, str, object]]:
    """(name, file, change) for every single edit of the kinds a pull request makes."""
    found: list[tuple[str, str, object]] = []
    thresholds = json.loads((source / "thresholds.json").read_text())["thresholds"]
    for name, entry in sorted(thresholds.items()):
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        moved = round(min(1.0, value + 0.05), 4) if entry.get("unit") == "ratio" else round(value * 1.5 + 1, 2)
        found.append((f"threshold {name} {value} -> {moved}", "thresholds.json",
                      lambda d, name=name, moved=moved: d["thresholds"][name].update(value=moved)))
    for policy in sorted((source / "policies").glob("*.json")):
        rules = json.loads(policy.read_text())["rules"]
        for index, rule in enumerate(rules):  # out of effect: a deletion that keeps the scenarios valid
            found.append((f"rule {rule['id']} ended", f"policies/{policy.name}",
                          lambda d, index=index: d["rules"][index].update(effective_until="2026-01-01")))
    org = json.loads((source / "org.json").read_text())
    for person in org["people"]:
        delegate = next(p["id"] for p in org["people"] if p["id"] != person["id"])

        def away(d, who=person["id"], delegate=delegate) -> None:
            holder = next(p for p in d["people"] if p["id"] == who)
            holder.setdefault("out_of_office", []).append({"from": "2026-11-16", "until": "2026-11-20",
                                                           "delegate": delegate})
        found.append((f"{person['id']} away 2026-11-16 to 2026-11-20 ({delegate} covers)", "org.json", away))
    managers = {r["id"]: r.get("reports_to") for r in org["roles"]}
    for role, manager in managers.items():
        higher = managers.get(manager) if manager else None
        if higher:
            found.append((f"role {role} reports to {higher} (was {manager})", "org.json",
                          lambda d, role=role, higher=higher: next(
                              r for r in d["roles"] if r["id"] == role).update(reports_to=higher)))
    return found


def _single_change_timings(scratch: Path) -> dict:
    """Each single change analysed from fresh engines (nothing kept from the previous one)."""
    source = REPO / "constitution"
    base = Constitution.load(source).compiled
    timings, invalid = [], 0
    for name, relative, change in single_changes(source):
        try:  # deleting a rule that a scenario names makes the head invalid, as `aios diff` would say
            head = Constitution.load(_edited(source, scratch / "single", relative, change)).compiled
        except InvalidConstitution:
            invalid += 1
            continue
        started = time.perf_counter()
        old, new = Engine(base), Engine(head)
        found = [r for a in changed_actions(old, new) for r in regions(old, new, a, NOW)]
        timings.append((time.perf_counter() - started, name, len(found)))
    timings.sort()
    seconds = [t for t, _, _ in timings]
    return {"changes": len(timings), "median_s": statistics.median(seconds), "max_s": timings[-1][0],
            "slowest": timings[-1][1], "slowest_regions": timings[-1][2], "over_1s": sum(t > 1 for t in seconds),
            "with_regions": sum(1 for _, _, n in timings if n), "invalid": invalid,
            "slowest_five": [(name, round(t, 3)) for t, name, _ in timings[-5:]][::-1],
            "by_kind": {kind: max(t for t, name, _ in timings if name.startswith(kind) or f" {kind} " in name)
                        for kind in ("threshold", "rule", "away", "reports")
                        if any(name.startswith(kind) or f" {kind} " in name for _, name, _ in timings)}}


def _time(function, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def _logged(base: Constitution, count: int) -> list[tuple[str, str, dict]]:
    generator = random.Random(7)
    scenarios = [s.request for s in base.compiled.scenarios]
    logged = []
    for index in range(count):
        request = dict(scenarios[index % len(scenarios)])
        if isinstance(request.get("amount"), int | float):
            request["amount"] = round(request["amount"] * generator.uniform(0.5, 2.0), 2)
        logged.append((f"dec_{index:07d}", request["at"], request))
    return logged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-single-changes", action="store_true", help="skip timing every single change")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        changed = _changed_copy(Path(scratch))
        load = _time(lambda: Constitution.load(REPO / "constitution"), 5)
        base, head = Constitution.load(REPO / "constitution"), Constitution.load(changed)

        def analyse() -> list:  # from fresh engines, as `aios diff` starts: nothing decided before
            old, new = Engine(base.compiled), Engine(head.compiled)
            return [r for a in changed_actions(old, new) for r in regions(old, new, a, NOW)]

        found = analyse()
        analysis = _time(analyse, 5)

        logged = _logged(base, options.requests)
        tz = base.compiled.manifest.timezone
        sample = logged[: min(len(logged), 20_000)]
        moments = [parse_moment(at, tz) for _, at, _ in sample]
        started = time.perf_counter()
        for (_, _, request), moment in zip(sample, moments, strict=True):
            base.engine.decide(request, moment)
        decide_rate = len(sample) / (time.perf_counter() - started)
        started = time.perf_counter()
        result = replay(base.engine, head.engine, logged, "generated")
        replay_seconds = time.perf_counter() - started
        singles = None if options.no_single_changes else _single_change_timings(Path(scratch))
    replay_rate = result.total / replay_seconds
    figures = {
        "analysis": {"regions": len(found), "median_s": statistics.median(analysis), "max_s": max(analysis),
                     "load_median_s": statistics.median(load),
                     "ratio_to_load": statistics.median(analysis) / statistics.median(load)},
        "replay": {"requests": result.total, "changed": result.changed, "seconds": replay_seconds,
                   "per_second": replay_rate, "decide_per_second": decide_rate,
                   "ratio_to_decide": replay_rate / decide_rate},
        "single_changes": singles,
    }
    if options.json:
        print(json.dumps(figures, indent=2))
        return
    a, r = figures["analysis"], figures["replay"]
    print("behavioural diff on the example constitution (refunds.auto_limit 250 -> 500)")
    print(f"  exhaustive analysis   median {a['median_s'] * 1000:.0f} ms (max {a['max_s'] * 1000:.0f} ms), "
          f"{a['regions']} regions; {a['ratio_to_load']:.1f}x loading the constitution "
          f"({a['load_median_s'] * 1000:.0f} ms); target under 1 s")
    print(f"  replay                {r['requests']:,} logged requests through both versions in {r['seconds']:.1f} s: "
          f"{r['per_second']:,.0f}/s, {r['changed']:,} decided differently")
    print(f"  single-version decide {r['decide_per_second']:,.0f}/s (full decision) -> replay runs at "
          f"{r['ratio_to_decide']:.2f}x that; target at least 0.5x")
    if singles:
        print(f"  every single change   {singles['changes']} changes ({singles['with_regions']} move some decision): "
              f"median {singles['median_s'] * 1000:.0f} ms, slowest {singles['max_s'] * 1000:.0f} ms "
              f"({singles['slowest']}, {singles['slowest_regions']} regions); {singles['over_1s']} over 1 s; "
              f"{singles['invalid']} left out (the head does not validate)")
        print("  slowest by kind       " + ", ".join(f"{kind} {seconds * 1000:.0f} ms"
                                                   for kind, seconds in singles["by_kind"].items()))
        print("  the five slowest      " + "; ".join(f"{name} {seconds:.1f} s"
                                                   for name, seconds in singles["slowest_five"]))


if __name__ == "__main__":
    sys.exit(main())
