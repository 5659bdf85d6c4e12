"""The embedded default backend: a small GGUF model run in-process by llama.cpp.

The model is loaded once per process (per file and settings) and shared by every thread;
its work runs on the engine's own thread, one call at a time (:mod:`curation.llm.engine`
holds the decoding: cached prompt prefixes, parallel sequences, teacher-forced scores).
Several requests given together (:meth:`EmbeddedBackend.complete_batch`) have their samples
decoded together; a request's ``reply_prefix`` is written as the start of the reply.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading

import numpy as np

from curation.config import LLMConfig
from curation.errors import LLMError
from curation.llm.base import ChatRequest, ChatResult, TokenScores
from curation.llm.engine import MAX_SEQUENCES, Engine
from curation.llm.packaged import BytesFn, model_size, resolve_model_path
from curation.llm.prefix_cache import common_prefix
from curation.llm.sampling import Job
from curation.records import Message

log = logging.getLogger(__name__)

_ENGINES: dict[tuple, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(config: LLMConfig) -> Engine:
    path = resolve_model_path(config.model, model_dir=config.model_dir)
    n_threads = config.n_threads or max(1, min(os.cpu_count() or 1, 8))
    # Prompt evaluation takes every core unless the threads are a share (a Ray actor's CPUs):
    # llama.cpp's threads spin, so two actors each taking all cores ran at half speed.
    n_threads_batch = config.n_threads or max(1, os.cpu_count() or 1)
    key = (str(path), config.n_ctx, n_threads, n_threads_batch, config.seed)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(
                path, n_ctx=config.n_ctx, n_threads=n_threads, n_threads_batch=n_threads_batch, seed=config.seed
            )
        return _ENGINES[key]


def load(config: LLMConfig, *, on_assemble: BytesFn | None = None, on_progress: BytesFn | None = None) -> None:
    """Load ``config``'s model into this process now rather than on the backend's creation,
    so that a caller can show it as two phases, each ``(bytes done, bytes in all)``:

    - ``on_assemble``, from 0, while a split packaged model is assembled from its packages and
      hashed (its first use only; never called otherwise, see
      :func:`~curation.llm.packaged.needs_assembly`);
    - ``on_progress`` at the start of loading the file into memory and once it is loaded
      (a model already loaded reports done at once).

    Raises:
        ConfigError: unknown model; LLMError: the weights are missing, damaged or unloadable.
    """
    resolve_model_path(config.model, model_dir=config.model_dir, on_progress=on_assemble)
    size = model_size(config.model)
    if on_progress is not None:
        on_progress(0, size)
    _engine_for(config)  # finds the file assembled above
    if on_progress is not None:
        on_progress(size, size)


@atexit.register
def _close_engines() -> None:
    # Free the models while the interpreter is whole; llama.cpp's own finaliser fails
    # with a TypeError when it runs during interpreter shutdown.
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.close()  # here the engine's thread is idle: its executor shut down before atexit
        _ENGINES.clear()


class EmbeddedBackend:
    """:class:`~curation.llm.base.ChatBackend` over a packaged or local GGUF model.

    Calls run one at a time (``max_concurrency = 1``) on the engine's thread: on a 2-core
    machine llama.cpp already uses both cores for one sequence.
    """

    name = "embedded"
    max_concurrency = 1

    def __init__(self, config: LLMConfig, *, parallel: bool = True):
        self.model = config.model
        self.parallel = parallel  # samples of one prompt as parallel sequences (one weight read a step)
        self._seed = config.seed
        self._engine = _engine_for(config)

    @property
    def max_batch_sequences(self) -> int:
        """Sample sequences decoded together by :meth:`complete_batch`: the samples and
        reflections of several examples at once: a decode step reads the weights once for all
        its sequences, so many together cost far less each than one alone."""
        return MAX_SEQUENCES if self.parallel else 1

    def complete(self, request: ChatRequest) -> list[ChatResult]:
        [outcome] = self.complete_batch([request])
        if isinstance(outcome, LLMError):
            raise outcome
        return outcome

    def complete_batch(self, requests: list[ChatRequest]) -> list[list[ChatResult] | LLMError]:
        """Several requests at once, their samples decoded together (up to
        :data:`MAX_SEQUENCES` sequences a batch; one at a time when ``parallel`` is off): per
        request, its ``n`` samples or the error it failed with."""
        return self._engine.call(self._complete_batch, requests)

    def _complete_batch(self, requests: list[ChatRequest]) -> list[list[ChatResult] | LLMError]:
        per_job = MAX_SEQUENCES if self.parallel else 1
        jobs, owners = [], []
        for i, request in enumerate(requests):
            rngs = [np.random.default_rng(_seed_of(request.sample(s), self._seed)) for s in range(request.n)]
            prompt = self._engine.chat_tokens(request.messages) + self._engine.text_tokens(request.reply_prefix)
            for start in range(0, request.n, per_job):
                jobs.append(
                    Job(
                        prompt,
                        rngs[start : start + per_job],
                        request.temperature,
                        request.max_tokens,
                        request.stop,
                        request.top_logprobs,
                    )
                )
                owners.append(i)
        outcomes: list[list[ChatResult] | LLMError] = [[] for _ in requests]
        for group in _pack(jobs, sequences=per_job, cells=self._engine.batch_cells, longest=self._engine.max_prompt):
            try:
                generated = self._engine.generate_batch([jobs[k] for k in group])
            except LLMError as e:
                generated = [e] * len(group)
            for k, gens in zip(group, generated):
                i = owners[k]
                if isinstance(outcomes[i], LLMError):
                    continue
                if isinstance(gens, LLMError):
                    outcomes[i] = gens
                    continue
                outcomes[i].extend(
                    ChatResult(
                        text=requests[i].reply_prefix + g.text,
                        prompt_tokens=len(jobs[k].prompt),
                        completion_tokens=g.n_tokens,
                        finish_reason=g.finish_reason,
                        top_logprobs=g.top_logprobs,
                    )
                    for g in gens
                )
        return outcomes

    def score_tokens(
        self, messages: tuple[Message, ...], response: str, *, without_prompt: bool = False
    ) -> TokenScores | None:
        return self._engine.call(self._score_tokens, messages, response, without_prompt)

    def _score_tokens(self, messages: tuple[Message, ...], response: str, without_prompt: bool) -> TokenScores | None:
        engine = self._engine
        target = engine.text_tokens(response)
        if not target:
            return None
        # the response after an empty turn: a second pass with logits for every token (~0.2 s)
        alone = engine.forced_logprobs(engine.chat_tokens((Message("user", ""),)), target) if without_prompt else []
        end = engine.end_of_turn()
        forced = engine.forced_logprobs(engine.chat_tokens(messages), target + ([end] if end is not None else []))
        with_prompt, end_lp = (
            (forced[:-1], forced[-1]) if end is not None and len(forced) > len(target) else (forced, None)
        )
        return TokenScores.from_logprobs([float(x) for x in with_prompt], [float(x) for x in alone], end=end_lp)

    def continuation_logprobs(self, messages: tuple[Message, ...], responses: list[str]) -> list[list[float]]:
        """Per response, its tokens' log-probabilities after ``messages``, teacher-forced; the
        prompt is evaluated once for all of them (closed-set labels, candidate corrections)."""
        return self._engine.call(self._continuations, messages, responses)

    def _continuations(self, messages: tuple[Message, ...], responses: list[str]) -> list[list[float]]:
        engine = self._engine
        return engine.continuation_logprobs(engine.chat_tokens(messages), [engine.text_tokens(r) for r in responses])

    def close(self) -> None:
        """The model stays loaded for the life of the process (shared by every user)."""


def _pack(jobs: list[Job], *, sequences: int, cells: int, longest: int) -> list[list[int]]:
    """Consecutive job indices grouped so that a group decodes at most ``sequences`` sequences
    and fits ``cells`` KV cells (a job over either stands alone). A job needs its prompt's
    tokens, less the longest prefix it shares with a prompt before it in the group (those
    cells are shared), and each of its sequences up to ``max_tokens`` more, within ``longest``
    tokens a sequence. Without the cells, a batch of long prompts filled the KV cache and
    every example in it failed (eight of ten 1,500-token examples)."""
    groups: list[list[int]] = []
    used_sequences = used_cells = 0
    for index, job in enumerate(jobs):
        generated = len(job.rngs) * max(0, min(job.max_tokens, longest - len(job.prompt)))
        shared = max((common_prefix(job.prompt, jobs[k].prompt) for k in groups[-1]), default=0) if groups else 0
        need = len(job.prompt) - shared + generated
        if groups and used_sequences + len(job.rngs) <= sequences and used_cells + need <= cells:
            groups[-1].append(index)
            used_sequences, used_cells = used_sequences + len(job.rngs), used_cells + need
            continue
        groups.append([index])
        used_sequences, used_cells = len(job.rngs), len(job.prompt) + generated
    return groups


def _seed_of(request: ChatRequest, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}:{request.cache_key('embedded', '')}".encode()).digest()
    return int.from_bytes(digest[:8], "little")
