"""A small OpenAI-compatible chat server for tests and benchmarks.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 (a free port), the
files and fine-tuning endpoints (:mod:`benchmarks.support.fake_finetune`) and the Batch API
(:mod:`benchmarks.support.fake_batch`),
from a stdlib ``ThreadingHTTPServer``, so the real ``openai`` package can be driven
end to end without a network. Replies come from a function of the request JSON, a list
(served in turn) or a fixed string; ``n`` choices, word-count usage and made-up but
well-formed ``logprobs`` are returned; with ``prompt_logprobs`` it scores a request's own tokens
as vLLM does (:func:`template_logprobs` renders a chat template word by word, or the embedded
model stands behind it: :mod:`benchmarks.support.embedded_endpoint`), and with ``strict`` it
refuses a parameter OpenAI does not know, as OpenAI does. Faults (the kinds, and the routes, are in
:mod:`benchmarks.support.fake_http`) can be injected at a seeded random rate or by an explicit
per-call schedule::

    with FakeOpenAIServer(reply="yes", fault_rate=0.2, seed=1) as server:
        OpenAI(base_url=server.base_url, api_key="x").chat.completions.create(...)
        server.count(RATE_LIMIT)
"""

from __future__ import annotations

import collections
import itertools
import random
import re
import threading
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from benchmarks.support import fake_batch, fake_http
from benchmarks.support.fake_batch import FakeBatches
from benchmarks.support.fake_finetune import DEFAULT_STEPS, FakeFineTuning
from benchmarks.support.fake_http import EMPTY_CHOICES, FAULTS, NULL_CONTENT, TRANSIENT_FAULTS

MAX_RECORDED = 10_000

#: A reply function may return a result with ``text`` and ``top_logprobs`` (a ChatResult).
Reply = Callable[[dict], Any] | Sequence[str] | str


