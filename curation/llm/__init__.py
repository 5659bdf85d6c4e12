"""The LLM seam: pick a backend from the config and wrap it in the caching client."""

from __future__ import annotations

from curation.config import LLMConfig
from curation.llm.base import CallCache, ChatBackend
from curation.llm.client import LLMClient


def make_backend(config: LLMConfig) -> ChatBackend:
    """The backend the config names: the embedded GGUF model or an OpenAI-compatible endpoint."""
    if config.backend == "openai":
        from curation.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    from curation.llm.embedded import EmbeddedBackend

    return EmbeddedBackend(config)


def make_client(config: LLMConfig, cache: CallCache) -> LLMClient:
    return LLMClient(make_backend(config), cache=cache, config=config)
