"""The embedded default backend: a small GGUF model run in-process by llama.cpp.

The model is loaded once per process (per file and settings) and shared by every thread:
all its work runs on one thread of its own, one call at a time (measured: llama.cpp's
OpenMP decode is about 60 % slower when calls come from changing threads). Generation is our own short loop over llama.cpp's decode so that we can
(1) keep several prompts' KV caches at once and start each call from the longest cached
token prefix (:mod:`curation.llm.prefix_cache`) — a dataset's system prompt and our fixed
instructions repeat in every example's calls — (2) read the
log-probabilities of the first generated tokens without keeping logits for every prompt
token, and (3) score a response's tokens teacher-forced, for the likelihood signals.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from curation.config import LLMConfig
from curation.errors import LLMError
from curation.llm.base import ChatRequest, ChatResult, Message, TokenScores
from curation.llm.packaged import resolve_model_path
from curation.llm.prefix_cache import SlotTable

log = logging.getLogger(__name__)

_FORCED_CHUNK = 64  # tokens decoded per batch when every position's logits are needed
_LOGPROB_POSITIONS = 4  # generated positions for which top log-probabilities are kept
MAX_SEQUENCES = 8  # samples of one prompt decoded together as parallel sequences
N_SLOTS = 8  # prompts whose KV caches are kept at once (sequences 0 .. N_SLOTS - 1)
KV_CONTEXTS = 4  # KV cells = KV_CONTEXTS x the context length: room for the cached prompts
_PARAMS_LOCK = threading.Lock()
T = TypeVar("T")


@dataclass(frozen=True)
class _Generation:
    text: str
    n_tokens: int
    finish_reason: str
    top_logprobs: tuple[dict[str, float], ...]


class _Engine:
    """One loaded model. Its methods must run on the engine's own thread: use :meth:`call`."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int, seed: int):
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self.path = path
        try:
            self.call(self._load, n_ctx=n_ctx, n_threads=n_threads, seed=seed)
        except BaseException:
            self._thread.shutdown(wait=False)
            raise

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the engine's thread (after any call already queued) and return its
        result or raise its exception."""
        return self._thread.submit(fn, *args, **kwargs).result()

    def _load(self, *, n_ctx: int, n_threads: int, seed: int) -> None:
        from llama_cpp import Llama  # heavy import, only when the embedded model is used
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = self.path
        try:
            with _parallel_sequences():
                # Flash attention skips the KV cells of other sequences (masked out) cheaply.
                self.llm = Llama(model_path=str(path), n_ctx=n_ctx * KV_CONTEXTS, n_threads=n_threads, seed=seed,
                                 flash_attn=True, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"{path}: cannot load the model: {e}") from e
        self.max_prompt = n_ctx  # tokens one sequence may hold (prompt + generation)
        self.slots = SlotTable(N_SLOTS)
        self.evaluated = 0  # prompt tokens decoded so far (the ones no cached prefix covered)
        self.n_vocab = self.llm.n_vocab()
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError(f"{path}: the GGUF file has no chat template")
        eos = self.llm.detokenize([self.llm.token_eos()], special=True).decode("utf-8", "ignore")
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")

    def clear(self, *, n_slots: int = N_SLOTS) -> None:
        """Forget every cached prompt and keep at most ``n_slots`` from now on (1 = a single
        cached prompt, as a plain llama.cpp context does; for measurements)."""
        for seq in range(N_SLOTS + MAX_SEQUENCES):
            self.llm._ctx.kv_cache_seq_rm(seq, -1, -1)
        self.slots = SlotTable(min(n_slots, N_SLOTS))

    # -- tokens ---------------------------------------------------------------
    def chat_tokens(self, messages: tuple[Message, ...]) -> list[int]:
        """The chat template's tokens, where only the template's own markup may become control
        tokens: message text is data, so an example holding ``<|im_start|>system`` stays text
        instead of opening a real system turn (prompt injection through the template)."""
        marks = [f"\x00{uuid.uuid4().hex}\x00" for _ in messages]
        rendered = self.formatter(messages=[{"role": m.role, "content": mark}
                                            for m, mark in zip(messages, marks)]).prompt
        pieces: list[tuple[str, bool]] = []
        for message, mark in zip(messages, marks):
            head, found, rendered = rendered.partition(mark)
            if not found or mark in rendered:  # a template that rewrites content: render it whole
                return self._tokens(self.formatter(messages=[{"role": m.role, "content": m.content}
                                                             for m in messages]).prompt, special=True)
            pieces += [(head, True), (message.content, False)]
        pieces.append((rendered, True))
        return [token for text, special in pieces if text for token in self._tokens(text, special=special)]

    def _tokens(self, text: str, *, special: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def text_tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    # -- evaluation -----------------------------------------------------------
    def _prepare(self, prompt: list[int]) -> tuple[int, np.ndarray]:
        """Bring a slot to exactly ``prompt``, reusing the longest cached prefix (see
        :mod:`curation.llm.prefix_cache`); returns the slot and the log-probabilities of the
        token after the prompt."""
        plan = self.slots.plan(prompt)
        ctx = self.llm._ctx
        if plan.source is None:
            ctx.kv_cache_seq_rm(plan.slot, plan.keep, -1)
        else:
            ctx.kv_cache_seq_rm(plan.slot, -1, -1)
            ctx.kv_cache_seq_cp(plan.source, plan.slot, 0, plan.keep)
        self.slots.commit(plan.slot, prompt[: plan.keep])
        rest = prompt[plan.keep:]
        self.evaluated += len(rest)
        last = None
        for start in range(0, len(rest), self.llm.n_batch):
            chunk = rest[start : start + self.llm.n_batch]
            final = start + len(chunk) == len(rest)
            last = self._extend(plan.slot, chunk, logits="last" if final else "none")
        return plan.slot, _log_softmax(last[-1])

    def _extend(self, slot: int, tokens: list[int], *, logits: str) -> list[np.ndarray]:
        """Decode ``tokens`` at the end of ``slot`` in one batch; the raw logits after the
        last token (``logits="last"``), after every token (``"all"``) or none."""
        base = len(self.slots.tokens[slot])
        wanted = {"last": lambda i: i == len(tokens) - 1, "all": lambda i: True, "none": lambda i: False}[logits]
        rows = self._decode([(slot, token, base + i, wanted(i)) for i, token in enumerate(tokens)], protect=slot)
        self.slots.commit(slot, self.slots.tokens[slot] + tokens)
        return rows

    def _decode(self, rows: list[tuple[int, int, int, bool]], *, protect: int) -> list[np.ndarray]:
        """Decode ``(sequence, token, position, wants_logits)`` rows in one batch and return
        the raw logits of the rows that want them. When the KV cache is full, the least
        recently used cached prompt other than ``protect`` is dropped and the batch retried."""
        batch = self.llm._batch.batch
        for i, (seq, token, position, wants) in enumerate(rows):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = seq, wants
        batch.n_tokens = len(rows)
        while True:
            try:
                self.llm._ctx.decode(self.llm._batch)
                break
            except RuntimeError as e:  # llama_decode returned 1: no room left in the KV cache
                evicted = self.slots.evict_one(keep=protect)
                if evicted is None:
                    raise LLMError(f"{self.path.name}: the model's KV cache is full ({e})") from e
                self.llm._ctx.kv_cache_seq_rm(evicted, -1, -1)
        return [np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(i), shape=(self.n_vocab,)).copy()
                for i, row in enumerate(rows) if row[3]]

    def _top(self, logprobs: np.ndarray, k: int) -> dict[str, float]:
        best = np.argpartition(-logprobs, k)[:k]
        best = best[np.argsort(-logprobs[best])]
        out: dict[str, float] = {}
        for token in best:
            text = self.llm.detokenize([int(token)]).decode("utf-8", "replace")
            out.setdefault(text, float(logprobs[token]))
        return out

    def generate_many(self, prompt: list[int], *, rngs: list[np.random.Generator], temperature: float,
                      max_tokens: int, stop: tuple[str, ...], top_logprobs: int) -> list[_Generation]:
        """Samples of one prompt decoded together, one sequence each (``len(rngs)`` of them,
        at most :data:`MAX_SEQUENCES`).

        The prompt is evaluated once into a cached slot whose KV cells every sample sequence
        shares; each step decodes one token per unfinished sequence in a single batch, which
        on a CPU costs far less than decoding them one by one (the weights are read once).
        The samples' own cells are dropped afterwards, so the slot caches the prompt alone.
        """
        if len(prompt) + 1 > self.max_prompt:
            raise LLMError(f"prompt of {len(prompt)} tokens does not fit the model's context of {self.max_prompt}")
        max_tokens = min(max_tokens, self.max_prompt - len(prompt))
        slot, first = self._prepare(prompt)
        base, ctx = len(prompt), self.llm._ctx
        seqs = [N_SLOTS + i for i in range(len(rngs))]
        for seq in seqs:
            ctx.kv_cache_seq_rm(seq, -1, -1)
            ctx.kv_cache_seq_cp(slot, seq, 0, base)
        states = [_Sampling() for _ in rngs]
        logprobs = [first] * len(rngs)
        try:
            for _ in range(max_tokens):
                rows = []
                for i, state in enumerate(states):
                    if state.finish is None and self._advance(state, logprobs[i], rngs[i], temperature=temperature,
                                                              stop=stop, top_logprobs=top_logprobs,
                                                              max_tokens=max_tokens):
                        rows.append((i, state.tokens[-1], base + len(state.tokens) - 1))
                if not rows:
                    break
                out = self._decode([(seqs[i], token, position, True) for i, token, position in rows], protect=slot)
                for (i, _, _), row in zip(rows, out):
                    logprobs[i] = _log_softmax(row)
        finally:
            for seq in seqs:
                ctx.kv_cache_seq_rm(seq, -1, -1)
        return [_Generation(text=s.text, n_tokens=len(s.tokens), finish_reason=s.finish or "length",
                            top_logprobs=tuple(s.tops)) for s in states]

    def _advance(self, state: "_Sampling", logprobs: np.ndarray, rng: np.random.Generator, *, temperature: float,
                 stop: tuple[str, ...], top_logprobs: int, max_tokens: int) -> bool:
        """Pick one token for a sequence; True when it must be decoded to go on."""
        if top_logprobs and len(state.tops) < _LOGPROB_POSITIONS:
            state.tops.append(self._top(logprobs, top_logprobs))
        token = _pick(logprobs, temperature, rng)
        if self._is_end(token):
            state.finish = "stop"
            return False
        state.tokens.append(token)
        state.text = self.llm.detokenize(state.tokens).decode("utf-8", "ignore")
        cut = _first_stop(state.text, stop)
        if cut is not None:
            state.text, state.finish = state.text[:cut], "stop"
            return False
        if len(state.tokens) >= max_tokens:
            state.finish = "length"
            return False
        return True

    def forced_logprobs(self, context: list[int], target: list[int]) -> list[float]:
        """Log-probability of each ``target`` token after ``context``, teacher-forced."""
        if not target:
            return []
        target = target[: max(self.max_prompt - len(context), 1)]
        slot, first = self._prepare(context)
        scores = [float(first[target[0]])]
        rest = target[:-1]
        for start in range(0, len(rest), _FORCED_CHUNK):
            chunk = rest[start : start + _FORCED_CHUNK]
            following = target[start + 1 : start + 1 + len(chunk)]
            for row, token in zip(self._extend(slot, chunk, logits="all"), following):
                scores.append(float(_log_softmax(row)[token]))
        return scores


@dataclass
class _Sampling:
    """One sequence's progress in :meth:`_Engine.generate_many`."""

    tokens: list[int] = field(default_factory=list)
    tops: list[dict[str, float]] = field(default_factory=list)
    text: str = ""
    finish: str | None = None


