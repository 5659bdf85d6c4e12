"""Scale, the Ray engine: its throughput and results against the local engine's on one machine.

The first N examples of ``sample_data/support_intents.jsonl`` are scored (score stage,
default settings, each engine on a fresh store with an empty call cache) by the local engine,
then by the Ray engine with ``--actors`` workers of 1 CPU each (the issue's layout), then with
one worker of every CPU (Ray's own overhead alone), on a local Ray the benchmark starts with as
many CPUs as the machine has (its start is not timed: a cluster is up before a run). Each
timing includes loading the model: in this process for the local engine, once in each Ray
worker for its first layout (a worker keeps it for later phases). Reported: seconds and examples per hour of each, the
throughput ratio (Ray / local; the goal is >= 0.9), and how the stored scores differ: the
largest absolute difference over every number stored, per kind (teacher-forced signals,
sampled parts, the final confidence), the examples scored by another tier, and the first
texts that differ.

Run from the repository root (needs the extra: ``pip install -e ".[ray]"``)::

    python -m benchmarks.scale_ray --examples 40            # the default model
    python -m benchmarks.scale_ray --examples 40 --model smollm2-135m

Prints and writes ``benchmarks/results/scale_ray.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from curation.config import Config  # noqa: E402
from curation.ingest import import_file  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.store import Store  # noqa: E402
from curation.tiers import tier_of  # noqa: E402

DATA = ROOT / "sample_data" / "support_intents.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "scale_ray.json"


def _score(work: Path, name: str, config: Config, examples: int) -> tuple[float, dict]:
    """Seconds to score the first ``examples`` examples on a fresh store, and the stored rows."""
    data = work / "data.jsonl"
    work.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        data.write_text("".join(DATA.read_text(encoding="utf-8").splitlines(keepends=True)[:examples]), "utf-8")
    with Store(work / f"{name}.duckdb") as store:
        import_file(store, data, name="bench")
        started = time.perf_counter()
        run_pipeline(store, "bench", config, stages=("score",))
        seconds = time.perf_counter() - started
        info = store.dataset("bench")
        rows = store.scores(info.dataset_id, store.active_score_key(info.dataset_id))
    keep = ("status", "confidence", "consistency", "reflection", "signals", "explanation", "fired")
    return seconds, {r["example_id"]: {k: r[k] for k in keep} for r in rows}


def _largest_difference(a: object, b: object) -> tuple[float, list[str]]:
    """The largest absolute difference between the numbers of ``a`` and ``b``, and the paths
    where they differ otherwise (a text, a key, a length)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return 0.0, ["keys"]
        parts = [_largest_difference(a[k], b[k]) for k in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return 0.0, ["length"]
        parts = [_largest_difference(x, y) for x, y in zip(a, b)]
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(a - b), []
    else:
        return 0.0, [] if a == b else [f"{a!r} != {b!r}"[:120]]
    return max((p[0] for p in parts), default=0.0), [m for p in parts for m in p[1]]


#: Signals read from teacher-forced passes (no sampling): between engines they differ only by
#: the numerics of evaluating a prompt in other batches (a prompt cache holding other prefixes).
FORCED = ("likelihood", "min_k", "ifd", "ending")


def _by_part(local: dict, remote: dict) -> dict:
    """The largest difference per kind of stored number, and the examples scored by another tier."""

    def largest(values: list[tuple[float | None, float | None]]) -> float:
        return round(max((abs(a - b) for a, b in values if a is not None and b is not None), default=0.0), 6)

    ids = [i for i in local if i in remote]
    return {
        "teacher_forced_signals": largest(
            [(local[i]["signals"].get(n), remote[i]["signals"].get(n)) for i in ids for n in FORCED]
        ),
        "sampled_parts": largest([(local[i][n], remote[i][n]) for i in ids for n in ("consistency", "reflection")]),
        "confidence": largest([(local[i]["confidence"], remote[i]["confidence"]) for i in ids]),
        "other_tier": sum(1 for i in ids if tier_of(local[i]) != tier_of(remote[i])),
    }


def ray_engine_section(work: Path, *, examples: int = 40, model: str | None = None, actors: int = 2) -> dict:
    """The section: the local engine, then Ray with ``actors`` workers of 1 CPU (the issue's
    layout), then Ray with one worker of every CPU (Ray's own overhead alone: one process
    decodes every sequence, as the local engine does), on the same examples."""
    import ray

    base = Config() if model is None else Config().with_overrides({"llm.model": model})
    cpus = os.cpu_count() or 1
    local_s, local_rows = _score(work, "local", base, examples)
    layouts = {}
    ray.init(num_cpus=cpus, include_dashboard=False)
    try:
        for n, each in ((actors, 1), (1, cpus)):
            remote = base.with_overrides({"engine.kind": "ray", "engine.actors": n, "engine.cpus_per_actor": each})
            seconds, rows = _score(work, f"ray-{n}x{each}", remote, examples)
            largest, other = _largest_difference(local_rows, rows)
            layouts[f"{n} x {each} CPU"] = {
                "seconds": round(seconds, 1),
                "examples_per_hour": round(3600 * examples / seconds),
                "throughput_ratio": round(local_s / seconds, 3),
                "identical": largest == 0.0 and not other,
                "largest_difference": largest,
                "largest_difference_by_part": _by_part(local_rows, rows),
                "other_differences": other[:5],
            }
    finally:
        ray.shutdown()
    main_layout = layouts[f"{actors} x 1 CPU"]
    return {
        "model": base.llm.model,
        "examples": examples,
        "actors": actors,
        "cpus": cpus,
        "local": {"seconds": round(local_s, 1), "examples_per_hour": round(3600 * examples / local_s)},
        "ray": {k: main_layout[k] for k in ("seconds", "examples_per_hour")},
        "throughput_ratio": main_layout["throughput_ratio"],
        "layouts": layouts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--model", help="embedded model (default: the default model)")
    parser.add_argument("--actors", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = ray_engine_section(Path(tmp), examples=args.examples, model=args.model, actors=args.actors)
    result["machine"] = platform.platform()
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
