"""Insights: the automatic stages measured against the reviewers, and the reviewers against each other.

In: the store (the active score, flags, proposals and the append-only ``review_log`` that
:mod:`curation.review` writes). Out: agreement between annotators (:func:`agreement`, Cohen's
kappa), how often reviewers confirmed the Auto-Filter and Auto-Correct (:func:`auto_precision`),
the thresholds that would have reached a target precision (:func:`thresholds_for_precision`), and
the small pre-aggregated rows the Insights page charts (histograms binned in SQL, the γ count).
Only decisions in force count (:data:`curation.review_sql.EFFECTIVE`); nothing here writes.
Scores are floats in [0, 1], higher = more likely correct.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import combinations, groupby
from typing import Any, Iterable

from curation.errors import ReviewError
from curation.review_sql import EFFECTIVE
from curation.store import Store

#: Decisions that say the original response was bad (the Auto-Filter was right to flag it).
CONFIRMS_BAD = ("remove", "accept", "edit")


# -- SQL -------------------------------------------------------------------------------
# Each annotator's latest decision on examples that two or more annotators decided.
SQL_MULTI_DECISIONS = f"""
    WITH {EFFECTIVE},
    latest AS (
        SELECT example_id, annotator, action FROM effective WHERE NOT adjudicates
        QUALIFY row_number() OVER (PARTITION BY example_id, annotator ORDER BY event_id DESC) = 1
    )
    SELECT example_id, annotator, action FROM latest
    WHERE example_id IN (SELECT example_id FROM latest GROUP BY example_id HAVING count(*) >= 2)
    ORDER BY example_id, annotator
"""

# Examples whose decision in force a person made one by one (bulk rules measure nothing),
# with their automatic scores: $1 dataset_id, $2 score_key.
SQL_REVIEWED = f"""
    WITH {EFFECTIVE}
    SELECT d.example_id, d.action, s.confidence, f.flagged, p.judge_confidence, p.auto_applied,
           p.status AS proposal_status
    FROM decision d
    LEFT JOIN scores s ON s.dataset_id = $1 AND s.example_id = d.example_id AND s.score_key = $2
                      AND s.status = 'ok'
    LEFT JOIN flags f ON f.dataset_id = $1 AND f.example_id = d.example_id
    LEFT JOIN proposals p ON p.dataset_id = $1 AND p.example_id = d.example_id
    WHERE d.batch_id IS NULL
"""

# Histograms: $1 dataset_id, $2 score_key, $3 number of bins.
SQL_CONFIDENCE_HISTOGRAM = f"""
    WITH {EFFECTIVE}
    SELECT least(floor(s.confidence * $3), $3 - 1)::INTEGER AS bin,
           CASE WHEN coalesce(p.auto_applied, false) THEN 'auto-corrected'
                WHEN coalesce(f.flagged, false) THEN 'flagged' ELSE 'passed' END AS status,
           coalesce(d.action, 'undecided') AS decision,
           count(*) AS n
    FROM scores s
    LEFT JOIN flags f ON f.dataset_id = s.dataset_id AND f.example_id = s.example_id
    LEFT JOIN proposals p ON p.dataset_id = s.dataset_id AND p.example_id = s.example_id
    LEFT JOIN decision d ON d.example_id = s.example_id
    WHERE s.dataset_id = $1 AND s.score_key = $2 AND s.status = 'ok' AND s.confidence IS NOT NULL
    GROUP BY ALL ORDER BY bin
"""
SQL_SIGNAL_HISTOGRAM = """
    WITH parts AS (
        SELECT j.key AS signal, TRY_CAST(j.value AS DOUBLE) AS value
        FROM scores s, json_each(s.signals) j
        WHERE s.dataset_id = $1 AND s.score_key = $2 AND s.status = 'ok'
        UNION ALL
        SELECT 'consistency', consistency FROM scores WHERE dataset_id = $1 AND score_key = $2 AND status = 'ok'
        UNION ALL
        SELECT 'reflection', reflection FROM scores WHERE dataset_id = $1 AND score_key = $2 AND status = 'ok'
    )
    SELECT signal, least(floor(value * $3), $3 - 1)::INTEGER AS bin, count(*) AS n
    FROM parts WHERE value IS NOT NULL GROUP BY ALL ORDER BY signal, bin
"""
SQL_COUNT_BELOW = """
    SELECT count(*) FILTER (WHERE confidence < ?) AS below, count(*) AS scored,
           (SELECT max(threshold) FROM flags WHERE dataset_id = ?) AS gamma,
           (SELECT count(*) FROM flags WHERE dataset_id = ? AND flagged) AS flagged
    FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'ok' AND confidence IS NOT NULL