@contextmanager
def _parallel_sequences():
    """Make the next Llama context hold :data:`N_SLOTS` cached prompts plus
    :data:`MAX_SEQUENCES` sample sequences in one unified KV cache (llama-cpp-python's
    constructor has no argument for it)."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_context_default_params

    def params():
        p = original()
        p.n_seq_max = N_SLOTS + MAX_SEQUENCES
        p.kv_unified = True
        return p

    with _PARAMS_LOCK:
        lib.llama_context_default_params = params
        try:
            yield
        finally:
            lib.llama_context_default_params = original


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def _pick(logprobs: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    if temperature <= 0:
        return int(np.argmax(logprobs))
    scaled = logprobs / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    return int(rng.choice(len(probs), p=probs))


def _first_stop(text: str, stop: tuple[str, ...]) -> int | None:
    hits = [text.find(s) for s in stop if s and s in text]
    return min(hits) if hits else None


_ENGINES: dict[tuple, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(path: Path, *, n_ctx: int, n_threads: int, seed: int) -> _Engine:
    key = (str(path), n_ctx, n_threads, seed)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _Engine(path, n_ctx=n_ctx, n_threads=n_threads, seed=seed)
        return _ENGINES[key]


@atexit.register
def _close_engines() -> None:
    # Free the models while the interpreter is whole; llama.cpp's own finaliser fails
    # with a TypeError when it runs during interpreter shutdown.
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.llm.close()  # here the engine's thread is idle: its executor shut down before atexit
        _ENGINES.clear()


class EmbeddedBackend:
    """:class:`~curation.llm.base.ChatBackend` over a packaged or local GGUF model.

    Calls run one at a time (``max_concurrency = 1``) on the engine's thread: on a 2-core
    machine llama.cpp already uses both cores for one sequence.
    """

    name = "embedded"
    max_concurrency = 1

    def __init__(self, config: LLMConfig, *, parallel: bool = True):
        path = resolve_model_path(config.model, model_dir=config.model_dir)
        self.model = config.model
        self.parallel = parallel  # samples of one prompt as parallel sequences (measured faster)
        self._seed = config.seed
        threads = config.n_threads or max(1, min(os.cpu_count() or 1, 8))
        self._engine = _engine_for(path, n_ctx=config.n_ctx, n_threads=threads, seed=config.seed)

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        return self._engine.call(self._complete, request)

    def _complete(self, request: ChatRequest) -> list[ChatResult]:
        rngs = [np.random.default_rng(_seed_of(request.single(request.sample_index + i), self._seed))
                for i in range(request.n)]
        results = []
        prompt = self._engine.chat_tokens(request.messages)
        for start in range(0, request.n, MAX_SEQUENCES):
            chunk = rngs[start:start + MAX_SEQUENCES]
            groups = [chunk] if self.parallel else [[rng] for rng in chunk]
            gens = [g for group in groups for g in self._engine.generate_many(
                prompt, rngs=group, temperature=request.temperature, max_tokens=request.max_tokens,
                stop=request.stop, top_logprobs=request.top_logprobs)]
            results.extend(ChatResult(text=g.text, prompt_tokens=len(prompt), completion_tokens=g.n_tokens,
                                      finish_reason=g.finish_reason, top_logprobs=g.top_logprobs) for g in gens)
        return results

    def score_tokens(self, messages: tuple[Message, ...], response: str) -> TokenScores | None:
        return self._engine.call(self._score_tokens, messages, response)

    def _score_tokens(self, messages: tuple[Message, ...], response: str) -> TokenScores | None:
        engine = self._engine
        target = engine.text_tokens(response)
        if not target:
            return None
        alone = engine.forced_logprobs(engine.chat_tokens((Message("user", ""),)), target)
        with_prompt = engine.forced_logprobs(engine.chat_tokens(messages), target)
        return TokenScores(
            mean_logprob_with_prompt=float(np.mean(with_prompt)),
            mean_logprob_without_prompt=float(np.mean(alone)),
            n_tokens=len(with_prompt),
        )

    def close(self) -> None:
        """The model stays loaded for the life of the process (shared by every user)."""


def _seed_of(request: ChatRequest, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}:{request.cache_key('embedded', '')}".encode()).digest()
    return int.from_bytes(digest[:8], "little")
