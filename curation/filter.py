"""Stage 3, Auto-Filter: flag the examples whose confidence is at or below γ.

In: the final confidences of a dataset's scored examples. Out: one ``flags`` row per scored
example. γ is absolute (``filter.gamma_mode = "absolute"``) or a quantile of the dataset's
confidences (``"quantile"``; the CLEAR paper used the median, 0.5). No LLM call: changing
γ and running the filter again re-decides at once. Failed or unscored examples are not
flagged (they are not known to be bad); a later run scores them.
"""

from __future__ import annotations

from dataclasses import dataclass

from curation import stats
from curation.config import Config, FilterConfig
from curation.store import DatasetInfo, Store


@dataclass(frozen=True)
class FilterResult:
    threshold: float
    flagged: int
    total: int


def decide(confidences: dict[str, float | None], settings: FilterConfig) -> tuple[dict[str, bool], float]:
    """Flags per example and the absolute threshold used (pure).

    Args:
        confidences: example id -> final confidence in [0, 1] (None = unknown).
        settings: γ and its mode.
    Returns:
        ``({example_id: flagged}, threshold)``; flags are monotone in γ.
    """
    known = [c for c in confidences.values() if c is not None]
    if settings.gamma_mode == "quantile":
        threshold = stats.quantile_threshold(known, settings.gamma) if known else 0.0
    else:
        threshold = settings.gamma
    ids = list(confidences)
    flags = stats.below_threshold([confidences[i] for i in ids], threshold)
    return dict(zip(ids, flags)), threshold


def apply_filter(store: Store, info: DatasetInfo, config: Config, *, score_key: str, run_id: str) -> FilterResult:
    """Flag the scored examples of ``info`` and store the decisions (replacing earlier ones)."""
    confidences = store.confidences(info.dataset_id, score_key)
    flags, threshold = decide(confidences, config.filter)
    store.replace_flags(info.dataset_id, flags, threshold=threshold, run_id=run_id)
    return FilterResult(threshold=threshold, flagged=sum(flags.values()), total=len(flags))
