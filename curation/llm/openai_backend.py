"""A :class:`~curation.llm.base.ChatBackend` for any OpenAI-compatible chat endpoint.

In: a :class:`~curation.llm.base.ChatRequest`. Out: ``request.n`` :class:`ChatResult`
samples, made through the official ``openai`` package (OpenAI, vLLM, Ollama, llama.cpp
server, LM Studio, gateways ...). The package's own retries are off: retrying, caching,
concurrency and cost accounting live in :mod:`curation.llm.client`.

Where the server scores a request's own tokens (vLLM's ``prompt_logprobs``, see
:mod:`curation.llm.prompt_logprobs` and ``llm.prompt_logprobs``), it also gives likelihoods:
:meth:`OpenAIBackend.score_tokens` and :meth:`OpenAIBackend.continuation_logprobs`, one request
per response. Elsewhere they return ``None``, and the callers do without.

Errors are sorted for the retry loop: 429, 408, 5xx, timeouts, lost connections and
malformed replies raise :class:`~curation.errors.TransientLLMError` (with the server's
``Retry-After`` when sent); every other failure raises :class:`~curation.errors.LLMError`.
The API key is read from the environment variable the config names and never appears
in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import openai

from curation.config import LLMConfig
from curation.errors import ContextLengthError, LLMError, TransientLLMError
from curation.llm import prompt_logprobs
from curation.llm.base import ChatRequest, ChatResult, TokenScores
from curation.llm.retry import parse_retry_after
from curation.records import Message

log = logging.getLogger(__name__)

PLACEHOLDER_API_KEY = "not-needed"
# OpenAI accepts at most 20 alternatives per position.
MAX_TOP_LOGPROBS = 20
# Threads sharing one HTTP connection pool (the openai package allows 1000 connections).
MAX_CONCURRENCY = 256
_TRANSIENT_STATUS = frozenset({408, 429})
#: How OpenAI, vLLM and llama.cpp's server word a request too long for the model's context.
_CONTEXT_LENGTH = re.compile(r"context[_ ]length|maximum context|exceeds the context|context size", re.IGNORECASE)
_REDACTED = "[redacted]"
T = TypeVar("T")

#: A ``tool`` turn travels as text in a user turn: the API refuses a tool result without the
#: assistant's structured call, and our prompts carry calls as text (curation.records).
_ENDPOINT_ROLES = {"tool": "user"}


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible HTTP endpoint.

    Attributes:
        name: ``"openai"`` (part of every cache key).
        model: the model name the endpoint expects.
        max_concurrency: how many calls may run at once through this backend.
    """

    name = "openai"
    max_batch_sequences = 0  # no batch call: the client runs calls concurrently

    def __init__(self, config: LLMConfig, *, environ: Mapping[str, str] = os.environ) -> None:
        """Make the HTTP client.

        Args:
            config: ``model``, ``base_url``, ``api_key_env``, ``extra_headers``,
                ``timeout_s`` and ``seed`` are used.
            environ: where the API key is looked up (``environ[config.api_key_env]``);
                when absent a placeholder is sent, which local servers accept.
        """
        self.model = config.model
        self.max_concurrency = MAX_CONCURRENCY
        self._base_url = config.base_url
        self._seed = config.seed
        self._secret = secret(config, environ=environ)
        self._client = make_client(config, environ=environ)
        #: ``llm.prompt_logprobs``; ``auto`` turns ``off`` for good once the server refuses or ignores it.
        self._likelihoods = config.prompt_logprobs

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self._base_url!r})"

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        """Return ``request.n`` samples.

        A server that returns fewer choices than asked (Ollama ignores ``n``) is called
        again for the rest, with the seed moved on so the extra samples differ.

        Args:
            request: the messages and sampling settings; ``top_logprobs`` > 0 asks for
                that many alternatives per generated token.

        Returns:
            ``request.n`` results, or fewer (at least one) when a follow-up call for the
            missing choices fails transiently: samples already paid for are not thrown
            away, and :class:`~curation.llm.client.LLMClient` asks again for the rest. Token
            usage of a call is split over its choices: the prompt tokens go to the first, the
            completion tokens are shared out, so that summing over results gives the call's usage.

        Raises:
            TransientLLMError: rate limit, timeout, 408/5xx, lost connection, malformed reply.
            LLMError: any other failure (bad request, authentication, unknown model).
        """
        results: list[ChatResult] = []
        while len(results) < request.n:
            offset = request.sample_index + len(results)
            try:
                results.extend(self._call(request, n=request.n - len(results), seed=self._seed + offset))
            except TransientLLMError as e:
                if not results:
                    raise
                # Keep the samples already paid for; the client asks again for the rest.
                log.debug("returning %d of %d samples after a transient failure: %s", len(results), request.n, e)
                break
        return results[: request.n]

    def complete_batch(self, requests: list[ChatRequest]) -> list:
        """Not offered: an endpoint serves requests one by one (``max_batch_sequences`` is 0)."""
        raise NotImplementedError("an OpenAI-compatible endpoint has no batch call")

    def score_tokens(
        self, messages: tuple[Message, ...], response: str, *, without_prompt: bool = False
    ) -> TokenScores | None:
        """The response's likelihood after its prompt, from the server's prompt log-probabilities
        (never ``without_prompt``, IFD's: that would take a second request); None where the
        server gives none.

        Raises:
            TransientLLMError, LLMError: as :meth:`complete`; a refusal too when ``llm.prompt_logprobs`` is ``on``.
        """
        tokens = self._prompt_tokens(messages, response)
        return prompt_logprobs.token_scores(tokens, response) if tokens is not None else None

    def continuation_logprobs(self, messages: tuple[Message, ...], responses: list[str]) -> list[list[float]] | None:
        """Per response, its tokens' log-probabilities after ``messages``, one request each (the
        server's prefix cache shares the prompt); ``[]`` for one it could not locate, None where
        the server gives none (candidates then compete without likelihood). Raises as :meth:`score_tokens`."""
        out = []
        for response in responses:
            tokens = self._prompt_tokens(messages, response)
            if tokens is None:
                return None
            found = prompt_logprobs.response_logprobs(tokens, response)
            out.append(found[0] if found else [])
        return out

    def _prompt_tokens(self, messages: tuple[Message, ...], response: str) -> list[prompt_logprobs.PromptToken] | None:
        """The tokens of ``messages`` + the response as a closed assistant turn, with their
        log-probabilities; None when they are off or the server (``auto``) turns out not to give them."""
        if self._likelihoods == "off":
            return None
        request = ChatRequest(messages=messages + (Message("assistant", response),), temperature=0.0, max_tokens=1)
        body = {
            **chat_body(request, model=self.model, n=1, seed=self._seed),
            "extra_body": dict(prompt_logprobs.EXTRA_BODY),
        }
        try:
            data = self._send(body)
        except (TransientLLMError, ContextLengthError):
            raise
        except LLMError as e:
            return self._without_likelihoods(f"it refused the request ({e})", e)
        tokens = prompt_logprobs.prompt_tokens(data)
        if tokens is None:
            return self._without_likelihoods("its reply holds no prompt_logprobs", None)
        return tokens

    def _without_likelihoods(self, why: str, error: LLMError | None) -> None:
        """Turn likelihoods off for this endpoint (``auto``), or fail (``on``)."""
        if self._likelihoods == "on":
            raise error or LLMError(f"{self._where()}: llm.prompt_logprobs is 'on' but {why}")
        if self._likelihoods == "auto":
            log.warning(
                "%s gives no likelihoods (%s): the cheap tier asks one self-reflection question instead",
                self._where(),
                why,
            )
        self._likelihoods = "off"
        return None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _call(self, request: ChatRequest, *, n: int, seed: int) -> list[ChatResult]:
        return parse_completion(
            self._send(chat_body(request, model=self.model, n=n, seed=seed)), n, where=self._where()
        )

    def _send(self, body: dict[str, Any]) -> Any:
        """POST a chat completion ``body``; its reply's parsed JSON (a reply that is not JSON is
        a transient failure)."""
        create = self._client.chat.completions.with_raw_response.create
        text = call_endpoint(lambda: create(**body).text, where=self._where(), key=self._secret)
        try:
            return json.loads(text)
        except (json.JSONDecodeError, TypeError) as e:
            raise TransientLLMError(f"{self._where()}: malformed reply (not JSON: {e})") from None

    def _where(self) -> str:
        return f"openai backend, model {self.model!r}"


