"""Decisions per second over HTTP (`aios serve`), against in-process `decide` in the same run.

Copies the bundled example constitution into a temporary git repository, makes an agent token and
starts the real `aios serve` command on a free port of 127.0.0.1 (a separate process, logging every
decision to its SQLite decision log, as in production). Then, for --seconds each:

  in process     Constitution.decide_dict on one thread (no HTTP, no log): the ceiling
  HTTP single    --clients threads, each with its own keep-alive httpx client, POST /v1/decide
  HTTP batched   the same threads, POST /v1/decide/batch with --batch requests each

The requests are the example's scenario requests (the actor is the token's agent). Both HTTP runs are
made twice, against two servers in turn, each with its own log:

  durable              the real `aios serve`: an answer leaves once its decisions are committed (group
                       commit, WAL with synchronous = FULL)
  answer before commit the same server with Service.record patched, in this script only, to answer as
                       soon as the decisions are queued (the behaviour before durable answers, which a
                       `kill -9` could make lose up to the queue's worth of answered decisions): the cost
                       of durability, measured in the same run

After each, the server is stopped and its decision log must hold every decision it answered.

    python bench/serve.py [--seconds 5] [--clients 8] [--batch 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from aios_policy.engine.facade import Constitution
from aios_policy.record.log import DecisionLog
from aios_policy.serve.identity import Identity, add_token

REPO = Path(__file__).resolve().parent.parent
AGENT = Identity("bench-agent", "agent")


def git(cwd: Path, *args: str) -> None:
    environment = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                   "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=environment)


def company(root: Path) -> tuple[Path, str]:
    """The example constitution committed in a fresh repository, and an agent token for it."""
    shutil.copytree(REPO / "constitution", root / "constitution")
    shutil.copytree(REPO / "schemas", root / "schemas")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "example")
    return root / "constitution", add_token(root / "secrets" / "tokens.json", AGENT, datetime.now(UTC))


def requests_of(constitution: Constitution) -> list[dict[str, Any]]:
    """The scenarios' requests without their actor: the server sets it from the token."""
    return [{k: v for k, v in s.request.items() if k != "actor"} for s in constitution.compiled.scenarios]


ANSWER_BEFORE_COMMIT = "--serve-answering-before-commit"  # this script as the server, for the comparison


def serve_answering_before_commit(arguments: list[str]) -> None:
    """`aios serve` whose answers leave once their decisions are queued, not committed: bench only."""
    from fastapi.concurrency import run_in_threadpool

    from aios_policy.cli.main import main as aios
    from aios_policy.serve.http.service import Logged, Service

    async def record_without_waiting(self: Service, decided: list[Logged]) -> None:
        if self.log.submit(decided) is None:
            await run_in_threadpool(self.log.submit_waiting, decided)

    Service.record = record_without_waiting  # type: ignore[method-assign]  # the comparison, never shipped
    aios(["serve", *arguments], prog_name="aios")


