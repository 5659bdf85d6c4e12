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
gives the clean answer, worded alike or not (:func:`gives_clean_answer`; ``_exact``: the same
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
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.detection import DATASETS, _auroc, _labels, _subset  # noqa: E402
from curation import alternatives, contest, stats  # noqa: E402
from curation import confidence as cmath  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.correct import rule_checked  # noqa: E402
from curation.fold import final_confidences  # noqa: E402
from curation.judge import same_position  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.score import score_key  # noqa: E402
from curation.store import Store, prompt_text  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "correction.json"
WORK = ROOT / "benchmarks" / ".work"
TODAY = {"correct.sources": "few_shot", "correct.judge": "llm", "scoring.w_contrast": 0}
#: Weights of the contrast signal compared on each half (chosen on the design half).
CONTRAST_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def design_half(example_id: str) -> bool:
    """Half of the examples, fixed by their id, on which the calibration is fitted."""
    return hashlib.sha256(example_id.encode()).digest()[0] % 2 == 0


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def _p(proposal: dict, calibration: contest.Calibration, kinds: contest.Evidence = contest.EVIDENCE) -> float | None:
    """The proposal's P(better) re-decided with ``calibration`` (the LLM judge joins where
    informative) and the evidence rates ``kinds`` (:func:`curation.contest.p_right`)."""
    if proposal.get("margin") is None:
        return proposal.get("judge_confidence")
    p = contest.p_better(proposal["margin"], calibration)
    verdicts = proposal["verdicts"]
    if len(verdicts) == 2 and same_position(verdicts) is None and all(v["parsed"] for v in verdicts):
        p = (p + cmath.judge_confidence(verdicts[0]["p"], verdicts[1]["p"])) / 2
    return contest.p_right(p, _evidence(proposal), kinds)


def _evidence(proposal: dict) -> str | None:
    """The evidence class of a stored proposal's winner (:func:`curation.correct.rule_checked`)."""
    original, *candidates = (contest.Scored.from_json(c) for c in proposal["candidates"])
    return rule_checked(candidates[0], original, candidates)


def proposals_by_variant(
    store: Store, name: str, config: Config, calibration: contest.Calibration, labels: dict[str, dict]
) -> dict[str, dict[str, tuple[str, bool]]]:
    """Per variant, example id -> (proposed text, applied automatically) over the run's flags."""
    info = store.dataset(name)
    c = config.correct
    stored = store.proposals(info.dataset_id)
    out: dict[str, dict[str, tuple[str, bool]]] = {"run": {}, "samples_majority": {}, "closed_set": {}}
    rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(config))}
    for i in store.flagged_ids(info.dataset_id):
        p = stored.get(i)
        if p and p["status"] in ("ok", "weaker") and p["candidate"]:
            prob = _p(p, calibration) if c.judge != "llm" else p["judge_confidence"]
            if c.judge == "llm" or prob >= c.propose_at:
                out["run"][i] = (p["candidate"], c.auto_apply and prob >= c.eta)
        answers = [s["answer"] for s in (rows.get(i) or {}).get("explanation", {}).get("samples", [])]
        top = alternatives.majority(answers)
        response = store.example(info.dataset_id, i).response
        if top and not cmath.answers_match(top[0], response):
            out["samples_majority"][i] = (top[0], False)
        members = [x for x in (p or {}).get("candidates", []) if x["source"] in ("closed_set", "original")]
        if len(members) > 1 and all(x["likelihood"] is not None for x in members):
            best = max(members, key=lambda x: x["likelihood"])
            if best["source"] != "original":
                out["closed_set"][i] = (best["text"], False)
    return out


def gives_clean_answer(text: str, label: dict) -> bool:
    """Whether a proposal gives the clean answer, worded alike or not
    (:func:`curation.confidence.same_answer`: ``Gold is represented by 'Au'.`` gives ``The
    chemical symbol for gold is Au.``); ``*_exact`` shares count identical answers only."""
    return cmath.same_answer(text, label["clean_response"], label["prompt"])


def correction_metrics(
    proposed: dict[str, tuple[str, bool]], flagged: set[str], labels: dict[str, dict], fixable: set[str]
) -> dict:
    """The shares for one variant (see the module docstring), overall and per error kind."""

    def right(i: str) -> bool:
        return gives_clean_answer(proposed[i][0], labels[i])

    def exact(i: str) -> bool:
        return cmath.answers_match(proposed[i][0], labels[i]["clean_response"])

    def block(ids: list[str]) -> dict:
        corrupted = [i for i in ids if labels[i]["is_error"]]
        caught = [i for i in corrupted if i in flagged]
        clean = [i for i in ids if not labels[i]["is_error"]]
        applied = [i for i in ids if i in proposed and proposed[i][1]]
        return {
            "corrupted": len(corrupted),
            "flagged_corrupted": len(caught),
            "proposal_fixes_share": _share(sum(1 for i in caught if i in proposed and right(i)), len(caught)),
            "proposal_fixes_share_exact": _share(sum(1 for i in caught if i in proposed and exact(i)), len(caught)),
            "proposal_fixes_share_of_all": _share(
                sum(1 for i in corrupted if i in proposed and right(i)), len(corrupted)
            ),
            "proposal_changes_clean_share": _share(sum(1 for i in clean if i in proposed), len(clean)),
            "proposals": sum(1 for i in ids if i in proposed),
            "auto_applied": len(applied),
            "auto_applied_precision": _share(
                sum(1 for i in applied if labels[i]["is_error"] and right(i)), len(applied)
            ),
            "fixable": sum(1 for i in caught if i in fixable),
            "auto_applied_fixable_share": _share(
                sum(1 for i in caught if i in fixable and i in proposed and proposed[i][1] and right(i)),
                sum(1 for i in caught if i in fixable),
            ),
        }

    ids = list(labels)
    kinds = sorted({labels[i]["kind"] for i in ids if labels[i]["is_error"]})
    return {**block(ids), "by_kind": {k: block([i for i in ids if labels[i]["kind"] == k]) for k in kinds}}


