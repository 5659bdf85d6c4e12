"""The Ray engine: a stage's batches computed by a pool of Ray workers on a cluster (Ray Data).

In: a :class:`~curation.engines.Work` and its batches. The batches become a Ray Dataset, one
row a batch, each with the cache entries its calls may hit (read from the store here, so no
worker needs the store, a file or a path of this machine); Ray Data maps them on at most
``engine.actors`` workers at a time, ``engine.cpus_per_actor`` CPUs each. Each worker process
holds one client per model, kept for its later batches, phases and runs (:data:`_WORKERS`):
the embedded model loaded once from the packages installed on its node with
``cpus_per_actor`` threads (its prompt cache stays warm), or an endpoint client with its share
of ``llm.concurrency``. Out: each batch's outcomes as it finishes, its new cache entries
already written to the store and its calls added to the driver's client stats, so the stage
commits and a killed run resumes as with the local engine (only the batches in flight at the
kill are computed again).

The budget: each worker may spend what was left when the phase started; the driver stops the
phase once the spend it has been sent reaches the budget (an overshoot of at most the batches
in flight).
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from curation.config import EngineConfig, LLMConfig
from curation.engines import Work
from curation.errors import BudgetExceededError, ConfigError, LLMError
from curation.llm import make_client
from curation.llm.base import CallCache, ChatRequest, ChatResult, MemoryCache, TokenScores
from curation.llm.client import LLMClient, likelihood_key
from curation.records import Message

log = logging.getLogger(__name__)
INSTALL = 'pip install -e ".[ray]" (or pip install "ray[data]")'


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the extra's data part)
    except ImportError as e:
        raise ConfigError(f"engine.kind = 'ray' needs Ray, an optional extra: {INSTALL}") from e
    return ray


class RayEngine:
    """:class:`~curation.engines.Engine` over a Ray cluster (``engine.ray_address``, or a local
    Ray started on first use when None)."""

    def __init__(self, config: EngineConfig):
        _ray()  # fail at once, with the install line, when the extra is missing
        self.config = config

    def batch_size(self, client: LLMClient, sequences_per_item: int, items: int = 0) -> int:
        """At most what one worker's client takes at once (:meth:`LLMClient.items_per_batch`),
        and for ``items`` that need several batches, a number of them every worker gets alike
        (:func:`balanced_size`: 40 items of at most 24 make 2 batches of 20, not 24 and 16; a
        worker idle through a phase's last batch is what a phase of few batches loses most)."""
        share = LLMClient(client.backend, cache=MemoryCache(), config=self._share(client.config, 0.0))
        return balanced_size(share.items_per_batch(sequences_per_item), items, self.config.actors)

    def run(
        self, work: Work, batches: list[list[Any]], *, clients: tuple[LLMClient, ...], cache: CallCache
    ) -> Iterator[tuple[list[Any], list[Any]]]:
        if not batches:
            return
        ray = self._connect()
        rows = [{"batch": pickle.dumps((b, _cached(work, b, clients, cache)))} for b in batches]
        llms = [self._share(c.config, c.stats.cost_usd) for c in clients]
        results = ray.data.from_items(rows, override_num_blocks=len(rows)).map(
            _compute_row,
            fn_kwargs={"compute": work.compute, "context": work.context, "llms": llms},
            concurrency=min(self.config.actors, len(rows)),
            num_cpus=self.config.cpus_per_actor,
        )
        try:
            for row in results.iter_rows():
                batch, outcomes, entries, spent = pickle.loads(row["result"])
                for entry in entries:
                    cache.cache_put(entry.pop("key"), **entry)
                for client, delta in zip(clients, spent):
                    client.stats.add(**delta)
                if isinstance(outcomes, BudgetExceededError):
                    raise outcomes
                yield batch, outcomes
                _check_budget(clients[0])
        except ray.exceptions.RayError as e:
            raise LLMError(f"ray engine: a worker failed: {e}") from e

    def _connect(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            address = self.config.ray_address or None  # empty (the Run page's field): a local Ray
            ray.init(address=address, **({} if address else {"include_dashboard": False}))
        ray.data.DataContext.get_current().enable_progress_bars = False
        return ray

    def _share(self, llm: LLMConfig, spent: float) -> LLMConfig:
        """One worker's client settings: its CPUs as the embedded model's threads, its share of
        the endpoint concurrency, and what is left of the budget."""
        return replace(
            llm,
            n_threads=self.config.cpus_per_actor if llm.backend == "embedded" else llm.n_threads,
            concurrency=max(1, math.ceil(llm.concurrency / self.config.actors)),
            budget_usd=None if llm.budget_usd is None else max(0.0, llm.budget_usd - spent),
        )


def balanced_size(most: int, items: int, workers: int) -> int:
    """The batch size for ``items`` in batches of at most ``most``: when they need several, their
    number rounded up to a multiple of ``workers`` and the items spread evenly over them. Items
    that fit one batch stay one (``most``; also when ``items`` is 0, unknown): decoded together,
    as the local engine decodes them, so a tiny run scores as it does locally."""
    if items <= most:
        return most
    rounds = math.ceil(math.ceil(items / most) / workers)
    return max(1, math.ceil(items / (rounds * workers)))


def _cached(work: Work, batch: list[Any], clients: tuple[LLMClient, ...], cache: CallCache) -> dict[str, dict]:
    """The cache entries the batch's calls may be served from, for each client's model."""
    wanted = work.lookups(batch)
    keys = []
    for client in clients:
        name, model, seed = client.backend.name, client.backend.model, client.config.seed
        keys += [key for r in wanted.requests for key in r.sample_keys(name, model, seed)]
        keys += [likelihood_key(name, model, prompt, response) for prompt, response in wanted.likelihoods]
    return cache.cache_get_many(sorted(set(keys)))


def _check_budget(client: LLMClient) -> None:
    budget = client.config.budget_usd
    if budget is not None and client.stats.cost_usd >= budget:
        raise BudgetExceededError(f"budget of ${budget:.4f} reached; finished calls are cached and a rerun resumes")


class _WorkerCache:
    """A worker's call cache: the entries the driver sent with the batch, plus the new ones,
    which go back to the driver's store."""

    def __init__(self) -> None:
        self.known: dict[str, dict] = {}
        self.new: list[dict] = []

    def start(self, entries: dict[str, dict]) -> None:
        self.known, self.new = dict(entries), []

    def cache_get_many(self, keys: list[str]) -> dict[str, dict]:
        return {k: self.known[k] for k in keys if k in self.known}

    def cache_put(self, key: str, *, backend: str, model: str, request: dict, result: dict) -> None:
        self.known[key] = result
        self.new.append({"key": key, "backend": backend, "model": model, "request": request, "result": result})


class _Worker:
    """What one worker process holds: a client per model, built here from the settings (no
    driver path), kept for the process's later batches (:func:`_compute_row`)."""

    def __init__(self, llms: list[LLMConfig]):
        self._cache = _WorkerCache()
        self._clients = [make_client(llm, self._cache) for llm in llms]

    def __call__(self, row: dict[str, Any], compute: Any, context: dict[str, Any]) -> dict[str, Any]:
        batch, entries = pickle.loads(row["batch"])
        self._cache.start(entries)
        before = [c.snapshot() for c in self._clients]
        try:
            outcomes: Any = compute(batch, *self._clients, **context)
        except BudgetExceededError as e:
            outcomes = e
        spent = [
            {k: v - b[k] for k, v in c.snapshot().items() if k != "elapsed_s"} for c, b in zip(self._clients, before)
        ]
        return {"result": pickle.dumps((batch, outcomes, self._cache.new, spent))}


#: This process's workers by their models' settings: Ray reuses a worker process for later
#: tasks (of this phase, the next phase and the next run of the same driver), so each loads
#: its model once and keeps its prompt cache warm (a new actor pool per phase loaded it anew).
_WORKERS: dict[bytes, _Worker] = {}


def _compute_row(
    row: dict[str, Any], *, compute: Any, context: dict[str, Any], llms: list[LLMConfig]
) -> dict[str, Any]:
    """One batch on a Ray worker, with the process's worker for ``llms``."""
    key = pickle.dumps(llms)
    if key not in _WORKERS:
        _WORKERS.clear()  # other settings (a budget left): the loaded models stay in llm.embedded
        _WORKERS[key] = _Worker(llms)
    return _WORKERS[key](row, compute, context)


class _OnWorkers:
    """The driver's stand-in for a backend that runs on the workers: it names the backend and
    model (the cache keys) and declares its batching, and never calls a model."""

    def __init__(self, config: LLMConfig):
        self.name, self.model = config.backend, config.model
        if config.backend == "embedded":
            from curation.llm.engine import MAX_SEQUENCES

            self.max_concurrency, self.max_batch_sequences = 1, MAX_SEQUENCES
        else:
            from curation.llm.openai_backend import MAX_CONCURRENCY

            self.max_concurrency, self.max_batch_sequences = MAX_CONCURRENCY, 0

    def _elsewhere(self, *_: Any) -> Any:
        raise LLMError(f"{self.name}/{self.model} runs on the Ray workers, not in the driver")

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        return self._elsewhere()

    def complete_batch(self, requests: list[ChatRequest]) -> list[list[ChatResult] | Exception]:
        return self._elsewhere()

    def score_tokens(
        self, messages: tuple[Message, ...], response: str, *, without_prompt: bool = False
    ) -> TokenScores | None:
        return self._elsewhere()

    def continuation_logprobs(self, messages: tuple[Message, ...], responses: list[str]) -> list[list[float]] | None:
        return self._elsewhere()

    def close(self) -> None:
        """Nothing held here."""


def driver_client(config: LLMConfig, cache: CallCache) -> LLMClient:
    """The driver's client for a model served by the actors: cache keys, stats and budget,
    with no model loaded here."""
    return LLMClient(_OnWorkers(config), cache=cache, config=config)
