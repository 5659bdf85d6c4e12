"""The Run page (AppTest): settings, estimate, a background run with progress, cancel, history.

``run_pipeline`` is replaced by fakes: these tests are about the page, not the model.
"""

from __future__ import annotations

import threading
import time

import pytest

from curation import estimate, pipeline
from curation.errors import ConfigError
from curation.ingest import import_file
from curation.phases import Progress
from curation.pipeline import RunSummary
from curation.store import Store
from tests.browser.apptest import app, texts, use_store
from tests.browser.seed import SAMPLE_DIR
from ui.jobs import current_job

DATASET = "passage_qa"


@pytest.fixture
def store_file(tmp_path, monkeypatch):
    path = use_store(monkeypatch, tmp_path / "store.duckdb")
    with Store(path) as store:
        import_file(store, SAMPLE_DIR / "passage_qa.jsonl")
    return path


def key_of(at, prefix: str) -> str:
    return next(k for k in at.session_state if str(k).startswith(prefix))


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def finish(store_file) -> None:
    with Store(store_file) as store:
        job = current_job(store, DATASET)
    assert job is not None
    job.wait(10)
    assert not job.running


def test_empty_store_points_to_import(tmp_path, monkeypatch):
    use_store(monkeypatch, tmp_path / "empty.duckdb")
    at = app("run").run()
    assert not at.exception
    assert any("import one first" in t for t in texts(at, "info"))


def test_estimate_follows_the_settings(store_file):
    at = app("run").run()
    assert not at.exception
    assert metric(at, "Examples to score") == "150"
    calls = metric(at, "LLM calls (at most)")
    at.number_input(key=key_of(at, "run_k:")).set_value(1).run()
    assert not at.exception
    assert metric(at, "LLM calls (at most)") != calls


def test_openai_backend_asks_for_the_key_variable_not_the_key(store_file):
    at = app("run").run()
    at.selectbox(key=key_of(at, "run_backend:")).select("openai").run()
    assert not at.exception
    labels = [t.label for t in at.text_input]
    assert {"Base URL", "Model name", "API key environment variable"} <= set(labels)
    assert not [x for x in labels if "key" in x.lower() and "variable" not in x.lower()]
    at.text_input(key=key_of(at, "run_key_env:")).input("CLEAR_TEST_SURELY_UNSET").run()
    assert any("CLEAR_TEST_SURELY_UNSET is not set" in t for t in texts(at, "warning"))


def test_an_endpoint_with_likelihoods_is_one_choice_and_the_estimate_counts_them(store_file):
    at = app("run").run()
    at.selectbox(key=key_of(at, "run_backend:")).select("openai").run()
    at.text_input(key=key_of(at, "run_model_name:")).input("served-model").run()
    choice = at.selectbox(key=key_of(at, "run_prompt_logprobs:"))
    assert choice.label == "Likelihoods from the endpoint" and choice.value == "auto"
    calls = metric(at, "LLM calls (at most)")
    choice.select("on").run()
    assert not at.exception
    assert metric(at, "LLM calls (at most)") != calls  # reflections and the contrast, as on the embedded model


def test_an_empty_model_is_a_config_error(store_file):
    at = app("run").run()
    at.selectbox(key=key_of(at, "run_model:")).select("a GGUF file…").run()
    assert not at.exception
    assert any("llm.model is empty; enter the path of a .gguf file" in t for t in texts(at, "error"))
    assert not [b for b in at.button if b.key == "run_start"]


def test_a_config_error_is_shown(store_file, monkeypatch):
    def bad_estimate(store, dataset, config):
        raise ConfigError("config: llm.model = 'x' is neither a packaged model nor an existing .gguf file")

    monkeypatch.setattr(estimate, "estimate_run", bad_estimate)
    at = app("run").run()
    assert not at.exception
    assert any("llm.model = 'x'" in t for t in texts(at, "error"))


