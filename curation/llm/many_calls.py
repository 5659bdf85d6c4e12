"""The client's calls of many requests at once: :meth:`ManyCalls.complete_many` and its ways.

:class:`ManyCalls` is a part of :class:`~curation.llm.client.LLMClient` (a mixin: it uses the
client's one-request path, its cache, budget check and totals). In: a list of
:class:`~curation.llm.base.ChatRequest`. Out: one :data:`Outcome` per request, in input order:
its results, or the :class:`~curation.errors.LLMError` it failed with; one failing request
never stops the others. The requests go the way the backend serves them best: concurrently,
each through :meth:`~curation.llm.client.LLMClient.complete`; or, on a one-at-a-time backend
that decodes many together (the embedded model), in one ``complete_batch`` call. In batch mode
(``llm.batch``), :meth:`ManyCalls.complete_many` first sends the samples it misses through a
Batch API (:mod:`curation.llm.batch`), at the batch price, then finds them cached.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace

from curation.config import LLMConfig
from curation.errors import BudgetExceededError, LLMError, TransientLLMError
from curation.llm.accounting import LLMStats, call_cost
from curation.llm.base import CallCache, ChatBackend, ChatRequest, ChatResult
from curation.llm.batch import MAX_LINES, BatchRunner, most_cost

Outcome = list[ChatResult] | LLMError


class ManyCalls:
    """Many requests through the client's cache, retries and budget (see the module docstring)."""

    backend: ChatBackend
    config: LLMConfig
    batches: BatchRunner | None
    stats: LLMStats
    concurrency: int  # requests in flight at once
    _cache: CallCache
    _cache_lock: threading.Lock
    _clock: Callable[[], float]
    complete: Callable[[ChatRequest], list[ChatResult]]  # one request's samples, cached or fetched
    _enter: Callable[[], None]  # a request starts being served (for elapsed_s)
    _leave: Callable[[], None]  # ... and ends
    _keys: Callable[[list[ChatRequest]], list[list[str]]]  # per request, its samples' cache keys
    # per request, its samples' cache keys and the cached samples (None where missing)
    _lookup: Callable[[list[ChatRequest]], tuple[list[list[str]], list[list[ChatResult | None]]]]
    _fetch: Callable[..., None]  # fills a request's missing samples, retrying transient failures
    _account: Callable[..., None]  # counts a backend call's tokens, cost and time
    _store: Callable[[ChatRequest, str, ChatResult], None]  # caches one sample
    _check_budget: Callable[[], None]  # raises BudgetExceededError once the budget is spent
    _not_started: Callable[[], BudgetExceededError]  # the error of a request the budget left out

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
                for run in contiguous_runs([s for s, r in enumerate(got) if r is None])
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


def _batch_lines(
    requests: list[ChatRequest], keys: list[list[str]], skip: set[str]
) -> list[tuple[int, str, ChatRequest]]:
    """One batch line per run of consecutive samples of a request that are not in ``skip`` nor
    in an earlier line (a custom id appears once in a file): (request index, the run's first
    key as its custom id, the request for the run)."""
    lines, claimed = [], set(skip)
    for i, (request, ks) in enumerate(zip(requests, keys)):
        for run in contiguous_runs([s for s, k in enumerate(ks) if k not in claimed]):
            claimed.update(ks[s] for s in run)
            lines.append((i, ks[run[0]], replace(request, n=len(run), sample_index=request.sample_index + run[0])))
    return lines


def contiguous_runs(indices: list[int]) -> list[list[int]]:
    """Ascending indices cut into runs of consecutive ones: ``[0, 1, 3]`` gives ``[[0, 1], [3]]``."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs
