"""Auto-Correct as a contest against today's few-shot candidate and LLM judge, every sample dataset in full.

Each dataset is imported twice into one store and run through score → filter → correct with
the embedded model:

* ``today``: the few-shot candidate judged by the two-order LLM judge alone, scoring without
  the contrast signal (``correct.sources=few_shot correct.judge=llm scoring.w_contrast=0``);
* ``contest``: the default (candidates from the samples, the closed set, prompt spans and the
  few-shot answer, chosen by confidence; contrast in the confidence).

From the same run, with no further call: ``samples_majority`` (propose the samples' majority
answer whenever it differs from the response) and ``closed_set`` (propose the most likely
member of the closed set, confident-learning style) over the contest run's flags.

Per dataset and error kind: ``proposal_fixes_share`` (flagged corrupted examples whose proposal
gives the clean answer, worded alike or not
(:func:`benchmarks.correction_metrics.gives_clean_answer`; ``_exact``: the same
answer by :func:`curation.confidence.answers_match`); also over all corrupted),
``proposal_changes_clean_share`` (clean
examples a proposal would change), ``auto_applied_precision`` at η and the share of fixable
errors auto-applied (fixable = some candidate matches the clean answer); detection AUROC with
and without the contrast signal, contrast alone, recall per kind at γ. With ``--timing N``, the
correct stage of both variants is timed on the first N examples of each dataset with none of
its own calls cached (likelihoods that scoring already computed are reused, as in a real run).

The contest's calibration (margin → P(candidate right)) is refitted on the design half of the
examples (a hash of the id) and checked on the other half; the shipped one is
:data:`curation.contest.CALIBRATION`. So are the evidence rates (the share of winners a rule
checks, repairs and verified worked answers, that were right; :data:`curation.contest.EVIDENCE`).

    python -m benchmarks.correction                      # all four datasets, in full
    python -m benchmarks.correction --datasets passage_qa.jsonl --limit 40
    python -m benchmarks.correction --timing 40          # also: correct-stage seconds per flagged example

Prints a table and writes ``benchmarks/results/correction.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.correction_metrics import (  # noqa: E402
    calibration_check,
    correction_metrics,
    design_half,
    detection_metrics,
    evidence_class,
    evidence_rates,
    fit_calibration,
    fixable_ids,
    gives_clean_answer,
    proposals_by_variant,
    propose_at_sweep,
)
from benchmarks.detection import DATASETS, _labels, _subset  # noqa: E402
from curation import contest  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.store import Store, prompt_text  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "correction.json"
WORK = ROOT / "benchmarks" / ".work"
TODAY = {"correct.sources": "few_shot", "correct.judge": "llm", "scoring.w_contrast": 0}


class ScoringCacheOnly:
    """A call cache that serves only likelihoods (what scoring computed, as a real correct stage
    would find them) and writes nothing: every other call of the stage is made afresh."""

    def __init__(self, store: Store):
        self._store = store

    def cache_get_many(self, keys: list[str]) -> dict[str, dict]:
        return self._store.cache_get_many([k for k in keys if k.startswith(("continuation:", "score_tokens:"))])

    def cache_put(self, key: str, **_: object) -> None:
        return None


def time_correct(store: Store, parsed, stem: str, variants: dict[str, Config], n: int) -> dict:
    """Seconds of the correct stage per flagged example, fresh calls, per variant (read back from
    the store's first correct run of the timing dataset, so a rerun reports the same timing)."""
    from curation.llm.client import LLMClient
    from curation.llm.embedded import EmbeddedBackend

    parsed.examples = parsed.examples[:n]
    out = {}
    for variant, config in variants.items():
        name = f"{stem}-{variant}-timing-{n}"
        if store.find_dataset(name) is None:
            store.add_dataset(parsed, name=name)
        info = store.dataset(name)
        run_pipeline(store, name, config, stages=("score", "filter"))
        if not any(r["stage"] == "correct" for r in store.runs(info.dataset_id)):
            client = LLMClient(EmbeddedBackend(config.llm), cache=ScoringCacheOnly(store), config=config.llm)
            run_pipeline(store, name, config, stages=("correct",), client=client)
        first = min(
            (r for r in store.runs(info.dataset_id) if r["stage"] == "correct" and r["finished_at"]),
            key=lambda r: r["started_at"],
        )
        seconds = (first["finished_at"] - first["started_at"]).total_seconds()
        worked = first["n_done"] + first["n_failed"]
        out[variant] = {
            "flagged": len(store.flagged_ids(info.dataset_id)),
            "seconds": round(seconds, 1),
            "seconds_per_flagged": round(seconds / worked, 2) if worked else None,
            "calls": first["calls"],
        }
    return out


def run(datasets: tuple[str, ...], limit: int | None, store_path: Path, timing: int = 0, suffix: str = "") -> dict:
    default = Config()
    variants = {"today": default.with_overrides(TODAY), "contest": default}
    report: dict = {"datasets": {}, "calibration": {}}
    points: dict[str, list[tuple[float, int]]] = {"design": [], "held_out": []}
    evidence: dict[str, list[tuple[str, int]]] = {"design": [], "held_out": []}
    with Store(store_path) as store:
        for file_name in datasets:
            path = ROOT / "sample_data" / file_name
            labels = _labels(path)
            parsed = _subset(path, limit or len(labels))
            labels = {e.example_id: {**labels[e.example_id], "prompt": prompt_text(e.prompt)} for e in parsed.examples}
            stem = path.name.split(".")[0]
            entry: dict = {"examples": len(labels), "errors": sum(v["is_error"] for v in labels.values())}
            for variant, config in variants.items():
                name = f"{stem}-{variant}{suffix}-{len(labels)}"
                if store.find_dataset(name) is None:
                    store.add_dataset(parsed, name=name)
                started = time.perf_counter()
                summary = run_pipeline(store, name, config)
                print(
                    f"{name}: {time.perf_counter() - started:.0f} s, {summary.stats.get('calls', 0):.0f} calls; "
                    + "; ".join(summary.notes + summary.warnings),
                    file=sys.stderr,
                    flush=True,
                )
                info = store.dataset(name)
                flagged = set(store.flagged_ids(info.dataset_id))
                fixable = fixable_ids(store, name, labels)
                by_variant = proposals_by_variant(store, name, config, contest.CALIBRATION, labels)
                entry[variant] = {
                    "flagged": len(flagged),
                    **correction_metrics(by_variant["run"], flagged, labels, fixable),
                    "detection": detection_metrics(store, name, config, labels),
                }
                if variant == "contest":
                    entry["contest"]["last_run_notes"] = summary.notes
                    # what the stage itself applied (the shares above re-decide from the stored margins)
                    entry["contest"]["stage_auto_applied"] = sum(
                        1 for i, p in store.proposals(info.dataset_id).items() if i in flagged and p["auto_applied"]
                    )
                    entry["contest"]["propose_at_sweep"] = propose_at_sweep(store, name, labels)
                    for extra in ("samples_majority", "closed_set"):
                        entry[extra] = correction_metrics(by_variant[extra], flagged, labels, fixable)
                    for i, p in store.proposals(info.dataset_id).items():
                        if p.get("margin") is not None and i in flagged:
                            half = "design" if design_half(i) else "held_out"
                            right = gives_clean_answer(p["candidate"], labels[i])
                            points[half].append((p["margin"], int(right)))
                            kind = evidence_class(p)
                            if kind:
                                evidence[half].append((kind, int(right)))
            if timing:
                entry["timing"] = time_correct(store, _subset(path, timing), stem + suffix, variants, timing)
            report["datasets"][stem] = entry
        refit = fit_calibration(points["design"]) if len({y for _, y in points["design"]}) == 2 else None
        report["calibration"] = {
            "shipped": contest.CALIBRATION.__dict__,
            "refit_on_design_half": refit and refit.__dict__,
            "points": {k: len(v) for k, v in points.items()},
            "held_out": calibration_check(points["held_out"], refit or contest.CALIBRATION, default.correct.eta),
        }
        report["evidence"] = {
            "shipped": {"version": contest.EVIDENCE.version, "rates": dict(contest.EVIDENCE.rates)},
            **{half: evidence_rates(evidence[half]) for half in ("design", "held_out")},
        }
    return report


def print_table(report: dict) -> None:
    head = (
        f"{'dataset':<18}{'variant':<18}{'flag':>5}{'fix%fl':>8}{'fix%all':>8}{'clean Δ':>8}{'auto':>6}"
        f"{'auto P':>8}{'auto/fixable':>13}{'AUROC':>7}{'no-contr':>9}{'s/flag':>7}"
    )
    print(head)
    for stem, entry in report["datasets"].items():
        for variant in ("today", "contest", "samples_majority", "closed_set"):
            r = entry.get(variant)
            if r is None:
                continue
            det = r.get("detection", {})
            print(
                f"{stem:<18}{variant:<18}{r.get('flagged', ''):>5}{_fmt(r['proposal_fixes_share']):>8}"
                f"{_fmt(r['proposal_fixes_share_of_all']):>8}{_fmt(r['proposal_changes_clean_share']):>8}"
                f"{r['auto_applied']:>6}{_fmt(r['auto_applied_precision']):>8}"
                f"{_fmt(r['auto_applied_fixable_share']):>13}{_fmt(det.get('auroc')):>7}"
                f"{_fmt(det.get('auroc_without_contrast')):>9}"
                f"{_fmt(entry.get('timing', {}).get(variant, {}).get('seconds_per_flagged')):>7}"
            )
    print("calibration:", json.dumps(report["calibration"]))
    print("evidence:", json.dumps(report["evidence"]))


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--limit", type=int, default=None, help="first N examples of each dataset (default: all)")
    parser.add_argument(
        "--store",
        type=Path,
        default=WORK / "correction.duckdb",
        help="the project store (its call cache makes a rerun cost no call)",
    )
    parser.add_argument(
        "--timing",
        type=int,
        default=0,
        metavar="N",
        help="also time the correct stage, fresh calls, on the first N examples of each dataset",
    )
    parser.add_argument(
        "--suffix",
        default="",
        help="added to the datasets' names: a fresh run of the stages "
        "after a change (the call cache still serves what is the same)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.store.parent.mkdir(parents=True, exist_ok=True)
    report = run(tuple(args.datasets), args.limit, args.store, args.timing, args.suffix)
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
