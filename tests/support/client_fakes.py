"""A scripted in-process chat backend and LLMClient builders, shared by the client's test files."""

from __future__ import annotations

import random
import threading

from curation.config import LLMConfig
from curation.llm.base import ChatRequest, ChatResult, MemoryCache
from curation.llm.client import LLMClient
from curation.llm.openai_backend import OpenAIBackend
from curation.records import messages_of

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
