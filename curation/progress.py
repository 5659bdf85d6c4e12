"""A terminal progress bar for pipeline runs: examples/s, ETA, calls, cache hits, tokens, cost."""
from __future__ import annotations

import sys

from tqdm import tqdm

from curation.pipeline import Progress


class ProgressBar:
    """One tqdm bar per stage, fed by :class:`~curation.pipeline.Progress` reports."""

    def __init__(self, *, price_known: bool = False, stream=None):
        self._bar: tqdm | None = None
        self._stage: str | None = None
        self._price_known = price_known
        self._stream = stream or sys.stderr

    def update(self, progress: Progress) -> None:
        if progress.stage != self._stage:
            self.close()
            self._stage = progress.stage
            self._bar = tqdm(total=progress.total, desc=progress.stage, unit="ex", file=self._stream,
                             dynamic_ncols=True)
        self._bar.n = progress.done
        s = progress.stats
        postfix = {"calls": int(s.get("calls", 0)), "hits": int(s.get("cache_hits", 0)),
                   "tokens": int(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0)),
                   "failed": progress.failed}
        if self._price_known:
            postfix["cost"] = f"${s.get('cost_usd', 0):.4f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
