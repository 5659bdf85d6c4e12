"""Insights: the automatic stages measured against the reviewers, and the reviewers against each other.

In: the store (the active score, flags, proposals and the append-only ``review_log`` that
:mod:`curation.review` writes). Out: agreement between annotators (:func:`agreement`, Cohen's
kappa), how often reviewers confirmed the Auto-Filter and Auto-Correct (:func:`auto_precision`),
the thresholds that would have reached a target precision (:func:`thresholds_for_precision`), and
the small pre-aggregated rows the Insights page charts (histograms binned in SQL, the γ count).
Only decisions in force count (the store's ``decisions_in_force``); nothing here writes, and the
SQL is the store's (:mod:`curation.store.insights`).
Scores are floats in [0, 1], higher = more likely correct.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations, groupby
from typing import Any

from curation.errors import ReviewError
from curation.store import Store

#: Decisions that say the original response was bad (the Auto-Filter was right to flag it).
CONFIRMS_BAD = ("remove", "accept", "edit")


# -- types -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairAgreement:
    annotators: tuple[str, str]
    n: int
    agreement: float
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """Inter-annotator agreement over examples decided by two or more annotators.

    ``simple``: share of those examples where every annotator's latest action is the same;
    ``kappa``: Cohen's kappa per pair of annotators, averaged weighted by shared examples.
    """

    n_examples: int
    n_agree: int
    simple: float | None
    kappa: float | None
    pairs: list[PairAgreement]


@dataclass(frozen=True)
class AutoPrecision:
    """The automatic stages as measured by reviewers (precisions in [0, 1], None when unmeasured)."""

    flagged_reviewed: int
    flagged_confirmed: int
    passed_reviewed: int
    passed_bad: int
    auto_reviewed: int
    auto_accepted: int

    @property
    def filter_precision(self) -> float | None:
        return _share(self.flagged_confirmed, self.flagged_reviewed)

    @property
    def missed_rate(self) -> float | None:
        """Among reviewed examples the filter let through, the share a reviewer found bad."""
        return _share(self.passed_bad, self.passed_reviewed)

    @property
    def correction_precision(self) -> float | None:
        return _share(self.auto_accepted, self.auto_reviewed)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float
    selected: int
    total: int


# -- agreement and measured precision ----------------------------------------------------------
def agreement(store: Store, dataset_id: int) -> Agreement:
    """Agreement between annotators' latest decisions on the examples two or more of them decided."""
    by_example: dict[str, dict[str, str]] = {}
    for example_id, who, action in store.multi_decisions(dataset_id):
        by_example.setdefault(example_id, {})[who] = action
    n_agree = sum(1 for votes in by_example.values() if len(set(votes.values())) == 1)
    pair_labels: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for votes in by_example.values():
        for a, b in combinations(sorted(votes), 2):
            first, second = pair_labels.setdefault((a, b), ([], []))
            first.append(votes[a])
            second.append(votes[b])
    pairs = [
        PairAgreement(annotators=key, n=len(x), agreement=_agree_share(x, y), kappa=cohen_kappa(x, y))
        for key, (x, y) in sorted(pair_labels.items())
    ]
    weighted = [(p.kappa, p.n) for p in pairs if p.kappa is not None]
    kappa = sum(k * n for k, n in weighted) / sum(n for _, n in weighted) if weighted else None
    return Agreement(
        n_examples=len(by_example), n_agree=n_agree, simple=_share(n_agree, len(by_example)), kappa=kappa, pairs=pairs
    )


def auto_precision(store: Store, dataset_id: int) -> AutoPrecision:
    """How often reviewers confirmed the automatic decisions.

    Flagged examples count as confirmed when the decision in force is ``remove``, ``accept`` or
    ``edit`` (the original was bad) and not when it is ``keep``; auto-applied corrections count
    as confirmed only when ``accept``-ed.
    """
    reviewed = _reviewed(store, dataset_id)
    flagged = [r for r in reviewed if r["flagged"]]
    passed = [r for r in reviewed if r["flagged"] is False]
    auto = [r for r in reviewed if r["auto_applied"]]
    return AutoPrecision(
        flagged_reviewed=len(flagged),
        flagged_confirmed=sum(r["action"] in CONFIRMS_BAD for r in flagged),
        passed_reviewed=len(passed),
        passed_bad=sum(r["action"] in CONFIRMS_BAD for r in passed),
        auto_reviewed=len(auto),
        auto_accepted=sum(r["action"] == "accept" for r in auto),
    )


def thresholds_for_precision(store: Store, dataset_id: int, target: float) -> dict[str, ThresholdChoice | None]:
    """The γ and η that would have reached ``target`` precision on the reviewed examples.

    Returns:
        ``{"gamma": ..., "eta": ...}``: γ flags confidence < γ (precision = share confirmed bad),
        η auto-applies judge confidence ≥ η (precision = share accepted); None where no
        threshold reaches the target or nothing is reviewed.
    """
    pairs = reviewed_pairs(store, dataset_id)
    return {
        "gamma": threshold_for_precision(pairs["gamma"], target, direction="below"),
        "eta": threshold_for_precision(pairs["eta"], target, direction="at_or_above"),
    }


