"""The measurements of the correction benchmark (:mod:`benchmarks.correction`), read from a finished run.

In: a project store after score → filter → correct, the dataset's name, its config and the
labels (example id -> ``is_error``, ``kind``, ``clean_response``, ``prompt``). Out: plain dicts,
written as they are into ``benchmarks/results/correction.json``:

* :func:`proposals_by_variant`: per variant (the run's own proposals, the samples' majority
  answer, the closed set's most likely member), example id -> (proposed text, auto-applied);
* :func:`correction_metrics`: the shares of one variant's proposals, overall and per error kind;
* :func:`detection_metrics`: AUROC with and without the contrast signal, per weight and half;
* :func:`propose_at_sweep`, :func:`fit_calibration`, :func:`calibration_check` and
  :func:`evidence_rates`: the contest's thresholds, calibration and evidence rates, fitted on
  the design half (:func:`design_half`) and checked on the other.

No call is made: every value comes from what the run stored.
"""

from __future__ import annotations

import hashlib

from benchmarks.detection import _auroc
from curation import alternatives, contest, stats
from curation import confidence as cmath
from curation.config import Config
from curation.correct import rule_checked
from curation.fold import final_confidences
from curation.judge import same_position
from curation.score import score_key
from curation.store import Store

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
    return contest.p_right(p, evidence_class(proposal), kinds)


def evidence_class(proposal: dict) -> str | None:
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
    """The shares for one variant (see :mod:`benchmarks.correction`), overall and per error kind."""

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


def fit_calibration(points: list[tuple[float, int]]) -> contest.Calibration:
    """The contest's calibration (margin -> P(candidate right)) fitted on (margin, right) points."""
    a, b = stats.fit_logistic([m for m, _ in points], [y for _, y in points])
    return contest.Calibration(version="refit", intercept=round(a, 3), slope=round(b, 3))


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


def calibration_check(points: list[tuple[float, int]], calibration: contest.Calibration, eta: float) -> dict:
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
