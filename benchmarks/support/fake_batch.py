"""The Batch API of :class:`~benchmarks.support.fake_openai.FakeOpenAIServer`.

``POST /v1/batches`` starts a batch on a file uploaded with purpose ``batch`` (its lines ask
``/v1/chat/completions``); ``GET /v1/batches/{id}`` moves it on one status per poll
(``validating`` → ``in_progress`` → ``completed`` by default) and, on reaching ``completed``,
answers every line with the server's normal reply (so a scripted model works), writing the
answered lines to an output file and the failed ones (``fail_line(body)`` true) to an error
file, as OpenAI does; ``GET /v1/files/{id}/content`` serves any file. An ``on_poll(batch_id,
poll)`` hook runs before a poll is answered (a test kills its client there).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_STEPS = ("validating", "in_progress", "completed")
STATUSES = ("validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled")

Answer = tuple[int, dict[str, Any]]


class FakeBatches:
    """Batches over the server's files, shared by its handler threads.

    Args:
        files: the server's files (file id -> bytes); result files are added to it.
        answer: the JSON body of a chat completion for a request body.
        steps: the statuses a batch goes through, one per poll (creation shows the first).
        fail_line: picks the request bodies whose lines fail (500 in the error file).

    Attributes:
        created: the batches started, in order (their ids).
        polls: how many times each batch was read.
        on_poll: called as ``on_poll(batch_id, poll_number)`` before a poll is answered.
    """

    def __init__(
        self,
        files: dict[str, bytes],
        answer: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        steps: Sequence[str] = DEFAULT_STEPS,
        fail_line: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        if not steps or set(steps) - set(STATUSES):
            raise ValueError(f"batch steps {list(steps)} must be a non-empty list of {STATUSES}")
        self.files = files
        self.steps = tuple(steps)
        self.fail_line = fail_line
        self.on_poll: Callable[[str, int], None] | None = None
        self.created: list[str] = []
        self.polls: dict[str, int] = {}
        self._answer = answer
        self._batches: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(self, request: dict[str, Any]) -> Answer:
        file_id = request.get("input_file_id")
        with self._lock:
            if file_id not in self.files:
                return _invalid(f"invalid input_file_id: {file_id}", param="input_file_id")
            if request.get("endpoint") != "/v1/chat/completions" or request.get("completion_window") != "24h":
                return _invalid("endpoint must be /v1/chat/completions and completion_window 24h", param="endpoint")
            batch_id = f"batch_fake{next(self._ids)}"
            self.created.append(batch_id)
            self.polls[batch_id] = 0
            total = len(self.files[file_id].splitlines())
            self._batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request["endpoint"],
                "errors": None,
                "input_file_id": file_id,
                "completion_window": "24h",
                "status": self.steps[0],
                "output_file_id": None,
                "error_file_id": None,
                "created_at": 0,
                "request_counts": {"total": total, "completed": 0, "failed": 0},
                "metadata": request.get("metadata"),
            }
            return 200, dict(self._batches[batch_id])

    def retrieve(self, batch_id: str) -> Answer:
        with self._lock:
            if batch_id not in self._batches:
                return 404, {"error": {"message": f"no batch {batch_id}", "type": "invalid_request_error"}}
            self.polls[batch_id] += 1
            poll = self.polls[batch_id]
        if self.on_poll is not None:
            self.on_poll(batch_id, poll)
        with self._lock:
            batch = self._batches[batch_id]
            status = self.steps[min(poll, len(self.steps) - 1)]
            if status == "completed" and batch["status"] != "completed":
                self._finish(batch)
            batch["status"] = status
            return 200, dict(batch)

    def content(self, file_id: str) -> tuple[int, bytes]:
        with self._lock:
            if file_id not in self.files:
                return 404, json.dumps({"error": {"message": f"no file {file_id}"}}).encode()
            return 200, self.files[file_id]

    def _finish(self, batch: dict[str, Any]) -> None:
        """Answer every line of the batch's file into an output and an error file."""
        done, failed = [], []
        for raw in self.files[batch["input_file_id"]].splitlines():
            line = json.loads(raw)
            if self.fail_line is not None and self.fail_line(line["body"]):
                error = {"error": {"message": "internal error", "type": "server_error"}}
                failed.append(_result(line, 500, error))
            else:
                done.append(_result(line, 200, self._answer(line["body"])))
        for name, lines in (("output_file_id", done), ("error_file_id", failed)):
            if lines:
                file_id = f"file-batch{next(self._ids)}"
                self.files[file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch[name] = file_id
        batch["request_counts"] = {"total": len(done) + len(failed), "completed": len(done), "failed": len(failed)}


def _result(line: dict[str, Any], status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"batch_req_{line['custom_id'][:12]}",
        "custom_id": line["custom_id"],
        "response": {"status_code": status, "request_id": "req_fake", "body": body},
        "error": None,
    }


def _invalid(message: str, *, param: str | None) -> Answer:
    return 400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
