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

With ``--tiers full cascade cheap`` the scoring tiers are compared in one run (one store, so
the later variants reuse the calls the first made): every example sampled (BSDetector for
all), the cascade, and the cheap tier alone; plus, with no further call, ``full`` as it was
before the ending rule (``scoring.w_ending=0``). Each row also gives the AUROC on the design
and held-out halves (a hash of the id) and the share of examples the sampled tier took.

Samples are drawn at temperature 1, so any change to a sample request (a prompt, a stop, a
prefix) draws new ones, and the AUROC moves with the draw alone. ``±`` (``auroc_draw_sd``) is
that spread: the standard deviation of the final confidence's AUROC when each sampled
example's samples are redrawn, with replacement, from its own (200 redraws, no call). It is a
lower bound (a real redraw, ``--set llm.seed=1``, moved the AUROC as far or a little further):
two variants that differ by less than about twice it cannot be told apart on one draw.

Run from the repository root (about 10-30 s per example on 2 CPU cores when fresh)::

    python -m benchmarks.detection --per-dataset 30 --fresh
    python -m benchmarks.detection --preset faithful --per-dataset 20
    python -m benchmarks.detection --fresh --set scoring.early_stop=false  # a variant
    python -m benchmarks.detection --per-dataset 160 --tiers full cascade cheap

Prints a table and writes ``benchmarks/results/detection.json`` (one entry per preset, or
per preset and ``--set`` overrides, or per tier variant).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.options import add_set_option, parse_set  # noqa: E402
from curation import confidence as cmath  # noqa: E402
from curation import stats  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.config_values import RULE_SIGNALS, SOFT_SIGNALS  # noqa: E402
from curation.fold import final_confidences  # noqa: E402
from curation.ingest import read_dataset  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.presets import PRESETS  # noqa: E402
from curation.score import score_key  # noqa: E402
from curation.store import Store  # noqa: E402
from curation.tiers import tier_counts  # noqa: E402

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
    return round(stats.error_auroc([v for v, _ in pairs], [e for _, e in pairs]), 3)


def draw_spread(
    rows: list[dict], errors: list[int], config: Config, *, draws: int = 200, seed: int = 0
) -> float | None:
    """Standard deviation of the final confidence's AUROC over redraws of the samples: each
    sampled example's consistency recomputed from its own samples' agreements drawn with
    replacement, its BSDetector part recombined with its reflection and the dataset folded
    again (pure; None where no example has samples)."""
    agreements = [[s["agreement"] for s in (r["explanation"] or {}).get("samples", [])] for r in rows]
    if not any(agreements):
        return None
    rng = random.Random(seed)
    beta = config.scoring.beta
    values = []
    for _ in range(draws):
        redrawn = []
        for row, own in zip(rows, agreements):
            if own and "bsdetector" in row["signals"]:
                observed = sum(rng.choice(own) for _ in own) / len(own)
                bsd = cmath.combine(observed, row["reflection"], beta=beta)
                row = {**row, "signals": {**row["signals"], "bsdetector": bsd}}
            redrawn.append(row)
        folded = final_confidences(redrawn, config)
        values.append(_auroc([folded[r["example_id"]][0] for r in rows], errors))
    return round(statistics.stdev(v for v in values if v is not None), 4)


def design_half(example_id: str) -> bool:
    """The half of the examples that chooses settings (the other half checks them)."""
    return int(hashlib.sha256(example_id.encode()).hexdigest(), 16) % 2 == 0


