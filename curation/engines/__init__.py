"""Engines: where a stage's LLM work runs, batch by batch; the stage saves what comes back.

A stage splits its per-batch work in two. *Compute* (a :class:`Work`): a module-level function
of a batch of items, the clients and a shared, picklable context, returning one outcome per
item (a result, or the :class:`~curation.errors.LLMError` that stopped it) and touching no
store. *Commit*: the stage's own loop over :meth:`Engine.run`, saving each outcome to the store
in this process. :class:`LocalEngine` computes here with the given clients;
:class:`~curation.engines.ray_engine.RayEngine` on an actor pool of a Ray cluster, each actor
with a client of its own (the optional extra ``ray``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from curation.config import EngineConfig
from curation.llm.base import CallCache, ChatRequest
from curation.llm.client import LLMClient
from curation.records import Message

__all__ = ["Engine", "LocalEngine", "Lookups", "Work", "make_engine"]


@dataclass(frozen=True)
class Lookups:
    """Calls a batch may make whose replies an earlier run may have cached: chat requests
    (each of their samples) and likelihood passes ``(prompt turns, response)``."""

    requests: list[ChatRequest]
    likelihoods: list[tuple[tuple[Message, ...], str]]


@dataclass(frozen=True)
class Work:
    """One phase's compute step: ``compute(batch, *clients, **context)`` returns one outcome
    per item and raises :class:`~curation.errors.BudgetExceededError` when the budget runs
    out (``compute`` is module-level and ``context`` picklable, so that a worker elsewhere can
    run it); ``lookups(batch)`` names the calls a worker without the store needs from the cache."""

    compute: Callable[..., list[Any]]
    context: dict[str, Any]
    lookups: Callable[[list[Any]], Lookups]


class Engine(Protocol):
    def batch_size(self, client: LLMClient, sequences_per_item: int, items: int = 0) -> int:
        """Items a batch holds for ``client``'s backend (see :meth:`LLMClient.items_per_batch`),
        when ``items`` (0: unknown) are to be split into batches."""
        ...

    def run(
        self, work: Work, batches: list[list[Any]], *, clients: tuple[LLMClient, ...], cache: CallCache
    ) -> Iterator[tuple[list[Any], list[Any]]]:
        """Each batch with its outcomes, as they finish (not necessarily in order). Calls are
        counted in ``clients``' stats and cached in ``cache``; stopping the iteration stops
        the work. Raises BudgetExceededError once the budget is spent."""
        ...


class LocalEngine:
    """The work in this process, batch after batch, with the given clients."""

    def batch_size(self, client: LLMClient, sequences_per_item: int, items: int = 0) -> int:
        return client.items_per_batch(sequences_per_item)

    def run(
        self, work: Work, batches: list[list[Any]], *, clients: tuple[LLMClient, ...], cache: CallCache
    ) -> Iterator[tuple[list[Any], list[Any]]]:
        for batch in batches:  # the clients read and write ``cache`` themselves
            yield batch, work.compute(batch, *clients, **work.context)


def make_engine(config: EngineConfig) -> Engine:
    """The engine ``config.kind`` names.

    Raises:
        ConfigError: ``ray`` without Ray installed (the message says how to install it).
    """
    if config.kind == "ray":
        from curation.engines.ray_engine import RayEngine

        return RayEngine(config)
    return LocalEngine()