def start(root: Path, constitution: Path, log: Path, durable: bool) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).with_name("aios")
    command = [str(script), "serve"] if script.exists() else [sys.executable, "-m", "aios_policy", "serve"]
    if not durable:
        command = [sys.executable, str(Path(__file__).resolve()), ANSWER_BEFORE_COMMIT]
    server = subprocess.Popen([*command, "-c", str(constitution), "--port", str(port),
                               "--tokens", str(root / "secrets" / "tokens.json"), "--log", str(log)],
                              stdout=subprocess.DEVNULL, stderr=(root / "serve.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"aios serve did not start:\n{(root / 'serve.log').read_text()}")


def in_process(constitution: Constitution, requests: list[dict[str, Any]], seconds: float) -> float:
    with_actor = [{**r, "actor": AGENT.to_json()} for r in requests]
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for request in with_actor:
            constitution.decide_dict(request, datetime.now(UTC))
        count += len(with_actor)
    return count / (time.perf_counter() - started)


def over_http(url: str, token: str, requests: list[dict[str, Any]], clients: int, batch: int | None,
              seconds: float) -> dict[str, Any]:
    """Decisions per second and per-call latencies with `clients` threads for `seconds`."""
    latencies: list[float] = []
    counts = [0] * clients
    outcomes: dict[str, int] = {}
    failures: list[str] = []
    go, stop_at = threading.Event(), [0.0]

    def client(number: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            position = number * 17
            go.wait()
            while time.perf_counter() < stop_at[0]:
                size = batch or 1
                chosen = [requests[(position + i) % len(requests)] for i in range(size)]
                position += size
                began = time.perf_counter()
                if batch:
                    response = http.post("/v1/decide/batch", json={"requests": chosen})
                else:
                    response = http.post("/v1/decide", json=chosen[0])
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    return
                decisions = response.json()["decisions"] if batch else [response.json()]
                for decision in decisions:
                    outcomes[decision["decision"]] = outcomes.get(decision["decision"], 0) + 1
                counts[number] += len(decisions)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every client connected
    written_before = httpx.get(url + "/v1/health").json()["log"]["written"]
    started = time.perf_counter()
    stop_at[0] = started + seconds
    go.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    log = httpx.get(url + "/v1/health").json()["log"]
    if failures:
        raise SystemExit(f"HTTP failures: {failures[:3]}")
    ordered = sorted(latencies)
    return {"per_second": sum(counts) / elapsed, "decisions": sum(counts), "calls": len(latencies),
            "logged_per_second": (log["written"] - written_before) / elapsed, "queued_after": log["queued"],
            "median_ms": statistics.median(ordered) * 1000, "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
            "outcomes": outcomes}


def measure(root: Path, constitution_path: Path, token: str, requests: list[dict[str, Any]],
            options: argparse.Namespace, durable: bool) -> dict[str, Any]:
    """Single and batched over HTTP against one server, then stopped; its log must hold every answer."""
    log_path = root / ("durable.sqlite" if durable else "before-commit.sqlite")
    server, url = start(root, constitution_path, log_path, durable)
    try:
        warm = over_http(url, token, requests, options.clients, None, 1.0)  # warm up both sides
        single = over_http(url, token, requests, options.clients, None, options.seconds)
        batched = over_http(url, token, requests, options.clients, options.batch, options.seconds)
        status = httpx.get(url + "/v1/health").json()
    finally:
        stopping = time.perf_counter()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=600)
        flush = time.perf_counter() - stopping
    with DecisionLog(log_path) as log:
        logged = log.count()
    answered = warm["decisions"] + single["decisions"] + batched["decisions"]
    if logged < answered:
        raise SystemExit(f"the decision log lost decisions ({logged:,} logged, {answered:,} answered)")
    return {"single": single, "batched": batched, "queued_at_end": status["log"]["queued"],
            "stop_seconds": flush, "logged": logged, "answered_over_http": answered}


def main() -> None:
    if sys.argv[1:2] == [ANSWER_BEFORE_COMMIT]:
        serve_answering_before_commit(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each measurement runs")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--batch", type=int, default=100, help="requests per batch call")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        constitution_path, token = company(root)
        constitution = Constitution.load(constitution_path, ref="main")
        requests = requests_of(constitution)
        load = os.getloadavg()[0]
        local = in_process(constitution, requests, options.seconds)
        durable = measure(root, constitution_path, token, requests, options, durable=True)
        before = measure(root, constitution_path, token, requests, options, durable=False)
        figures = {"python": platform.python_version(), "cpus": os.cpu_count(), "load_at_start": round(load, 2),
                   "load_at_end": round(os.getloadavg()[0], 2), "requests": len(requests),
                   "clients": options.clients, "batch": options.batch, "in_process_per_second": local,
                   "durable": durable, "answer_before_commit": before,
                   "durable_over_before_commit": {kind: durable[kind]["per_second"] / before[kind]["per_second"]
                                                  for kind in ("single", "batched")}}
    if options.json:
        print(json.dumps(figures, indent=2))
        return
    print("aios serve: decisions per second over HTTP against in-process decide, same run")
    print(f"Python {figures['python']}, {figures['cpus']} CPUs, load average {figures['load_at_start']} at the start "
          f"and {figures['load_at_end']} at the end; server and clients share the machine")
    print(f"example constitution, {len(requests)} scenario requests, {options.clients} concurrent clients, "
          f"{options.seconds:g} s each\n")
    print(f"  {'':48}{'decisions/s':>12}{'x in-process':>14}{'median ms':>11}{'p99 ms':>9}{'logged/s':>10}"
          f"{'queued':>8}")
    print(f"  {'in process (decide_dict, 1 thread)':48}{local:>12,.0f}{1:>14.2f}")
    for mode, figures_of in (("durable", durable), ("answer before commit", before)):
        for name, run in ((f"{mode}: single (POST /v1/decide)", figures_of["single"]),
                          (f"{mode}: batched ({options.batch} per call)", figures_of["batched"])):
            print(f"  {name:48}{run['per_second']:>12,.0f}{run['per_second'] / local:>14.2f}"
                  f"{run['median_ms']:>11.1f}{run['p99_ms']:>9.1f}{run['logged_per_second']:>10,.0f}"
                  f"{run['queued_after']:>8,}")
    ratio = figures["durable_over_before_commit"]
    print(f"\n  durable / answer before commit: single {ratio['single']:.2f}x, batched {ratio['batched']:.2f}x")
    for mode, figures_of in (("durable", durable), ("answer before commit", before)):
        print(f"  {mode} log: {figures_of['logged']:,} entries for {figures_of['answered_over_http']:,} decisions "
              f"answered; {figures_of['queued_at_end']:,} still queued at the end, written in the "
              f"{figures_of['stop_seconds']:.1f} s shutdown")


if __name__ == "__main__":
    main()