def evaluate(
    store: Store, name: str, config: Config, labels: dict[str, dict], seconds: float, calls: float, **refold: float
) -> dict:
    """Every metric for one dataset already run through the pipeline; ``refold`` weights
    (e.g. ``w_ending=0``) re-decide the confidence from the stored signals, with no call."""
    info = store.dataset(name)
    rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(config))}
    ids = [i for i in rows if rows[i]["status"] == "ok"]
    if refold:
        folded = final_confidences(
            [rows[i] for i in ids], config.with_overrides({f"scoring.{k}": v for k, v in refold.items()})
        )
        for i in ids:
            rows[i] = {**rows[i], "confidence": folded[i][0]}
    errors = [int(labels[i]["is_error"]) for i in ids]
    halves = {
        half: _auroc(
            [rows[i]["confidence"] for i in ids if design_half(i) == want],
            [e for i, e in zip(ids, errors) if design_half(i) == want],
        )
        for half, want in (("design", True), ("held_out", False))
    }
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
    counts = tier_counts(rows.values())
    return {
        "examples": len(rows),
        "scored": len(ids),
        "errors": sum(errors),
        "auroc": auroc,
        "auroc_halves": halves,
        "auroc_draw_sd": draw_spread([rows[i] for i in ids], errors, config),
        "sampled_share": round(counts["sampled"] / max(len(ids), 1), 3),
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
    preset: str,
    per_dataset: int,
    datasets: tuple[str, ...],
    store_path: Path,
    overrides: dict[str, str] | None = None,
    *,
    suffix: str = "",
    refold: dict[str, float] | None = None,
) -> dict:
    """One variant over the datasets; ``suffix`` names its own copy of each dataset (variants
    that share a store share its call cache, not its scores); ``refold``: see :func:`evaluate`."""
    config = PRESETS[preset].with_overrides(overrides or {})
    results = {}
    with Store(store_path) as store:
        for file_name in datasets:
            path = ROOT / "sample_data" / file_name
            name = f"{path.name.split('.')[0]}-{per_dataset}{suffix}"
            if store.find_dataset(name) is None:
                store.add_dataset(_subset(path, per_dataset), name=name)
            started = time.perf_counter()
            summary = run_pipeline(store, name, config)
            elapsed = time.perf_counter() - started
            calls = summary.stats.get("calls", 0)
            results[name] = evaluate(store, name, config, _labels(path), elapsed, calls, **(refold or {}))
            results[name]["cache_hits"] = summary.stats.get("cache_hits", 0)
            print(f"{name}: done in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return {
        "preset": preset,
        "overrides": {**(overrides or {}), **{f"scoring.{k}": v for k, v in (refold or {}).items()}},
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


def _fmt3(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--per-dataset", type=int, default=30)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--fresh", action="store_true", help="empty call cache (honest timings)")
    parser.add_argument(
        "--tiers",
        nargs="+",
        choices=("full", "cascade", "cheap"),
        help="compare these scoring tiers in one run (full first: the others reuse its calls)",
    )
    add_set_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    settings = parse_set(parser, args.set)
    WORK.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        store_path = Path(tempfile.mkdtemp(dir=WORK)) / "detection.duckdb"
    else:
        store_path = WORK / "detection.duckdb"
    variants = {" ".join([args.preset, *args.set]): {}}
    if args.tiers:
        order = sorted(args.tiers, key=("full", "cascade", "cheap").index)
        variants = {f"{args.preset} {' '.join(args.set)} tiers={t}".replace("  ", " "): {"tiers": t} for t in order}
        if "full" in order:
            variants[f"{args.preset} tiers=full without the ending rule"] = {"tiers": "full", "refold": True}
    reports = {}
    for label, variant in variants.items():
        tier = variant.get("tiers")
        overrides = {**settings, **({"scoring.tiers": tier} if tier else {})}
        report = run(
            args.preset,
            args.per_dataset,
            tuple(args.datasets),
            store_path,
            overrides,
            suffix=f"-{tier}" if tier else "",
            refold={"w_ending": 0.0} if variant.get("refold") else None,
        )
        report["fresh"] = args.fresh
        print_table(report)
        reports[label] = report
    if len(reports) > 1:
        print_comparison(reports)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    existing.update(reports)
    args.out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


def print_comparison(reports: dict[str, dict]) -> None:
    """Variants side by side: AUROC per dataset (whole / design / held-out), sampled share, calls."""
    print(
        f"\n{'variant':<42}{'dataset':<28}{'AUROC':>7}{'±':>7}{'design':>8}{'held-out':>10}{'sampled':>9}"
        f"{'calls+hits/ex':>15}"
    )
    for label, report in reports.items():
        for name, r in report["datasets"].items():
            per = (r["calls_per_example"] * r["examples"] + r.get("cache_hits", 0)) / max(r["examples"], 1)
            h = r["auroc_halves"]
            print(
                f"{label[:42]:<42}{name[:28]:<28}{_fmt(r['auroc']['confidence']):>7}"
                f"{_fmt3(r.get('auroc_draw_sd')):>7}{_fmt(h['design']):>8}"
                f"{_fmt(h['held_out']):>10}{r['sampled_share']:>9.2f}{per:>15.1f}"
            )


if __name__ == "__main__":
    sys.exit(main())