def detection_metrics(store: Store, name: str, config: Config, labels: dict[str, dict]) -> dict:
    """AUROC of the confidence with and without the contrast signal, contrast alone, recall by kind at γ."""
    info = store.dataset(name)
    rows = [r for r in store.scores(info.dataset_id, score_key(config)) if r["status"] == "ok"]
    ids = [r["example_id"] for r in rows]
    errors = [int(labels[i]["is_error"]) for i in ids]
    with_c = final_confidences(rows, config)
    without = final_confidences(rows, config.with_overrides({"scoring.w_contrast": 0}))
    gamma = config.filter.gamma

    def recall(conf: dict) -> dict:
        kinds: dict[str, list[int]] = {}
        for i in ids:
            if labels[i]["is_error"]:
                kinds.setdefault(labels[i]["kind"], []).append(int((conf[i][0] or 0) <= gamma))
        return {k: round(sum(v) / len(v), 3) for k, v in sorted(kinds.items())}

    by_weight = {}
    for weight in CONTRAST_WEIGHTS:
        conf = final_confidences(rows, config.with_overrides({"scoring.w_contrast": weight}))
        by_weight[str(weight)] = {
            half: _auroc(
                [conf[i][0] for i in ids if design_half(i) == (half == "design")],
                [e for i, e in zip(ids, errors) if design_half(i) == (half == "design")],
            )
            for half in ("design", "held_out")
        }
    return {
        "auroc_by_contrast_weight": by_weight,
        "auroc": _auroc([with_c[i][0] for i in ids], errors),
        "auroc_without_contrast": _auroc([without[i][0] for i in ids], errors),
        "auroc_contrast_alone": _auroc([r["signals"].get("contrast") for r in rows], errors),
        "recall_by_kind": recall(with_c),
        "recall_by_kind_without_contrast": recall(without),
    }


def fixable_ids(store: Store, name: str, labels: dict[str, dict]) -> set[str]:
    """Examples where some candidate of the contest gives the clean answer."""
    info = store.dataset(name)
    return {
        i
        for i, p in store.proposals(info.dataset_id).items()
        if any(c["source"] != "original" and gives_clean_answer(c["text"], labels[i]) for c in p.get("candidates", []))
    }


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


def fit_calibration(points: list[tuple[float, int]]) -> contest.Calibration:
    a, b = stats.fit_logistic([m for m, _ in points], [y for _, y in points])
    return contest.Calibration(version="refit", intercept=round(a, 3), slope=round(b, 3))


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
                            kind = _evidence(p)
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
            "held_out": _calibration_check(points["held_out"], refit or contest.CALIBRATION, default.correct.eta),
        }
        report["evidence"] = {
            "shipped": {"version": contest.EVIDENCE.version, "rates": dict(contest.EVIDENCE.rates)},
            **{half: evidence_rates(evidence[half]) for half in ("design", "held_out")},
        }
    return report


def evidence_rates(points: list[tuple[str, int]]) -> dict:
    """Per evidence class: winners, right ones and the rate by the rule of succession
    (``(right + 1) / (all + 2)``: no class reads certain from a few examples)."""
    out = {}
    for kind in sorted({k for k, _ in points}):
        ys = [y for k, y in points if k == kind]
        out[kind] = {"n": len(ys), "right": sum(ys), "rate": round((sum(ys) + 1) / (len(ys) + 2), 3)}
    return out


#: ``correct.propose_at`` values compared on each half (chosen on the design half).
PROPOSE_AT = (0.3, 0.35, 0.4, 0.45, 0.5)


def propose_at_sweep(store: Store, name: str, labels: dict[str, dict]) -> dict:
    """Per ``propose_at`` and half: the flagged errors a proposal would fix and the clean
    examples it would change, from the stored proposals' probabilities (no call)."""
    info = store.dataset(name)
    flagged = set(store.flagged_ids(info.dataset_id))
    proposals = store.proposals(info.dataset_id)
    out: dict = {}
    for threshold in PROPOSE_AT:
        for half in ("design", "held_out"):
            ids = [i for i in flagged if design_half(i) == (half == "design")]
            made = [
                i for i in ids
                if proposals.get(i, {}).get("candidate") and (proposals[i]["judge_confidence"] or 0) >= threshold
            ]  # fmt: skip
            out.setdefault(str(threshold), {})[half] = {
                "errors": sum(1 for i in ids if labels[i]["is_error"]),
                "fixed": sum(
                    1
                    for i in made
                    if labels[i]["is_error"] and gives_clean_answer(proposals[i]["candidate"], labels[i])
                ),
                "clean_changed": sum(1 for i in made if not labels[i]["is_error"]),
            }
    return out


def _calibration_check(points: list[tuple[float, int]], calibration: contest.Calibration, eta: float) -> dict:
    """How the calibration does on examples it was not fitted on: precision at η, mean P against the hit rate."""
    applied = [(m, y) for m, y in points if contest.p_better(m, calibration) >= eta]
    mean_p = sum(contest.p_better(m, calibration) for m, _ in points) / len(points) if points else None
    return {
        "n": len(points),
        "right": sum(y for _, y in points),
        "mean_p": mean_p and round(mean_p, 3),
        "applied_at_eta": len(applied),
        "applied_precision": _share(sum(y for _, y in applied), len(applied)),
    }


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
