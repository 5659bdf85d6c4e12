"""Choose the cascade's band and fit its scale map, on a run that sampled every example.

Reads the ``-full`` datasets of a detection run (``python -m benchmarks.detection
--per-dataset 160 --tiers full ...``: every example of every sample set, all signals), and
for each example derives, with no call, the confidence the cheap tier alone would give (the
stored signals without the sampled tier's) and the full one. Then, on the **design half** of the
examples (a hash of the id):

* the scale map (:data:`curation.tiers.SCALE`): a least-squares line from the cheap confidence
  to the full one, over the examples at or above the band (those the cascade leaves cheap);
* the band: the lowest that keeps the cascade's AUROC, on every dataset, at least that of
  ``full`` before the ending rule (the default until now).

The **held-out half** then checks both. The same rows also simulate an OpenAI-compatible
endpoint, which gives no likelihoods: its cheap tier is the first self-reflection question
and the rules, its full score BSDetector and the rules; requests per example are counted from
what each example needed (a reflection each, a request per round of samples).

Prints a table per band and writes ``benchmarks/results/cascade_fit.json``::

    python -m benchmarks.cascade_fit
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.detection import DATASETS, WORK, _auroc, _labels, design_half  # noqa: E402
from curation import tiers  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.fold import cheap_confidences, final_confidences  # noqa: E402
from curation.score import score_key  # noqa: E402
from curation.store import Store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cascade_fit.json"
BANDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


#: Signals an endpoint without likelihoods cannot give.
LIKELIHOOD_SIGNALS = ("likelihood", "min_k", "ifd", "ending", "contrast")


def endpoint_view(store: Store, name: str, config: Config) -> list[dict]:
    """Each example as an endpoint would score it: cheap = first reflection and rules; full =
    BSDetector and rules; the requests each tier needs."""
    info = store.dataset(name)
    rows = [r for r in store.scores(info.dataset_id, score_key(config)) if r["status"] == "ok"]
    bare = [{**r, "signals": {k: v for k, v in r["signals"].items() if k not in LIKELIHOOD_SIGNALS}} for r in rows]
    full = final_confidences(bare, config)
    first = [
        {
            **r,
            "signals": {
                **{k: v for k, v in r["signals"].items() if k not in tiers.SAMPLED_SIGNALS},
                "bsdetector": r["explanation"]["reflections"][0]["score"],
            },
            "explanation": {"tier": tiers.CHEAP},
        }
        for r in bare
    ]
    cheap = cheap_confidences(first, config)
    labels = _labels(ROOT / "sample_data" / next(f for f in DATASETS if name.startswith(f.split(".")[0])))
    out = []
    for r in rows:
        n = len(r["explanation"].get("samples", []))
        rounds = sum(n > edge for edge in (0, config.scoring.early_stop_after, config.scoring.k))
        out.append(
            {
                "cheap": cheap[r["example_id"]],
                "full": full[r["example_id"]][0],
                "error": int(labels[r["example_id"]]["is_error"]),
                "full_requests": config.scoring.reflection_prompts + rounds,
                "full_samples": config.scoring.reflection_prompts + n,
            }
        )
    return out


def endpoint_table(data: dict[str, list[dict]], band: float) -> dict:
    """AUROC and requests per example of full and cascade on an endpoint, at ``band``."""
    out = {}
    for name, rows in data.items():
        sampled = [r for r in rows if r["cheap"] < band]
        cascade = [r["full"] if r["cheap"] < band else tiers.on_sampled_scale(r["cheap"]) for r in rows]
        n = len(rows)
        full_requests = sum(r["full_requests"] for r in rows) / n
        cascade_requests = (n + sum(r["full_requests"] - 1 for r in sampled)) / n
        out[name] = {
            "sampled_share": round(len(sampled) / n, 3),
            "auroc_full": auroc(rows, [r["full"] for r in rows]),
            "auroc_cascade": auroc(rows, cascade),
            "requests_full": round(full_requests, 2),
            "requests_cascade": round(cascade_requests, 2),
            "completions_full": round(sum(r["full_samples"] for r in rows) / n, 2),
            "completions_cascade": round((n + sum(r["full_samples"] - 1 for r in sampled)) / n, 2),
        }
    return out


def per_example(store: Store, name: str, config: Config) -> list[dict]:
    """Each example's cheap, full and pre-ending full confidence, label and half."""
    info = store.dataset(name)
    rows = [r for r in store.scores(info.dataset_id, score_key(config)) if r["status"] == "ok"]
    full = final_confidences(rows, config)
    before = final_confidences(rows, config.with_overrides({"scoring.w_ending": 0}))
    as_cheap = [
        {
            **r,
            "signals": {k: v for k, v in r["signals"].items() if k not in tiers.SAMPLED_SIGNALS},
            "explanation": {"tier": tiers.CHEAP},
        }
        for r in rows
    ]
    cheap = cheap_confidences(as_cheap, config)
    labels = _labels(ROOT / "sample_data" / next(f for f in DATASETS if name.startswith(f.split(".")[0])))
    return [
        {
            "id": r["example_id"],
            "cheap": cheap[r["example_id"]],
            "full": full[r["example_id"]][0],
            "before": before[r["example_id"]][0],
            "error": int(labels[r["example_id"]]["is_error"]),
            "design": design_half(r["example_id"]),
        }
        for r in rows
    ]


