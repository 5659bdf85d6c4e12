"""The LLM seam: a request, a result, and the protocol every backend implements.

Backends turn one :class:`ChatRequest` into ``request.n`` :class:`ChatResult` samples.
They raise :class:`~curation.errors.TransientLLMError` for failures worth retrying and
:class:`~curation.errors.LLMError` for the rest; caching, retries, concurrency and cost
accounting live above them in :mod:`curation.llm.client`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Protocol, runtime_checkable

from curation.records import Message


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to make.

    ``top_logprobs`` > 0 asks for that many alternatives (token -> log-probability) at each
    of the first generated positions, where the backend can give them. ``sample_index``
    tells apart otherwise identical samples at temperature > 0 (it is part of the cache key).
    ``reply_prefix``: text the reply should begin with. A backend that can write the start of
    the assistant's turn (the embedded model) begins it so and returns the prefix as part of
    the text; an endpoint is sent the messages alone (most cannot begin a reply) and its reply
    is read as it comes, so readers accept both.
    """

    messages: tuple[Message, ...]
    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    top_logprobs: int = 0
    n: int = 1
    sample_index: int = 0
    reply_prefix: str = ""

    def single(self, sample_index: int) -> ChatRequest:
        """The same request for one sample only."""
        return replace(self, n=1, sample_index=sample_index)

    def sample(self, offset: int) -> ChatRequest:
        """The request for its ``offset``-th sample alone: sample ``sample_index + offset``."""
        return self.single(self.sample_index + offset)

    def to_json(self) -> dict:
        """The request as plain JSON values (as the call cache keeps it)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ChatRequest:
        """The request :meth:`to_json` gave."""
        turns = tuple(Message(**m) for m in data["messages"])
        return cls(**{**data, "messages": turns, "stop": tuple(data.get("stop", ()))})

    def cache_key(self, backend: str, model: str, seed: int = 0) -> str:
        """A stable hash of everything that decides the reply (``n`` excluded). ``seed``, the
        backend's (``llm.seed``), decides a sample at temperature > 0: another seed draws
        other samples, so it is part of their key (the default 0 leaves keys as they were)."""
        payload = asdict(self)
        payload.pop("n")
        if not payload["reply_prefix"]:  # keys from before the field existed stay valid
            payload.pop("reply_prefix")
        if seed and self.temperature > 0:
            payload["seed"] = seed
        payload.update(backend=backend, model=model)
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def sample_keys(self, backend: str, model: str, seed: int = 0) -> list[str]:
        """The :meth:`cache_key` of each of the request's ``n`` samples (each is cached alone)."""
        return [self.sample(i).cache_key(backend, model, seed) for i in range(self.n)]


@dataclass(frozen=True)
class ChatResult:
    """One generated sample.

    ``top_logprobs`` holds, for each of the first generated positions, a mapping of
    candidate token text to its log-probability (natural log); empty when not asked for
    or not offered by the backend.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    top_logprobs: tuple[dict[str, float], ...] = ()
    cached: bool = False

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("cached")
        data["top_logprobs"] = [dict(pos) for pos in self.top_logprobs]
        return data

    @classmethod
    def from_json(cls, data: dict, *, cached: bool = False) -> ChatResult:
        return cls(
            text=data["text"],
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            finish_reason=data.get("finish_reason"),
            top_logprobs=tuple(dict(p) for p in data.get("top_logprobs", ())),
            cached=cached,
        )


#: Share of a response's tokens, the least likely ones, that :attr:`TokenScores.min_k_logprob` averages.
MIN_K_SHARE = 0.2


@dataclass(frozen=True)
class TokenScores:
    """Teacher-forced log-probabilities of a response: the mean with and without its prompt,
    and ``min_k_logprob``, the mean over the :data:`MIN_K_SHARE` least likely tokens with the
    prompt (Min-K% Prob, Shi et al. 2023: fluent text appended to a wrong answer raises the
    mean but leaves its unlikely tokens in the lowest share), and ``end_logprob``, that of the
    end-of-turn token right after the response (a response cut off mid-way scores far below
    its dataset's usual). None where the backend cannot tell (an endpoint measures the response
    after its prompt only: no ``mean_logprob_without_prompt``, so no IFD)."""

    mean_logprob_with_prompt: float
    mean_logprob_without_prompt: float | None
    n_tokens: int
    min_k_logprob: float | None = None
    end_logprob: float | None = None

    @classmethod
    def from_logprobs(
        cls, with_prompt: list[float], without_prompt: list[float], *, end: float | None = None
    ) -> TokenScores:
        """Summarise per-token log-probabilities of the same (non-empty) response
        (``without_prompt`` empty where unmeasured)."""
        lowest = sorted(with_prompt)[: max(1, math.ceil(MIN_K_SHARE * len(with_prompt)))]
        return cls(
            mean_logprob_with_prompt=sum(with_prompt) / len(with_prompt),
            mean_logprob_without_prompt=sum(without_prompt) / len(without_prompt) if without_prompt else None,
            n_tokens=len(with_prompt),
            min_k_logprob=sum(lowest) / len(lowest),
            end_logprob=end,
        )


@runtime_checkable
class ChatBackend(Protocol):
    """What the rest of the library needs from a model.

    ``max_concurrency``: calls that may run at once. ``max_batch_sequences``: sample sequences
    :meth:`complete_batch` decodes together, or 0 when the backend has no batch call (an HTTP
    endpoint: the client runs its calls concurrently instead).
    """

    name: str
    model: str
    max_concurrency: int
    max_batch_sequences: int

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        """Return up to ``request.n`` samples, ``sample_index`` onwards; the client asks again
        for any it did not get."""
        ...

    def complete_batch(self, requests: list[ChatRequest]) -> list[list[ChatResult] | Exception]:
        """Several requests served together: per request, its samples or the
        :class:`~curation.errors.LLMError` it failed with. Called only when
        ``max_batch_sequences > 0``."""
        ...

    def score_tokens(
        self, messages: tuple[Message, ...], response: str, *, without_prompt: bool = False
    ) -> TokenScores | None:
        """Teacher-forced log-likelihood of ``response``; ``None`` when not supported. With
        ``without_prompt``, also after no prompt at all (IFD's second pass), where the backend can."""
        ...

    def continuation_logprobs(self, messages: tuple[Message, ...], responses: list[str]) -> list[list[float]] | None:
        """Per response, the log-probability of each of its tokens after ``messages``
        (teacher-forced, the prompt shared); ``None`` when not supported."""
        ...

    def close(self) -> None: ...


__all__ = [
    "ChatRequest",
    "ChatResult",
    "TokenScores",
    "ChatBackend",
    "CallCache",
    "MemoryCache",
]


class CallCache(Protocol):
    """Where finished calls are kept so that no call is ever paid for twice."""

    def cache_get_many(self, keys: list[str]) -> dict[str, dict]:
        """Map each known key to the stored :meth:`ChatResult.to_json` dict."""
        ...

    def cache_put(self, key: str, *, backend: str, model: str, request: dict, result: dict) -> None: ...


class MemoryCache:
    """A process-local :class:`CallCache` (for scripts and tests that need no store)."""

    def __init__(self) -> None:
        self._data: dict[str, dict] = {}

    def cache_get_many(self, keys: list[str]) -> dict[str, dict]:
        return {k: self._data[k] for k in keys if k in self._data}

    def cache_put(self, key: str, *, backend: str, model: str, request: dict, result: dict) -> None:
        self._data[key] = result
