"""Calls sent through a provider's Batch API: files of requests, answered within a day at a discount.

In: lines, each a custom id (the cache key of its first sample) and a :class:`ChatRequest` for
``n`` samples. Out: their samples in the call cache under exactly the keys a normal call uses,
so the stage that asked finds every one cached; a line the batch did not answer stays out of the
cache (its keys are kept as failed) and the client makes it as a normal call.

Files are cut at the provider's limits (:data:`MAX_LINES` lines, :data:`MAX_BYTES` bytes). Each
batch is recorded in the :class:`BatchLog` (the project store) with its lines as soon as the
provider accepts it, so a restarted run polls the batches still open instead of sending their
calls again; the results enter the cache in the transaction that closes the batch. The
provider's side is a :class:`BatchAPI` (:class:`curation.llm.openai_batch.OpenAIBatchAPI`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from curation.errors import LLMError, TransientLLMError
from curation.llm.base import ChatRequest, ChatResult

log = logging.getLogger(__name__)

#: OpenAI's limits on one batch's input file.
MAX_LINES = 50_000
MAX_BYTES = 200_000_000
#: A batch in one of these states changes no more (``lost``: the provider no longer knows it).
FINISHED = ("completed", "failed", "expired", "cancelled", "lost")


@dataclass(frozen=True)
class BatchState:
    """A batch as the provider last showed it: its status, lines answered of all, its files."""

    status: str
    done: int = 0
    total: int = 0
    output_file_id: str | None = None
    errors: str = ""


class BatchAPI(Protocol):
    """A provider's batch endpoint. Its methods raise :class:`TransientLLMError` for failures
    worth trying again and :class:`LLMError` for the rest."""

    def line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        """The file line that asks for ``request.n`` samples of ``request``."""
        ...

    def submit(self, data: bytes) -> tuple[str, str, str]:
        """Upload a file of lines and start a batch on it: (batch id, file id, status)."""
        ...

    def poll(self, batch_id: str) -> BatchState:
        """The batch's state; ``lost`` when the provider does not know it."""
        ...

    def read(self, file_id: str) -> Iterator[dict[str, Any]]:
        """A result file's lines, parsed."""
        ...

    def parse(self, record: dict[str, Any], n: int) -> list[ChatResult] | LLMError:
        """Up to ``n`` samples from a result line, or why the line failed."""
        ...


@runtime_checkable
class BatchLog(Protocol):
    """Where batches are recorded (:class:`curation.store.Store`)."""

    def add_llm_batch(
        self,
        *,
        batch_id: str,
        backend: str,
        model: str,
        base_url: str | None,
        input_file_id: str,
        status: str,
        lines: dict[str, dict[str, Any]],
    ) -> None: ...

    def open_llm_batches(self, backend: str, model: str, base_url: str | None) -> list[str]: ...

    def llm_batch_lines(self, batch_id: str) -> dict[str, dict[str, Any]]: ...

    def set_llm_batch_status(self, batch_id: str, status: str) -> None: ...

    def collect_llm_batch(
        self,
        batch_id: str,
        *,
        backend: str,
        model: str,
        results: list[tuple[str, dict[str, Any], dict[str, Any]]],
        failed: list[str],
        status: str = "collected",
    ) -> None: ...

    def llm_batch_failures(self, backend: str, model: str, base_url: str | None) -> set[str]: ...


#: Characters a prompt token takes at the least, and tokens each turn adds, for :func:`most_cost`.
CHARS_PER_TOKEN = 3.0
TOKENS_PER_TURN = 8


def most_cost(request: ChatRequest, prices: tuple[float, float]) -> float:
    """Dollars ``request`` (``n`` samples) can cost at most at ``prices`` (per million prompt and
    completion tokens): a generous token count of its prompt, and every sample at its token cap."""
    prompt = sum(len(m.content) / CHARS_PER_TOKEN + TOKENS_PER_TURN for m in request.messages)
    return (prompt * prices[0] + request.n * request.max_tokens * prices[1]) / 1_000_000


Line = tuple[str, ChatRequest]
Progress = Callable[[int, int], None]


