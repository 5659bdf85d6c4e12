"""The client's likelihood calls: teacher-forced log-probabilities of given responses, cached.

:class:`LikelihoodCalls` is a part of :class:`~curation.llm.client.LLMClient` (a mixin: it
uses the client's backend, cache, budget check and totals). :meth:`~LikelihoodCalls.score_tokens`
measures one response after its prompt (likelihood, IFD, the end-of-turn probability);
:meth:`~LikelihoodCalls.continuation_logprobs` several responses after one prompt, the shared
prompt evaluated once. Each result is cached per response, so a rerun pays for none twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import TypeVar

from curation.config import LLMConfig
from curation.errors import TransientLLMError
from curation.llm.accounting import LLMStats, call_cost
from curation.llm.base import CallCache, ChatBackend, ChatRequest, TokenScores
from curation.records import Message

#: Part of a likelihood's cache key: bump when :class:`TokenScores` gains a measurement
#: (2: the end-of-turn log-probability), so cached entries without it are measured again.
SCORE_TOKENS_VERSION = 2
#: Added to a likelihood's key when the pass also measured the response without its prompt.
_WITHOUT_PROMPT = ":without_prompt"
T = TypeVar("T")


class LikelihoodCalls:
    """Likelihood calls through the client's cache and budget (see the module docstring)."""

    backend: ChatBackend
    config: LLMConfig
    stats: LLMStats
    _cache: CallCache
    _cache_lock: threading.Lock
    _clock: Callable[[], float]
    _check_budget: Callable[[], None]  # raises BudgetExceededError once the budget is spent
    _retry_or_fail: Callable[..., None]  # waits before the next attempt, or raises LLMError after the last

    def score_tokens(
        self, messages: tuple[Message, ...], response: str, *, without_prompt: bool = False
    ) -> TokenScores | None:
        """Teacher-forced log-likelihood of ``response`` (None where the backend cannot), cached;
        ``without_prompt`` also measures it after no prompt (IFD's pass, where the backend can),
        and only then is that measurement returned, whatever the cache holds. A ``None`` is not
        trusted from the cache: the backend knows at no call whether it measures likelihoods
        now (an endpoint may have gained them since).

        Raises:
            BudgetExceededError: the budget is spent and the result is not cached.
            LLMError: the backend failed (transient failures are retried first).
        """
        probe = _likelihood_probe(messages, response)
        key = likelihood_key(self.backend.name, self.backend.model, messages, response)
        both = key + _WITHOUT_PROMPT  # the entry of a pass that also measured without the prompt
        with self._cache_lock:
            stored = self._cache.cache_get_many([key, both])
        # ``both`` was measured with the pass asked for (an endpoint gives no such measurement)
        found = _usable(stored.get(both), False) or _usable(stored.get(key), without_prompt)
        if found is not None:
            self.stats.add(cache_hits=1)
            return _as_asked(found, without_prompt)
        self._check_budget()
        started = self._clock()
        scores = self._retrying(lambda: self.backend.score_tokens(messages, response, without_prompt=without_prompt))
        prompt = scores.n_tokens if scores else 0
        self.stats.add(
            calls=1 if scores else 0,
            cache_misses=1,
            backend_s=self._clock() - started,
            prompt_tokens=prompt,
            cost_usd=call_cost(prompt, 0, self.config.price_prompt_per_m, 0.0),
        )
        with self._cache_lock:
            self._cache.cache_put(
                both if without_prompt else key,
                backend=self.backend.name,
                model=self.backend.model,
                request={"score_tokens": asdict(probe), "without_prompt": without_prompt},
                result={"scores": asdict(scores) if scores else None},
            )
        return _as_asked(scores, without_prompt)

    def continuation_logprobs(self, messages: tuple[Message, ...], responses: list[str]) -> list[list[float] | None]:
        """Per response, its tokens' log-probabilities after ``messages`` (teacher-forced), cached
        per response; ``None`` for an empty response or where the backend cannot. The uncached
        ones go to the backend in one call, which evaluates the shared prompt once.

        Raises:
            BudgetExceededError: the budget is spent and some result is not cached.
        """
        keys = [
            "continuation:"
            + ChatRequest(messages=messages + (Message("assistant", r),), max_tokens=0).cache_key(
                self.backend.name, self.backend.model
            )
            for r in responses
        ]
        with self._cache_lock:
            stored = self._cache.cache_get_many(keys)
        out: list[list[float] | None] = [stored[k]["logprobs"] if k in stored else None for k in keys]
        todo = sorted({i for i, k in enumerate(keys) if k not in stored and responses[i]}, key=responses.__getitem__)
        self.stats.add(cache_hits=sum(1 for v in out if v is not None))  # "unsupported" is no call saved
        if not todo:
            return out
        self._check_budget()
        started = self._clock()
        got = self._retrying(lambda: self.backend.continuation_logprobs(messages, [responses[i] for i in todo]))
        prompt = sum(map(len, got)) if got else 0
        self.stats.add(
            calls=(1 if self.backend.max_batch_sequences else len(todo)) if got else 0,  # an endpoint: one each
            cache_misses=len(todo) if got else 0,
            backend_s=self._clock() - started,
            prompt_tokens=prompt,
            cost_usd=call_cost(prompt, 0, self.config.price_prompt_per_m, 0.0),
        )
        for n, i in enumerate(todo):
            out[i] = got[n] if got else None
            with self._cache_lock:
                self._cache.cache_put(
                    keys[i],
                    backend=self.backend.name,
                    model=self.backend.model,
                    request={"continuation": responses[i]},
                    result={"logprobs": out[i]},
                )
        return out

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call()``, retried after transient failures as sampled calls are (up to ``max_attempts``)."""
        attempts = 0
        while True:
            try:
                return call()
            except TransientLLMError as e:
                attempts += 1
                self.stats.add(calls=1)
                self._retry_or_fail(attempts, e, what="likelihood call")


def likelihood_key(backend: str, model: str, messages: tuple[Message, ...], response: str) -> str:
    """The cache key of :meth:`LLMClient.score_tokens` for ``response`` after ``messages``."""
    probe = _likelihood_probe(messages, response)
    return f"score_tokens{SCORE_TOKENS_VERSION}:" + probe.cache_key(backend, model)


def _likelihood_probe(messages: tuple[Message, ...], response: str) -> ChatRequest:
    return ChatRequest(messages=messages + (Message("assistant", response),), max_tokens=0)


def _usable(stored: dict | None, without_prompt: bool) -> TokenScores | None:
    """A cached likelihood pass, when it holds what is asked: scores, and the measurement
    without the prompt where ``without_prompt`` (an entry stored before that pass was optional
    has it from the embedded model)."""
    scores = (stored or {}).get("scores")
    if not scores or (without_prompt and scores.get("mean_logprob_without_prompt") is None):
        return None
    return TokenScores(**scores)


def _as_asked(scores: TokenScores | None, without_prompt: bool) -> TokenScores | None:
    """``scores`` without the measurement without the prompt unless it was asked for: what a
    run records depends on its settings, not on what the cache happened to hold."""
    return scores if scores is None or without_prompt else replace(scores, mean_logprob_without_prompt=None)
