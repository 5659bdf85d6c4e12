"""The one door to the language model: cache, retry, concurrency, cost and budget.

In: :class:`~curation.llm.base.ChatRequest` objects. Out: lists of
:class:`~curation.llm.base.ChatResult` (one per sample), each sample served from the
:class:`~curation.llm.base.CallCache` when it was ever paid for, else from the backend.
Transient failures are retried with exponential backoff and full jitter; a request that
fails for good raises :class:`~curation.errors.LLMError` (or, in
:meth:`LLMClient.complete_many`, yields it in its slot while the batch goes on). Once the
configured budget is spent, no new backend call is made: the run stops with
:class:`~curation.errors.BudgetExceededError` and a later run resumes from the cache.

Backend convention: a request with ``n`` samples and ``sample_index = s`` asks for samples
``s .. s + n - 1``; the client only ever asks for the samples it is missing.

Many requests at once (:meth:`LLMClient.complete_many`: concurrent calls, one decode batch, or
in batch mode a Batch API first) are the client's part in :mod:`curation.llm.many_calls`;
its likelihood calls are in :mod:`curation.llm.likelihoods`.

Totals and estimates are computed in :mod:`curation.llm.accounting` (re-exported here).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace

from curation.config import LLMConfig
from curation.errors import BudgetExceededError, LLMError, TransientLLMError
from curation.llm.accounting import Estimate, LLMStats, call_cost, estimate
from curation.llm.base import CallCache, ChatBackend, ChatRequest, ChatResult
from curation.llm.batch import BatchRunner
from curation.llm.likelihoods import SCORE_TOKENS_VERSION, LikelihoodCalls, likelihood_key
from curation.llm.many_calls import ManyCalls, contiguous_runs
from curation.llm.retry import backoff_delay

log = logging.getLogger(__name__)

__all__ = ["SCORE_TOKENS_VERSION", "Estimate", "LLMClient", "LLMStats", "estimate", "likelihood_key"]


class LLMClient(LikelihoodCalls, ManyCalls):
    """Cached, retried, concurrent, accounted access to one :class:`ChatBackend`."""

    def __init__(
        self,
        backend: ChatBackend,
        *,
        cache: CallCache,
        config: LLMConfig,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        batches: BatchRunner | None = None,
    ) -> None:
        """Wire the client.

        Args:
            backend: the model (its ``name`` and ``model`` are part of every cache key).
            cache: where finished samples are read and written; the client serialises its
                own access to it, so a cache need not be thread-safe.
            config: ``concurrency``, ``max_attempts``, ``backoff_base_s``,
                ``backoff_max_s``, prices and ``budget_usd`` are used.
            sleep: waits between attempts (inject a recorder in tests).
            clock: a monotonic clock for timings.
            rng: jitter source; default ``random.Random(config.seed)``.
            batches: batch mode: :meth:`complete_many` sends its uncached samples through
                this Batch API runner first (:mod:`curation.llm.batch`).
        """
        self.backend = backend
        self.config = config
        self.batches = batches
        self.stats = LLMStats()
        self._cache = cache
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random(config.seed)
        self._cache_lock = threading.Lock()
        self._rng_lock = threading.Lock()
        self._active_lock = threading.Lock()
        self._active = 0
        self._active_since = 0.0

    @property
    def concurrency(self) -> int:
        """Requests in flight at once: ``min(config.concurrency, backend.max_concurrency)``."""
        return max(1, min(self.config.concurrency, self.backend.max_concurrency))

    def snapshot(self) -> dict[str, float]:
        """The running totals as a plain dict (see :class:`LLMStats`)."""
        return self.stats.snapshot()

    def estimate(
        self,
        n_calls: int,
        prompt_tokens_per_call: float,
        completion_tokens_per_call: float,
        *,
        seconds_per_call: float,
    ) -> Estimate:
        """:func:`estimate` with this client's prices and concurrency."""
        return estimate(
            n_calls,
            prompt_tokens_per_call,
            completion_tokens_per_call,
            seconds_per_call=seconds_per_call,
            concurrency=self.concurrency,
            price_prompt_per_m=self.config.prices()[0],
            price_completion_per_m=self.config.prices()[1],
        )

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        """``request.n`` samples, cached ones first, the missing ones from the backend.

        Args:
            request: the call to make, for samples ``sample_index .. sample_index + n - 1``;
                each is cached under its key in ``request.sample_keys(backend.name, backend.model, seed)``.

        Returns:
            ``request.n`` results in sample order; served-from-cache ones have ``cached=True``.

        Raises:
            BudgetExceededError: a backend call was needed but the budget is spent.
            LLMError: the backend failed for good (after ``config.max_attempts`` attempts
                for transient failures), or ``request.n`` < 1.
        """
        if request.n < 1:
            raise LLMError(f"request.n must be >= 1, got {request.n}")
        self._enter()
        try:
            return self._complete(request)
        finally:
            self._leave()

    def _complete(self, request: ChatRequest) -> list[ChatResult]:
        [keys], [results] = self._lookup([request])
        for run in contiguous_runs([i for i, result in enumerate(results) if result is None]):
            self._fetch(request, run, keys, results)
        return [result for result in results if result is not None]

    def _lookup(self, requests: list[ChatRequest]) -> tuple[list[list[str]], list[list[ChatResult | None]]]:
        """Per request, the cache key of each sample and the cached sample (None where
        missing), read in one go; hits and misses are counted."""
        keys = self._keys(requests)
        with self._cache_lock:
            stored = self._cache.cache_get_many([k for ks in keys for k in ks])
        results = [[_from_cache(stored[k], k) if k in stored else None for k in ks] for ks in keys]
        missing = sum(r is None for got in results for r in got)
        self.stats.add(cache_hits=sum(map(len, keys)) - missing, cache_misses=missing)
        return keys, results

    def _keys(self, requests: list[ChatRequest]) -> list[list[str]]:
        """Per request, the cache key of each of its samples."""
        name, model, seed = self.backend.name, self.backend.model, self.config.seed
        return [r.sample_keys(name, model, seed) for r in requests]

    def _fetch(self, request: ChatRequest, run: list[int], keys: list[str], results: list[ChatResult | None]) -> None:
        """Fill ``results[i]`` for every sample index in ``run``, retrying transient failures."""
        pending = list(run)
        failed_attempts = 0
        while pending:
            self._check_budget()
            sub = replace(request, n=len(pending), sample_index=request.sample_index + pending[0])
            started = self._clock()
            try:
                got = self.backend.complete(sub)
                if not got:
                    raise TransientLLMError("backend returned no samples")
            except TransientLLMError as e:
                self.stats.add(calls=1, backend_s=self._clock() - started)
                failed_attempts += 1
                self._retry_or_fail(failed_attempts, e, what="call")
                continue
            except LLMError:
                self.stats.add(calls=1, backend_s=self._clock() - started, failures=1)
                raise
            got = got[: len(pending)]
            self._account(got, backend_s=self._clock() - started)
            for index, result in zip(pending, got):
                results[index] = result
                self._store(request.sample(index), keys[index], result)
            pending = pending[len(got) :]

    def _retry_or_fail(self, failed_attempts: int, error: TransientLLMError, *, what: str) -> None:
        """After a transient failure: wait before the next attempt, or, once ``max_attempts``
        have failed, count the failure and raise it as an :class:`LLMError` naming ``what`` failed."""
        if failed_attempts >= self.config.max_attempts:
            self.stats.add(failures=1)
            raise LLMError(
                f"{self.backend.name}/{self.backend.model}: {what} failed after {failed_attempts} attempts: {error}"
            ) from error
        self._wait(failed_attempts - 1, error)

    def _wait(self, attempt: int, error: TransientLLMError) -> None:
        with self._rng_lock:
            delay = backoff_delay(
                attempt,
                base_s=self.config.backoff_base_s,
                max_s=self.config.backoff_max_s,
                rng=self._rng,
                retry_after=error.retry_after,
            )
        self.stats.add(retries=1)
        log.info("transient LLM failure (%s); retrying in %.2f s", error, delay)
        self._sleep(delay)

    def _account(self, got: list[ChatResult], *, backend_s: float) -> None:
        prompt = sum(r.prompt_tokens for r in got)
        completion = sum(r.completion_tokens for r in got)
        cost = call_cost(prompt, completion, self.config.price_prompt_per_m, self.config.price_completion_per_m)
        self.stats.add(calls=1, backend_s=backend_s, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)

    def _store(self, single: ChatRequest, key: str, result: ChatResult) -> None:
        with self._cache_lock:
            self._cache.cache_put(
                key,
                backend=self.backend.name,
                model=self.backend.model,
                request=asdict(single),
                result=result.to_json(),
            )

    def _check_budget(self) -> None:
        budget = self.config.budget_usd
        if budget is not None and self.stats.snapshot()["cost_usd"] >= budget:
            raise BudgetExceededError(
                f"budget of ${budget:.4f} reached (spent ${self.stats.cost_usd:.4f}); "
                "finished calls are cached and a rerun resumes from them"
            )

    def _not_started(self) -> BudgetExceededError:
        budget = self.config.budget_usd or 0.0
        return BudgetExceededError(f"not started: budget of ${budget:.4f} reached; a rerun resumes from the cache")

    def _enter(self) -> None:
        with self._active_lock:
            if self._active == 0:
                self._active_since = self._clock()
            self._active += 1

    def _leave(self) -> None:
        with self._active_lock:
            self._active -= 1
            if self._active == 0:
                self.stats.add(elapsed_s=self._clock() - self._active_since)


def _from_cache(data: dict, key: str) -> ChatResult | None:
    try:
        return ChatResult.from_json(data, cached=True)
    except (KeyError, TypeError, ValueError) as e:
        log.warning("ignoring unreadable cache entry %s: %s", key[:12], e)
        return None
