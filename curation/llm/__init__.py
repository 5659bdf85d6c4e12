"""The LLM seam: pick a backend from the config and wrap it in the caching client."""

from __future__ import annotations

import time

from curation.config import LLMConfig
from curation.errors import ConfigError
from curation.llm.base import CallCache, ChatBackend
from curation.llm.batch import BatchLog, BatchRunner
from curation.llm.client import LLMClient


def make_backend(config: LLMConfig) -> ChatBackend:
    """The backend the config names: the embedded GGUF model or an OpenAI-compatible endpoint."""
    if config.backend == "openai":
        from curation.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    from curation.llm.embedded import EmbeddedBackend

    return EmbeddedBackend(config)


def make_client(config: LLMConfig, cache: CallCache) -> LLMClient:
    """The client of ``config``'s backend over ``cache``; with ``config.batch``, its calls go
    through OpenAI's Batch API first, recorded in ``cache`` (which must then be a :class:`BatchLog`).

    Raises:
        ConfigError: batch mode with a cache that cannot record batches.
    """
    backend = make_backend(config)
    if not config.batch:
        return LLMClient(backend, cache=cache, config=config)
    if not isinstance(cache, BatchLog):
        raise ConfigError("config: llm.batch needs the project store, which records each batch for a rerun")
    from curation.llm.openai_batch import OpenAIBatchAPI

    runner = BatchRunner(
        OpenAIBatchAPI(config),
        cache,
        backend=backend.name,
        model=backend.model,
        seed=config.seed,
        base_url=config.base_url,
        poll_s=config.batch_poll_s,
        max_attempts=config.max_attempts,
        sleep=time.sleep,
    )
    return LLMClient(backend, cache=cache, config=config, batches=runner)
