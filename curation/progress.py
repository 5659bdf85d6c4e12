"""A terminal progress bar for pipeline runs: one bar per named phase (preparing the model
on its first use, loading it, scoring, correcting) with done / total, the rate and time left
the pipeline measured (:mod:`curation.throughput`), calls, cache hits, tokens and cost."""

from __future__ import annotations

import sys

from tqdm import tqdm

from curation.phases import PHASES, Progress

#: tqdm's own rate and ETA are left out: the pipeline's weighted ones are shown instead.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}{postfix}"


class ProgressBar:
    """One tqdm bar per phase, fed by :class:`~curation.phases.Progress` reports."""

    def __init__(self, *, price_known: bool = False, stream=None):
        self._bar: tqdm | None = None
        self._stage: str | None = None
        self._price_known = price_known
        self._stream = stream or sys.stderr

    def update(self, progress: Progress) -> None:
        if progress.stage != self._stage:
            self.close()
            self._stage = progress.stage
            self._bar = tqdm(
                total=progress.total,
                desc=PHASES.get(progress.stage, progress.stage),
                unit=progress.unit,
                file=self._stream,
                dynamic_ncols=True,
                bar_format=BAR_FORMAT,
            )
        self._bar.total = progress.total
        self._bar.n = progress.done
        self._bar.set_postfix_str(postfix(progress, price_known=self._price_known), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def postfix(progress: Progress, *, price_known: bool = False) -> str:
    """``8.5 examples/min, about 3 min left, calls 120, hits 4, tokens 35,210, failed 0``."""
    parts = [progress.pace()]
    if progress.unit != "examples":  # preparing or loading the model: no calls yet
        return parts[0]
    s = progress.stats
    parts += [
        f"calls {int(s.get('calls', 0)):,}",
        f"hits {int(s.get('cache_hits', 0)):,}",
        f"tokens {int(s.get('prompt_tokens', 0) + s.get('completion_tokens', 0)):,}",
        f"failed {progress.failed:,}",
    ]
    if price_known:
        parts.append(f"${s.get('cost_usd', 0):.4f}")
    return ", ".join(parts)
