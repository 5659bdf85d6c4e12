"""OpenAIBackend through the real ``openai`` package against the fake server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import openai
import pytest

from benchmarks.support.fake_http import (
    AUTH_ECHO,
    BAD_REQUEST,
    DISCONNECT,
    EMPTY_CHOICES,
    MALFORMED,
    NULL_CONTENT,
    RATE_LIMIT,
    SERVER_ERROR,
    TIMEOUT,
)
from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.config import LLMConfig
from curation.errors import LLMError, TransientLLMError
from curation.llm.base import ChatBackend, ChatRequest
from curation.llm.openai_backend import PLACEHOLDER_API_KEY, OpenAIBackend
from curation.records import messages_of

KEY_ENV = "CLEAR_TEST_OPENAI_KEY"
SECRET = "sk-test-DO-NOT-LEAK-0123456789"


def make_backend(server: FakeOpenAIServer, **overrides) -> OpenAIBackend:
    settings = dict(
        backend="openai", model="fake-model", base_url=server.base_url, api_key_env=KEY_ENV, timeout_s=0.3, seed=7
    )
    settings.update(overrides)
    return OpenAIBackend(LLMConfig(**settings), environ={KEY_ENV: SECRET})


def ask(text: str = "what is two plus two", **kwargs) -> ChatRequest:
    return ChatRequest(messages=messages_of([("system", "be brief"), ("user", text)]), **kwargs)


def test_scripted_reply_is_answered_and_settings_are_sent():
    def reply(request: dict) -> str:
        return "four" if "two plus two" in request["messages"][-1]["content"] else "?"

    with FakeOpenAIServer(reply=reply) as server:
        backend = make_backend(server, extra_headers={"X-Team": "curation"})
        [result] = backend.complete(ask(temperature=0.3, max_tokens=12, stop=("\n",)))
        sent, headers = server.requests[0], server.headers[0]
    assert result.text == "four"
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens) == (7, 1)
    assert sent["model"] == "fake-model"
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is two plus two"},
    ]
    assert (sent["temperature"], sent["max_tokens"], sent["stop"], sent["seed"]) == (0.3, 12, ["\n"], 7)
    assert "n" not in sent and "logprobs" not in sent
    assert headers["x-team"] == "curation"
    assert headers["authorization"] == f"Bearer {SECRET}"


def test_backend_satisfies_the_protocol_and_offers_no_token_scores():
    with FakeOpenAIServer() as server:
        backend = make_backend(server)
        assert isinstance(backend, ChatBackend)
        assert backend.name == "openai"
        assert backend.score_tokens(ask().messages, "four") is None
        backend.close()


def test_missing_key_sends_a_placeholder():
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend(
            LLMConfig(backend="openai", model="m", base_url=server.base_url, api_key_env=KEY_ENV), environ={}
        )
        backend.complete(ask())
        assert server.headers[0]["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_n_samples_come_from_one_call_with_usage_shared_out():
    with FakeOpenAIServer(reply=["a b", "c d e", "f"]) as server:
        results = make_backend(server).complete(ask(n=3, temperature=1.0))
        assert server.count() == 1
        assert server.requests[0]["n"] == 3
    assert [r.text for r in results] == ["a b", "c d e", "f"]
    assert sum(r.prompt_tokens for r in results) == 7
    assert sum(r.completion_tokens for r in results) == 6


def test_server_ignoring_n_is_called_again_with_fresh_seeds():
    with FakeOpenAIServer(reply=["one", "two", "three"], max_choices=1) as server:
        results = make_backend(server).complete(ask(n=3, temperature=1.0, sample_index=2))
        seeds = [r["seed"] for r in server.requests]
        assert server.count() == 3
    assert [r.text for r in results] == ["one", "two", "three"]
    assert seeds == [9, 10, 11]


def test_logprobs_are_mapped_per_position():
    with FakeOpenAIServer(reply="the answer") as server:
        [result] = make_backend(server).complete(ask(top_logprobs=3))
        sent = server.requests[0]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 3
    assert result.top_logprobs == (
        {"the": 0.0, "alt1": -1.0, "alt2": -2.0},
        {"answer": -0.05, "alt1": -1.05, "alt2": -2.05},
    )


def test_top_logprobs_are_capped_at_the_api_limit():
    with FakeOpenAIServer(reply="x") as server:
        make_backend(server).complete(ask(top_logprobs=50))
        assert server.requests[0]["top_logprobs"] == 20


@pytest.mark.parametrize(
    ("fault", "kind", "pattern"),
    [
        (RATE_LIMIT, TransientLLMError, "Error code: 429"),
        (SERVER_ERROR, TransientLLMError, "Error code: 500"),
        (TIMEOUT, TransientLLMError, "timed out"),
        (DISCONNECT, TransientLLMError, "connection failed"),
        (MALFORMED, TransientLLMError, r"malformed reply \(not JSON"),
        (EMPTY_CHOICES, TransientLLMError, r"malformed reply \(no choices\)"),
        (NULL_CONTENT, TransientLLMError, r"malformed reply \(choice 0 has no text content\)"),
    ],
)
def test_transient_faults_raise_transient_errors(fault, kind, pattern):
    with FakeOpenAIServer(faults=[fault], timeout_sleep_s=2.0) as server:
        backend = make_backend(server)
        with pytest.raises(kind, match=pattern):
            backend.complete(ask())
        assert backend.complete(ask())[0].text == "ok"


@pytest.mark.parametrize("fault", [BAD_REQUEST, AUTH_ECHO])
def test_client_errors_are_not_transient(fault):
    with FakeOpenAIServer(faults=[fault]) as server:
        with pytest.raises(LLMError, match="Error code: 40") as caught:
            make_backend(server).complete(ask())
    assert not isinstance(caught.value, TransientLLMError)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0.25", 0.25), ("soon", None)],
)
def test_retry_after_seconds_are_parsed(header, expected):
    with FakeOpenAIServer(faults=[RATE_LIMIT], retry_after=header) as server:
        with pytest.raises(TransientLLMError, match="429") as caught:
            make_backend(server).complete(ask())
    assert caught.value.retry_after == expected


def test_retry_after_http_date_is_parsed():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with FakeOpenAIServer(faults=[RATE_LIMIT], retry_after=when) as server:
        with pytest.raises(TransientLLMError, match="429") as caught:
            make_backend(server).complete(ask())
    assert 25 <= caught.value.retry_after <= 30


def test_unreachable_server_is_transient():
    with FakeOpenAIServer() as server:
        backend = make_backend(server)
    with pytest.raises(TransientLLMError, match="connection failed"):
        backend.complete(ask())


def test_key_never_appears_in_errors_or_repr():
    with FakeOpenAIServer(faults=[AUTH_ECHO]) as server:
        backend = make_backend(server)
        with pytest.raises(LLMError, match=r"invalid key Bearer \[redacted\]") as caught:
            backend.complete(ask())
    assert SECRET not in repr(backend)
    error: BaseException | None = caught.value
    while error is not None:
        assert SECRET not in str(error) and SECRET not in repr(error)
        error = error.__cause__ or error.__context__


def test_fake_server_lists_its_model():
    with FakeOpenAIServer(model="tiny") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        assert [m.id for m in client.models.list()] == ["tiny"]
        client.close()


def test_fake_server_rejects_unknown_fault_kinds():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FakeOpenAIServer(faults=["meteor"])


def test_samples_already_paid_for_are_kept_when_a_follow_up_call_fails():
    with FakeOpenAIServer(reply=["one", "two"], max_choices=1, faults=[None, SERVER_ERROR]) as server:
        results = make_backend(server).complete(ask(n=3, temperature=1.0))
        assert server.count() == 2
    assert [r.text for r in results] == ["one"]
