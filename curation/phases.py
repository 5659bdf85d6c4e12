"""The phases a run reports and the live report of one (:class:`Progress`), for the pipeline
and whatever shows its progress (the CLI's bar, the app's run page)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from curation import throughput

#: The phases a run reports, in order, as people read them ("assemble" only on a split packaged
#: model's first use, "load" only for the embedded model; the filter reports nothing).
PHASES = {
    "assemble": "preparing the model (first use: assembling its weights from the packages and checking them)",
    "load": "loading the model",
    "score": "scoring (cheap signals)",
    "sample": "sampling the uncertain (samples and self-reflection)",
    "correct": "correcting",
    "batch": "waiting for the Batch API (each batch within 24 h)",
}


@dataclass(frozen=True)
class Progress:
    """A live report from a running phase: at its start and after every finished example
    (the model's loading counts megabytes). ``rate`` (units a second) is exponentially
    weighted (:mod:`curation.throughput`); ``eta_s`` is the phase's seconds left at that rate,
    None until known."""

    stage: str  # a key of PHASES
    done: int
    total: int
    failed: int
    stats: dict[str, float]  # LLMStats.snapshot(): calls, cache_hits, prompt_tokens, completion_tokens, cost_usd, ...
    rate: float | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0
    unit: str = "examples"

    def pace(self, *, since_s: float = 0.0) -> str:
        """``8.5 examples/min, about 3 min left`` (the time left counted down by ``since_s``
        seconds since the report), or ``done in 42 s``."""
        if self.done >= self.total:
            return f"done in {throughput.duration(self.elapsed_s)}"
        left = throughput.countdown(self.eta_s, since_s)
        if left is None:
            return f"{throughput.rate_text(self.rate, self.unit)}, time left: measuring"
        return f"{throughput.rate_text(self.rate, self.unit)}, " + (
            f"about {throughput.duration(left)} left" if left >= 1 else "finishing"
        )

    def describe(self, *, since_s: float = 0.0) -> str:
        """``scoring: 12 of 40 examples · 8.5 examples/min, about 3 min left``."""
        name = PHASES.get(self.stage, self.stage)
        return f"{name}: {self.done:,} of {self.total:,} {self.unit} · {self.pace(since_s=since_s)}"


ProgressFn = Callable[[Progress], None]
