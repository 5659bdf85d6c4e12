"""Shared fixtures: a temporary store, real embedded models loaded once per session, the Review page (AppTest)."""

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


@pytest.fixture
def app(tmp_path, monkeypatch):
    """A function giving an AppTest of the Review page on the store at ``tmp_path`` (seeded or not);
    the tests/test_app_review*.py files share it."""
    from streamlit.testing.v1 import AppTest

    from tests.browser.apptest import PAGES, ROOT
    from tests.test_review import seed
    from ui import common

    path = tmp_path / "store.duckdb"
    monkeypatch.setenv(common.STORE_ENV, str(path))
    common.open_store.clear()

    def make(*, seeded=True, annotator="ann"):
        if seeded:
            with Store(path) as store:
                seed(store)
        at = AppTest.from_file(str(ROOT / PAGES["review"]), default_timeout=30)
        if annotator:
            at.session_state["annotator"] = annotator
        return at.run()

    yield make
    common.open_store.clear()