def fit_scale(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``full ≈ a + b × cheap``."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def cascade(rows: list[dict], band: float, scale: tiers.ScaleMap) -> list[float]:
    return [r["full"] if r["cheap"] < band else tiers.on_sampled_scale(r["cheap"], scale) for r in rows]


def auroc(rows: list[dict], values: list[float]) -> float | None:
    return _auroc(values, [r["error"] for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=WORK / "detection.duckdb")
    parser.add_argument("--per-dataset", type=int, default=160)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    config = Config().with_overrides({"scoring.tiers": "full"})
    with Store(args.store) as store:
        names = {f.split(".")[0]: f"{f.split('.')[0]}-{args.per_dataset}-full" for f in DATASETS}
        data = {stem: per_example(store, name, config) for stem, name in names.items()}
        endpoint = {stem: endpoint_view(store, name, config) for stem, name in names.items()}
    table = []
    for band in BANDS:
        design = [(r["cheap"], r["full"]) for rows in data.values() for r in rows if r["design"] and r["cheap"] >= band]
        a, b = fit_scale(design)
        scale = tiers.ScaleMap(version=0, intercept=round(a, 2), slope=round(b, 2), fitted_on="design half")
        entry = {"band": band, "intercept": scale.intercept, "slope": scale.slope, "datasets": {}}
        for name, rows in data.items():
            cell = {"sampled_share": round(sum(r["cheap"] < band for r in rows) / len(rows), 3)}
            for half, want in (("design", True), ("held_out", False), ("all", None)):
                part = [r for r in rows if want is None or r["design"] == want]
                cell[half] = {
                    "cascade": auroc(part, cascade(part, band, scale)),
                    "full": auroc(part, [r["full"] for r in part]),
                    "full_before_ending": auroc(part, [r["before"] for r in part]),
                    "cheap": auroc(part, [r["cheap"] for r in part]),
                }
            entry["datasets"][name] = cell
        entry["keeps_design"] = all(
            c["design"]["cascade"] >= c["design"]["full_before_ending"] for c in entry["datasets"].values()
        )
        entry["sampled_share"] = round(
            sum(r["cheap"] < band for rows in data.values() for r in rows) / sum(map(len, data.values())), 3
        )
        table.append(entry)
    chosen = next((e for e in table if e["keeps_design"]), None)
    print(f"{'band':>5}{'a':>6}{'b':>6}{'share':>7}  " + "".join(f"{n[:14]:>34}" for n in data))
    print(" " * 26 + "   cascade / full / before / cheap (design | held-out)" * 1)
    for e in table:
        cells = "".join(f"{_cell(c['design'])} | {_cell(c['held_out'])}".rjust(34) for c in e["datasets"].values())
        mark = " <- chosen" if e is chosen else ""
        print(f"{e['band']:>5}{e['intercept']:>6}{e['slope']:>6}{e['sampled_share']:>7}  {cells}{mark}")
    band = Config().scoring.band
    on_endpoint = {b: endpoint_table(endpoint, b) for b in BANDS}
    print(f"\nendpoint without likelihoods, band {band}: AUROC full / cascade, requests (completions) per example")
    for name, c in on_endpoint[band].items():
        print(
            f"{name:<22} sampled {c['sampled_share']:.2f}  AUROC {_fmt(c['auroc_full'])} / {_fmt(c['auroc_cascade'])}"
            f"  requests {c['requests_full']} -> {c['requests_cascade']}"
            f"  ({c['completions_full']} -> {c['completions_cascade']})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"chosen_band": chosen and chosen["band"], "bands": table, "endpoint": on_endpoint}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cell(c: dict) -> str:
    return "/".join("-" if c[k] is None else f"{c[k]:.3f}"[1:] for k in ("cascade", "full", "full_before_ending"))


if __name__ == "__main__":
    sys.exit(main())
