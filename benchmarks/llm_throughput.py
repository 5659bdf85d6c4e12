"""LLM layer throughput: how close LLMClient gets to the ideal calls per second.

Sections, one function each, results merged into ``benchmarks/results/llm_throughput.json``:

* ``remote``: LLMClient + OpenAIBackend (the real ``openai`` package) against the fake
  OpenAI-compatible server with a fixed latency, at several concurrencies, a fresh
  MemoryCache each (every call reaches the server). Ideal calls/s = concurrency / latency.

Run from the repository root::

    python -m benchmarks.llm_throughput            # full run (about a minute)
    python -m benchmarks.llm_throughput --quick    # a few seconds
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from curation.config import LLMConfig  # noqa: E402
from curation.llm.base import ChatRequest, MemoryCache, messages_of  # noqa: E402
from curation.llm.client import LLMClient  # noqa: E402
from curation.llm.openai_backend import OpenAIBackend  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "llm_throughput.json"
LATENCY_S = 0.1
CONCURRENCIES = (1, 8, 32, 128)
FULL_CALLS = {1: 100, 8: 2000, 32: 2000, 128: 2000}
QUICK_CALLS = {1: 20, 8: 200, 32: 400, 128: 800}


def _serve(latency_s: float, urls: "multiprocessing.Queue[str]", stop: "multiprocessing.Event") -> None:
    """Child process: run the fake server until told to stop (keeps its GIL off the client's)."""
    with FakeOpenAIServer(reply="a short made-up answer", latency_s=latency_s) as server:
        urls.put(server.base_url)
        stop.wait()


def _remote_once(base_url: str, concurrency: int, calls: int) -> dict:
    config = LLMConfig(backend="openai", model="fake-model", base_url=base_url, api_key_env="BENCH_NO_KEY",
                       concurrency=concurrency, timeout_s=30.0, max_attempts=1)
    backend = OpenAIBackend(config, environ={})
    client = LLMClient(backend, cache=MemoryCache(), config=config)
    requests = [ChatRequest(messages=messages_of([("user", f"question number {i}")])) for i in range(calls)]
    try:
        started = time.perf_counter()
        outcomes = client.complete_many(requests)
        seconds = time.perf_counter() - started
    finally:
        backend.close()
    failed = sum(1 for o in outcomes if not isinstance(o, list))
    rate = calls / seconds
    ideal = min(concurrency, backend.max_concurrency) / LATENCY_S
    return {"concurrency": concurrency, "calls": calls, "failed": failed, "seconds": round(seconds, 3),
            "calls_per_s": round(rate, 1), "ideal_calls_per_s": round(ideal, 1), "ratio": round(rate / ideal, 3),
            "backend_calls": client.stats.calls}


def remote_section(*, quick: bool) -> dict:
    """LLMClient throughput against the fake server at each concurrency."""
    calls = QUICK_CALLS if quick else FULL_CALLS
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(LATENCY_S, urls, stop), daemon=True)
    server.start()
    try:
        base_url = urls.get(timeout=30)
        _remote_once(base_url, 4, 8)  # warm-up: imports, first connections
        rows = [_remote_once(base_url, c, calls[c]) for c in CONCURRENCIES]
    finally:
        stop.set()
        server.join(timeout=10)
    print(f"\nremote: LLMClient -> openai {openai.__version__} -> fake server ({LATENCY_S * 1000:.0f} ms latency, "
          "separate process)")
    print(f"{'concurrency':>11} {'calls':>6} {'seconds':>8} {'calls/s':>8} {'ideal/s':>8} {'ratio':>6}")
    for row in rows:
        print(f"{row['concurrency']:>11} {row['calls']:>6} {row['seconds']:>8.2f} {row['calls_per_s']:>8.1f} "
              f"{row['ideal_calls_per_s']:>8.1f} {row['ratio']:>6.2f}" + (f"  ({row['failed']} failed)" if row["failed"] else ""))
    return {"latency_s": LATENCY_S, "quick": quick, "rows": rows}


SECTIONS: dict[str, Callable[..., dict]] = {"remote": remote_section}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, a few seconds in all")
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS), default=sorted(SECTIONS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for name in args.sections:
        results[name] = SECTIONS[name](quick=args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
