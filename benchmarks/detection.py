"""Detection quality of CLEAR on the sample datasets with planted errors, embedded model.

For each dataset: import the first N examples, run score → filter → correct with the chosen
preset, then measure against ``sample_data/<name>.labels.jsonl``:

* AUROC of the final confidence and of every signal alone for finding the planted errors
  (baselines in the same run: random, self-reflection alone — an AlpaGasus-style grader —,
  consistency alone, likelihood alone, the format/degenerate rules alone);
* precision and recall of the Auto-Filter flags at the preset's γ, and recall per error kind;
* Auto-Correct: share of corrupted examples whose applied correction matches the clean
  answer, and share of clean examples wrongly changed; and the same two shares for the
  proposals, applied or waiting (what a reviewer who accepted every proposal would get);
* LLM calls and seconds per example (seconds only mean something with ``--fresh``).

Run from the repository root (about 10-30 s per example on 2 CPU cores when fresh)::

    python -m benchmarks.detection --per-dataset 30 --fresh
    python -m benchmarks.detection --preset faithful --per-dataset 20
    python -m benchmarks.detection --fresh --set scoring.early_stop=false  # a variant

Prints a table and writes ``benchmarks/results/detection.json`` (one entry per preset, or
per preset and ``--set`` overrides).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.options import add_set_option, parse_set  # noqa: E402
from curation import confidence as cmath  # noqa: E402
from curation.config import RULE_SIGNALS, SOFT_SIGNALS, Config  # noqa: E402
from curation.ingest import read_dataset  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.presets import PRESETS  # noqa: E402
from curation.score import score_key  # noqa: E402
from curation.store import Store  # noqa: E402

DATASETS = ("support_intents.jsonl", "passage_qa.jsonl", "math_word_problems.json", "open_chat.csv")
RESULTS = ROOT / "benchmarks" / "results" / "detection.json"
WORK = ROOT / "benchmarks" / ".work"


def _labels(path: Path) -> dict[str, dict]:
    stem = path.name.split(".")[0]
    lines = (ROOT / "sample_data" / f"{stem}.labels.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


def _subset(path: Path, n: int):
    parsed = read_dataset(path)
    parsed.examples = parsed.examples[:n]
    return parsed


def _auroc(values: list[float | None], errors: list[int]) -> float | None:
    pairs = [(v, e) for v, e in zip(values, errors) if v is not None]
    if len({e for _, e in pairs}) < 2:
        return None
    return round(cmath.error_auroc([v for v, _ in pairs], [e for _, e in pairs]), 3)


def evaluate(store: Store, name: str, config: Config, labels: dict[str, dict], seconds: float, calls: float) -> dict:
    """Every metric for one dataset already run through the pipeline."""
    info = store.dataset(name)
    rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(config))}
    ids = [i for i in rows if rows[i]["status"] == "ok"]
    errors = [int(labels[i]["is_error"]) for i in ids]
    columns = {
        "confidence": [rows[i]["confidence"] for i in ids],
        "consistency": [rows[i]["consistency"] for i in ids],
        "reflection": [rows[i]["reflection"] for i in ids],
        **{s: [rows[i]["signals"].get(s) for i in ids] for s in SOFT_SIGNALS + RULE_SIGNALS},
    }
    rng = random.Random(0)
    columns["random"] = [rng.random() for _ in ids]
    columns["rules"] = [min(rows[i]["signals"].get(r, 1) for r in RULE_SIGNALS) for i in ids]
    auroc = {k: _auroc(v, errors) for k, v in columns.items()}
    flagged = set(store.flagged_ids(info.dataset_id))
    true_pos = sum(1 for i, e in zip(ids, errors) if e and i in flagged)
    kinds: dict[str, list[int]] = {}
    for i, e in zip(ids, errors):
        if e:
            kinds.setdefault(labels[i]["kind"], []).append(int(i in flagged))
    proposals = store.proposals(info.dataset_id)
    applied = {i: p for i, p in proposals.items() if p["auto_applied"]}
    corrupted = [i for i, e in zip(ids, errors) if e]
    fixed = sum(
        1
        for i in corrupted
        if i in applied and cmath.answers_match(applied[i]["candidate"], labels[i]["clean_response"])
    )
    clean = [i for i, e in zip(ids, errors) if not e]
    offered = {i: p for i, p in proposals.items() if p["status"] == "ok"}
    would_fix = sum(
        1
        for i in corrupted
        if i in offered and cmath.answers_match(offered[i]["candidate"], labels[i]["clean_response"])
    )
    return {
        "examples": len(rows),
        "scored": len(ids),
        "errors": sum(errors),
        "auroc": auroc,
        "flagged": len(flagged),
        "precision": round(true_pos / len(flagged), 3) if flagged else None,
        "recall": round(true_pos / sum(errors), 3) if sum(errors) else None,
        "recall_by_kind": {k: round(sum(v) / len(v), 3) for k, v in sorted(kinds.items())},
        "proposed": sum(1 for p in proposals.values() if p["status"] == "ok"),
        "auto_applied": len(applied),
        "corrupted_fixed_share": round(fixed / len(corrupted), 3) if corrupted else None,
        "clean_changed_share": round(sum(1 for i in clean if i in applied) / len(clean), 3) if clean else None,
        "proposal_fixes_share": round(would_fix / len(corrupted), 3) if corrupted else None,
        "proposal_changes_clean_share": round(sum(1 for i in clean if i in offered) / len(clean), 3) if clean else None,
        "calls_per_example": round(calls / max(len(rows), 1), 2),
        "seconds_per_example": round(seconds / max(len(rows), 1), 2),
    }


def run(
    preset: str, per_dataset: int, datasets: tuple[str, ...], store_path: Path, overrides: dict[str, str] | None = None
) -> dict:
    config = PRESETS[preset].with_overrides(overrides or {})
    results = {}
    with Store(store_path) as store:
        for file_name in datasets:
            path = ROOT / "sample_data" / file_name
            name = f"{path.name.split('.')[0]}-{per_dataset}"
            if store.find_dataset(name) is None:
                store.add_dataset(_subset(path, per_dataset), name=name)
            started = time.perf_counter()
            summary = run_pipeline(store, name, config)
            elapsed = time.perf_counter() - started
            results[name] = evaluate(store, name, config, _labels(path), elapsed, summary.stats.get("calls", 0))
            results[name]["cache_hits"] = summary.stats.get("cache_hits", 0)
            print(f"{name}: done in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return {
        "preset": preset,
        "overrides": overrides or {},
        "config": config.to_dict(),
        "per_dataset": per_dataset,
        "datasets": results,
    }


def print_table(report: dict) -> None:
    cols = (
        "confidence",
        "bsdetector",
        "consistency",
        "reflection",
        "likelihood",
        "min_k",
        "ifd",
        "rules",
        "injection",
        "random",
    )
    extra = "".join(f" {k}={v}" for k, v in report.get("overrides", {}).items())
    print(f"preset: {report['preset']}{extra}, {report['per_dataset']} examples per dataset")
    print(
        f"{'dataset':<26}" + "".join(f"{c[:11]:>12}" for c in cols) + f"{'P@γ':>7}{'R@γ':>7}{'fixed':>7}"
        f"{'clean Δ':>8}{'prop.fix':>9}{'prop.Δ':>7}{'calls/ex':>9}{'s/ex':>7}"
    )
    for name, r in report["datasets"].items():
        cells = "".join(f"{'-' if r['auroc'].get(c) is None else r['auroc'][c]:>12}" for c in cols)
        print(
            f"{name:<26}{cells}{_fmt(r['precision']):>7}{_fmt(r['recall']):>7}"
            f"{_fmt(r['corrupted_fixed_share']):>7}{_fmt(r['clean_changed_share']):>8}"
            f"{_fmt(r.get('proposal_fixes_share')):>9}{_fmt(r.get('proposal_changes_clean_share')):>7}"
            f"{r['calls_per_example']:>9}{r['seconds_per_example']:>7}"
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--per-dataset", type=int, default=30)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--fresh", action="store_true", help="empty call cache (honest timings)")
    add_set_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    settings = parse_set(parser, args.set)
    WORK.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        store_path = Path(tempfile.mkdtemp(dir=WORK)) / "detection.duckdb"
    else:
        store_path = WORK / "detection.duckdb"
    report = run(args.preset, args.per_dataset, tuple(args.datasets), store_path, settings)
    report["fresh"] = args.fresh
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    existing[" ".join([args.preset, *args.set])] = report
    args.out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
