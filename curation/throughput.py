"""Rate and time left of a running phase, for the CLI's bar and the app's panel alike.

In: reports of (units done, clock time). Out: an exponentially weighted rate (units a second)
and the seconds left at that rate. Pure arithmetic on frozen values: the caller keeps the
latest :class:`Throughput` and passes it back with each report.

The rate is a ratio of decayed sums, done / seconds, rather than a smoothed ratio per report:
the embedded model finishes a batch of examples at once, so most reports come a moment after
the previous one, and a per-report ratio would swing from a second a unit to none at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: Seconds after which an observation counts half: long enough to span a few batches of the
#: embedded model, short enough to follow a dataset whose examples get longer.
HALF_LIFE_S = 120.0
#: Seconds of observation a prior rate (measured on earlier runs) is worth at the start.
PRIOR_WEIGHT_S = 20.0


@dataclass(frozen=True)
class Throughput:
    """The decayed units and seconds of one phase, and where the last report left it."""

    started: float
    at: float
    done: int = 0
    units: float = 0.0
    seconds: float = 0.0

    @property
    def rate(self) -> float | None:
        """Units a second, or None before anything was done and with no prior."""
        return self.units / self.seconds if self.units > 0 and self.seconds > 0 else None

    def seconds_left(self, total: int) -> float | None:
        """Seconds until ``total`` units at the current rate (0 when done, None when unknown)."""
        if self.done >= total:
            return 0.0
        rate = self.rate
        return (total - self.done) / rate if rate else None


def start(
    now: float, *, done: int = 0, prior_rate: float | None = None, prior_weight_s: float = PRIOR_WEIGHT_S
) -> Throughput:
    """A phase starting at ``now`` with ``done`` units already behind it; ``prior_rate``
    (units a second, e.g. measured on an earlier run) gives an ETA before the first unit."""
    if prior_rate is None or prior_rate <= 0:
        return Throughput(started=now, at=now, done=done)
    return Throughput(started=now, at=now, done=done, units=prior_rate * prior_weight_s, seconds=prior_weight_s)


def advance(state: Throughput, done: int, now: float, *, half_life_s: float = HALF_LIFE_S) -> Throughput:
    """Fold in a report of ``done`` units at ``now``: the older sums decay by half every
    ``half_life_s`` seconds, then the new units and the seconds since the last report add."""
    elapsed = max(0.0, now - state.at)
    decay = 0.5 ** (elapsed / half_life_s)
    gained = max(0, done - state.done)
    return replace(
        state,
        at=max(now, state.at),
        done=max(done, state.done),
        units=state.units * decay + gained,
        seconds=state.seconds * decay + elapsed,
    )


def countdown(seconds_left: float | None, since_s: float) -> float | None:
    """Seconds left ``since_s`` seconds after a report that said ``seconds_left`` (not below 0)."""
    return None if seconds_left is None else max(0.0, seconds_left - max(0.0, since_s))


def duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def rate_text(rate: float | None, unit: str) -> str:
    """``3.2 examples/s`` or ``8.5 examples/min`` (whichever reads without leading zeros)."""
    if not rate:
        return f"– {unit}/s"
    return f"{rate:.1f} {unit}/s" if rate >= 1 else f"{rate * 60:.1f} {unit}/min"
