"""How far the pre-run time estimate lands from the time a run really takes.

A fresh store runs the whole pipeline (score, filter, correct; default settings, the default
embedded model) on the first N examples of a sample dataset: its estimate can only use the
built-in default speed. Then the next N examples are added to the dataset (or, with
``--then``, the first N of another file become a second dataset), estimated from the speed the
first run measured in the store, and run. Reported per run: the estimate, the actual wall
time (``run_pipeline`` from call to return; the first includes loading the model), and their
ratio (estimate / actual); the goal is a calibrated estimate within 30 % of the actual time.
The process's CPU seconds are reported beside the wall time: on a shared machine, other work
slows a run by an amount no estimate can foresee.

Run from the repository root (about 5-8 s an example on 2 CPU cores: 30 a run take 7-9 min)::

    python -m benchmarks.eta --per-run 30
    python -m benchmarks.eta --per-run 30 --then support_intents.jsonl

Prints a table and writes ``benchmarks/results/eta.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from curation.config import Config  # noqa: E402
from curation.estimate import estimate_run  # noqa: E402
from curation.ingest import read_dataset  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.store import Store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "eta.json"
TARGET = (0.7, 1.3)  # estimate / actual: within 30 % of the actual time


def timed_run(store: Store, name: str, config: Config, label: str) -> dict:
    """Estimate ``name``, run it, and compare."""
    estimate = estimate_run(store, name, config)
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_pipeline(store, name, config)
    actual, cpu = time.perf_counter() - started, time.process_time() - cpu
    mine = set(summary.run_ids.values())
    stages = {
        r["stage"]: {
            "n_done": r["n_done"],
            "calls": r["calls"],  # calls: the run's so far, all stages
            "seconds": round((r["finished_at"] - r["started_at"]).total_seconds(), 1),
        }
        for r in store.runs(store.dataset(name).dataset_id)
        if r["run_id"] in mine and r["stage"] != "filter"
    }
    row = {
        "run": label,
        "dataset": name,
        "examples": estimate.examples,
        "estimate_s": round(estimate.seconds, 1),
        "actual_s": round(actual, 1),
        "cpu_s": round(cpu, 1),
        "ratio": round(estimate.seconds / actual, 2),
        "basis": estimate.basis,
        "flagged": summary.flagged,
        "proposed": summary.proposed,
        "stages": stages,
    }
    print(
        f"{label}: estimate {row['estimate_s']} s, actual {row['actual_s']} s, ratio {row['ratio']}",
        file=sys.stderr,
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="passage_qa.jsonl", help="sample_data file of the first run")
    parser.add_argument("--then", help="sample_data file of the second run (default: the next examples of --dataset)")
    parser.add_argument("--per-run", type=int, default=30, help="examples per run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    config = Config()
    first = read_dataset(ROOT / "sample_data" / args.dataset)
    second = read_dataset(ROOT / "sample_data" / (args.then or args.dataset))
    n = args.per_run
    name = Path(args.dataset).stem
    second.examples = second.examples[:n] if args.then else second.examples[n : 2 * n]
    first.examples = first.examples[:n]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "eta.duckdb") as store:
        store.add_dataset(first, name=name)
        rows = [timed_run(store, name, config, "first (default speed, loads the model)")]
        then = Path(args.then).stem if args.then else name
        store.add_dataset(second, name=then, append=not args.then)
        rows.append(timed_run(store, then, config, "second (measured speed)"))
    import llama_cpp

    report = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "llama_cpp": llama_cpp.llama_print_system_info().decode().strip(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "model": config.llm.model,
        "per_run": n,
        "dataset": args.dataset,
        "then": args.then or "next examples",
        "target_ratio": list(TARGET),
        "runs": rows,
        "calibrated_within_target": TARGET[0] <= (rows[-1]["ratio"] or 0) <= TARGET[1],
    }
    print(f"{'run':<42}{'examples':>9}{'estimate s':>12}{'actual s':>10}{'CPU s':>8}{'est/actual':>12}")
    for r in rows:
        print(
            f"{r['run']:<42}{r['examples']:>9}{r['estimate_s']:>12}{r['actual_s']:>10}{r['cpu_s']:>8}{r['ratio']:>12}"
        )
        print(f"  {r['basis']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
