"""LLMClient.complete_many: order, progress, budget and concurrency, and a one-at-a-time backend's batch."""

from __future__ import annotations

import time

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.config import LLMConfig
from curation.errors import BudgetExceededError, LLMError, TransientLLMError
from curation.llm.base import ChatRequest, ChatResult, MemoryCache
from curation.llm.client import LLMClient
from tests.support.client_fakes import ScriptedBackend, ask, make_client, openai_client

# -- order, failures and budget with a scripted backend ----------------------------------------------


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


def test_concurrent_requests_overlap():
    with FakeOpenAIServer(latency_s=0.1) as server:
        client = openai_client(server, concurrency=8, timeout_s=2.0)
        started = time.perf_counter()
        outcomes = client.complete_many([ask(f"q{i}") for i in range(32)])
        seconds = time.perf_counter() - started
    assert all(isinstance(o, list) for o in outcomes)
    assert seconds < 1.6  # serial would take 3.2 s; 4 waves of 8 take about 0.4 s
    assert 0.35 <= client.stats.elapsed_s <= seconds


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
