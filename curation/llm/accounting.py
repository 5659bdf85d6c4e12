"""What LLM calls cost: running totals of a client, and estimates made before a run.

In: token counts, latencies and prices per million tokens. Out: :class:`LLMStats` totals
(safe to update from many threads) and :class:`Estimate` objects. Pure arithmetic.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields


@dataclass
class LLMStats:
    """Running totals of one client, safe to update from many threads.

    ``calls`` counts backend calls made (every attempt, failed ones included);
    ``batched`` the samples Batch API batches answered (then served from the cache);
    ``cache_hits`` / ``cache_misses`` count samples; ``failures`` counts requests that
    failed for good; ``retries`` counts waits before another attempt; ``elapsed_s`` is the
    wall-clock time during which at least one request was being served and
    ``backend_s`` the summed time spent inside backend calls.
    """

    calls: int = 0
    batched: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    backend_s: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **deltas: float) -> None:
        """Add ``deltas`` (field name -> amount) atomically."""
        with self._lock:
            for name, amount in deltas.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        """A consistent copy of every total, as a plain dict."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Estimate:
    """What a run of calls is expected to cost, before it is made."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float


def estimate(
    n_calls: int,
    prompt_tokens_per_call: float,
    completion_tokens_per_call: float,
    *,
    seconds_per_call: float,
    concurrency: int = 1,
    price_prompt_per_m: float = 0.0,
    price_completion_per_m: float = 0.0,
) -> Estimate:
    """Tokens, dollars and wall-clock seconds for ``n_calls`` calls.

    Args:
        n_calls: how many backend calls (samples) the run needs.
        prompt_tokens_per_call: mean prompt tokens per call.
        completion_tokens_per_call: mean completion tokens per call.
        seconds_per_call: mean latency of one call.
        concurrency: calls in flight at once; calls run in ``ceil(n / concurrency)`` waves.
        price_prompt_per_m: dollars per million prompt tokens.
        price_completion_per_m: dollars per million completion tokens.

    Returns:
        The :class:`Estimate`.

    Raises:
        ValueError: for a negative count, size, latency or price, or concurrency < 1.
    """
    numbers = (
        n_calls,
        prompt_tokens_per_call,
        completion_tokens_per_call,
        seconds_per_call,
        price_prompt_per_m,
        price_completion_per_m,
    )
    if min(numbers) < 0 or concurrency < 1:
        raise ValueError(f"estimate needs non-negative sizes and concurrency >= 1, got {numbers}, {concurrency}")
    prompt = round(n_calls * prompt_tokens_per_call)
    completion = round(n_calls * completion_tokens_per_call)
    return Estimate(
        calls=n_calls,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=call_cost(prompt, completion, price_prompt_per_m, price_completion_per_m),
        seconds=math.ceil(n_calls / concurrency) * seconds_per_call,
    )


def call_cost(
    prompt_tokens: float, completion_tokens: float, price_prompt_per_m: float, price_completion_per_m: float
) -> float:
    return (prompt_tokens * price_prompt_per_m + completion_tokens * price_completion_per_m) / 1_000_000