class BatchRunner:
    """Sends lines as batches of one model, waits for them and fills the cache from their results.

    Args:
        api: the provider's batch endpoint.
        log: where batches are recorded and their results cached.
        backend, model, base_url: the model the batches ask (part of every cache key; the log
            keeps batches apart by them).
        poll_s: seconds between polls.
        max_attempts: polls in a row that may fail transiently before the wait gives up (the
            batch stays recorded: a rerun polls it again).
        sleep: waits between polls (inject a recorder in tests).
    Attributes:
        on_wait: called as a wait for batches starts; returns the callback that is then told
            ``(lines answered, lines in all)`` after every round of polls.
    """

    def __init__(
        self,
        api: BatchAPI,
        log: BatchLog,
        *,
        backend: str,
        model: str,
        base_url: str | None,
        poll_s: float,
        max_attempts: int,
        sleep: Callable[[float], None],
        seed: int = 0,
    ) -> None:
        self._api, self._log = api, log
        self._backend, self._model, self._base_url, self._seed = backend, model, base_url, seed
        self._poll_s, self._max_attempts, self._sleep = poll_s, max_attempts, sleep
        self.on_wait: Callable[[], Progress] | None = None

    def failures(self) -> set[str]:
        """Cache keys that a finished batch did not answer: they go as normal calls."""
        return self._log.llm_batch_failures(self._backend, self._model, self._base_url)

    def resume(self) -> list[ChatResult]:
        """Wait for the batches a killed run left open and cache their results; returns the samples cached."""
        return self._finish(self._log.open_llm_batches(self._backend, self._model, self._base_url))

    def send(self, lines: list[Line]) -> list[ChatResult]:
        """Send ``lines`` as batches (cut at the limits), wait for them and cache their results.

        Returns:
            The samples cached (to account for).
        Raises:
            LLMError: a file or batch was refused (the batches sent before it stay recorded),
                a poll was refused, or polls failed ``max_attempts`` times in a row (the
                batches stay recorded: a rerun polls them again).
        """
        ids = [self._submit(chunk) for chunk in _chunks([(cid, r, self._encode(cid, r)) for cid, r in lines])]
        return self._finish(ids)

    def _encode(self, custom_id: str, request: ChatRequest) -> bytes:
        return json.dumps(self._api.line(custom_id, request), ensure_ascii=False).encode() + b"\n"

    def _submit(self, chunk: list[tuple[str, ChatRequest, bytes]]) -> str:
        batch_id, file_id, status = self._api.submit(b"".join(data for _, _, data in chunk))
        self._log.add_llm_batch(
            batch_id=batch_id,
            backend=self._backend,
            model=self._model,
            base_url=self._base_url,
            input_file_id=file_id,
            status=status,
            lines={cid: request.to_json() for cid, request, _ in chunk},
        )
        log.info("sent batch %s: %d requests", batch_id, len(chunk))
        return batch_id

    def _finish(self, ids: list[str]) -> list[ChatResult]:
        states = self._wait(ids)
        return [result for batch_id in ids for result in self._collect(batch_id, states[batch_id])]

    def _wait(self, ids: list[str]) -> dict[str, BatchState]:
        """Poll the batches until each has finished, reporting the lines answered."""
        seen: dict[str, BatchState] = {}
        failed_polls = 0
        report = self.on_wait() if self.on_wait is not None and ids else None

        def waiting() -> list[str]:
            return [b for b in ids if b not in seen or seen[b].status not in FINISHED]

        while waiting():
            for batch_id in waiting():
                try:
                    state = self._api.poll(batch_id)
                    failed_polls = 0
                except TransientLLMError as e:
                    failed_polls += 1
                    if failed_polls >= self._max_attempts:
                        raise LLMError(f"{e}; the batch is recorded, run again to go on waiting for it") from e
                    log.info("polling batch %s failed (%s); trying again", batch_id, e)
                    continue
                if state.status == "lost":
                    log.warning("batch %s is lost (%s): its requests are sent again", batch_id, state.errors)
                if batch_id not in seen or state.status != seen[batch_id].status:
                    self._log.set_llm_batch_status(batch_id, state.status)
                seen[batch_id] = state
            if report is not None:
                report(sum(s.done for s in seen.values()), sum(s.total for s in seen.values()))
            if waiting():
                self._sleep(self._poll_s)
        return seen

    def _collect(self, batch_id: str, state: BatchState) -> list[ChatResult]:
        """Cache a finished batch's answered samples and close it; the rest are kept as failed."""
        requests = {cid: ChatRequest.from_json(r) for cid, r in self._log.llm_batch_lines(batch_id).items()}
        rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        cached: list[ChatResult] = []
        answered: set[str] = set()
        for record in self._api.read(state.output_file_id) if state.output_file_id else ():
            request = requests.get(record.get("custom_id"))
            outcome = self._api.parse(record, request.n) if request is not None else None
            if not isinstance(outcome, list):
                continue
            for offset, result in enumerate(outcome[: request.n]):
                single = request.sample(offset)
                key = single.cache_key(self._backend, self._model, self._seed)
                rows.append((key, single.to_json(), result.to_json()))
                answered.add(key)
                cached.append(result)
        lost = state.status == "lost"
        failed = [] if lost else [k for r in requests.values() for k in self._keys(r) if k not in answered]
        if failed:
            why = f" ({state.errors})" if state.errors else ""
            log.warning(
                "batch %s (%s) did not answer %d of its samples%s: they are made as normal calls",
                batch_id,
                state.status,
                len(failed),
                why,
            )
        self._log.collect_llm_batch(
            batch_id,
            backend=self._backend,
            model=self._model,
            results=rows,
            failed=failed,
            status="lost" if lost else "collected",
        )
        return cached

    def _keys(self, request: ChatRequest) -> list[str]:
        return request.sample_keys(self._backend, self._model, self._seed)


def _chunks(lines: list[tuple[str, ChatRequest, bytes]]) -> list[list[tuple[str, ChatRequest, bytes]]]:
    """``lines`` cut into files within :data:`MAX_LINES` lines and :data:`MAX_BYTES` bytes."""
    chunks: list[list[tuple[str, ChatRequest, bytes]]] = []
    size = 0
    for line in lines:
        if not chunks or len(chunks[-1]) >= MAX_LINES or size + len(line[2]) > MAX_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line[2])
    return chunks


__all__ = ["BatchAPI", "BatchLog", "BatchRunner", "BatchState", "FINISHED", "MAX_BYTES", "MAX_LINES", "most_cost"]
