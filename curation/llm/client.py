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

In batch mode (``llm.batch``), :meth:`LLMClient.complete_many` first sends the samples it
misses through a Batch API (:mod:`curation.llm.batch`), at the batch price, then finds them cached.

Totals and estimates are computed in :mod:`curation.llm.accounting` (re-exported here).
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, replace

from curation.config import LLMConfig
from curation.errors import BudgetExceededError, LLMError, TransientLLMError
from curation.llm.accounting import Estimate, LLMStats, call_cost, estimate
from curation.llm.base import CallCache, ChatBackend, ChatRequest, ChatResult
from curation.llm.batch import MAX_LINES, BatchRunner, most_cost
from curation.llm.likelihoods import SCORE_TOKENS_VERSION, LikelihoodCalls, likelihood_key
from curation.llm.retry import backoff_delay

log = logging.getLogger(__name__)

__all__ = ["SCORE_TOKENS_VERSION", "Estimate", "LLMClient", "LLMStats", "Outcome", "estimate", "likelihood_key"]

Outcome = list[ChatResult] | LLMError


class LLMClient(LikelihoodCalls):
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

    def items_per_batch(self, sequences_per_item: int) -> int:
        """How many items (e.g. examples, each asking for ``sequences_per_item`` samples) to
        hand to :meth:`complete_many` at once: two per request in flight on a concurrent
        backend; on a batching one, as many as it decodes together
        (``backend.max_batch_sequences``). Small enough that a kill loses little. In batch
        mode, as many as one batch file holds: a batch is recorded, so a kill loses nothing."""
        if self.batches is not None:
            return max(1, MAX_LINES // max(1, sequences_per_item))
        if self.concurrency > 1:
            return 2 * self.concurrency
        return max(1, self.backend.max_batch_sequences // max(1, sequences_per_item))

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

    def complete_many(
        self,
        requests: Iterable[ChatRequest],
        *,
        on_result: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Run many requests concurrently; one failing request never stops the batch.

        Args:
            requests: the calls to make.
            on_result: called as ``on_result(index, outcome)`` in the caller's thread as
                each request finishes (for progress bars).

        Returns:
            One outcome per request, in input order: its results, or the
            :class:`LLMError` it failed with. Once the budget is spent no new request is
            started; those left are given a :class:`BudgetExceededError`.
        """
        todo = list(requests)
        if self.concurrency == 1 and self.backend.max_batch_sequences > 0:
            return self._complete_together(todo, on_result)
        held = self._prefetch(self.batches, todo) if self.batches is not None else set()
        outcomes: list[Outcome | None] = [None] * len(todo)
        stop = threading.Event()
        window = 2 * self.concurrency

        def run(index: int) -> Outcome:
            if stop.is_set() or index in held:
                return self._not_started()
            try:
                return self.complete(todo[index])
            except LLMError as e:
                return e

        def finish(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome
            if isinstance(outcome, BudgetExceededError):
                stop.set()
            if on_result is not None:
                on_result(index, outcome)

        pending: dict[Future[Outcome], int] = {}
        next_index = 0
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="llm") as pool:
            try:
                while next_index < len(todo) or pending:
                    while next_index < len(todo) and len(pending) < window and not stop.is_set():
                        pending[pool.submit(run, next_index)] = next_index
                        next_index += 1
                    if not pending:
                        break
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        finish(pending.pop(future), future.result())
            finally:
                for future in pending:
                    future.cancel()
        for index in range(next_index, len(todo)):
            finish(index, self._not_started())
        return [outcome for outcome in outcomes if outcome is not None]

    def _prefetch(self, runner: BatchRunner, todo: list[ChatRequest]) -> set[int]:
        """Batch mode: wait for the batches a killed run left open, then send the samples of
        ``todo`` not cached (nor left unanswered by a batch before: those go as normal calls)
        as batches, cut to what the budget can pay at most, and wait for them; their results
        land in the cache. Returns the indices of the requests left out for the budget."""
        self._enter()
        try:
            self._account_batch(runner.resume())
            keys = self._keys(todo)
            with self._cache_lock:
                skip = self._cache.cache_get_many([k for ks in keys for k in ks]).keys() | runner.failures()
            lines = _batch_lines(todo, keys, skip)
            budget = self.config.budget_usd
            room = math.inf if budget is None else budget - self.stats.snapshot()["cost_usd"]
            costs = itertools.accumulate(most_cost(r, self.config.prices()) for _, _, r in lines)
            fits = sum(1 for total in costs if total <= room)
            self._account_batch(runner.send([(cid, r) for _, cid, r in lines[:fits]]))
            return {i for i, _, _ in lines[fits:]}
        finally:
            self._leave()

    def _account_batch(self, got: list[ChatResult]) -> None:
        prompt = sum(r.prompt_tokens for r in got)
        completion = sum(r.completion_tokens for r in got)
        cost = call_cost(prompt, completion, *self.config.prices())
        self.stats.add(batched=len(got), prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)

    def _complete_together(
        self, todo: list[ChatRequest], on_result: Callable[[int, Outcome], None] | None
    ) -> list[Outcome]:
        """:meth:`complete_many` for a one-at-a-time backend that serves many requests in one
        ``complete_batch`` call (the embedded model decodes their samples together). Cached
        samples are not asked for; a request the batch answered with a transient error, or
        with fewer samples, goes the retrying way of :meth:`complete` for the rest."""
        self._enter()
        try:
            keys, results = self._lookup(todo)
            errors: dict[int, LLMError] = {
                i: LLMError(f"request.n must be >= 1, got {r.n}") for i, r in enumerate(todo) if r.n < 1
            }
            runs = [
                (i, run)
                for i, got in enumerate(results)
                for run in _contiguous_runs([s for s, r in enumerate(got) if r is None])
            ]
            if runs:
                errors.update(self._batch_runs(todo, runs, keys, results))
            outcomes: list[Outcome] = []
            for i, got in enumerate(results):
                outcomes.append(errors.get(i) or [r for r in got if r is not None])
                if on_result is not None:
                    on_result(i, outcomes[-1])
            return outcomes
        finally:
            self._leave()

    def _batch_runs(
        self,
        todo: list[ChatRequest],
        runs: list[tuple[int, list[int]]],
        keys: list[list[str]],
        results: list[list[ChatResult | None]],
    ) -> dict[int, LLMError]:
        """Fill the missing samples ``runs`` (request index, sample indices) in one backend call."""
        try:
            self._check_budget()
        except BudgetExceededError as e:
            return {i: e for i, _ in runs}
        started = self._clock()
        outcomes = self.backend.complete_batch(
            [replace(todo[i], n=len(run), sample_index=todo[i].sample_index + run[0]) for i, run in runs]
        )
        share = (self._clock() - started) / len(runs)
        errors: dict[int, LLMError] = {}
        for (i, run), outcome in zip(runs, outcomes):
            if isinstance(outcome, LLMError) and not isinstance(outcome, TransientLLMError):
                self.stats.add(calls=1, backend_s=share, failures=1)
                errors[i] = outcome
                continue
            got = [] if isinstance(outcome, LLMError) else outcome[: len(run)]
            if got:
                self._account(got, backend_s=share)
            else:
                self.stats.add(calls=1, backend_s=share)
            for index, result in zip(run, got):
                results[i][index] = result
                self._store(todo[i].sample(index), keys[i][index], result)
            if len(got) < len(run):
                try:
                    self._fetch(todo[i], run[len(got) :], keys[i], results[i])
                except LLMError as e:
                    errors[i] = e
        return errors

    def _complete(self, request: ChatRequest) -> list[ChatResult]:
        [keys], [results] = self._lookup([request])
        for run in _contiguous_runs([i for i, result in enumerate(results) if result is None]):
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


def _batch_lines(
    requests: list[ChatRequest], keys: list[list[str]], skip: set[str]
) -> list[tuple[int, str, ChatRequest]]:
    """One batch line per run of consecutive samples of a request that are not in ``skip`` nor
    in an earlier line (a custom id appears once in a file): (request index, the run's first
    key as its custom id, the request for the run)."""
    lines, claimed = [], set(skip)
    for i, (request, ks) in enumerate(zip(requests, keys)):
        for run in _contiguous_runs([s for s, k in enumerate(ks) if k not in claimed]):
            claimed.update(ks[s] for s in run)
            lines.append((i, ks[run[0]], replace(request, n=len(run), sample_index=request.sample_index + run[0])))
    return lines


def _contiguous_runs(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _from_cache(data: dict, key: str) -> ChatResult | None:
    try:
        return ChatResult.from_json(data, cached=True)
    except (KeyError, TypeError, ValueError) as e:
        log.warning("ignoring unreadable cache entry %s: %s", key[:12], e)
        return None
