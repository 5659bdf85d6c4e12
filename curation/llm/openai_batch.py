"""OpenAI's Batch API, the :class:`~curation.llm.batch.BatchAPI` of an OpenAI-compatible endpoint.

In: files of chat-completion lines (each body exactly a normal call's,
:func:`~curation.llm.openai_backend.chat_body`). Out: the batch's state as polled, and its result
lines read back into :class:`~curation.llm.base.ChatResult` samples. Through the official
``openai`` package: ``files.create(purpose="batch")``, ``batches.create`` / ``retrieve`` and
``files.content``; errors are sorted and scrubbed of the key as for normal calls.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import openai

from curation.config import LLMConfig
from curation.errors import LLMError, TransientLLMError
from curation.llm.base import ChatRequest, ChatResult
from curation.llm.batch import BatchState
from curation.llm.openai_backend import call_endpoint, chat_body, make_client, parse_completion, secret

log = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"
#: The only completion window OpenAI offers.
COMPLETION_WINDOW = "24h"
T = TypeVar("T")


class OpenAIBatchAPI:
    """The Batch API of ``config``'s endpoint, for ``config.model``.

    Args:
        config: ``model``, ``seed`` and the endpoint settings :func:`make_client` reads.
        environ: where the API key is looked up.
    """

    def __init__(self, config: LLMConfig, *, environ: Mapping[str, str] = os.environ) -> None:
        self.model = config.model
        self._seed = config.seed
        self._where = f"openai batch API at {config.base_url or 'api.openai.com'}, model {config.model!r}"
        self._secret = secret(config, environ=environ)
        self._client = make_client(config, environ=environ)

    def line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        """The line asking for samples ``sample_index ..`` of ``request``, seeded as a normal call is."""
        body = chat_body(request, model=self.model, n=request.n, seed=self._seed + request.sample_index)
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    def submit(self, data: bytes) -> tuple[str, str, str]:
        """Upload ``data`` and start a batch on it: (batch id, file id, status)."""
        uploaded = self._call(
            "the upload of a batch file", lambda c: c.files.create(file=("batch.jsonl", data), purpose="batch")
        )
        batch = self._call(
            f"the batch on file {uploaded.id}",
            lambda c: c.batches.create(
                input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window=COMPLETION_WINDOW
            ),
        )
        return batch.id, uploaded.id, batch.status

    def poll(self, batch_id: str) -> BatchState:
        """The batch's state; ``lost`` when the endpoint does not know it (404)."""

        def retrieve(client: openai.OpenAI) -> Any:
            try:
                return client.batches.retrieve(batch_id)
            except openai.NotFoundError:
                return None

        batch = self._call(f"the status of batch {batch_id}", retrieve)
        if batch is None:
            return BatchState("lost", errors=f"{self._where}: no batch {batch_id}")
        counts = batch.request_counts
        errors = batch.errors.data if batch.errors is not None and batch.errors.data else []
        return BatchState(
            status=batch.status,
            done=counts.completed + counts.failed if counts is not None else 0,
            total=counts.total if counts is not None else 0,
            output_file_id=batch.output_file_id,
            errors="; ".join(e.message or e.code or "" for e in errors),
        )

    def read(self, file_id: str) -> Iterator[dict[str, Any]]:
        text = self._call(f"the results file {file_id}", lambda c: c.files.content(file_id).text)
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError as e:
                log.warning("%s: results file %s line %d is not JSON (%s): left out", self._where, file_id, number, e)
                continue
            if isinstance(record, dict):
                yield record

    def parse(self, record: dict[str, Any], n: int) -> list[ChatResult] | LLMError:
        response = record.get("response") if isinstance(record.get("response"), dict) else {}
        status = response.get("status_code")
        if record.get("error") or status != 200:
            return LLMError(f"{self._where}: line {record.get('custom_id')} failed ({status}): {record.get('error')}")
        try:
            return parse_completion(response.get("body"), n, where=self._where)
        except TransientLLMError as e:
            return e

    def close(self) -> None:
        self._client.close()

    def _call(self, what: str, call: Callable[[Any], T]) -> T:
        return call_endpoint(lambda: call(self._client), where=f"{self._where}: {what}", key=self._secret)


__all__ = ["OpenAIBatchAPI", "ENDPOINT", "COMPLETION_WINDOW"]