def call_endpoint(call: Callable[[], T], *, where: str, key: str) -> T:
    """``call()``, its ``openai`` errors sorted for the retry loop: 429, 408, 5xx, timeouts and lost
    connections raise :class:`TransientLLMError` (with the server's ``Retry-After``), a request too
    long for the context :class:`ContextLengthError`, the rest :class:`LLMError`; each message
    starts with ``where`` and never holds ``key`` (from :func:`secret`)."""
    try:
        return call()
    except openai.APIStatusError as e:
        error, cause = _status_error(e, where), e
    except openai.APITimeoutError as e:
        error, cause = TransientLLMError(f"{where}: timed out"), e
    except openai.APIConnectionError as e:
        error, cause = TransientLLMError(f"{where}: connection failed: {e}"), e
    except openai.OpenAIError as e:
        error, cause = LLMError(f"{where}: {e}"), e
    # Raised outside the except blocks so no exception context carries the original (possibly
    # key-bearing) message along.
    error, kept = _scrubbed(error, cause, key)
    raise error from kept


def _status_error(e: openai.APIStatusError, where: str) -> LLMError:
    message = f"{where}: {e.message}"
    if e.status_code in _TRANSIENT_STATUS or e.status_code >= 500:
        headers = e.response.headers
        retry_after = _retry_after_ms(headers.get("retry-after-ms"))
        if retry_after is None:
            retry_after = parse_retry_after(headers.get("retry-after"))
        return TransientLLMError(message, retry_after=retry_after)
    if _CONTEXT_LENGTH.search(message):
        return ContextLengthError(message)
    return LLMError(message)


