"""The embedded default backend: a small GGUF model run in-process by llama.cpp.

The model is loaded once per process (per file and settings) and shared by every thread
behind a lock. Generation is our own short loop over llama.cpp's decode so that we can
(1) reuse the KV cache for the longest shared token prefix between calls — the k samples
and the reflections of one example share most of their prompt — (2) read the
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.config import LLMConfig
from curation.errors import LLMError
from curation.llm.base import ChatRequest, ChatResult, Message, TokenScores
from curation.llm.packaged import resolve_model_path

log = logging.getLogger(__name__)

_FORCED_CHUNK = 64  # tokens decoded per batch when every position's logits are needed
_LOGPROB_POSITIONS = 4  # generated positions for which top log-probabilities are kept
MAX_SEQUENCES = 8  # samples of one prompt decoded together as parallel sequences
_PARAMS_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Generation:
    text: str
    n_tokens: int
    finish_reason: str
    top_logprobs: tuple[dict[str, float], ...]


class _Engine:
    """One loaded model. Every public method must be called with ``lock`` held."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int, seed: int):
        from llama_cpp import Llama  # heavy import, only when the embedded model is used
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.lock = threading.Lock()
        self.path = path
        try:
            with _parallel_sequences():
                self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=seed, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"{path}: cannot load the model: {e}") from e
        self.n_vocab = self.llm.n_vocab()
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError(f"{path}: the GGUF file has no chat template")
        eos = self.llm.detokenize([self.llm.token_eos()], special=True).decode("utf-8", "ignore")
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")

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
    def _eval(self, tokens: list[int]) -> None:
        """Bring the context to exactly ``tokens``, reusing the longest cached prefix."""
        cached = self.llm.input_ids[: self.llm.n_tokens].tolist()
        keep = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # re-evaluate at least one token to get fresh logits
        self.llm.n_tokens = keep
        self.llm.eval(tokens[keep:])

    def _last_logprobs(self) -> np.ndarray:
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.n_vocab,))
        return _log_softmax(logits.astype(np.float64))

    def _top(self, logprobs: np.ndarray, k: int) -> dict[str, float]:
        best = np.argpartition(-logprobs, k)[:k]
        best = best[np.argsort(-logprobs[best])]
        out: dict[str, float] = {}
        for token in best:
            text = self.llm.detokenize([int(token)]).decode("utf-8", "replace")
            out.setdefault(text, float(logprobs[token]))
        return out

    def generate(self, prompt: list[int], *, temperature: float, max_tokens: int, stop: tuple[str, ...],
                 top_logprobs: int, rng: np.random.Generator) -> _Generation:
        n_ctx = self.llm.n_ctx()
        if len(prompt) + 1 > n_ctx:
            raise LLMError(f"prompt of {len(prompt)} tokens does not fit the model's context of {n_ctx}")
        max_tokens = min(max_tokens, n_ctx - len(prompt))
        self._eval(prompt)
        generated: list[int] = []
        tops: list[dict[str, float]] = []
        text, finish = "", "length"
        for _ in range(max_tokens):
            logprobs = self._last_logprobs()
            if top_logprobs and len(tops) < _LOGPROB_POSITIONS:
                tops.append(self._top(logprobs, top_logprobs))
            token = _pick(logprobs, temperature, rng)
            if self._is_end(token):
                finish = "stop"
                break
            generated.append(token)
            text = self.llm.detokenize(generated).decode("utf-8", "ignore")
            cut = _first_stop(text, stop)
            if cut is not None:
                text, finish = text[:cut], "stop"
                break
            self.llm.eval([token])
        return _Generation(text=text, n_tokens=len(generated), finish_reason=finish, top_logprobs=tuple(tops))

    def generate_many(self, prompt: list[int], *, rngs: list[np.random.Generator], temperature: float,
                      max_tokens: int, stop: tuple[str, ...], top_logprobs: int) -> list[_Generation]:
        """Several samples of one prompt decoded together, one sequence each.

        The prompt is evaluated once and its KV cells are shared by every sequence; each
        step decodes one token per unfinished sequence in a single batch, which on a CPU
        costs little more than decoding one (the weights are read once per step).
        """
        if len(rngs) == 1:
            return [self.generate(prompt, temperature=temperature, max_tokens=max_tokens, stop=stop,
                                  top_logprobs=top_logprobs, rng=rngs[0])]
        n_ctx = self.llm.n_ctx()
        if len(prompt) + len(rngs) > n_ctx:
            raise LLMError(f"prompt of {len(prompt)} tokens does not fit the model's context of {n_ctx}")
        max_tokens = min(max_tokens, (n_ctx - len(prompt)) // len(rngs))
        self._eval(prompt)
        base, ctx = len(prompt), self.llm._ctx
        for seq in range(1, len(rngs)):
            ctx.kv_cache_seq_cp(0, seq, 0, base)
        states = [_Sampling() for _ in rngs]
        logprobs = [self._last_logprobs()] * len(rngs)
        try:
            for _ in range(max_tokens):
                rows = []
                for seq, state in enumerate(states):
                    if state.finish is None and self._advance(state, logprobs[seq], rngs[seq], temperature=temperature,
                                                              stop=stop, top_logprobs=top_logprobs,
                                                              max_tokens=max_tokens):
                        rows.append((seq, state.tokens[-1], base + len(state.tokens) - 1))
                if not rows:
                    break
                for i, row in enumerate(self._decode_rows(rows)):
                    logprobs[rows[i][0]] = row
        finally:
            for seq in range(1, len(rngs)):
                ctx.kv_cache_seq_rm(seq, -1, -1)
            ctx.kv_cache_seq_rm(0, base, -1)
            self.llm.n_tokens = base
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

    def _decode_rows(self, rows: list[tuple[int, int, int]]) -> list[np.ndarray]:
        """Decode one ``(sequence, token, position)`` per row in one batch; log-probs per row."""
        batch = self.llm._batch.batch
        for i, (seq, token, position) in enumerate(rows):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = seq, True
        batch.n_tokens = len(rows)
        self.llm._ctx.decode(self.llm._batch)
        return [_log_softmax(np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(i), shape=(self.n_vocab,))
                             .astype(np.float64)) for i in range(len(rows))]

    def forced_logprobs(self, context: list[int], target: list[int]) -> list[float]:
        """Log-probability of each ``target`` token after ``context``, teacher-forced."""
        if not target:
            return []
        room = self.llm.n_ctx() - len(context)
        target = target[: max(room, 1)]
        self._eval(context)
        scores = [float(self._last_logprobs()[target[0]])]
        rest = target[:-1]
        for start in range(0, len(rest), _FORCED_CHUNK):
            chunk = rest[start : start + _FORCED_CHUNK]
            logits = self._decode_all(chunk)
            following = target[start + 1 : start + 1 + len(chunk)]
            for row, token in zip(logits, following):
                scores.append(float(_log_softmax(row.astype(np.float64))[token]))
        return scores

    def _decode_all(self, chunk: list[int]) -> np.ndarray:
        llm = self.llm
        n_past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(chunk), self.n_vocab)).copy()
        llm.input_ids[n_past : n_past + len(chunk)] = chunk
        llm.n_tokens += len(chunk)
        return logits


