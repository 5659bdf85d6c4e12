"""LLMClient: cache, retries, accounting, estimates and likelihood calls (complete_many: test_many_calls.py).

The logic is pinned with a scripted in-process backend; the end-to-end behaviour runs
through the real ``openai`` package against the fake server in ``benchmarks/support``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.support.fake_http import (
    AUTH_ECHO,
    EMPTY_CHOICES,
    MALFORMED,
    NULL_CONTENT,
    RATE_LIMIT,
    SERVER_ERROR,
    TIMEOUT,
)
from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.errors import LLMError, TransientLLMError
from curation.llm.base import ChatRequest, MemoryCache, TokenScores
from curation.llm.client import SCORE_TOKENS_VERSION, Estimate, estimate
from curation.llm.retry import MAX_RETRY_AFTER_S, backoff_delay, parse_retry_after
from curation.records import Message
from tests.support.client_fakes import SECRET, ScriptedBackend, ask, make_client, openai_client


class RecordingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.puts: list[dict] = []

    def cache_put(self, key, *, backend, model, request, result) -> None:
        self.puts.append(dict(key=key, backend=backend, model=model, request=request, result=result))
        super().cache_put(key, backend=backend, model=model, request=request, result=result)


# -- pure parts --------------------------------------------------------------------------


@given(
    attempt=st.integers(0, 200),
    base=st.floats(0, 10),
    cap=st.floats(0, 60),
    hint=st.none() | st.floats(0, 10_000),
    seed=st.integers(0, 2**32),
)
def test_backoff_stays_between_zero_and_its_ceiling(attempt, base, cap, hint, seed):
    delay = backoff_delay(attempt, base_s=base, max_s=cap, rng=random.Random(seed), retry_after=hint)
    assert 0 <= delay <= max(cap, min(hint or 0, MAX_RETRY_AFTER_S))
    if hint:
        assert delay >= min(hint, MAX_RETRY_AFTER_S)


def test_backoff_rejects_a_negative_attempt():
    with pytest.raises(ValueError, match="attempt must be >= 0"):
        backoff_delay(-1, base_s=1, max_s=1, rng=random.Random(0))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("nan", None),
        ("tomorrow", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after_parsing(value, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


def test_estimate_counts_waves_of_concurrent_calls():
    got = estimate(
        1000, 200, 50, seconds_per_call=2.0, concurrency=8, price_prompt_per_m=1.0, price_completion_per_m=4.0
    )
    assert got == Estimate(
        calls=1000, prompt_tokens=200_000, completion_tokens=50_000, cost_usd=pytest.approx(0.4), seconds=250.0
    )


def test_estimate_rejects_nonsense():
    with pytest.raises(ValueError, match="concurrency >= 1"):
        estimate(10, 1, 1, seconds_per_call=1, concurrency=0)


def test_client_estimate_uses_config_prices_and_concurrency():
    client = make_client(ScriptedBackend(max_concurrency=4), concurrency=16, price_prompt_per_m=2.0)
    assert client.concurrency == 4
    assert client.estimate(10, 1000, 0, seconds_per_call=1.0) == Estimate(10, 10_000, 0, pytest.approx(0.02), 3.0)


# -- cache, retries, accounting with a scripted backend -----------------------------------


def test_cache_serves_every_sample_ever_paid_for():
    backend, cache = ScriptedBackend(), RecordingCache()
    client = make_client(backend, cache=cache, price_prompt_per_m=1e6 / 10, price_completion_per_m=0)
    first = client.complete(ask(n=2, temperature=1.0))
    more = client.complete(ask(n=4, temperature=1.0))
    assert [r.text for r in first] == ["is the sky blue#0", "is the sky blue#1"]
    assert [r.text for r in more] == [r.text for r in first] + ["is the sky blue#2", "is the sky blue#3"]
    assert [r.cached for r in more] == [True, True, False, False]
    assert [(r.n, r.sample_index) for r in backend.requests] == [(2, 0), (2, 2)]
    assert cache.puts[2]["request"]["sample_index"] == 2 and cache.puts[2]["request"]["n"] == 1
    stats = client.snapshot()
    assert (stats["calls"], stats["cache_hits"], stats["cache_misses"]) == (2, 2, 4)
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (40, 20)
    assert stats["cost_usd"] == pytest.approx(4.0)


def test_another_seed_draws_new_samples_instead_of_serving_the_cached_ones():
    backend, cache = ScriptedBackend(), RecordingCache()
    sampled, greedy = ask(n=2, temperature=1.0), ask()
    make_client(backend, cache=cache).complete_many([sampled, greedy])
    again = make_client(backend, cache=cache)
    again.complete_many([sampled, greedy])
    assert again.stats.calls == 0 and again.stats.cache_hits == 3  # same seed (0): all cached
    reseeded = make_client(backend, cache=cache, seed=7)
    reseeded.complete_many([sampled, greedy])
    assert (reseeded.stats.calls, reseeded.stats.cache_hits) == (1, 1)  # the greedy reply is the seed's too
    assert sampled.cache_key("b", "m", 7) != sampled.cache_key("b", "m") == sampled.cache_key("b", "m", 0)
    assert greedy.cache_key("b", "m", 7) == greedy.cache_key("b", "m")


def test_a_reply_prefix_is_part_of_the_cache_key_only_when_set():
    plain = ask()
    payload = {k: v for k, v in plain.to_json().items() if k not in ("n", "reply_prefix")}
    blob = json.dumps({**payload, "backend": "b", "model": "m"}, sort_keys=True, ensure_ascii=False)
    # keys made before the field existed still find their entries
    assert plain.cache_key("b", "m") == hashlib.sha256(blob.encode("utf-8")).hexdigest()
    prefixed = replace(plain, reply_prefix="answer:")
    assert prefixed.cache_key("b", "m") != plain.cache_key("b", "m")
    assert prefixed.sample(2).reply_prefix == "answer:"
    assert ChatRequest.from_json(prefixed.to_json()) == prefixed
    old = {k: v for k, v in plain.to_json().items() if k != "reply_prefix"}
    assert ChatRequest.from_json(old) == plain


def test_transient_errors_are_retried_with_growing_jittered_waits():
    backend = ScriptedBackend([TransientLLMError("busy"), TransientLLMError("busy", retry_after=7.0)])
    sleeps: list[float] = []
    client = make_client(backend, sleeps=sleeps)
    assert client.complete(ask())[0].text == "is the sky blue#0"
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and sleeps[1] >= 7.0
    assert (client.stats.calls, client.stats.retries, client.stats.failures) == (3, 2, 0)


def test_attempts_are_bounded():
    backend = ScriptedBackend([TransientLLMError("HTTP 503")] * 5)
    client = make_client(backend)
    with pytest.raises(LLMError, match="call failed after 3 attempts: HTTP 503"):
        client.complete(ask())
    assert (client.stats.calls, client.stats.retries, client.stats.failures) == (3, 2, 1)


def test_permanent_errors_are_not_retried():
    client = make_client(ScriptedBackend([LLMError("HTTP 400 bad request")]))
    with pytest.raises(LLMError, match="HTTP 400"):
        client.complete(ask())
    assert (client.stats.calls, client.stats.retries, client.stats.failures) == (1, 0, 1)


def test_invalid_request_is_refused():
    with pytest.raises(LLMError, match="request.n must be >= 1"):
        make_client(ScriptedBackend()).complete(ask(n=0))


def test_unreadable_cache_entry_is_a_miss():
    backend, cache = ScriptedBackend(), MemoryCache()
    client = make_client(backend, cache=cache)
    cache.cache_put(
        ask().single(0).cache_key("scripted", "m"), backend="scripted", model="m", request={}, result={"no": "text"}
    )
    assert client.complete(ask())[0].cached is False


# -- end to end through the openai package and the fake server ------------------------------


@pytest.mark.parametrize("fault", [RATE_LIMIT, SERVER_ERROR, TIMEOUT, MALFORMED, EMPTY_CHOICES, NULL_CONTENT])
def test_each_fault_is_retried_to_success(fault):
    with FakeOpenAIServer(reply="yes", faults=[fault]) as server:
        client = openai_client(server)
        assert client.complete(ask())[0].text == "yes"
        assert server.count() == 2 and server.count(fault) == 1
    assert (client.stats.calls, client.stats.retries) == (2, 1)


def test_retry_after_is_honoured():
    sleeps: list[float] = []
    with FakeOpenAIServer(faults=[RATE_LIMIT, RATE_LIMIT], retry_after="2") as server:
        client = openai_client(server, sleeps=sleeps, backoff_max_s=0.1)
        assert client.complete(ask())[0].text == "ok"
    assert len(sleeps) == 2 and all(s >= 2.0 for s in sleeps)


def test_persistent_faults_end_in_an_llm_error():
    with FakeOpenAIServer(faults=[SERVER_ERROR] * 10) as server:
        client = openai_client(server, max_attempts=3)
        with pytest.raises(LLMError, match="call failed after 3 attempts: .*Error code: 500"):
            client.complete(ask())
        assert server.count() == 3


def test_rerun_is_served_entirely_from_the_cache():
    cache = MemoryCache()
    requests = [ask(f"q{i}", n=2, temperature=1.0) for i in range(10)]
    with FakeOpenAIServer(reply=lambda r: r["messages"][0]["content"].upper()) as server:
        first = openai_client(server, cache=cache).complete_many(requests)
        rerun_client = openai_client(server, cache=cache)
        rerun = rerun_client.complete_many(requests)
        assert server.count() == 10
    assert [[r.text for r in o] for o in rerun] == [[r.text for r in o] for o in first]
    assert all(r.cached for o in rerun for r in o)
    assert rerun_client.stats.calls == 0 and rerun_client.stats.cache_hits == 20


def test_api_key_never_leaks(caplog):
    caplog.set_level(logging.DEBUG)
    cache = RecordingCache()
    with FakeOpenAIServer(faults=[AUTH_ECHO, RATE_LIMIT, SERVER_ERROR] + [AUTH_ECHO] * 3) as server:
        client = openai_client(server, cache=cache, concurrency=1)
        outcomes = client.complete_many([ask("a"), ask("b"), ask("c"), ask("d"), ask("e")])
    errors = [o for o in outcomes if isinstance(o, LLMError)]
    assert len(errors) == 4 and cache.puts
    for error in errors:
        chained: BaseException | None = error
        while chained is not None:
            assert SECRET not in str(chained) and SECRET not in repr(chained)
            chained = chained.__cause__ or chained.__context__
    assert SECRET not in repr(client.backend)
    assert SECRET not in json.dumps(cache.puts)
    assert SECRET not in caplog.text


def test_client_asks_again_for_samples_a_server_ignoring_n_failed_to_give():
    with FakeOpenAIServer(reply=["s0", "s1", "s2"], max_choices=1, faults=[None, SERVER_ERROR]) as server:
        client = openai_client(server)
        results = client.complete(ask(n=3, temperature=1.0))
        seeds = [r["seed"] for r in server.requests]
    assert [r.text for r in results] == ["s0", "s1", "s2"]
    assert seeds == [0, 1, 1, 2]
    assert (client.stats.calls, client.stats.retries, client.stats.completion_tokens) == (2, 0, 3)


def test_token_scores_are_cached():
    class ScoringBackend(ScriptedBackend):
        def score_tokens(self, messages, response, *, without_prompt=False):
            self.requests.append((response, without_prompt))
            return TokenScores(-0.5, -1.5 if without_prompt else None, n_tokens=4)

    backend = ScoringBackend()
    client = make_client(backend)
    first = client.score_tokens(ask().messages, "yes")
    again = client.score_tokens(ask().messages, "yes")
    assert first == again == TokenScores(-0.5, None, 4)
    assert backend.requests == [("yes", False)]
    assert (client.stats.calls, client.stats.cache_hits, client.stats.cache_misses) == (1, 1, 1)
    # IFD's pass is run once where asked for, then serves both kinds of request
    assert client.score_tokens(ask().messages, "yes", without_prompt=True) == TokenScores(-0.5, -1.5, 4)
    assert client.score_tokens(ask().messages, "yes", without_prompt=True) == TokenScores(-0.5, -1.5, 4)
    assert client.score_tokens(ask().messages, "no", without_prompt=True) == TokenScores(-0.5, -1.5, 4)
    assert client.score_tokens(ask().messages, "no") == TokenScores(-0.5, None, 4)  # not asked: not returned
    assert backend.requests == [("yes", False), ("yes", True), ("no", True)]


def test_a_pass_asked_without_the_prompt_is_asked_once_where_the_backend_cannot_give_it():
    class Endpoint(ScriptedBackend):
        def score_tokens(self, messages, response, *, without_prompt=False):
            self.requests.append(without_prompt)
            return TokenScores(-0.5, None, n_tokens=4)  # an endpoint measures after the prompt only

    backend = Endpoint()
    client = make_client(backend)
    for _ in range(2):
        assert client.score_tokens(ask().messages, "yes", without_prompt=True) == TokenScores(-0.5, None, 4)
    assert backend.requests == [True]


class ContinuingBackend(ScriptedBackend):
    max_batch_sequences = 8  # scores several continuations in one call, as the embedded model does

    def continuation_logprobs(self, messages, responses):
        self.requests.append(list(responses))
        return [[-0.1 * len(r)] * len(r) for r in responses]


def test_continuations_are_cached_per_response_and_asked_together():
    backend = ContinuingBackend()
    client = make_client(backend)
    assert client.continuation_logprobs(ask().messages, ["ab", "", "c"]) == [[-0.2, -0.2], None, [-0.1]]
    assert backend.requests == [["ab", "c"]]  # one call for both; nothing for the empty response
    assert client.continuation_logprobs(ask().messages, ["c", "de"]) == [[-0.1], [-0.2, -0.2]]
    assert backend.requests[-1] == ["de"]  # "c" came from the cache
    assert (client.stats.calls, client.stats.cache_hits, client.stats.cache_misses) == (2, 1, 3)


def test_an_endpoint_pays_one_call_per_continuation():
    class Endpoint(ContinuingBackend):
        max_batch_sequences = 0  # no batch call: one request per response

    client = make_client(Endpoint())
    client.continuation_logprobs(ask().messages, ["ab", "c", "de"])
    assert client.stats.calls == 3


def test_continuations_a_backend_cannot_give_are_none_and_count_no_hit():
    client = make_client(ScriptedBackend())
    for _ in range(2):
        assert client.continuation_logprobs(ask().messages, ["yes", "no"]) == [None, None]
    assert (client.stats.calls, client.stats.cache_hits, client.stats.cache_misses) == (0, 0, 0)


def test_token_scores_cached_before_min_k_read_back_without_it():
    cache = MemoryCache()
    client = make_client(ScriptedBackend(), cache=cache)
    probe = ChatRequest(messages=ask().messages + (Message("assistant", "yes"),), max_tokens=0)
    key = f"score_tokens{SCORE_TOKENS_VERSION}:" + probe.cache_key(client.backend.name, client.backend.model)
    cache.cache_put(
        key,
        backend=client.backend.name,
        model=client.backend.model,
        request={},
        result={"scores": {"mean_logprob_with_prompt": -0.5, "mean_logprob_without_prompt": -1.5, "n_tokens": 4}},
    )
    assert client.score_tokens(ask().messages, "yes") == TokenScores(-0.5, None, 4, min_k_logprob=None)
    # an entry from before IFD's pass was optional holds it: it serves a request for it too
    assert client.score_tokens(ask().messages, "yes", without_prompt=True) == TokenScores(-0.5, -1.5, 4)


def test_every_backend_declares_its_optional_abilities():
    """Batching is declared by the protocol (``max_batch_sequences``), never probed with getattr."""
    from curation.config import LLMConfig
    from curation.llm.base import ChatBackend
    from curation.llm.embedded import EmbeddedBackend
    from curation.llm.openai_backend import OpenAIBackend

    endpoint = OpenAIBackend(LLMConfig(backend="openai", base_url="http://127.0.0.1:9/v1"), environ={})
    assert isinstance(endpoint, ChatBackend) and endpoint.max_batch_sequences == 0
    with pytest.raises(NotImplementedError, match="no batch call"):
        endpoint.complete_batch([])
    endpoint.close()
    assert isinstance(ScriptedBackend(), ChatBackend)
    assert {"max_batch_sequences", "complete_batch"} <= set(dir(EmbeddedBackend))
    source = (Path(__file__).resolve().parent.parent / "curation" / "llm" / "client.py").read_text()
    assert "getattr(self.backend" not in source
