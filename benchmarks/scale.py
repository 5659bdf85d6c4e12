"""Scale: a million generated chat rows through import, export and review (issue #17).

Sections, chosen with ``--sections`` (default: all, in this order; each writes its own key of
the results file, so a run of some sections keeps the others' last results):

- ``import``: writes N generated chat rows (JSONL, a few hundred bytes each; ids as
  :func:`benchmarks.review_latency.example_id`) to the work folder, then imports them into a
  fresh store in a child process: the import's seconds and the child's peak RSS (its
  ``ru_maxrss``, beside that of a child that only loads the same modules). Goal: 1M rows in
  at most 3 min and 1.5 GB.
- ``export``: gives the store scores, flags, proposals and decisions
  (:func:`benchmarks.review_latency.seed`), then exports it as JSONL in a child: seconds, peak
  RSS. Goal: at most 1 min.
- ``review``: :func:`benchmarks.review_latency.measure` and ``whole_page`` on that store: next
  example p95 < 300 ms, decision p95 < 100 ms.
- ``batch``: the Batch API path against the loopback server (:mod:`benchmarks.scale_batch`, on
  at most 2,000 made-up sums of its own): normal chat calls (0) and batches sent again after two
  SIGKILLs (0), and whether it decides as a run of normal calls.

A section that needs the store builds it (import, then seed) when an earlier one has not.
Prints a table per section and writes ``benchmarks/results/scale.json``.

    .venv/bin/python -m benchmarks.scale [--n 1000000] [--sections import,export,review] [--reps 30]
        [--workdir DIR]   (keep the generated file and store there between runs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.review_latency import WORDS, example_id, measure, print_table, seed, whole_page

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
GOALS = {"import_seconds": 180.0, "import_peak_rss_mb": 1536.0, "export_seconds": 60.0}
DATASET = "scale"


@dataclass
class Workspace:
    """The generated file and the store the sections share."""

    folder: Path
    n: int

    @property
    def data(self) -> Path:
        return self.folder / f"chat-{self.n}.jsonl"

    @property
    def store(self) -> Path:
        return self.folder / f"scale-{self.n}.duckdb"

    def data_file(self) -> Path:
        if not self.data.exists():
            write_chat(self.data, self.n)
        return self.data

    def imported(self) -> Path:
        """The store holding the generated file (imported here, unmeasured, if no section did)."""
        if not self.store.exists():
            in_child("import", str(self.store), str(self.data_file()))
        return self.store

    def seeded_store(self) -> Path:
        """The store with scores, flags, proposals and decisions (seeded here if not yet)."""
        from curation.store import Store

        with Store(self.imported()) as store:
            seeded = bool(store.runs(1))
        if not seeded:
            seed(self.store, 1, self.n)
        return self.store


def write_chat(path: Path, n: int, *, answer_words: int = 60) -> Path:
    """``n`` chat records: a system turn, a question of 12 words, an answer of 5 to ``answer_words`` words."""
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            turns = [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": " ".join(rng.choices(WORDS, k=12)) + f" #{i}?"},
                {"role": "assistant", "content": " ".join(rng.choices(WORDS, k=rng.randint(5, answer_words)))},
            ]
            out.write(json.dumps({"id": example_id(i), "messages": turns}) + "\n")
    return path


def in_child(task: str, *args: str) -> dict:
    """Run ``task`` (see :data:`CHILD_TASKS`) in a fresh interpreter; its report and its peak RSS in MB."""
    command = [sys.executable, "-m", "benchmarks.scale", "--child", task, *args]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not every child's
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"child {task} failed with exit code {child.returncode}")
    return {**json.loads(out), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def _child_import(store: str, data: str, memory_limit: str = "") -> dict:
    from curation.ingest import import_file
    from curation.store import Store

    start = time.perf_counter()
    with Store(store, **({"memory_limit": memory_limit} if memory_limit else {})) as opened:
        info = import_file(opened, data, name=DATASET).dataset
    return {"seconds": round(time.perf_counter() - start, 1), "examples": info.n_examples}


def _child_export(store: str, out: str) -> dict:
    from curation.export import export_dataset
    from curation.store import Store

    start = time.perf_counter()
    with Store(store) as opened:
        result = export_dataset(opened, out, dataset=DATASET)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "counts": result.counts, "bytes": Path(out).stat().st_size}


def _child_modules() -> dict:
    """Load what an import or export loads, and nothing more: the floor of their peak RSS."""
    import curation.export  # noqa: F401
    import curation.ingest  # noqa: F401
    from curation.store import Store

    with Store(":memory:"):
        pass
    return {}


CHILD_TASKS: dict[str, Callable[..., dict]] = {
    "import": _child_import,
    "export": _child_export,
    "modules": _child_modules,
}


def section_import(ws: Workspace, args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    data = ws.data_file()
    write_s = time.perf_counter() - start
    ws.store.unlink(missing_ok=True)
    done = in_child("import", str(ws.store), str(data))
    floor = in_child("modules")["peak_rss_mb"]
    report = {
        "rows": ws.n,
        "file_mb": round(data.stat().st_size / 2**20, 1),
        "write_seconds": round(write_s, 1),
        "seconds": done["seconds"],
        "peak_rss_mb": done["peak_rss_mb"],
        "modules_peak_rss_mb": floor,
        "store_mb": round(ws.store.stat().st_size / 2**20, 1),
        "goal": {"seconds": GOALS["import_seconds"], "peak_rss_mb": GOALS["import_peak_rss_mb"]},
    }
    report["meets_goal"] = report["seconds"] <= GOALS["import_seconds"] and (
        report["peak_rss_mb"] <= GOALS["import_peak_rss_mb"]
    )
    print(
        f"import {ws.n:,} rows ({report['file_mb']} MB): {report['seconds']} s, peak RSS "
        f"{report['peak_rss_mb']} MB (modules alone {floor} MB); goal ≤ 180 s, ≤ 1536 MB: "
        f"{'ok' if report['meets_goal'] else 'MISSED'}"
    )
    return report


def section_export(ws: Workspace, args: argparse.Namespace) -> dict:
    store = ws.seeded_store()
    out = ws.folder / "curated.jsonl"
    done = in_child("export", str(store), str(out))
    report = {
        "rows": ws.n,
        "seconds": done["seconds"],
        "peak_rss_mb": done["peak_rss_mb"],
        "file_mb": round(done["bytes"] / 2**20, 1),
        "counts": done["counts"],
        "goal": {"seconds": GOALS["export_seconds"]},
        "meets_goal": done["seconds"] <= GOALS["export_seconds"],
    }
    print(
        f"export {ws.n:,} rows: {report['seconds']} s, peak RSS {report['peak_rss_mb']} MB, "
        f"{report['file_mb']} MB written ({done['counts']}); goal ≤ 60 s: {'ok' if report['meets_goal'] else 'MISSED'}"
    )
    return report


def section_review(ws: Workspace, args: argparse.Namespace) -> dict:
    results, assign_s = measure(ws.seeded_store(), 1, ws.n, args.reps)
    results.update(whole_page(ws.store, args.reps))
    print(f"review on {ws.n:,} examples ({args.reps} repetitions; whole queue assigned in {assign_s:.1f} s)")
    print_table(results)
    return {"examples": ws.n, "repetitions": args.reps, "assign_whole_queue_seconds": round(assign_s, 2), **results}


def section_batch(ws: Workspace, args: argparse.Namespace) -> dict:
    from benchmarks.scale_batch import MAX_EXAMPLES, batch_api_section

    report = batch_api_section(ws.folder / "batch", examples=min(ws.n, MAX_EXAMPLES))
    killed = report["killed"]
    print(
        f"batch API on {report['examples']:,} sums: {report['batch']['batches']} batches, "
        f"{report['batch']['chat_calls']} normal calls (a run without: {report['normal']['chat_calls']}); "
        f"killed {killed['killed']} times: {killed['resubmissions']} batches sent again, "
        f"{killed['chat_calls']} normal calls; same decisions: {report['same_decisions']}"
    )
    return report


def section_ray(ws: Workspace, args: argparse.Namespace) -> dict:
    from benchmarks.scale_ray import ray_engine_section

    report = ray_engine_section(ws.folder / "ray", examples=min(ws.n, 40))
    print(f"ray engine, 2 actors, against the local engine: {report}")
    return report


#: Section name -> the function that runs it and returns its report.
SECTIONS: dict[str, Callable[[Workspace, argparse.Namespace], dict]] = {
    "import": section_import,
    "export": section_export,
    "review": section_review,
    "batch": section_batch,
    "ray": section_ray,
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument(
        "--workdir", type=Path, help="keep the generated file and store here (default: a temporary folder)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=CHILD_TASKS, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        print(json.dumps(CHILD_TASKS[args.child](*rest)))
        return {}
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        ws = Workspace(folder, args.n)
        report = {name: {**SECTIONS[name](ws, args), "machine": _machine()} for name in chosen}
    merged = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    merged.update(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return report


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    main()
