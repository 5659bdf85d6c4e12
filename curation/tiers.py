"""The scoring cascade's decisions, all pure: which tier scores an example, and one scale for both.

Every example first gets the **cheap** tier: the signals of one teacher-forced pass over its
tokens (likelihood, IFD, the ending) and the rules (format, degenerate, injection); on a
backend without likelihoods, one self-reflection question stands in. Only examples whose cheap
confidence falls below ``scoring.band`` — the uncertain ones and every one that may be flagged
(Auto-Correct needs their samples) — go on to the **sampled** tier: the k consistency samples,
the reflections and the contrast with alternatives (BSDetector). ``scoring.tiers = "full"``
samples every example (the published method); ``"cheap"`` samples none.

A cheap-tier confidence is mapped onto the sampled tier's scale by :func:`on_sampled_scale`, a
line fitted on the benchmark (``benchmarks/cascade_fit.py``): the expected sampled-tier
confidence of an example given its cheap one. Ranking, γ and the review queue then read one scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The tier names stored in a score's explanation.
CHEAP, SAMPLED = "cheap", "sampled"
#: Signals only the sampled tier computes (the rest are the cheap tier's).
SAMPLED_SIGNALS = ("bsdetector", "contrast")
#: What each tier does, for people.
TIER_WORDS = {
    CHEAP: "cheap signals only (likelihood, ending, format and other rules; no samples)",
    SAMPLED: "cheap signals plus the model's samples, self-reflection and alternatives (BSDetector)",
}


@dataclass(frozen=True)
class ScaleMap:
    """``sampled ≈ intercept + slope × cheap`` on examples the cascade leaves in the cheap tier."""

    version: int
    intercept: float
    slope: float
    fitted_on: str


#: Fitted by ``python -m benchmarks.cascade_fit`` on the design half of the four sample sets
#: (examples with a cheap confidence at or above the default band); see docs/benchmarks.md.
SCALE = ScaleMap(version=1, intercept=0.09, slope=0.62, fitted_on="design half, 4 sample sets, band 0.3")


def tier_of(row: dict[str, Any]) -> str:
    """A stored score's tier; rows written before the cascade were all sampled."""
    return (row.get("explanation") or {}).get("tier", SAMPLED)


def on_sampled_scale(cheap: float | None, scale: ScaleMap = SCALE) -> float | None:
    """A cheap-tier confidence on the sampled tier's scale (monotone, clipped to [0, 1])."""
    if cheap is None:
        return None
    return min(1.0, max(0.0, scale.intercept + scale.slope * cheap))


def to_sample(cheap_confidences: dict[str, float | None], *, mode: str, band: float) -> list[str]:
    """Ids of cheap-tier examples that the sampled tier should score, least confident first
    (those with no signal at all before any).

    Args:
        cheap_confidences: per cheap-tier example id, its cheap confidence (None: no signal).
        mode: ``scoring.tiers``; band: ``scoring.band``.
    """
    if mode == "cheap":
        return []
    chosen = [i for i, c in cheap_confidences.items() if mode == "full" or c is None or c < band]
    return sorted(chosen, key=lambda i: (cheap_confidences[i] is not None, cheap_confidences[i] or 0.0))


def tier_counts(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many scored rows each tier holds (both keys always present)."""
    counts = {CHEAP: 0, SAMPLED: 0}
    for row in rows:
        if row.get("status", "ok") == "ok":
            counts[tier_of(row)] += 1
    return counts