def _scrubbed(error: LLMError, cause: BaseException, key: str) -> tuple[LLMError, BaseException | None]:
    text = str(error)
    if not key or (key not in text and key not in str(cause)):
        return error, cause
    text = redacted(text, key)
    if isinstance(error, TransientLLMError):
        return TransientLLMError(text, retry_after=error.retry_after), None
    return type(error)(text), None


def chat_body(request: ChatRequest, *, model: str, n: int, seed: int) -> dict[str, Any]:
    """The JSON body that asks for ``n`` samples of ``request`` (seeded with ``seed``): the one
    wire form of a call, sent as it is or as a line of a Batch API file."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": _ENDPOINT_ROLES.get(m.role, m.role), "content": m.content} for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": seed,
    }
    if n != 1:
        body["n"] = n
    if request.stop:
        body["stop"] = list(request.stop)
    if request.top_logprobs > 0:
        body["logprobs"] = True
        body["top_logprobs"] = min(request.top_logprobs, MAX_TOP_LOGPROBS)
    return body


def parse_completion(data: Any, n: int, *, where: str) -> list[ChatResult]:
    """Up to ``n`` samples from a chat completion's parsed JSON body. Token usage is split over
    the choices: the prompt tokens go to the first, the completion tokens are shared out.

    Raises:
        TransientLLMError: the body is not a completion with text in every choice kept.
    """
    if not isinstance(data, dict):
        raise _malformed(where, "body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _malformed(where, "no choices")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = _int(usage.get("prompt_tokens"))
    completion_tokens = _int(usage.get("completion_tokens"))
    kept = choices[:n]
    share, extra = divmod(completion_tokens, len(kept))
    results = []
    for i, choice in enumerate(kept):
        message = choice.get("message") if isinstance(choice, dict) else None
        text = message.get("content") if isinstance(message, dict) else None
        if not isinstance(text, str):
            raise _malformed(where, f"choice {i} has no text content")
        results.append(
            ChatResult(
                text=text,
                prompt_tokens=prompt_tokens if i == 0 else 0,
                completion_tokens=share + (extra if i == 0 else 0),
                finish_reason=_str_or_none(choice.get("finish_reason")),
                top_logprobs=_top_logprobs(choice.get("logprobs")),
            )
        )
    return results


def _malformed(where: str, what: str) -> TransientLLMError:
    return TransientLLMError(f"{where}: malformed reply ({what})")


def make_client(config: LLMConfig, *, environ: Mapping[str, str] = os.environ) -> openai.OpenAI:
    """The ``openai`` client for ``config``'s endpoint, its own retries off.

    ``base_url``, ``timeout_s`` and ``extra_headers`` are used; the key is
    ``environ[config.api_key_env]``, or a placeholder (which local servers accept) when absent.
    """
    return openai.OpenAI(
        api_key=environ.get(config.api_key_env) or PLACEHOLDER_API_KEY,
        base_url=config.base_url,
        timeout=config.timeout_s,
        max_retries=0,
        default_headers=dict(config.extra_headers),
    )


def secret(config: LLMConfig, *, environ: Mapping[str, str] = os.environ) -> str:
    """The API key to scrub from error messages ("" when absent or too short to search for)."""
    key = environ.get(config.api_key_env) or ""
    return key if len(key) >= 4 else ""


def redacted(text: str, key: str) -> str:
    """``text`` with every copy of ``key`` (from :func:`secret`) replaced."""
    return text.replace(key, _REDACTED) if key else text


def _top_logprobs(logprobs: Any) -> tuple[dict[str, float], ...]:
    """Map ``choice.logprobs.content`` to one ``{token: logprob}`` dict per position."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return ()
    positions = []
    for entry in content:
        if not isinstance(entry, dict):
            continue
        alternatives = entry.get("top_logprobs")
        if not isinstance(alternatives, list) or not alternatives:
            alternatives = [entry]
        position = {
            alt["token"]: float(alt["logprob"])
            for alt in alternatives
            if isinstance(alt, dict) and isinstance(alt.get("token"), str) and _is_number(alt.get("logprob"))
        }
        if position:
            positions.append(position)
    return tuple(positions)


def _retry_after_ms(value: str | None) -> float | None:
    seconds = parse_retry_after(value)
    return None if seconds is None else seconds / 1000.0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int(value: Any) -> int:
    return int(value) if _is_number(value) and value >= 0 else 0


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
