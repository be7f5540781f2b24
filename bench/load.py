"""How load time grows with the constitution: `Constitution.load` (read, validate, compile, build the
engine) of generated constitutions of 1,000 and 10,000 rules, in process.

Baseline, measured in the same run and interleaved with the loads: reading the same files and parsing
them with json.loads, nothing more. Each timed window ends with a collection of the young generations
(everything the load allocated), so the collection it would trigger later is counted in its own time,
not in the next measurement's. Prints the median load of each size, its ratio to the baseline,
and how many times longer the larger load takes than the smaller (linear growth is 10x).

    python bench/load.py [--small 1000] [--large 10000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

from aios_policy import Constitution

RULES_PER_POLICY = 5  # what bench/generate.py writes


def _parse_only(folder: Path) -> None:
    for path in sorted(folder.rglob("*.json")):
        json.loads(path.read_bytes())


def _seconds(work: Callable[[Path], object], folder: Path) -> float:
    """The time of work(folder) with the garbage it leaves collected inside the timed window (the load
    pauses the collector; the collection it would trigger later is part of its cost)."""
    gc.collect()
    started = time.perf_counter()
    work(folder)
    gc.collect(1)  # the young generations: what the load allocated, scanned as the collector would next
    return time.perf_counter() - started


def measure(rules: int, runs: int, scratch: Path) -> dict[str, float]:
    folder = generate(scratch / f"rules-{rules}", policies=rules // RULES_PER_POLICY)
    loaded = Constitution.load(folder)  # warm the file cache; the constitution must be clean
    assert len(loaded.compiled.rules) == rules, len(loaded.compiled.rules)
    loads, parses = [], []
    for _ in range(runs):
        parses.append(_seconds(_parse_only, folder))
        loads.append(_seconds(Constitution.load, folder))
    return {"rules": rules, "load_s": statistics.median(loads), "load_min_s": min(loads),
            "parse_s": statistics.median(parses)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000, help="rules in the smaller constitution")
    parser.add_argument("--large", type=int, default=10000, help="rules in the larger constitution")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        small = measure(options.small, options.runs, Path(scratch))
        large = measure(options.large, options.runs, Path(scratch))
    growth = large["load_s"] / small["load_s"]
    if options.json:
        print(json.dumps({"small": small, "large": large, "growth": growth}, indent=2))
        return 0
    print(f"Constitution.load, median of {options.runs} runs (read, validate, compile, build the engine)")
    for figures in (small, large):
        print(f"  {figures['rules']:>6} rules  {figures['load_s']:.3f} s  (min {figures['load_min_s']:.3f})  "
              f"read + json.loads {figures['parse_s']:.3f} s  ({figures['load_s'] / figures['parse_s']:.1f}x)")
    print(f"  {options.small} -> {options.large} rules: {growth:.1f}x the load time "
          f"({options.large / options.small:.0f}x the rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
