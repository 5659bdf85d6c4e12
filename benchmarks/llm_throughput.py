"""LLM layer throughput: how close LLMClient gets to the ideal calls per second.

Sections, one function each, results merged into ``benchmarks/results/llm_throughput.json``:

* ``embedded``: the embedded model's load time, prompt and generation tokens/s and memory,
  with k = 5 samples drawn one after another and as parallel sequences.
* ``remote``: LLMClient + OpenAIBackend (the real ``openai`` package) against the fake
  OpenAI-compatible server with a fixed latency, at several concurrencies, a fresh
  MemoryCache each (every call reaches the server). Ideal calls/s = concurrency / latency.

Run from the repository root::

    python -m benchmarks.llm_throughput            # full run (about five minutes)
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

from benchmarks.support.fake_openai import FakeOpenAIServer  # noqa: E402
from curation.config import LLMConfig  # noqa: E402
from curation.llm.base import ChatRequest, MemoryCache  # noqa: E402
from curation.llm.client import LLMClient  # noqa: E402
from curation.llm.openai_backend import OpenAIBackend  # noqa: E402
from curation.records import messages_of  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "llm_throughput.json"
LATENCY_S = 0.1
CONCURRENCIES = (1, 8, 32, 128)
FULL_CALLS = {1: 2000, 8: 2000, 32: 2000, 128: 2000}
QUICK_CALLS = {1: 20, 8: 200, 32: 400, 128: 800}


def _serve(latency_s: float, urls: multiprocessing.Queue[str], stop: multiprocessing.Event) -> None:
    """Child process: run the fake server until told to stop (keeps its GIL off the client's)."""
    with FakeOpenAIServer(reply="a short made-up answer", latency_s=latency_s) as server:
        urls.put(server.base_url)
        stop.wait()


def _remote_once(base_url: str, concurrency: int, calls: int) -> dict:
    config = LLMConfig(
        backend="openai",
        model="fake-model",
        base_url=base_url,
        api_key_env="BENCH_NO_KEY",
        concurrency=concurrency,
        timeout_s=30.0,
        max_attempts=1,
    )
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
    return {
        "concurrency": concurrency,
        "calls": calls,
        "failed": failed,
        "seconds": round(seconds, 3),
        "calls_per_s": round(rate, 1),
        "ideal_calls_per_s": round(ideal, 1),
        "ratio": round(rate / ideal, 3),
        "backend_calls": client.stats.calls,
    }


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
    print(
        f"\nremote: LLMClient -> openai {openai.__version__} -> fake server ({LATENCY_S * 1000:.0f} ms latency, "
        "separate process)"
    )
    print(f"{'concurrency':>11} {'calls':>6} {'seconds':>8} {'calls/s':>8} {'ideal/s':>8} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['concurrency']:>11} {row['calls']:>6} {row['seconds']:>8.2f} {row['calls_per_s']:>8.1f} "
            f"{row['ideal_calls_per_s']:>8.1f} {row['ratio']:>6.2f}"
            + (f"  ({row['failed']} failed)" if row["failed"] else "")
        )
    return {"latency_s": LATENCY_S, "quick": quick, "rows": rows}


def _embedded_child(model: str, quick: bool, out: multiprocessing.Queue[dict]) -> None:
    """Child process (clean memory accounting): load, then time prompt and generation."""
    import resource

    import numpy as np

    from curation.llm.embedded import EmbeddedBackend

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    backend = EmbeddedBackend(LLMConfig(model=model))
    load_s = time.perf_counter() - started
    engine = backend._engine
    text = " ".join(f"Item {i}: the quick brown fox jumps over the lazy dog number {i}." for i in range(80))
    tokens = engine.text_tokens(text)[: 256 if quick else 512]
    started = time.perf_counter()
    engine.call(engine._prepare, tokens)  # a prompt no cached prefix covers
    prompt_tps = len(tokens) / (time.perf_counter() - started)
    request = ChatRequest(
        messages=messages_of([("user", "Write a long story about a lighthouse keeper.")]),
        temperature=1.0,
        max_tokens=32 if quick else 64,
        n=5,
    )
    rows = {}
    for parallel in (False, True):
        backend.parallel = parallel
        backend.complete(request.single(99))  # warm the prompt
        started = time.perf_counter()
        results = backend.complete(request)
        elapsed = time.perf_counter() - started
        generated = sum(r.completion_tokens for r in results)
        rows["parallel" if parallel else "sequential"] = {
            "samples": len(results),
            "tokens": generated,
            "seconds": round(elapsed, 3),
            "tokens_per_s": round(generated / elapsed, 1),
        }
    out.put(
        {
            "model": model,
            "load_s": round(load_s, 2),
            "prompt_tokens": len(tokens),
            "prompt_tokens_per_s": round(prompt_tps, 1),
            "generation_k5": rows,
            "max_rss_mib": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1),
            "numpy": np.__version__,
        }
    )


def embedded_section(*, quick: bool) -> dict:
    """The embedded model on this machine: load time, prompt and generation tokens/s, memory;
    k = 5 samples one after another vs as parallel sequences."""
    context = multiprocessing.get_context("spawn")
    rows = []
    for model in ("qwen2.5-coder-0.5b", "smollm2-135m"):
        out = context.Queue()
        child = context.Process(target=_embedded_child, args=(model, quick, out))
        child.start()
        rows.append(out.get(timeout=600))
        child.join(timeout=60)
    print("\nembedded: llama.cpp on this machine's CPU (a process per model)")
    print(
        f"{'model':<20} {'load s':>7} {'prompt tok/s':>13} {'gen tok/s 1-by-1':>17} "
        f"{'gen tok/s parallel':>19} {'RSS MiB':>8}"
    )
    for r in rows:
        g = r["generation_k5"]
        print(
            f"{r['model']:<20} {r['load_s']:>7} {r['prompt_tokens_per_s']:>13} {g['sequential']['tokens_per_s']:>17} "
            f"{g['parallel']['tokens_per_s']:>19} {r['max_rss_mib']:>8}"
        )
    return {"quick": quick, "rows": rows}


SECTIONS: dict[str, Callable[..., dict]] = {"remote": remote_section, "embedded": embedded_section}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, a few seconds in all")
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS), default=sorted(SECTIONS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for name in args.sections:
        results[name] = SECTIONS[name](quick=args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
