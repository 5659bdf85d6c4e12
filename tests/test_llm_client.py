"""LLMClient: cache, retries, concurrency, accounting and budget.

The logic is pinned with a scripted in-process backend; the end-to-end behaviour runs
through the real ``openai`` package against the fake server in ``benchmarks/support``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
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
from curation.config import LLMConfig
from curation.errors import BudgetExceededError, LLMError, TransientLLMError
from curation.llm.base import ChatRequest, ChatResult, MemoryCache, TokenScores
from curation.llm.client import SCORE_TOKENS_VERSION, Estimate, LLMClient, estimate
from curation.llm.openai_backend import OpenAIBackend
from curation.llm.retry import MAX_RETRY_AFTER_S, backoff_delay, parse_retry_after
from curation.records import Message, messages_of

KEY_ENV = "CLEAR_TEST_OPENAI_KEY"
SECRET = "sk-test-DO-NOT-LEAK-9876543210"


def ask(text: str = "is the sky blue", **kwargs) -> ChatRequest:
    return ChatRequest(messages=messages_of([("user", text)]), **kwargs)


class ScriptedBackend:
    """Answers from a script of outcomes (text or exception); then echoes the prompt."""

    name = "scripted"
    model = "m"
    max_batch_sequences = 0

    def __init__(self, script=(), *, max_concurrency: int = 64, tokens=(10, 5)) -> None:
        self.max_concurrency = max_concurrency
        self.script = list(script)
        self.requests: list[ChatRequest] = []
        self.tokens = tokens
        self._lock = threading.Lock()

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        with self._lock:
            self.requests.append(request)
            step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        return [
            ChatResult(
                text=step or f"{request.messages[-1].content}#{request.sample_index + i}",
                prompt_tokens=self.tokens[0],
                completion_tokens=self.tokens[1],
            )
            for i in range(request.n)
        ]

    def complete_batch(self, requests):
        raise NotImplementedError

    def score_tokens(self, messages, response, *, without_prompt=False):
        return None

    def continuation_logprobs(self, messages, responses):
        return None

    def close(self) -> None:
        pass


class RecordingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.puts: list[dict] = []

    def cache_put(self, key, *, backend, model, request, result) -> None:
        self.puts.append(dict(key=key, backend=backend, model=model, request=request, result=result))
        super().cache_put(key, backend=backend, model=model, request=request, result=result)


def make_client(chat_backend, *, cache=None, sleeps=None, **overrides) -> LLMClient:
    settings = dict(backend="openai", model="m", max_attempts=3, backoff_base_s=0.5, backoff_max_s=4.0)
    settings.update(overrides)
    recorder = sleeps.append if sleeps is not None else (lambda seconds: None)
    return LLMClient(
        chat_backend,
        cache=cache if cache is not None else MemoryCache(),
        config=LLMConfig(**settings),
        sleep=recorder,
        rng=random.Random(0),
    )


def openai_client(server, *, cache=None, sleeps=None, **overrides) -> LLMClient:
    settings = dict(
        backend="openai",
        model="fake-model",
        base_url=server.base_url,
        api_key_env=KEY_ENV,
        timeout_s=0.25,
        max_attempts=4,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    settings.update(overrides)
    backend = OpenAIBackend(LLMConfig(**settings), environ={KEY_ENV: SECRET})
    return make_client(backend, cache=cache, sleeps=sleeps, **settings)


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


def test_complete_many_keeps_order_reports_progress_and_isolates_failures():
    backend = ScriptedBackend([LLMError("HTTP 400 bad request")], max_concurrency=1)
    seen = []
    client = make_client(backend, concurrency=8)
    outcomes = client.complete_many([ask(f"q{i}") for i in range(5)], on_result=lambda i, outcome: seen.append(i))
    assert isinstance(outcomes[0], LLMError)
    assert [o[0].text for o in outcomes[1:]] == ["q1#0", "q2#0", "q3#0", "q4#0"]
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_budget_stops_the_batch_and_a_bigger_budget_resumes_from_the_cache():
    cache = MemoryCache()
    prices = dict(price_prompt_per_m=0.0, price_completion_per_m=1e6 / 5)  # $1 per call
    first_backend = ScriptedBackend()
    first = make_client(first_backend, cache=cache, budget_usd=5.0, concurrency=1, **prices)
    outcomes = first.complete_many([ask(f"q{i}") for i in range(20)])
    assert all(isinstance(o, list) for o in outcomes[:5])
    assert all(isinstance(o, BudgetExceededError) for o in outcomes[5:])
    assert first.stats.calls == 5 and first.stats.cost_usd == pytest.approx(5.0)
    with pytest.raises(BudgetExceededError, match=r"budget of \$5.0000 reached"):
        first.complete(ask("q19"))
    assert first.complete(ask("q0"))[0].cached  # cached work is still served

    second_backend = ScriptedBackend()
    second = make_client(second_backend, cache=cache, budget_usd=100.0, concurrency=4, **prices)
    resumed = second.complete_many([ask(f"q{i}") for i in range(20)])
    assert [o[0].text for o in resumed] == [f"q{i}#0" for i in range(20)]
    assert sorted(r.messages[0].content for r in second_backend.requests) == sorted(f"q{i}" for i in range(5, 20))
    assert (second.stats.calls, second.stats.cache_hits) == (15, 5)


def test_zero_budget_makes_no_call():
    backend = ScriptedBackend()
    outcomes = make_client(backend, budget_usd=0.0).complete_many([ask("a"), ask("b")])
    assert all(isinstance(o, BudgetExceededError) for o in outcomes) and backend.requests == []


def test_bugs_in_a_backend_surface():
    with pytest.raises(ZeroDivisionError, match="division"):
        make_client(ScriptedBackend([ZeroDivisionError("division by zero")])).complete_many([ask()])


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


def test_many_requests_with_injected_faults_all_end_answered_or_failed():
    # The client waits 1 s: an "ok" reply delayed past it by 32 threads on 2 busy cores would be
    # retried and counted as a fault (a flake at 0.25 s); a timeout fault stalls 2 s, past it.
    with FakeOpenAIServer(reply="fine", fault_rate=0.2, seed=3, timeout_sleep_s=2.0) as server:
        client = openai_client(server, concurrency=32, max_attempts=3, timeout_s=1.0)
        outcomes = client.complete_many([ask(f"question {i}") for i in range(200)])
        received = server.count()
        faults = received - server.count("ok")
    answered = [o for o in outcomes if isinstance(o, list)]
    failed = [o for o in outcomes if isinstance(o, LLMError)]
    assert len(answered) + len(failed) == 200
    assert all(o[0].text == "fine" for o in answered)
    assert len(failed) == client.stats.failures < 10
    assert client.stats.calls == received and client.stats.retries == faults - len(failed)
    assert faults > 20


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


def test_concurrent_requests_overlap():
    with FakeOpenAIServer(latency_s=0.1) as server:
        client = openai_client(server, concurrency=8, timeout_s=2.0)
        started = time.perf_counter()
        outcomes = client.complete_many([ask(f"q{i}") for i in range(32)])
        seconds = time.perf_counter() - started
    assert all(isinstance(o, list) for o in outcomes)
    assert seconds < 1.6  # serial would take 3.2 s; 4 waves of 8 take about 0.4 s
    assert 0.35 <= client.stats.elapsed_s <= seconds


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


# -- a backend that serves many requests in one call (the embedded model) -------------------------
class BatchingBackend(ScriptedBackend):
    """A one-at-a-time backend with ``complete_batch``: per request, samples or an error."""

    max_batch_sequences = 1

    def __init__(self, fail: dict[str, LLMError] | None = None, short: set[str] = frozenset()) -> None:
        super().__init__(max_concurrency=1)
        self.batches: list[list[ChatRequest]] = []
        self.fail, self.short = fail or {}, short

    def complete_batch(self, requests):
        self.batches.append(list(requests))
        out = []
        for request in requests:
            text = request.messages[-1].content
            if text in self.fail:
                out.append(self.fail.pop(text))
            else:
                got = [
                    ChatResult(text=f"{text}#{request.sample_index + i}", prompt_tokens=10, completion_tokens=5)
                    for i in range(request.n)
                ]
                out.append(got[:1] if text in self.short else got)
        return out


def test_one_at_a_time_backend_serves_the_whole_batch_in_one_call():
    backend = BatchingBackend()
    client = LLMClient(backend, cache=MemoryCache(), config=LLMConfig(concurrency=8))
    seen = []
    outcomes = client.complete_many([ask("a"), ask("b", n=3, temperature=1.0)], on_result=lambda i, o: seen.append(i))
    assert [[r.text for r in o] for o in outcomes] == [["a#0"], ["b#0", "b#1", "b#2"]]
    assert len(backend.batches) == 1 and seen == [0, 1]
    stats = client.snapshot()
    assert (stats["calls"], stats["cache_misses"], stats["prompt_tokens"]) == (2, 4, 40)
    # again: nothing left to ask for; a wider request asks only for its new samples
    again = client.complete_many([ask("a"), ask("b", n=5, temperature=1.0)])
    assert [r.cached for r in again[1]] == [True, True, True, False, False]
    assert [(r.n, r.sample_index) for r in backend.batches[-1]] == [(2, 3)]
    assert client.snapshot()["cache_hits"] == 4


def test_a_failed_request_in_a_batch_leaves_the_others_answered():
    backend = BatchingBackend(
        fail={"bad": LLMError("prompt too long"), "flaky": TransientLLMError("503")}, short={"short"}
    )
    client = LLMClient(backend, cache=MemoryCache(), config=LLMConfig(concurrency=1), sleep=lambda s: None)
    bad, flaky, short, good = client.complete_many([ask("bad"), ask("flaky"), ask("short", n=2), ask("good")])
    assert isinstance(bad, LLMError) and "prompt too long" in str(bad)
    assert [r.text for r in flaky] == ["flaky#0"]  # retried alone, through complete()
    assert [r.text for r in short] == ["short#0", "short#1"]  # the missing sample asked again
    assert [r.text for r in good] == ["good#0"]
    assert client.snapshot()["failures"] == 1


def test_a_spent_budget_starts_no_batch():
    backend = BatchingBackend()
    config = LLMConfig(concurrency=1, budget_usd=0.0, price_prompt_per_m=1.0)
    outcomes = LLMClient(backend, cache=MemoryCache(), config=config).complete_many([ask("a"), ask("b")])
    assert all(isinstance(o, BudgetExceededError) for o in outcomes) and backend.batches == []


@pytest.mark.parametrize("backend", [ScriptedBackend(), BatchingBackend()], ids=["threads", "batched"])
def test_later_samples_are_new_samples_not_the_first_ones_again(backend):
    """A request for samples 3 and 4 (early stop asking for more) is not served by the cached
    samples 0 and 1: sample indices are ``sample_index`` onwards."""
    client = LLMClient(backend, cache=MemoryCache(), config=LLMConfig(concurrency=1))
    first = client.complete_many([ask("q", n=3, temperature=1.0)])[0]
    more = client.complete_many([ask("q", n=2, temperature=1.0, sample_index=3)])[0]
    assert [r.text for r in first] == ["q#0", "q#1", "q#2"]
    assert [r.text for r in more] == ["q#3", "q#4"] and not any(r.cached for r in more)
    again = client.complete(ask("q", n=5, temperature=1.0))
    assert [r.text for r in again] == ["q#0", "q#1", "q#2", "q#3", "q#4"] and all(r.cached for r in again)


def test_items_per_batch_fills_the_concurrency_or_the_batch_decoder():
    assert make_client(ScriptedBackend(max_concurrency=8), concurrency=4).items_per_batch(5) == 8
    assert make_client(ScriptedBackend(max_concurrency=1), concurrency=4).items_per_batch(5) == 1
    batching = BatchingBackend()
    batching.max_batch_sequences = 24
    client = make_client(batching, concurrency=8)
    assert [client.items_per_batch(n) for n in (5, 2, 24, 40, 0)] == [4, 12, 1, 1, 24]


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
