"""The Export page's fine-tuning section (AppTest) against the loopback server: check, start,
follow to a model and its correct command; a refused file; a file in the wrong shape."""

from __future__ import annotations

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.config import Config, LLMConfig
from curation.export import export_dataset
from curation.store import Store
from tests.browser.apptest import app, texts, use_store
from tests.browser.seed import seed_scored_store

BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def server():
    with FakeOpenAIServer(fine_tune_steps=("queued", "running", "succeeded")) as fake:
        yield fake


@pytest.fixture
def seeded(tmp_path, monkeypatch, server):
    """The seeded store, its last run on the loopback endpoint, and its export written in the chat shape."""
    path = use_store(monkeypatch, tmp_path / "store.duckdb")
    seeded = seed_scored_store(path)
    with Store(path) as store:
        info = store.dataset(seeded.dataset)
        store.start_run(
            run_id="endpoint-run",
            dataset_id=info.dataset_id,
            stage="correct",
            backend="openai",
            model="fake-model",
            config=Config(llm=LLMConfig(backend="openai", model="fake-model", base_url=server.base_url)).to_dict(),
            score_key=None,
            n_examples=info.n_examples,
        )
        export_dataset(store, tmp_path / "chat.jsonl", dataset=seeded.dataset, fmt="chat")
        export_dataset(store, tmp_path / "alpaca.jsonl", dataset=seeded.dataset, fmt="alpaca")
    return seeded


def page(seeded, path):
    at = app("export").run()
    at.text_input(key=f"export_path:{seeded.dataset}").input(str(path)).run()
    return at


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_check_start_and_follow_to_the_correct_command(seeded, server, tmp_path):
    at = page(seeded, tmp_path / "chat.jsonl")
    assert any("No fine-tuning jobs" in t for t in texts(at, "caption"))
    at.button(key="finetune_check").click().run()
    assert not at.exception
    # 160 examples, the 6 flagged ones nobody decided on held back: 154.
    assert metric(at, "Examples to train") == "154" and metric(at, "Epochs") == "3"
    assert metric(at, "Cost (estimated)").startswith("$")
    assert any("meets the provider's rules" in t for t in texts(at, "success"))
    assert server.fine_tuning.files == {}  # checking sends nothing

    at.button(key="finetune_start").click().run()
    assert not at.exception
    assert any("Started job `ftjob-fake2`" in t for t in texts(at, "success"))
    assert list(at.dataframe[-1].value["status"]) == ["queued"]

    for expected in ("running", "succeeded"):
        at.button(key="finetune_refresh").click().run()
        assert list(at.dataframe[-1].value["status"]) == [expected]
    (code,) = at.code
    assert code.value.startswith("curate correct --store ")
    assert (
        f"--candidate-backend openai --candidate-model ft:{BASE}:fake::fake2 --candidate-base-url {server.base_url}"
        in code.value
    )


def test_a_refused_file_shows_the_providers_reason_and_records_nothing(seeded, server, tmp_path):
    server.fine_tuning.reject = True
    at = page(seeded, tmp_path / "chat.jsonl")
    at.button(key="finetune_start").click().run()
    assert not at.exception
    (error,) = texts(at, "error")
    assert "refused (400): Invalid file format" in error and "no job was started" in error
    assert not at.dataframe[-1:] or "status" not in at.dataframe[-1].value
    assert any("No fine-tuning jobs" in t for t in texts(at, "caption"))


def test_a_file_in_another_shape_is_refused_before_sending(seeded, server, tmp_path):
    at = page(seeded, tmp_path / "alpaca.jsonl")
    at.button(key="finetune_start").click().run()
    assert not at.exception
    (error,) = texts(at, "error")
    assert "alpaca.jsonl:1: messages is missing: the file is in the alpaca shape" in error
    assert server.fine_tuning.files == {}


def test_a_missing_file_asks_for_the_export_first(seeded, tmp_path):
    at = page(seeded, tmp_path / "not-yet.jsonl")
    at.button(key="finetune_check").click().run()
    assert not at.exception
    assert any("Write the export to" in t for t in texts(at, "info"))