def test_start_runs_in_the_background_and_reports(store_file, monkeypatch):
    seen = {}

    def fake_run(store, dataset, config, *, stages, on_progress, should_stop):
        seen.update(
            dataset=dataset,
            k=config.scoring.k,
            eta=config.correct.eta,
            stages=stages,
            thread=threading.current_thread().name,
        )
        for done in range(1, 4):
            on_progress(
                Progress(
                    "score",
                    done,
                    3,
                    0,
                    {"calls": 2 * done, "cache_hits": 1, "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.01},
                )
            )
        return RunSummary(scored=3, flagged=1, proposed=1, auto_applied=0)

    monkeypatch.setattr(pipeline, "run_pipeline", fake_run)
    at = app("run").run()
    at.number_input(key=key_of(at, "run_k:")).set_value(3).run()
    at.button(key="run_start").click().run()
    finish(store_file)
    at.run()
    assert not at.exception
    assert seen == {
        "dataset": DATASET,
        "k": 3,
        "eta": 0.85,
        "stages": ("score", "filter", "correct"),
        "thread": f"clear-run-{DATASET}",
    }
    assert any("Finished: scored 3" in t and "flagged 1" in t for t in texts(at, "success"))
    assert metric(at, "Done") == "3" and metric(at, "LLM calls") == "6" and metric(at, "Cache hits") == "1"


def test_the_panel_names_the_phase_with_done_total_and_time_left_then_links_to_the_review(store_file, monkeypatch):
    reported, release = threading.Event(), threading.Event()

    def fake_run(store, dataset, config, *, stages, on_progress, should_stop):
        on_progress(Progress("load", 471, 471, 0, {}, rate=500.0, eta_s=0.0, elapsed_s=0.9, unit="MB"))
        on_progress(Progress("score", 12, 40, 0, {"calls": 36}, rate=0.2, eta_s=140.0, elapsed_s=60.0))
        reported.set()
        release.wait(10)
        return RunSummary(scored=40, flagged=7, proposed=5)

    monkeypatch.setattr(pipeline, "run_pipeline", fake_run)
    at = app("run").run()
    at.button(key="run_start").click().run()
    assert reported.wait(5)
    at.run()
    assert not at.exception
    [bar] = at.get("progress")
    assert bar.proto.text == "scoring (cheap signals): 12 of 40 examples · 12.0 examples/min, about 2 min left"
    assert any(
        c.value == "✓ loading the model (done in 1 s) → ▶ **scoring (cheap signals)** → "
        "sampling the uncertain (samples and self-reflection) → correcting"
        for c in at.caption
    )
    assert metric(at, "Done") == "12"
    release.set()
    finish(store_file)
    at.run()
    assert not at.exception
    [link] = at.get("page_link")
    assert (link.proto.label, link.proto.query_string) == ("Review the 7 flagged examples", "status=flagged")
    assert link.proto.page == "Review"


def test_a_stage_that_failed_most_examples_is_shown_in_red(store_file, monkeypatch):
    warning = "Auto-Correct failed on 25 of 25 flagged examples; first error: prompt of 2377 tokens does not fit"

    def failing_run(store, dataset, config, *, stages, on_progress, should_stop):
        return RunSummary(scored=3, flagged=25, warnings=[warning], notes=["correct: closed set of 8 responses"])

    monkeypatch.setattr(pipeline, "run_pipeline", failing_run)
    at = app("run").run()
    at.button(key="run_start").click().run()
    finish(store_file)
    at.run()
    assert not at.exception
    assert warning in texts(at, "error")
    assert any(t.startswith("Finished with failures: scored 3") for t in texts(at, "warning"))
    assert not texts(at, "success") and any("closed set of 8 responses" in c.value for c in at.caption)


def test_cancel_stops_the_run_and_a_new_session_reattaches(store_file, monkeypatch):
    started = threading.Event()

    def slow_run(store, dataset, config, *, stages, on_progress, should_stop):
        on_progress(Progress("score", 1, 150, 0, {"calls": 5}))
        started.set()
        deadline = time.time() + 10
        while not should_stop() and time.time() < deadline:
            time.sleep(0.02)
        return RunSummary(scored=1, stopped="cancelled")

    monkeypatch.setattr(pipeline, "run_pipeline", slow_run)
    at = app("run").run()
    at.button(key="run_start").click().run()
    assert started.wait(5)
    again = app("run").run()  # a refreshed browser: a new session finds the running job
    assert not again.exception
    assert again.button(key="run_start").disabled
    assert any(s.value == "Current run" for s in again.subheader)
    again.button(key="run_cancel").click().run()
    finish(store_file)
    again.run()
    assert any("Stopped (cancelled)" in t and "resume" in t for t in texts(again, "warning"))
    assert not again.button(key="run_start").disabled


def test_a_library_error_in_the_run_is_shown(store_file, monkeypatch):
    def failing_run(store, dataset, config, **_):
        raise ConfigError("stages: nope unknown; allowed: score, filter, correct")

    monkeypatch.setattr(pipeline, "run_pipeline", failing_run)
    at = app("run").run()
    at.button(key="run_start").click().run()
    finish(store_file)
    at.run()
    assert any("stages: nope unknown" in t for t in texts(at, "error"))


def test_previous_runs_are_listed(store_file):
    with Store(store_file) as store:
        info = store.dataset(DATASET)
        store.start_run(
            run_id="r1",
            dataset_id=info.dataset_id,
            stage="score",
            backend="embedded",
            model="qwen2.5-coder-0.5b",
            config={},
            score_key="k1",
            n_examples=150,
        )
        store.finish_run("r1", status="done")
    at = app("run").run()
    runs = at.dataframe[-1].value
    assert list(runs["stage"]) == ["score"] and list(runs["status"]) == ["done"]
