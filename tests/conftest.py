"""Shared fixtures: a temporary store, and real embedded models loaded once per session."""

from __future__ import annotations

import pytest

from curation.config import LLMConfig
from curation.store import Store


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.duckdb") as s:
        yield s


@pytest.fixture(scope="session")
def small_backend():
    """SmolLM2-135M-Instruct: a real model for tests that only need an answer."""
    from curation.llm.embedded import EmbeddedBackend

    return EmbeddedBackend(LLMConfig(model="smollm2-135m", n_ctx=1024))


@pytest.fixture(scope="session")
def default_backend():
    """The default embedded model (Qwen2.5-Coder-0.5B-Instruct), loaded once."""
    from curation.llm.embedded import EmbeddedBackend

    return EmbeddedBackend(LLMConfig())
