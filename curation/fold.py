"""The fold: a dataset's score rows into each example's final confidence (pure, no LLM call).

In: the stored score rows of a dataset (each example's signal values, as :mod:`curation.score`
wrote them) and a :class:`~curation.config.Config`. Out: per example, the final confidence and
the signals that fired. Dataset-level: the ranked signals (likelihood, Min-K%, IFD) count as
percentiles over the rows and the ending rule against the rows' median ending, so a fold reads
every row; changing a weight re-decides without any new call. Both tiers of the cascade land
on one scale (:func:`curation.tiers.on_sampled_scale`). :func:`curation.score.finalize` writes
what this computes.
"""

from __future__ import annotations

import math
from typing import Any

from curation import likelihood_signals, stats, tiers
from curation.config import Config
from curation.config_values import RULE_SIGNALS, SOFT_SIGNALS

#: Signals folded in as dataset percentiles (their raw scale means little across datasets).
RANKED_SIGNALS = ("likelihood", "min_k", "ifd")
#: Rules read from the recorded response's own likelihood pass or text against the dataset
#: (its end-of-turn probability, an injection); a contest weighs the original alone by them.
ORIGINAL_ONLY_RULES = ("ending", "injection")
#: Share of the dataset at the bottom of a ranked signal that counts as "fired".
RANKED_FIRE_SHARE = 0.15


def final_confidence(values: dict[str, float], config: Config) -> float | None:
    """Weighted mean of the soft signals times the rule signals raised to their weights.

    ``values`` holds ``bsdetector`` and the *percentiles* of the ranked signals, plus the
    scores of the :data:`~curation.config_values.RULE_SIGNALS`; all in [0, 1]. Returns None when no
    soft signal with a positive weight is present and no rule applies.
    """

    def weighted(names: tuple[str, ...]) -> list[tuple[float, float]]:
        pairs = ((values.get(name), getattr(config.scoring, f"w_{name}")) for name in names)
        return [(value, weight) for value, weight in pairs if weight > 0 and value is not None]

    soft = weighted(SOFT_SIGNALS)
    total = sum(w for _, w in soft)
    base = sum(v * w for v, w in soft) / total if total else None
    rules = weighted(RULE_SIGNALS)
    factor = 1.0
    for value, weight in rules:
        factor *= value**weight
    if base is None:
        return factor if rules else None
    return min(1.0, max(0.0, base * factor))


def _dataset_values(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Each row's signal values as the confidence reads them: the ranked signals as
    percentiles over ``rows``, the ending against the rows' median ending (pure)."""
    percentiles = {name: stats.rank_average([[r["signals"].get(name) for r in rows]]) for name in RANKED_SIGNALS}
    ends = sorted(likelihood_signals.end_logprob_of(r["signals"]["ending"]) for r in rows if "ending" in r["signals"])
    typical = ends[len(ends) // 2] if ends else None
    out = []
    for i, row in enumerate(rows):
        values = dict(row["signals"])
        for name in RANKED_SIGNALS:
            values[name] = percentiles[name][i]
        if "ending" in values and typical is not None:
            values["ending"] = likelihood_signals.ending_score(
                likelihood_signals.end_logprob_of(values["ending"]), typical
            )
        out.append(values)
    return out


def original_rules(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per example id of scored ``rows``, the product of its :data:`ORIGINAL_ONLY_RULES` as
    the confidence reads them: a contest weighs the recorded response by them (a cut-off
    answer loses to its completion) and no candidate, which has no such pass (pure)."""
    return {
        row["example_id"]: math.prod(values.get(name, 1.0) for name in ORIGINAL_ONLY_RULES)
        for row, values in zip(rows, _dataset_values(rows))
    }


def final_confidences(rows: list[dict[str, Any]], config: Config) -> dict[str, tuple[float | None, list[str]]]:
    """Per example id, the final confidence and the fired signals of scored ``rows`` (pure;
    dataset-level: see :func:`_dataset_values`); a cheap-tier example's confidence is put on
    the sampled tier's scale (:func:`curation.tiers.on_sampled_scale`)."""
    out = {}
    for row, values in zip(rows, _dataset_values(rows)):
        fired = [name for name in (*RULE_SIGNALS, "bsdetector") if values.get(name, 1.0) < 0.5]
        fired += [name for name in RANKED_SIGNALS if values.get(name) is not None and values[name] < RANKED_FIRE_SHARE]
        confidence = final_confidence(values, config)
        if tiers.tier_of(row) == tiers.CHEAP:
            confidence = tiers.on_sampled_scale(confidence)
        out[row["example_id"]] = (confidence, fired)
    return out


def cheap_confidences(rows: list[dict[str, Any]], config: Config) -> dict[str, float | None]:
    """Per cheap-tier example id among ``rows``, its confidence from the cheap signals alone
    (before :func:`final_confidences` maps it; what the cascade's band reads)."""
    return {
        row["example_id"]: final_confidence(values, config)
        for row, values in zip(rows, _dataset_values(rows))
        if tiers.tier_of(row) == tiers.CHEAP
    }
