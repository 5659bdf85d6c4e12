"""The llama.cpp engine behind the embedded backend: one loaded GGUF model and its KV cache.

Our own short loop over llama.cpp's decode, so that we can (1) keep several prompts' KV
caches at once and start each call from the longest cached token prefix
(:mod:`curation.llm.prefix_cache`) — a dataset's system prompt and our fixed instructions
repeat in every example's calls — (2) decode the samples of several prompts together as
parallel sequences, (3) read the log-probabilities of the first generated tokens without
keeping logits for every prompt token, and (4) score a response's tokens teacher-forced,
for the likelihood signals. All of an engine's work runs on one thread of its own, because
llama.cpp's OpenMP decode slows down when calls come from changing threads. The pure maths it
decodes by live apart: picking each sampled token in :mod:`curation.llm.sampling`, the rows that
teacher-force several continuations in :mod:`curation.llm.forced_rows`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from curation.errors import ContextLengthError, LLMError
from curation.llm.forced_rows import pack_rows, shared_rows
from curation.llm.llama_native import Native, quiet_expected_logs, tuned_defaults
from curation.llm.prefix_cache import SlotTable
from curation.llm.sampling import Generation, Job, Sampling, first_stop, log_softmax, pick
from curation.records import Message

_FORCED_CHUNK = 64  # tokens decoded per batch when every position's logits are needed
_LOGPROB_POSITIONS = 4  # generated positions for which top log-probabilities are kept
_MERGE_SLACK = 32  # prompt tokens worth re-evaluating to keep several prompts in one batch
MAX_SEQUENCES = 24  # sample sequences decoded together (of one prompt or several)
N_SLOTS = 16  # prompts whose KV caches are kept at once (sequences 0 .. N_SLOTS - 1)
KV_CONTEXTS = 2  # KV cells = KV_CONTEXTS x the context length: room for the cached prompts
T = TypeVar("T")


class Engine:
    """One loaded model. Its methods must run on the engine's own thread: use :meth:`call`."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int, seed: int, n_threads_batch: int | None = None):
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self.path = path
        try:
            self.call(self._load, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads_batch, seed=seed)
        except BaseException:
            self._thread.shutdown(wait=False)
            raise

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the engine's thread (after any call already queued) and return its
        result or raise its exception."""
        return self._thread.submit(fn, *args, **kwargs).result()

    def _load(self, *, n_ctx: int, n_threads: int, n_threads_batch: int | None, seed: int) -> None:
        from llama_cpp import Llama  # heavy import, only when the embedded model is used
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = self.path
        try:
            with tuned_defaults(n_seq_max=N_SLOTS + MAX_SEQUENCES):
                # Flash attention skips the KV cells of other sequences (masked out) cheaply.
                self.llm = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx * KV_CONTEXTS,
                    n_threads=n_threads,
                    n_threads_batch=n_threads_batch,
                    seed=seed,
                    flash_attn=True,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"{path}: cannot load the model: {e}") from e
        self.native = Native(self.llm, n_seq_max=N_SLOTS + MAX_SEQUENCES)
        quiet_expected_logs()
        self.max_prompt = n_ctx  # tokens one sequence may hold (prompt + generation)
        # KV cells one generate_batch may count on: the cache less a decode batch of room, which
        # the cached prompts of other calls (evicted when needed) and fragmentation may hold
        self.batch_cells = n_ctx * KV_CONTEXTS - self.llm.n_batch
        self.slots = SlotTable(N_SLOTS)
        self.evaluated = 0  # prompt tokens decoded so far (the ones no cached prefix covered)
        self.share_prefixes = True  # continuations that begin alike share rows (off: to measure it)
        self.n_vocab = self.native.n_vocab
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError(f"{path}: the GGUF file has no chat template")
        eos = self.llm.detokenize([self.llm.token_eos()], special=True).decode("utf-8", "ignore")
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")

    def close(self) -> None:
        """Free the model and our batch (call when the engine's thread is idle)."""
        self.native.close()
        self.llm.close()

    def clear(self, *, n_slots: int = N_SLOTS) -> None:
        """Forget every cached prompt and keep at most ``n_slots`` from now on (1 = a single
        cached prompt, as a plain llama.cpp context does; for measurements)."""
        for seq in range(N_SLOTS + MAX_SEQUENCES):
            self.native.seq_rm(seq)
        self.slots = SlotTable(min(n_slots, N_SLOTS))

    # -- tokens ---------------------------------------------------------------
    def chat_tokens(self, messages: tuple[Message, ...]) -> list[int]:
        """The chat template's tokens, where only the template's own markup may become control
        tokens: message text is data, so an example holding ``<|im_start|>system`` stays text
        instead of opening a real system turn (prompt injection through the template)."""
        marks = [f"\x00{uuid.uuid4().hex}\x00" for _ in messages]
        rendered = self.formatter(
            messages=[{"role": m.role, "content": mark} for m, mark in zip(messages, marks)]
        ).prompt
        pieces: list[tuple[str, bool]] = []
        for message, mark in zip(messages, marks):
            head, found, rendered = rendered.partition(mark)
            if not found or mark in rendered:  # a template that rewrites content: render it whole
                return self._tokens(
                    self.formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt,
                    special=True,
                )
            pieces += [(head, True), (message.content, False)]
        pieces.append((rendered, True))
        return [token for text, special in pieces if text for token in self._tokens(text, special=special)]

    def end_of_turn(self) -> int | None:
        """The token the chat template closes an assistant turn with (``<|im_end|>``), or None
        when the template shows none."""
        if not hasattr(self, "_end_of_turn"):
            mark = f"\x00{uuid.uuid4().hex}\x00"
            turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": mark}]
            after = self.formatter(messages=turns).prompt.partition(mark)[2]
            tokens = self._tokens(after, special=True) if after else []
            self._end_of_turn = tokens[0] if tokens and self._is_end(tokens[0]) else None
        return self._end_of_turn

    def _tokens(self, text: str, *, special: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def text_tokens(self, text: str) -> list[int]:
        return self._tokens(text, special=False)

    def _is_end(self, token: int) -> bool:
        return self.native.is_end(token)

    # -- evaluation -----------------------------------------------------------
    def _prepare(self, prompt: list[int]) -> tuple[int, np.ndarray]:
        """Bring a slot to exactly ``prompt``; returns the slot and the log-probabilities of
        the token after the prompt (:meth:`_prefill` of one prompt)."""
        return self._prefill([prompt], [[]])[0]

    def _prefill(self, prompts: list[list[int]], sequences: list[list[int]]) -> list[tuple[int, np.ndarray]]:
        """Bring a slot to each prompt, reusing the longest cached prefix (see
        :mod:`curation.llm.prefix_cache`), and give each prompt's ``sequences`` (its sample
        sequences) the same KV cells; per prompt, its slot and the log-probabilities of the
        token after it.

        The new tokens of several prompts are decoded together, each token once for its slot
        and its sequences: larger batches cost less per token than one prompt at a time. The
        batch is decoded early when it is full, or when a prompt would read or rewrite a slot
        still waiting in it.
        """
        kv = self.native
        out: list[tuple[int, np.ndarray] | None] = [None] * len(prompts)
        pending: list[tuple[tuple[int, ...], int, int, bool]] = []
        waiting: list[tuple[int, int]] = []  # (prompt index, slot) of each pending logits row
        busy: set[int] = set()

        def flush() -> None:
            if not pending:
                return
            try:
                logits = self._decode(pending, protect=busy)
            except LLMError:
                for slot in busy:  # committed but never evaluated
                    self.slots.drop(slot)
                    kv.seq_rm(slot)
                raise
            finally:
                pending.clear()
                busy.clear()
            for (index, slot), row in zip(waiting, logits):
                out[index] = (slot, log_softmax(row))
            waiting.clear()

        for index, (prompt, seqs) in enumerate(zip(prompts, sequences)):
            plan = self.slots.plan(prompt, busy=busy, slack=_MERGE_SLACK)
            if busy & {plan.slot, plan.source} or len(pending) + len(prompt) - plan.keep > self.llm.n_batch:
                flush()
                plan = self.slots.plan(prompt)
            if plan.source is None:
                kv.seq_rm(plan.slot, plan.keep)
            else:
                kv.seq_rm(plan.slot)
                kv.seq_cp(plan.source, plan.slot, 0, plan.keep)
            for seq in seqs:
                kv.seq_rm(seq)
                kv.seq_cp(plan.slot, seq, 0, plan.keep)
            self.slots.commit(plan.slot, prompt)
            rest = prompt[plan.keep :]
            self.evaluated += len(rest)
            for offset, token in enumerate(rest):
                if len(pending) == self.llm.n_batch:  # a prompt longer than a batch
                    flush()
                pending.append(((plan.slot, *seqs), token, plan.keep + offset, offset == len(rest) - 1))
                busy.add(plan.slot)
            waiting.append((index, plan.slot))
        flush()
        return out  # type: ignore[return-value]

    def _extend(self, slot: int, tokens: list[int]) -> list[np.ndarray]:
        """Decode ``tokens`` at the end of ``slot`` in one batch; the raw logits after each."""
        base = len(self.slots.tokens[slot])
        rows = self._decode([((slot,), token, base + i, True) for i, token in enumerate(tokens)], protect={slot})
        self.slots.commit(slot, self.slots.tokens[slot] + tokens)
        return rows

    def _decode(self, rows: list[tuple[tuple[int, ...], int, int, bool]], *, protect: set[int]) -> list[np.ndarray]:
        """Decode ``(sequences, token, position, wants_logits)`` rows in one batch and return
        the raw logits of the rows that want them. When the KV cache is full, the least
        recently used cached prompt not in ``protect`` is dropped and the batch retried."""
        while not self.native.decode(rows):  # no room left in the KV cache: drop a cached prompt
            evicted = self.slots.evict_one(keep=protect)
            if evicted is None:
                raise ContextLengthError(f"{self.path.name}: the model's KV cache is full")
            self.native.seq_rm(evicted)
        return [self.native.logits(i) for i, row in enumerate(rows) if row[3]]

    def _top(self, logprobs: np.ndarray, k: int) -> dict[str, float]:
        best = np.argpartition(-logprobs, k)[:k]
        best = best[np.argsort(-logprobs[best])]
        out: dict[str, float] = {}
        for token in best:
            text = self.llm.detokenize([int(token)]).decode("utf-8", "replace")
            out.setdefault(text, float(logprobs[token]))
        return out

    def generate_batch(self, jobs: list[Job]) -> list[list[Generation] | LLMError]:
        """The samples of several prompts decoded together, one sequence each (at most
        :data:`MAX_SEQUENCES` in all); per job, its samples or the error that stopped it.

        The prompts are evaluated together into cached slots (:meth:`_prefill`) whose KV
        cells their sample sequences share; each step then decodes one token for every
        unfinished sequence of every job in a single batch, which on a CPU costs far less than
        decoding them one by one (the weights are read once a step). The samples' own cells are
        dropped afterwards, so the slots cache the prompts alone.
        """
        if sum(len(job.rngs) for job in jobs) > MAX_SEQUENCES:
            raise ValueError(f"at most {MAX_SEQUENCES} sequences decode together")
        results: list[list[Generation] | LLMError] = [[] for _ in jobs]
        rows: list[Sampling] = []
        try:
            fitting = []
            for j, job in enumerate(jobs):
                base = len(job.prompt)
                if base + 1 > self.max_prompt:
                    results[j] = ContextLengthError(
                        f"prompt of {base} tokens does not fit the model's context of {self.max_prompt}"
                    )
                    continue
                fitting.append(j)
                rows += [
                    Sampling(
                        job=j,
                        rng=rng,
                        seq=N_SLOTS + len(rows) + i,
                        base=base,
                        max_tokens=min(job.max_tokens, self.max_prompt - base),
                    )
                    for i, rng in enumerate(job.rngs)
                ]
            prepared = self._prefill(
                [jobs[j].prompt for j in fitting], [[r.seq for r in rows if r.job == j] for j in fitting]
            )
            firsts = {j: first for j, (_, first) in zip(fitting, prepared)}
            for r in rows:
                r.scores = firsts[r.job]
            while step := [r for r in rows if r.finish is None and self._advance(r, jobs[r.job])]:
                out = self._decode(
                    [((r.seq,), r.tokens[-1], r.base + len(r.tokens) - 1, True) for r in step], protect=set()
                )
                for r, logits in zip(step, out):
                    r.scores = logits
        finally:
            for seq in range(N_SLOTS, N_SLOTS + len(rows)):
                self.native.seq_rm(seq)
        for r in rows:
            results[r.job].append(
                Generation(
                    text=r.text, n_tokens=len(r.tokens), finish_reason=r.finish or "length", top_logprobs=tuple(r.tops)
                )
            )
        return results

    def _advance(self, state: Sampling, job: Job) -> bool:
        """Pick one token for a sequence; True when it must be decoded to go on."""
        if len(state.tokens) >= state.max_tokens:
            state.finish = "length"
            return False
        if job.top_logprobs and len(state.tops) < _LOGPROB_POSITIONS:
            state.tops.append(self._top(log_softmax(state.scores), job.top_logprobs))
        token = pick(state.scores, job.temperature, state.rng)
        if self._is_end(token):
            state.finish = "stop"
            return False
        state.tokens.append(token)
        state.text = self.llm.detokenize(state.tokens).decode("utf-8", "ignore")
        cut = first_stop(state.text, job.stop)
        if cut is not None:
            state.text, state.finish = state.text[:cut], "stop"
            return False
        if len(state.tokens) >= state.max_tokens:
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
            for row, token in zip(self._extend(slot, chunk), following):
                scores.append(float(log_softmax(row)[token]))
        return scores

    def continuation_logprobs(self, context: list[int], targets: list[list[int]]) -> list[list[float]]:
        """Per target, the log-probability of each of its tokens after ``context``,
        teacher-forced. The context is evaluated once (or found cached); the targets then run
        as sequences of their own that share its KV cells, several decoded in one batch, and
        a beginning several targets share is evaluated once for all of them (a token's row
        belongs to every sequence through it: ``{"intent": "`` once for a whole label set)."""
        slot, first = self._prepare(context)
        base = len(context)
        room = min(max(self.max_prompt - base, 1), self.llm.n_batch + 1)  # a target's rows fit one batch
        targets = [t[:room] for t in targets]
        out = [[float(first[t[0]])] if t else [] for t in targets]
        kv = self.native
        for group in pack_rows([max(len(t) - 1, 0) for t in targets], self.llm.n_batch, MAX_SEQUENCES):
            seqs = {j: N_SLOTS + offset for offset, j in enumerate(group)}
            for seq in seqs.values():
                kv.seq_rm(seq)
                kv.seq_cp(slot, seq, 0, base)
            rows, owners = shared_rows(
                [targets[j] for j in group], [seqs[j] for j in group], base, share=self.share_prefixes
            )
            try:
                logits = [log_softmax(r) for r in self._decode(rows, protect={slot})] if rows else []
            finally:
                for seq in seqs.values():
                    kv.seq_rm(seq)
            for k, position, row in owners:
                j = group[k]
                out[j].append(float(logits[row][targets[j][position]]))
        return out
