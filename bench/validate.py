"""How long `aios validate` takes on 1,000 generated policy files, end to end, as a fresh process.

Baseline, measured in the same run: a fresh Python process that reads and json-parses the same files
and nothing more. Prints the median and the spread of each and their ratio.

    python bench/validate.py [--policies 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

BASELINE = "import json, pathlib, sys; [json.loads(p.read_bytes()) for p in pathlib.Path(sys.argv[1]).rglob('*.json')]"


def _aios() -> list[str]:
    script = Path(sys.executable).with_name("aios")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aios_policy"]


def _time(command: list[str], expect: int) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        sys.exit(f"{command} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = generate(Path(scratch) / "generated", policies=options.policies)
        validate = [*_aios(), "validate", "-c", str(folder)]
        baseline = [sys.executable, "-c", BASELINE, str(folder)]
        _time(validate, 0)  # warm the file cache and check the constitution is clean
        aios, floor = [], []
        for _ in range(options.runs):  # interleaved, so machine noise hits both alike
            floor.append(_time(baseline, 0))
            aios.append(_time(validate, 0))
    files = options.policies + 3
    rules = options.policies * 5
    print(f"aios validate, {options.policies} policies ({files} files, {rules} rules), {options.runs} runs")
    print(f"  aios validate      median {statistics.median(aios):.3f} s  (min {min(aios):.3f}, max {max(aios):.3f})")
    print(f"  read + json.loads  median {statistics.median(floor):.3f} s  (min {min(floor):.3f}, max {max(floor):.3f})")
    print(f"  ratio              {statistics.median(aios) / statistics.median(floor):.1f}x the parse-only floor")


if __name__ == "__main__":
    main()
