"""The whole CLEAR run for the CLI and the app: score → filter → correct, resumable.

In: a store, a dataset name, a :class:`~curation.config.Config`. Out: a
:class:`RunSummary`; every finished example is in the store as soon as it is done, so a
cancelled, failed or killed run resumes where it stopped and pays for no call twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

STAGES = ("score", "filter", "correct")


@dataclass(frozen=True)
class Progress:
    """A live report from a running stage (sent after every finished example)."""

    stage: str
    done: int
    total: int
    failed: int
    stats: dict[str, float]  # LLMStats.snapshot(): calls, cache_hits, prompt_tokens, completion_tokens, cost_usd, ...


@dataclass(frozen=True)
class RunEstimate:
    """What a run will cost before it starts (only the examples not yet done count)."""

    examples: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float


@dataclass
class RunSummary:
    run_ids: dict[str, str] = field(default_factory=dict)
    scored: int = 0
    failed: int = 0
    flagged: int = 0
    proposed: int = 0
    auto_applied: int = 0
    stopped: str | None = None  # None, "cancelled" or "budget"
    stats: dict[str, float] = field(default_factory=dict)


ProgressFn = Callable[[Progress], None]
StopFn = Callable[[], bool]