@dataclass
class _Sampling:
    """One sequence's progress in :meth:`_Engine.generate_many`."""

    tokens: list[int] = field(default_factory=list)
    tops: list[dict[str, float]] = field(default_factory=list)
    text: str = ""
    finish: str | None = None


@contextmanager
def _parallel_sequences():
    """Make the next Llama context hold :data:`MAX_SEQUENCES` sequences in one unified KV
    cache (llama-cpp-python's constructor has no argument for it)."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_context_default_params

    def params():
        p = original()
        p.n_seq_max = MAX_SEQUENCES
        p.kv_unified = True
        return p

    with _PARAMS_LOCK:
        lib.llama_context_default_params = params
        try:
            yield
        finally:
            lib.llama_context_default_params = original


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
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
            engine.llm.close()
        _ENGINES.clear()


class EmbeddedBackend:
    """:class:`~curation.llm.base.ChatBackend` over a packaged or local GGUF model.

    Calls run one at a time (``max_concurrency = 1``): on a 2-core machine llama.cpp
    already uses both cores for one sequence.
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
        rngs = [np.random.default_rng(_seed_of(request.single(request.sample_index + i), self._seed))
                for i in range(request.n)]
        results = []
        with self._engine.lock:
            prompt = self._engine.chat_tokens(request.messages)
            for start in range(0, request.n, MAX_SEQUENCES):
                chunk = rngs[start:start + MAX_SEQUENCES]
                if self.parallel:
                    gens = self._engine.generate_many(
                        prompt, rngs=chunk, temperature=request.temperature, max_tokens=request.max_tokens,
                        stop=request.stop, top_logprobs=request.top_logprobs)
                else:
                    gens = [self._engine.generate(prompt, temperature=request.temperature, max_tokens=request.max_tokens,
                                                  stop=request.stop, top_logprobs=request.top_logprobs, rng=rng)
                            for rng in chunk]
                results.extend(ChatResult(text=g.text, prompt_tokens=len(prompt), completion_tokens=g.n_tokens,
                                          finish_reason=g.finish_reason, top_logprobs=g.top_logprobs) for g in gens)
        return results

    def score_tokens(self, messages: tuple[Message, ...], response: str) -> TokenScores | None:
        engine = self._engine
        with engine.lock:
            target = engine.text_tokens(response)
            if not target:
                return None
            # Without the prompt first: the context then ends on prompt + response, which the
            # follow-up reflection that comes next extends (prefix reuse).
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