class FakeOpenAIServer:
    """An OpenAI-compatible HTTP server on loopback, started and stopped as a context manager.

    Args:
        reply: a function ``request_json -> text`` (called once per choice), a list of
            texts served in turn (cycling), or one fixed text.
        latency_s: delay before every answer.
        fault_rate: probability that a call (without a scheduled fault) gets a fault.
        fault_kinds: the faults drawn from at ``fault_rate``.
        faults: explicit per-call schedule: ``faults[i]`` is the fault of the i-th call
            (``None`` = answer normally); calls past its end fall back to ``fault_rate``.
        seed: seeds the fault draw.
        retry_after: the ``Retry-After`` value sent with 429 (seconds or an HTTP date).
        timeout_sleep_s: how long a ``timeout`` fault stalls before answering.
        max_choices: answer at most this many choices per call (1 mimics Ollama ignoring ``n``).
        model: the model id listed by ``/v1/models``.
        max_prompt_chars: a chat call whose messages hold more characters gets OpenAI's 400
            "maximum context length" error (a model with a small context).
        fine_tune_steps: the statuses a fine-tuning job goes through, one per poll.
        reject_fine_tuning: refuse every fine-tuning job with OpenAI's invalid-file 400.
        batch_steps: the statuses a batch goes through, one per poll.
        fail_batch_line: picks the chat request bodies whose batch lines fail.
        prompt_logprobs: a function ``request_json -> entries`` (vLLM's ``prompt_logprobs``
            list) answering requests that ask for them; without it they are ignored, as Ollama does.
        strict: answer a parameter outside :data:`~benchmarks.support.fake_http.OPENAI_CHAT_KEYS`
            with OpenAI's 400.

    Attributes:
        requests: the JSON bodies of the chat calls received, oldest first.
        headers: their headers, names lower-cased.
        fine_tuning: the uploaded files and fine-tuning jobs.
        batches: the batches (their chat lines are not counted as chat calls).
    """

    def __init__(
        self,
        *,
        reply: Reply = "ok",
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] = TRANSIENT_FAULTS,
        faults: Sequence[str | None] = (),
        seed: int = 0,
        retry_after: str = "1",
        timeout_sleep_s: float = 2.0,
        max_choices: int | None = None,
        model: str = "fake-model",
        max_prompt_chars: int | None = None,
        fine_tune_steps: Sequence[str] = DEFAULT_STEPS,
        reject_fine_tuning: bool = False,
        batch_steps: Sequence[str] = fake_batch.DEFAULT_STEPS,
        fail_batch_line: Callable[[dict], bool] | None = None,
        prompt_logprobs: Callable[[dict], list] | None = None,
        strict: bool = False,
    ) -> None:
        unknown = set(fault_kinds) | {f for f in faults if f is not None}
        unknown -= set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; allowed: {FAULTS}")
        self.reply = reply
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.fault_kinds = tuple(fault_kinds)
        self.faults = list(faults)
        self.retry_after = retry_after
        self.timeout_sleep_s = timeout_sleep_s
        self.max_choices = max_choices
        self.model = model
        self.max_prompt_chars = max_prompt_chars
        self.prompt_logprobs = prompt_logprobs
        self.strict = strict
        self.fine_tuning = FakeFineTuning(steps=fine_tune_steps, reject=reject_fine_tuning)
        self.batches = FakeBatches(
            self.fine_tuning.files,
            lambda body: self.completion(body, None),
            steps=batch_steps,
            fail_line=fail_batch_line,
        )
        self.requests: collections.deque[dict] = collections.deque(maxlen=MAX_RECORDED)
        self.headers: collections.deque[dict[str, str]] = collections.deque(maxlen=MAX_RECORDED)
        self._counts: collections.Counter[str] = collections.Counter()
        self._rng = random.Random(seed)
        self._calls = itertools.count()
        self._replies = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        """Bind a free loopback port and serve in a background thread."""
        self._stop.clear()
        self._httpd = fake_http.bind(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake stalled handlers and release the port."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, what ``openai.OpenAI(base_url=...)`` expects."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- counters ------------------------------------------------------------------
    def count(self, kind: str = "requests") -> int:
        """Calls received (``"requests"``), answered normally (``"ok"``) or with a fault kind."""
        with self._lock:
            return self._counts[kind]

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    # -- behaviour -------------------------------------------------------------------
    def next_fault(self) -> str | None:
        """Count a chat call and draw its fault (``None``: answer normally)."""
        with self._lock:
            index = next(self._calls)
            self._counts["requests"] += 1
            if index < len(self.faults):
                fault = self.faults[index]
            elif self.fault_rate > 0 and self._rng.random() < self.fault_rate:
                fault = self._rng.choice(self.fault_kinds)
            else:
                fault = None
            self._counts[fault or "ok"] += 1
            return fault

    def _text_for(self, request: dict) -> str:
        if callable(self.reply):
            return self.reply(request)
        if isinstance(self.reply, str):
            return self.reply
        with self._lock:
            return self.reply[next(self._replies) % len(self.reply)]

    def pause(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it is still running."""
        return not self._stop.wait(seconds) if seconds > 0 else not self._stop.is_set()

    def completion(self, request: dict, fault: str | None) -> dict:
        """The JSON body of a successful chat completion for ``request``."""
        n = int(request.get("n") or 1)
        if self.max_choices is not None:
            n = min(n, self.max_choices)
        written = [self._text_for(request) for _ in range(n)]
        texts = [w if isinstance(w, str) else w.text for w in written]
        top = int(request.get("top_logprobs") or 0) if request.get("logprobs") else 0
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": None if fault == NULL_CONTENT else text},
                "finish_reason": "stop",
                "logprobs": {"content": _logprobs(w, top)} if request.get("logprobs") else None,
            }
            for i, (text, w) in enumerate(zip(texts, written))
        ]
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
        extra = {}
        if self.prompt_logprobs is not None and request.get("prompt_logprobs") is not None:
            extra["prompt_logprobs"] = self.prompt_logprobs(request)
        return {
            **extra,
            "id": f"chatcmpl-fake-{self.count()}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", self.model),
            "choices": [] if fault == EMPTY_CHOICES else choices,
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": sum(len(t.split()) for t in texts),
                "total_tokens": prompt_words + sum(len(t.split()) for t in texts),
            },
        }


def template_logprobs(request: dict, logprob: Callable[[str], float] = lambda token: -0.5) -> list:
    """vLLM's ``prompt_logprobs`` for ``request``'s messages rendered in a ChatML-like template
    (``<|im_start|>role\\n`` content ``<|im_end|>\\n``), a word (with its leading space) a token,
    each token's log-probability ``logprob(token)``; the first token has none, as in vLLM."""
    pieces: list[str] = []
    for message in request.get("messages", []):
        pieces += ["<|im_start|>", f"{message.get('role')}\n"]
        pieces += [w for w in re.split(r"(?=\s)", str(message.get("content") or "")) if w]
        pieces += ["<|im_end|>", "\n"]
    if request.get("add_generation_prompt", True):
        pieces += ["<|im_start|>", "assistant\n"]
    entries: list = [None]
    for token_id, piece in enumerate(pieces[1:], start=1):
        entries.append({str(token_id): {"logprob": logprob(piece), "rank": 1, "decoded_token": piece}})
    return entries


def _logprobs(written: Any, top: int) -> list[dict[str, Any]]:
    """The choice's own top log-probabilities where its reply gave them (a result with
    ``top_logprobs``, one ``{token: logprob}`` per position), else made-up but well-formed
    ones: each word, then ``top - 1`` less likely alternatives."""
    if not isinstance(written, str):
        positions = [sorted(p.items(), key=lambda kv: -kv[1])[: max(top, 1)] for p in written.top_logprobs]
        return [
            {"token": p[0][0], "logprob": p[0][1], "top_logprobs": [{"token": t, "logprob": v} for t, v in p]}
            for p in positions
            if p
        ]
    text = written
    content = []
    for position, word in enumerate(text.split()):
        best = -0.05 * (position % 4)
        alternatives = [{"token": word, "logprob": best, "bytes": list(word.encode())}]
        alternatives += [
            {"token": f"alt{j}", "logprob": best - j, "bytes": list(f"alt{j}".encode())} for j in range(1, top)
        ]
        content.append({"token": word, "logprob": best, "bytes": list(word.encode()), "top_logprobs": alternatives})
    return content
