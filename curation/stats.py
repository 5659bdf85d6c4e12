"""Statistics over columns of scores, all pure: ranks, AUROC, quantile thresholds, rank averaging, a logistic fit.

In: plain sequences of floats (one score per row; ``None`` where a row has none, where a
docstring allows it) and, for evaluation, 0/1 labels. Out: an AUROC in [0, 1] (:func:`auroc`
ranks *positives*: with labels 1 = error, pass ``1 - confidence`` or use :func:`error_auroc`),
Auto-Filter's threshold γ on the scores' own scale and its flags, rank-averaged scores in
[0, 1] (higher = more likely correct, as their inputs), or a logistic's intercept and slope.
BSDetector's per-example maths is :mod:`curation.confidence`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for idx in order[i : j + 1]:
            ranks[idx] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve: P(a random positive scores above a random negative), ties half.

    Direction: a *higher score* should mean *positive*. With labels 1 = the row is an error,
    pass ``1 - confidence`` (or use :func:`error_auroc`), since confidence is high for
    correct rows. 1 = perfect, 0.5 = chance, 0 = perfectly reversed (Mann-Whitney U).

    Raises:
        ValueError: lengths differ, a label is not 0/1, a score is not finite, or there is
            not at least one positive and one negative.
    """
    if len(scores) != len(labels):
        raise ValueError(f"scores and labels differ in length: {len(scores)} != {len(labels)}")
    if any(label not in (0, 1) for label in labels):
        raise ValueError("labels must be 0 or 1 (1 = positive = error)")
    if any(not math.isfinite(s) for s in scores):
        raise ValueError("scores must be finite numbers")
    n_pos = sum(1 for label in labels if label == 1)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auroc needs at least one positive and one negative label, got {n_pos} and {n_neg}")
    ranks = _average_ranks(scores)
    rank_sum = sum(r for r, label in zip(ranks, labels) if label == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def error_auroc(confidences: Sequence[float], is_error: Sequence[int]) -> float:
    """How well low confidence finds errors: :func:`auroc` of ``1 - confidence`` against
    ``is_error`` (1 = the row is wrong). 1 = every error below every correct row."""
    return auroc([1.0 - c for c in confidences], is_error)


def quantile_threshold(scores: Sequence[float], q: float) -> float:
    """The ``q``-quantile of ``scores`` (linear interpolation, as numpy's default).

    Used as γ in quantile mode: with ``q = 0.5`` (the paper's median) about half the rows
    fall at or below it. Non-decreasing in ``q``.

    Raises:
        ValueError: ``scores`` is empty, holds a non-finite value, or ``q`` is outside [0, 1].
    """
    if not scores:
        raise ValueError("quantile_threshold needs at least one score")
    if not (math.isfinite(q) and 0.0 <= q <= 1.0):
        raise ValueError(f"q must be in [0, 1], got {q!r}")
    if any(not math.isfinite(s) for s in scores):
        raise ValueError("scores must be finite numbers")
    ordered = sorted(scores)
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def below_threshold(scores: Sequence[float | None], gamma: float) -> list[bool]:
    """Flags for Auto-Filter: ``True`` where ``score <= gamma`` (CLEAR keeps ``c > gamma``).

    A missing score (``None``) is not flagged. Monotone: a larger ``gamma`` flags a superset.
    """
    return [s is not None and s <= gamma for s in scores]


def rank_average(
    signals: Sequence[Sequence[float | None]], *, weights: Sequence[float] | None = None
) -> list[float | None]:
    """Combine signals by their average normalised rank; each result in [0, 1].

    Each signal is one score per row (higher = more likely correct; ``None`` = not
    available for that row). Within a signal, rows are ranked among those that have a score
    and the rank is scaled to [0, 1] (lowest 0, highest 1, ties share their mean, a lone or
    all-tied signal gives 0.5). A row's result is the weighted mean over its available
    signals, ``None`` if it has none. Scale-free, so log-probs, rules and LLM confidence
    can be mixed.

    Raises:
        ValueError: signals differ in length, or ``weights`` has the wrong length or a
            negative value.
    """
    if not signals:
        return []
    n = len(signals[0])
    if any(len(s) != n for s in signals):
        raise ValueError("every signal must have one score per row (lengths differ)")
    if weights is None:
        weights = [1.0] * len(signals)
    if len(weights) != len(signals) or any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError("weights must be one non-negative number per signal")
    totals = [0.0] * n
    mass = [0.0] * n
    for signal, weight in zip(signals, weights):
        present = [i for i, s in enumerate(signal) if s is not None]
        ranks = _average_ranks([float(signal[i]) for i in present])
        for i, rank in zip(present, ranks):
            scaled = 0.5 if len(present) == 1 else (rank - 1.0) / (len(present) - 1.0)
            totals[i] += weight * scaled
            mass[i] += weight
    return [min(1.0, max(0.0, t / m)) if m > 0 else None for t, m in zip(totals, mass)]


def fit_logistic(xs: Sequence[float], ys: Sequence[int], *, l2: float = 1e-2, steps: int = 50) -> tuple[float, float]:
    """Intercept and slope of ``P(y = 1) = 1 / (1 + exp(-(a + b * x)))`` by Newton's method,
    with a small L2 penalty on the slope so that separable data still gives finite values.

    Raises:
        ValueError: lengths differ, a label is not 0/1, or there are no points.
    """
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"fit_logistic needs as many labels as values (got {len(xs)} and {len(ys)}), at least one")
    if any(y not in (0, 1) for y in ys):
        raise ValueError("labels must be 0 or 1")
    a = b = 0.0
    for _ in range(steps):
        g_a, g_b = 0.0, -l2 * b
        h_aa, h_ab, h_bb = 1e-9, 0.0, l2
        for x, y in zip(xs, ys):
            p = 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, a + b * x))))
            g_a += y - p
            g_b += (y - p) * x
            w = p * (1.0 - p)
            h_aa, h_ab, h_bb = h_aa + w, h_ab + w * x, h_bb + w * x * x
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        step_a, step_b = (h_bb * g_a - h_ab * g_b) / det, (h_aa * g_b - h_ab * g_a) / det
        a, b = a + step_a, b + step_b
        if abs(step_a) + abs(step_b) < 1e-10:
            break
    return a, b


__all__ = [
    "auroc",
    "error_auroc",
    "quantile_threshold",
    "below_threshold",
    "rank_average",
    "fit_logistic",
]