def reviewed_pairs(store: Store, dataset_id: int) -> dict[str, list[tuple[float, bool]]]:
    """(confidence, confirmed bad) and (judge confidence, accepted) of every reviewed example."""
    reviewed = _reviewed(store, dataset_id)
    return {
        "gamma": [(r["confidence"], r["action"] in CONFIRMS_BAD) for r in reviewed if r["confidence"] is not None],
        "eta": [
            (r["judge_confidence"], r["action"] == "accept")
            for r in reviewed
            if r["judge_confidence"] is not None and r["proposal_status"] == "ok"
        ],
    }


# -- the Insights page's charts and counts ------------------------------------------------
def confidence_histogram(store: Store, dataset_id: int, *, bins: int = 20) -> list[dict[str, Any]]:
    """Scored examples binned by confidence: rows of ``bin`` (0..bins-1), ``status``, ``decision``, ``n``."""
    _check_bins(bins)
    return store.confidence_histogram(dataset_id, bins)


def signal_histogram(store: Store, dataset_id: int, *, bins: int = 20) -> list[dict[str, Any]]:
    """Each signal's values (plus consistency and reflection) binned: rows of ``signal``, ``bin``, ``n``."""
    _check_bins(bins)
    return store.signal_histogram(dataset_id, bins)


def count_below(store: Store, dataset_id: int, gamma: float) -> dict[str, Any]:
    """How many scored examples have confidence < ``gamma``; also the γ and flag count in force."""
    return store.count_below(dataset_id, gamma)


# -- pure maths ------------------------------------------------------------------------------
def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when undefined (chance agreement is 1)."""
    if len(a) != len(b):
        raise ReviewError(f"kappa: the two label lists differ in length ({len(a)} != {len(b)})")
    if not a:
        return None
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in count_a) / (n * n)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def precision_curve(pairs: Iterable[tuple[float, bool]], *, direction: str) -> list[ThresholdChoice]:
    """Precision at every threshold that splits the scores differently.

    Args:
        pairs: (score, positive) for each reviewed example; scores in [0, 1].
        direction: ``below`` (select score < threshold; thresholds are midpoints between
            distinct scores, or just above the highest) or ``at_or_above`` (select
            score ≥ threshold; thresholds are the distinct scores).
    Returns:
        One :class:`ThresholdChoice` per threshold, in increasing threshold order.
    """
    if direction not in ("below", "at_or_above"):
        raise ReviewError(f"precision curve: direction {direction!r} is not 'below' or 'at_or_above'")
    groups = [(score, [p for _, p in group]) for score, group in groupby(sorted(pairs), key=lambda x: x[0])]
    total = sum(len(g) for _, g in groups)
    out = []
    if direction == "below":
        selected = positives = 0
        for i, (score, group) in enumerate(groups):
            selected += len(group)
            positives += sum(group)
            cut = (score + groups[i + 1][0]) / 2 if i + 1 < len(groups) else score
            if cut <= score:  # the last score, or two so close that their midpoint rounds down to the first
                cut = math.nextafter(score, math.inf)
            out.append(ThresholdChoice(cut, positives / selected, selected, total))
    else:
        selected, positives = total, sum(sum(g) for _, g in groups)
        for score, group in groups:
            out.append(ThresholdChoice(score, positives / selected, selected, total))
            selected -= len(group)
            positives -= sum(group)
    return out


def threshold_for_precision(
    pairs: Iterable[tuple[float, bool]], target: float, *, direction: str
) -> ThresholdChoice | None:
    """The threshold selecting the most examples whose precision is at least ``target``.

    ``direction="below"`` is the Auto-Filter's γ (flag confidence < γ; positive = confirmed
    bad); ``"at_or_above"`` is Auto-Correct's η (apply judge confidence ≥ η; positive =
    accepted). Returns None when no threshold reaches ``target`` or there are no pairs.
    """
    if not 0.0 <= target <= 1.0:
        raise ReviewError(f"target precision must be in [0, 1], got {target}")
    reaching = [c for c in precision_curve(pairs, direction=direction) if c.precision >= target - 1e-12]
    if not reaching:
        return None
    return max(reaching, key=lambda c: c.selected)


# -- helpers -----------------------------------------------------------------------------------
def _reviewed(store: Store, dataset_id: int) -> list[dict[str, Any]]:
    return store.reviewed(dataset_id)


def _check_bins(bins: int) -> None:
    if not 1 <= bins <= 1000:
        raise ReviewError(f"histogram: bins must be between 1 and 1000, got {bins}")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _agree_share(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


__all__ = [
    "Agreement",
    "PairAgreement",
    "AutoPrecision",
    "ThresholdChoice",
    "agreement",
    "auto_precision",
    "thresholds_for_precision",
    "reviewed_pairs",
    "confidence_histogram",
    "signal_histogram",
    "count_below",
    "cohen_kappa",
    "precision_curve",
    "threshold_for_precision",
]
