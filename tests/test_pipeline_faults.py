"""A whole run's faults, budget and refusals against the loopback server (counts: tests/test_pipeline.py)."""

from __future__ import annotations

import pytest

from benchmarks.support.fake_http import EMPTY_CHOICES, MALFORMED, RATE_LIMIT, SERVER_ERROR
from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.config import Config
from curation.errors import ConfigError, StorageError
from curation.pipeline import run_pipeline
from curation.score import score_key
from tests.support.scripted import ARITHMETIC, WRONG, ArithmeticModel, question_of, request_text
from tests.test_pipeline import (
    FULL_RUN_REQUESTS,
    SCORE_REQUESTS,
    api_key,  # noqa: F401 - the autouse fixture that puts the key in the environment
    config,
    imported,
    new_requests,
)

FAULT_KINDS = (RATE_LIMIT, SERVER_ERROR, MALFORMED, EMPTY_CHOICES)


def test_transient_faults_fail_single_examples_and_a_rerun_retries_only_those(store, tmp_path):
    with FakeOpenAIServer(
        reply=ArithmeticModel(), fault_rate=0.2, fault_kinds=FAULT_KINDS, seed=8, retry_after="0"
    ) as server:
        info = imported(store, tmp_path)
        cfg = config(server, **{"llm.concurrency": 1, "llm.max_attempts": 2})
        first = run_pipeline(store, "arith", cfg, stages=("score",))
        assert first.stopped is None
        assert first.scored + first.failed == 8 and first.failed >= 1  # seed 8: two examples hit a fault twice
        rows = store.scores(info.dataset_id, score_key(cfg))
        failed = {r["example_id"] for r in rows if r["status"] == "failed"}
        assert len(failed) == first.failed
        for r in rows:
            assert r["status"] in ("ok", "failed")
            if r["status"] == "failed":
                assert "failed after 2 attempts" in r["error"] and r["confidence"] is None
            else:
                assert r["error"] is None and r["confidence"] in (0.0, 1.0)
        answered_ok = server.count("ok")
        assert server.count() > answered_ok  # faults were served

        server.fault_rate = 0.0
        before = server.count()
        second = run_pipeline(store, "arith", cfg, stages=("score",))
        retried = new_requests(server, before)
        questions = {q for i, q, _ in ARITHMETIC if i in failed}
        assert retried and {question_of(request_text(r)) for r in retried} <= questions
        assert (second.scored, second.failed) == (len(failed), 0)
        # no request that was answered is asked again: answered ones add up to a clean run's
        assert server.count("ok") == SCORE_REQUESTS
        assert store.confidences(info.dataset_id, score_key(cfg)) == {
            i: (0.0 if i in WRONG else 1.0) for i, _, _ in ARITHMETIC
        }


def test_budget_stops_cleanly_and_a_bigger_budget_resumes(store, tmp_path):
    # The server counts a token per word: a reflection request is ~100 prompt tokens, so at
    # $10,000 per million tokens ($0.01 a token) a $1.5 budget pays for two calls.
    prices = {"llm.price_prompt_per_m": 10_000.0, "llm.price_completion_per_m": 10_000.0, "llm.concurrency": 1}
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        info = imported(store, tmp_path)
        stopped = run_pipeline(store, "arith", config(server, **prices, **{"llm.budget_usd": 1.5}))
        assert stopped.stopped == "budget"
        assert server.count() == 2 and stopped.stats["cost_usd"] >= 1.5
        assert stopped.flagged == 0 and "filter" not in stopped.run_ids
        assert {r["stage"]: r["status"] for r in store.runs(info.dataset_id)} == {"score": "budget"}

        resumed = run_pipeline(store, "arith", config(server, **prices, **{"llm.budget_usd": 1000.0}))
        assert resumed.stopped is None and resumed.auto_applied == 2
        assert server.count() == FULL_RUN_REQUESTS
        assert resumed.stats["cache_hits"] >= 2


def test_filter_alone_with_other_settings_keeps_the_flags(store, tmp_path):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        info = imported(store, tmp_path)
        run_pipeline(store, "arith", config(server))
    # The default (embedded) settings have no scores here: filtering on them would flag nothing.
    with pytest.raises(ConfigError, match="dataset 'arith' was scored with other settings"):
        run_pipeline(store, "arith", Config().with_overrides({"filter.gamma": 0.9}), stages=("filter",))
    assert store.flagged_ids(info.dataset_id) == sorted(WRONG)


def test_unknown_stage_and_dataset_are_refused(store, tmp_path):
    imported(store, tmp_path)
    with pytest.raises(ConfigError, match="stages: review unknown; allowed: score, filter, correct"):
        run_pipeline(store, "arith", Config(), stages=("score", "review"))
    with pytest.raises(StorageError, match="no dataset named 'nope'"):
        run_pipeline(store, "nope", Config(), stages=("filter",))