"""


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
    for example_id, who, action in store.query_rows(SQL_MULTI_DECISIONS, (dataset_id,)):
        by_example.setdefault(example_id, {})[who] = action
    n_agree = sum(1 for votes in by_example.values() if len(set(votes.values())) == 1)
    pair_labels: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for votes in by_example.values():
        for a, b in combinations(sorted(votes), 2):
            first, second = pair_labels.setdefault((a, b), ([], []))
            first.append(votes[a])
            second.append(votes[b])
    pairs = [PairAgreement(annotators=key, n=len(x), agreement=_agree_share(x, y), kappa=cohen_kappa(x, y))
             for key, (x, y) in sorted(pair_labels.items())]
    weighted = [(p.kappa, p.n) for p in pairs if p.kappa is not None]
    kappa = sum(k * n for k, n in weighted) / sum(n for _, n in weighted) if weighted else None
    return Agreement(n_examples=len(by_example), n_agree=n_agree, simple=_share(n_agree, len(by_example)),
                     kappa=kappa, pairs=pairs)


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
        flagged_reviewed=len(flagged), flagged_confirmed=sum(r["action"] in CONFIRMS_BAD for r in flagged),
        passed_reviewed=len(passed), passed_bad=sum(r["action"] in CONFIRMS_BAD for r in passed),
        auto_reviewed=len(auto), auto_accepted=sum(r["action"] == "accept" for r in auto),
    )


def thresholds_for_precision(store: Store, dataset_id: int, target: float) -> dict[str, ThresholdChoice | None]:
    """The γ and η that would have reached ``target`` precision on the reviewed examples.

    Returns:
        ``{"gamma": ..., "eta": ...}``: γ flags confidence < γ (precision = share confirmed bad),
        η auto-applies judge confidence ≥ η (precision = share accepted); None where no
        threshold reaches the target or nothing is reviewed.
    """
    pairs = reviewed_pairs(store, dataset_id)
    return {"gamma": threshold_for_precision(pairs["gamma"], target, direction="below"),
            "eta": threshold_for_precision(pairs["eta"], target, direction="at_or_above")}


def reviewed_pairs(store: Store, dataset_id: int) -> dict[str, list[tuple[float, bool]]]:
    """(confidence, confirmed bad) and (judge confidence, accepted) of every reviewed example."""
    reviewed = _reviewed(store, dataset_id)
    return {
        "gamma": [(r["confidence"], r["action"] in CONFIRMS_BAD) for r in reviewed if r["confidence"] is not None],
        "eta": [(r["judge_confidence"], r["action"] == "accept") for r in reviewed
                if r["judge_confidence"] is not None and r["proposal_status"] == "ok"],
    }


# -- the Insights page's charts and counts ------------------------------------------------
def confidence_histogram(store: Store, dataset_id: int, *, bins: int = 20) -> list[dict[str, Any]]:
    """Scored examples binned by confidence: rows of ``bin`` (0..bins-1), ``status``, ``decision``, ``n``."""
    _check_bins(bins)
    return store.query_dicts(SQL_CONFIDENCE_HISTOGRAM, (dataset_id, store.active_score_key(dataset_id), bins))


def signal_histogram(store: Store, dataset_id: int, *, bins: int = 20) -> list[dict[str, Any]]:
    """Each signal's values (plus consistency and reflection) binned: rows of ``signal``, ``bin``, ``n``."""
    _check_bins(bins)
    return store.query_dicts(SQL_SIGNAL_HISTOGRAM, (dataset_id, store.active_score_key(dataset_id), bins))


def count_below(store: Store, dataset_id: int, gamma: float) -> dict[str, Any]:
    """How many scored examples have confidence < ``gamma``; also the γ and flag count in force."""
    key = store.active_score_key(dataset_id)
    return store.query_dicts(SQL_COUNT_BELOW, (gamma, dataset_id, dataset_id, dataset_id, key))[0]


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
            cut = (score + groups[i + 1][0]) / 2 if i + 1 < len(groups) else math.nextafter(score, math.inf)
            out.append(ThresholdChoice(cut, positives / selected, selected, total))
    else:
        selected, positives = total, sum(sum(g) for _, g in groups)
        for score, group in groups:
            out.append(ThresholdChoice(score, positives / selected, selected, total))
            selected -= len(group)
            positives -= sum(group)
    return out


def threshold_for_precision(pairs: Iterable[tuple[float, bool]], target: float, *,
                            direction: str) -> ThresholdChoice | None:
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
    return store.query_dicts(SQL_REVIEWED, (dataset_id, store.active_score_key(dataset_id)))


def _check_bins(bins: int) -> None:
    if not 1 <= bins <= 1000:
        raise ReviewError(f"histogram: bins must be between 1 and 1000, got {bins}")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _agree_share(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


__all__ = [
    "Agreement", "PairAgreement", "AutoPrecision", "ThresholdChoice", "agreement",
    "auto_precision", "thresholds_for_precision", "reviewed_pairs", "confidence_histogram",
    "signal_histogram", "count_below", "cohen_kappa", "precision_curve", "threshold_for_precision",
]
