"""The files and fine-tuning endpoints of :class:`~benchmarks.support.fake_openai.FakeOpenAIServer`.

``POST /v1/files`` keeps a multipart upload (purpose ``fine-tune`` or ``batch``) in memory and
answers with a file object;
``POST /v1/fine_tuning/jobs`` starts a job on an uploaded file, or refuses it with OpenAI's 400
for an invalid training file (when the server is told to, or the file holds
:data:`REJECT_MARKER`); ``GET /v1/fine_tuning/jobs/{id}`` moves the job on one status per poll
(``queued`` → ``running`` → ``succeeded`` by default), naming ``fine_tuned_model`` once it has
succeeded, or OpenAI's error object once it has ``failed``.
"""

from __future__ import annotations

import email
import itertools
import threading
from collections.abc import Sequence
from typing import Any

REJECT_MARKER = "FAKE-REJECT-THIS-FILE"
DEFAULT_STEPS = ("queued", "running", "succeeded")
PURPOSES = ("fine-tune", "batch")
STATUSES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled")
INVALID_FILE_MESSAGE = "Invalid file format. Example 1: the file was refused by the fake server"

Answer = tuple[int, dict[str, Any]]


class FakeFineTuning:
    """Uploaded files and fine-tuning jobs, shared by the server's handler threads.

    Args:
        steps: the statuses a job goes through, one per poll (creation shows the first).
        reject: refuse every job, as OpenAI refuses an invalid training file.

    Attributes:
        files: uploaded file id -> its bytes.
        jobs: job id -> the job object as last served.
        polls: how many times the jobs were read.
    """

    def __init__(self, *, steps: Sequence[str] = DEFAULT_STEPS, reject: bool = False) -> None:
        unknown = set(steps) - set(STATUSES)
        if not steps or unknown:
            raise ValueError(f"fine-tuning steps {list(steps)} must be a non-empty list of {STATUSES}")
        self.steps = tuple(steps)
        self.reject = reject
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.polls = 0
        self._ids = itertools.count(1)
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def upload(self, content_type: str, body: bytes) -> Answer:
        form = _form(content_type, body)
        purpose = form.get("purpose", (None, b""))[1].decode()
        if "file" not in form or purpose not in PURPOSES:
            return _invalid(f"a 'file' and a purpose ({' or '.join(PURPOSES)}) are required", param="file")
        filename, data = form["file"]
        with self._lock:
            file_id = f"file-fake{next(self._ids)}"
            self.files[file_id] = data
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": 0,
            "filename": filename or "upload.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    def create(self, request: dict[str, Any]) -> Answer:
        file_id, model = request.get("training_file"), request.get("model")
        with self._lock:
            data = self.files.get(file_id)
            if data is None:
                return _invalid(f"invalid training_file: {file_id}", param="training_file")
            if not model:
                return _invalid("model is required", param="model")
            if self.reject or REJECT_MARKER.encode() in data:
                return _invalid(INVALID_FILE_MESSAGE, param="training_file", code="invalid_training_file")
            job_id = f"ftjob-fake{next(self._ids)}"
            self._seen[job_id] = 0
            self.jobs[job_id] = self._job(job_id, model, file_id, request.get("hyperparameters") or {})
            return 200, dict(self.jobs[job_id])

    def retrieve(self, job_id: str) -> Answer:
        with self._lock:
            if job_id not in self.jobs:
                return 404, {"error": {"message": f"no job {job_id}", "type": "invalid_request_error", "code": None}}
            self.polls += 1
            self._seen[job_id] += 1
            job = self.jobs[job_id]
            job["status"] = self.steps[min(self._seen[job_id], len(self.steps) - 1)]
            if job["status"] == "succeeded":
                job["fine_tuned_model"] = f"ft:{job['model']}:fake::{job_id.removeprefix('ftjob-')}"
                job["finished_at"] = 1
            elif job["status"] == "failed":
                job["error"] = {"code": "invalid_training_file", "message": INVALID_FILE_MESSAGE, "param": None}
                job["finished_at"] = 1
            return 200, dict(job)

    def _job(self, job_id: str, model: str, file_id: str, hyper: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": 0,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {"n_epochs": hyper.get("n_epochs", "auto"), "batch_size": "auto"},
            "model": model,
            "organization_id": "org-fake",
            "result_files": [],
            "seed": 0,
            "status": self.steps[0],
            "trained_tokens": None,
            "training_file": file_id,
            "validation_file": None,
        }


def _invalid(message: str, *, param: str | None, code: str | None = None) -> Answer:
    """OpenAI's 400 body for a request it refuses."""
    return 400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _form(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """A ``multipart/form-data`` body as field name -> (file name, bytes)."""
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return {}
    return {
        part.get_param("name", header="content-disposition"): (part.get_filename(), part.get_payload(decode=True))
        for part in message.get_payload()
    }
