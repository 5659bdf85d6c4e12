"""The embedded model behind the loopback server, answering as vLLM would: a real endpoint to measure.

:class:`EmbeddedEndpoint` gives :class:`~benchmarks.support.fake_openai.FakeOpenAIServer` its
two functions: ``reply`` writes each choice with the embedded model (the request's sampling
settings, greedy at temperature 0, the model's own top log-probabilities), and
``prompt_logprobs`` scores the request's own tokens the way vLLM's ``prompt_logprobs`` does:
the conversation rendered by the model's chat template (the last assistant turn closed, as
``add_generation_prompt: false`` asks), every token's log-probability given those before it
(the first has none), and its text decoded as vLLM's incremental detokenizer does (a token
ending mid-character carries "", the next the character).

    endpoint = EmbeddedEndpoint(backend)              # an EmbeddedBackend
    with FakeOpenAIServer(reply=endpoint.reply, prompt_logprobs=endpoint.prompt_logprobs) as server: ...
"""

from __future__ import annotations

import json
import threading

from curation.llm.base import ChatRequest, ChatResult
from curation.llm.embedded import EmbeddedBackend
from curation.records import Message


class EmbeddedEndpoint:
    """Replies and prompt log-probabilities from one embedded model (see the module docstring)."""

    def __init__(self, backend: EmbeddedBackend):
        self.backend = backend
        self._engine = backend._engine
        self._lock = threading.Lock()  # one choice at a time: the server's threads share the model
        self._drawn: dict[str, int] = {}  # choices written so far per request body
        self._ready: dict[str, list[ChatResult]] = {}  # written, not yet handed out
        self._prefixes: dict[tuple[int, ...], list[float]] = {}  # see _prefix_logprobs

    def reply(self, request: dict) -> ChatResult:
        """One choice for a chat request's JSON body, written by the embedded model (with the
        log-probabilities of its first tokens when the request asks for them). The ``n``
        choices of a body are decoded together at its first choice and handed out in turn;
        a body sent again gets new ones (other seeds)."""
        body = json.dumps(request, sort_keys=True)
        with self._lock:
            if not self._ready.get(body):
                drawn = self._drawn.get(body, 0)
                n = max(int(request.get("n") or 1), 1)
                chat = ChatRequest(
                    messages=_messages(request),
                    temperature=float(request.get("temperature") or 0.0),
                    max_tokens=int(request.get("max_tokens") or 16),
                    stop=tuple(request.get("stop") or ()),
                    top_logprobs=int(request.get("top_logprobs") or 0) if request.get("logprobs") else 0,
                    n=n,
                    sample_index=int(request.get("seed") or 0) + drawn,
                )
                self._ready[body] = list(self.backend.complete(chat))
                self._drawn[body] = drawn + n
            return self._ready[body].pop(0)

    def prompt_logprobs(self, request: dict) -> list:
        """vLLM's ``prompt_logprobs`` entries for the request's rendered conversation."""
        return self._engine.call(self._score, _messages(request))

    def _score(self, messages: tuple[Message, ...]) -> list:
        engine = self._engine
        *head, last = messages
        if last.role == "assistant":
            prefix, end = engine.chat_tokens(tuple(head)), engine.end_of_turn()
            rest = engine.text_tokens(last.content) + ([end] if end is not None else [])
        else:  # a generation prompt: the template's own assistant header ends it
            prefix, rest = engine.chat_tokens(messages), []
        tokens = prefix + rest
        logprobs = self._prefix_logprobs(prefix) + engine.forced_logprobs(prefix, rest)
        texts = _decoded(engine.llm, tokens)
        entries: list = [None]
        for token, text, logprob in zip(tokens[1:], texts[1:], logprobs):
            entries.append({str(token): {"logprob": logprob, "rank": None, "decoded_token": text}})
        return entries

    def _prefix_logprobs(self, prefix: list[int]) -> list[float]:
        """The log-probabilities of a conversation's tokens before the response (after the
        first), computed once per conversation: candidates for one prompt share them, and
        the response is then scored on the cached prefix, as vLLM's prefix cache would."""
        key = tuple(prefix)
        if key not in self._prefixes:
            if len(self._prefixes) >= 1024:
                self._prefixes.clear()
            self._prefixes[key] = self._engine.forced_logprobs(prefix[:1], prefix[1:])
        return self._prefixes[key]


def _messages(request: dict) -> tuple[Message, ...]:
    return tuple(Message(str(m["role"]), str(m.get("content") or "")) for m in request.get("messages", []))


def _decoded(llm, tokens: list[int]) -> list[str]:
    """Each token's text as an incremental detokenizer gives it: the bytes decoded so far that
    form whole characters, "" while a character is still incomplete."""
    out, pending = [], b""
    for token in tokens:
        pending += llm.detokenize([token], special=True)
        try:
            out.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            out.append("")
    return out
