"""Likelihoods from an endpoint that scores a request's own tokens (vLLM's ``prompt_logprobs``).

The reading of a reply is pure (:mod:`curation.llm.prompt_logprobs`); the backend is driven
through the real ``openai`` package against the loopback server, which answers as vLLM does
(scores the rendered conversation), as Ollama does (ignores the ask) or as OpenAI does (refuses
an unknown parameter with a 400).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from benchmarks.support.fake_http import SERVER_ERROR
from benchmarks.support.fake_openai import FakeOpenAIServer, template_logprobs
from curation.config import LLMConfig
from curation.errors import LLMError
from curation.llm import prompt_logprobs as P
from curation.llm.base import MemoryCache
from curation.llm.client import LLMClient
from curation.llm.openai_backend import OpenAIBackend
from curation.records import Message

ROOT = Path(__file__).resolve().parents[1]
PROMPT = (Message("user", "Who wrote Hamlet? Answer: Shakespeare or Marlowe."),)


def entry(text: str, logprob: float, token_id: int = 7) -> dict:
    return {str(token_id): {"logprob": logprob, "rank": 1, "decoded_token": text}}


def reply(*tokens: tuple[str, float] | None, where: str = "top") -> dict:
    entries = [None if t is None else entry(*t) for t in tokens]
    if where == "top":
        return {"choices": [{"message": {"content": "x"}}], "prompt_logprobs": entries}
    return {"choices": [{"text": "x", "prompt_logprobs": entries}]}


# -- reading a reply (pure) ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["top", "choice"])
def test_the_response_tokens_and_the_end_of_turn_are_read(where):
    data = reply(
        None,
        ("user\n", -1.0),
        ("Q?", -2.0),
        ("<|im_end|>", -0.1),
        ("assistant\n", -0.2),
        ("Shake", -0.5),
        ("speare", -0.1),
        ("<|im_end|>", -0.3),
        ("\n", -0.01),
        where=where,
    )
    scores = P.token_scores(P.prompt_tokens(data), "Shakespeare")
    assert scores.n_tokens == 2
    assert scores.mean_logprob_with_prompt == pytest.approx(-0.3)
    assert scores.end_logprob == pytest.approx(-0.3)
    assert scores.min_k_logprob == pytest.approx(-0.5)
    assert scores.mean_logprob_without_prompt is None  # no IFD from one request


def test_the_last_occurrence_is_the_response_even_when_the_prompt_quotes_it():
    tokens = [P.PromptToken("Is Shakespeare right?", -5.0), P.PromptToken("Shakespeare", -0.2), P.PromptToken("", -0.4)]
    assert P.response_logprobs(tokens, "Shakespeare") == ([-0.2], -0.4)  # special tokens may decode to ""


def test_a_template_that_trims_the_response_still_finds_it():
    tokens = [P.PromptToken("a\n", -1.0), P.PromptToken("Paris", -0.2), P.PromptToken("<end>", -0.3)]
    assert P.response_logprobs(tokens, "  Paris\n") == ([-0.2], -0.3)


def test_a_character_split_over_two_tokens_is_read_whole():
    tokens = [
        P.PromptToken("x\n", -1.0),
        P.PromptToken("caf", -0.2),
        P.PromptToken("", -0.6),
        P.PromptToken("é", -0.1),
        P.PromptToken("<end>", -0.3),
    ]
    assert P.response_logprobs(tokens, "café") == ([-0.2, -0.6, -0.1], -0.3)


def test_no_logprobs_or_no_response_reads_as_none():
    assert P.prompt_tokens({"choices": [{"message": {"content": "x"}}]}) is None
    assert P.prompt_tokens({"prompt_logprobs": []}) is None
    assert P.token_scores(P.prompt_tokens(reply(None, ("abc", -1.0))), "xyz") is None
    assert P.token_scores(P.prompt_tokens(reply(None, ("abc", -1.0))), "") is None


def test_a_position_with_several_tokens_is_read_through_the_token_ids():
    two = {"5": {"logprob": -0.7, "decoded_token": "Par"}, "9": {"logprob": -0.1, "decoded_token": "Lon"}}
    data = {"prompt_logprobs": [None, two, entry("is", -0.2)], "prompt_token_ids": [1, 5, 7]}
    assert [t.text for t in P.prompt_tokens(data)] == ["", "Par", "is"]
    del data["prompt_token_ids"]
    assert P.prompt_tokens(data) is None  # which one was the prompt's? unknowable


# -- the backend against the loopback server ---------------------------------------------------


def client_for(server: FakeOpenAIServer, *, timeout_s: float = 2.0, **settings) -> tuple[LLMClient, OpenAIBackend]:
    config = LLMConfig(
        backend="openai",
        model="fake-model",
        base_url=server.base_url,
        timeout_s=timeout_s,
        backoff_base_s=0.01,
        backoff_max_s=0.02,
        **settings,
    )
    backend = OpenAIBackend(config, environ={})
    return LLMClient(backend, cache=MemoryCache(), config=config, sleep=lambda s: None), backend


def vllm_like(**more) -> FakeOpenAIServer:
    return FakeOpenAIServer(
        prompt_logprobs=lambda r: template_logprobs(r, lambda t: -0.25 * len(t.split() or [t])), **more
    )


def test_a_vllm_like_endpoint_gives_the_cheap_tier_its_likelihood():
    with vllm_like() as server:
        client, _ = client_for(server)
        scores = client.score_tokens(PROMPT, "It was Shakespeare, in 1600.")
        sent = server.requests[-1]
    assert scores.n_tokens == 5  # "It", " was", " Shakespeare,", " in", " 1600."
    assert scores.mean_logprob_with_prompt == pytest.approx(-0.25)
    assert scores.end_logprob == pytest.approx(-0.25)  # <|im_end|>
    assert sent["messages"][-1] == {"role": "assistant", "content": "It was Shakespeare, in 1600."}
    assert (sent["prompt_logprobs"], sent["add_generation_prompt"], sent["max_tokens"]) == (0, False, 1)
    assert client.stats.calls == 1


def test_continuations_are_one_request_each():
    with vllm_like() as server:
        client, _ = client_for(server)
        got = client.continuation_logprobs(PROMPT, ["Shakespeare", "Marlowe wrote it"])
        assert server.count() == 2
    assert got == [[-0.25], [-0.25, -0.25, -0.25]]
    assert client.stats.calls == 2


@pytest.mark.parametrize("strict", [True, False], ids=["refused like OpenAI", "ignored like Ollama"])
def test_auto_finds_an_endpoint_without_them_once_and_asks_no_more(strict, caplog):
    with FakeOpenAIServer(strict=strict) as server, caplog.at_level(logging.WARNING):
        client, _ = client_for(server)
        assert client.score_tokens(PROMPT, "Shakespeare") is None
        assert client.continuation_logprobs(PROMPT, ["Marlowe"]) == [None]
        assert client.score_tokens(PROMPT, "Marlowe") is None
        assert server.count() == (0 if strict else 1)  # a refused request never reaches the counter
        assert client.stats.calls == 0
    assert "gives no likelihoods" in caplog.text
    assert ("Unrecognized request argument" in caplog.text) == strict


def test_on_requires_them_and_off_never_asks():
    with FakeOpenAIServer() as server:
        client, _ = client_for(server, prompt_logprobs="on")
        with pytest.raises(LLMError, match="prompt_logprobs is 'on' but its reply holds no prompt_logprobs"):
            client.score_tokens(PROMPT, "Shakespeare")
        client, _ = client_for(server, prompt_logprobs="off")
        before = server.count()
        assert client.score_tokens(PROMPT, "Shakespeare") is None
        assert server.count() == before


def test_a_transient_failure_is_retried_and_does_not_turn_them_off():
    with vllm_like(faults=[SERVER_ERROR, SERVER_ERROR]) as server:
        client, _ = client_for(server)
        scores = client.score_tokens(PROMPT, "Shakespeare")
        assert server.count() == 3
    assert scores is not None and math.isclose(scores.mean_logprob_with_prompt, -0.25)
    assert (client.stats.calls, client.stats.retries) == (3, 2)


def test_the_run_says_where_the_cheap_tier_had_likelihoods_from():
    from curation.config import Config
    from curation.pipeline import likelihood_note

    auto, off = Config(), Config().with_overrides({"llm.prompt_logprobs": "off"})
    assert (
        likelihood_note(40, 40, auto) == "likelihoods: from the endpoint's prompt log-probabilities for all 40 examples"
    )
    assert likelihood_note(0, 40, auto).startswith("likelihoods: none (the endpoint refused or ignored prompt_logprobs")
    assert likelihood_note(30, 40, auto).startswith("likelihoods: 30 of 40 (")
    assert "(llm.prompt_logprobs is off)" in likelihood_note(0, 40, off)


# -- the real model behind the endpoint ---------------------------------------------------------


@pytest.fixture
def embedded_endpoint(small_backend):
    from benchmarks.support.embedded_endpoint import EmbeddedEndpoint

    endpoint = EmbeddedEndpoint(small_backend)
    with FakeOpenAIServer(reply=endpoint.reply, prompt_logprobs=endpoint.prompt_logprobs) as server:
        yield server


@pytest.mark.model
@pytest.mark.parametrize(
    "response", ["Shakespeare.", "It was Christopher Marlowe, in 1592", "Café au lait — oui, naïve façade."]
)
def test_an_endpoint_measures_what_the_embedded_model_measures(small_backend, embedded_endpoint, response):
    # A real model answers behind this server: on a busy 2-core machine a call can take seconds.
    _, remote = client_for(embedded_endpoint, prompt_logprobs="on", timeout_s=60.0)
    engine = small_backend._engine
    # Cold caches on both sides: a prompt reused from another batch layout shifts logits slightly.
    engine.call(engine.clear)
    there = remote.score_tokens(PROMPT, response)
    engine.call(engine.clear)
    here = small_backend.score_tokens(PROMPT, response)
    assert there.n_tokens == here.n_tokens
    assert there.mean_logprob_with_prompt == pytest.approx(here.mean_logprob_with_prompt, abs=1e-3)
    assert there.min_k_logprob == pytest.approx(here.min_k_logprob, abs=1e-3)
    assert there.end_logprob == pytest.approx(here.end_logprob, abs=1e-3)
    engine.call(engine.clear)
    both = remote.continuation_logprobs(PROMPT, [response, "Marlowe"])
    engine.call(engine.clear)
    for got, want in zip(both, small_backend.continuation_logprobs(PROMPT, [response, "Marlowe"])):
        assert got == pytest.approx(want, abs=1e-3)


@pytest.mark.model
def test_the_pipeline_runs_on_an_endpoint_with_likelihoods(tmp_path, embedded_endpoint):
    from curation.config import Config
    from curation.ingest import import_file
    from curation.pipeline import run_pipeline
    from curation.score import score_key
    from curation.store import Store
    from tests.support.scripted import openai_overrides

    lines = (ROOT / "sample_data" / "passage_qa.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n")
    overrides = openai_overrides(embedded_endpoint.base_url, "CLEAR_NO_KEY", **{"llm.prompt_logprobs": "auto"})
    cfg = Config().with_overrides(
        {
            **overrides,
            "scoring.max_tokens": 12,
            "scoring.reflection_max_tokens": 4,
            "correct.max_tokens": 16,
            "correct.judge_max_tokens": 4,
            "correct.few_shot": 1,
            "llm.concurrency": 2,
            "llm.timeout_s": 300.0,
        }
    )
    with Store(tmp_path / "s.duckdb") as store:
        info = import_file(store, path, name="qa").dataset
        summary = run_pipeline(store, "qa", cfg)
        rows = store.scores(info.dataset_id, score_key(cfg))
    assert summary.stopped is None and summary.failed == 0
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert all("likelihood" in r["signals"] and "ending" in r["signals"] for r in rows)  # the cheap tier's pass
    assert "likelihoods: from the endpoint's prompt log-probabilities for all 4 examples" in summary.notes
    asked = [r for r in embedded_endpoint.requests if r.get("prompt_logprobs") is not None]
    assert len(asked) >= 4
