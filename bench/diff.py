"""How fast the behavioural diff is, on the example constitution.

1. Exhaustive analysis of a threshold change (refunds.auto_limit 250 → 500): find the changed actions,
   cut their input space into cells, decide every cell under both versions, merge the changed cells
   into regions. Target: under 1 s. Baseline in the same run: loading and compiling the constitution.
2. Replay of logged requests through both versions (1,000,000 by default, generated from the
   scenario requests with varied amounts). Target: at least half the throughput of single-version
   `decide` (the full decision, as `aios decide` makes it), measured in the same run.

    python bench/diff.py [--requests 1000000] [--json]
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
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        changed = _changed_copy(Path(scratch))
        load = _time(lambda: Constitution.load(REPO / "constitution"), 5)
        base, head = Constitution.load(REPO / "constitution"), Constitution.load(changed)

        def analyse() -> list:
            actions = changed_actions(base.engine, head.engine)
            return [r for a in actions for r in regions(base.engine, head.engine, a, NOW)]

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
    replay_rate = result.total / replay_seconds
    figures = {
        "analysis": {"regions": len(found), "median_s": statistics.median(analysis), "max_s": max(analysis),
                     "load_median_s": statistics.median(load),
                     "ratio_to_load": statistics.median(analysis) / statistics.median(load)},
        "replay": {"requests": result.total, "changed": result.changed, "seconds": replay_seconds,
                   "per_second": replay_rate, "decide_per_second": decide_rate,
                   "ratio_to_decide": replay_rate / decide_rate},
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


if __name__ == "__main__":
    sys.exit(main())
