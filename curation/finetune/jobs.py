"""Fine-tuning jobs: a checked file uploaded, trained on, followed, and its model put to work.

In: a curated export in the chat shape (:func:`export_chat` writes one) and a base model. Out:
:func:`start` checks the file (:func:`curation.finetune.rules.validate`), uploads it, starts a
job through the ``openai`` package on the endpoint of the dataset's runs (:func:`endpoint`) and
records the job in the store; :func:`status` refreshes the recorded jobs; a job that has
produced a model gives :func:`correct_command`, the ``curate correct --candidate-model`` line
with which the model trained on the curated data writes the next round's corrections.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import openai

from curation.config import Config, LLMConfig
from curation.errors import ConfigError, InvalidRecordError, LLMError
from curation.export import export_dataset
from curation.finetune.rules import PROVIDERS, validate
from curation.llm.openai_backend import make_client, redacted, secret
from curation.store import Store

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"  # where the ``openai`` package goes when no base_url is set
DEFAULT_BASE_MODEL = "gpt-4o-mini-2024-07-18"
#: A job in one of these states changes no more; the others are refreshed.
FINISHED = ("succeeded", "failed", "cancelled")

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """A fine-tuning job as last seen (``unreachable``: why the latest refresh failed; not stored)."""

    job_id: str
    dataset_id: int
    provider: str
    base_model: str
    base_url: str | None
    file_id: str
    export_path: str
    status: str
    fine_tuned_model: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    unreachable: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def endpoint(
    store: Store, dataset: str | None = None, *, base_url: str | None = None, api_key_env: str | None = None
) -> LLMConfig:
    """The endpoint of the dataset's last run (else the defaults), with ``base_url`` / ``api_key_env`` on top.

    Raises:
        ConfigError: a bad override; StorageError: unknown dataset.
    """
    last = store.last_run_config(store.dataset(dataset).dataset_id)
    config = Config.from_dict(last) if last else Config()
    return config.with_overrides({"llm.base_url": base_url, "llm.api_key_env": api_key_env}).llm


def export_chat(store: Store, dataset: str | None = None, out: str | Path | None = None) -> Path:
    """Export the dataset in the chat shape for fine-tuning (default: ``<store folder>/<dataset>.finetune.jsonl``).

    Raises:
        CurationError: as :func:`curation.export.export_dataset`.
    """
    info = store.dataset(dataset)
    if out is None:
        folder = Path.cwd() if store.path == ":memory:" else Path(store.path).resolve().parent
        out = folder / f"{info.name}.finetune.jsonl"
    return export_dataset(store, out, dataset=info.name, fmt="chat").path


def start(
    path: str | Path,
    base_model: str,
    *,
    store: Store,
    dataset: str | None = None,
    llm: LLMConfig | None = None,
    provider: str = "openai",
    epochs: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Job:
    """Validate ``path``, upload it, start a fine-tuning job on it and record the job.

    Args:
        path: the curated JSONL export in the chat shape.
        base_model: the model to fine-tune, e.g. ``gpt-4o-mini-2024-07-18``.
        store: the project store that records the job.
        dataset: the dataset the file came from (None: the store's only one).
        llm: the endpoint (``base_url``, ``api_key_env``, ``timeout_s``, ``extra_headers``);
            None: :func:`endpoint`.
        provider: one of :data:`PROVIDERS`.
        epochs: training epochs (None: the provider's ``auto``).
        environ: where the API key is looked up.
    Returns:
        The job as recorded.
    Raises:
        InvalidRecordError: the file breaks the provider's rules (every problem listed); nothing is sent.
        LLMError: the upload or the job was refused (a rejected file: the provider's reason), or the
            endpoint cannot be reached; no job is recorded.
        ConfigError: an unknown provider, no base model, bad epochs.
    """
    if not base_model or not base_model.strip():
        raise ConfigError("finetune: name the base model to fine-tune, e.g. " + DEFAULT_BASE_MODEL)
    report = validate(path, provider, base_model=base_model, epochs=epochs)
    if not report.ok:
        raise InvalidRecordError(list(report.problems))
    info = store.dataset(dataset)
    llm = llm or endpoint(store, info.name)
    data = Path(path).read_bytes()
    upload = (Path(path).name, data)
    uploaded = _call(llm, environ, f"the upload of {path}", lambda c: c.files.create(file=upload, purpose="fine-tune"))
    options: dict[str, Any] = {"model": base_model, "training_file": uploaded.id}
    if epochs is not None:
        options["hyperparameters"] = {"n_epochs": epochs}
    job = _call(
        llm,
        environ,
        f"the {base_model} job on {path} (uploaded as {uploaded.id})",
        lambda c: c.fine_tuning.jobs.create(**options),
        after="; no job was started",
    )
    store.add_finetune_job(
        job_id=job.id,
        dataset_id=info.dataset_id,
        provider=provider,
        base_model=base_model,
        base_url=llm.base_url,
        file_id=uploaded.id,
        export_path=str(path),
        status=job.status,
        fine_tuned_model=job.fine_tuned_model,
        error=_job_error(job),
    )
    return Job(**store.finetune_job(job.id))


def status(
    store: Store,
    *,
    dataset: str | None = None,
    llm: LLMConfig | None = None,
    refresh: bool = True,
    environ: Mapping[str, str] = os.environ,
) -> list[Job]:
    """The dataset's jobs, newest first; with ``refresh``, the unfinished ones asked for their state.

    A job that cannot be refreshed keeps its recorded state, with ``unreachable`` saying why; a
    succeeded job records its ``fine_tuned_model``.

    Raises:
        StorageError: unknown dataset.
    """
    info = store.dataset(dataset)
    jobs = [Job(**row) for row in store.finetune_jobs(info.dataset_id)]
    if not refresh or all(job.finished for job in jobs):
        return jobs
    llm = llm or endpoint(store, info.name)
    return [job if job.finished else _refreshed(store, job, llm, environ) for job in jobs]


def correct_command(job: Job, *, dataset: str, store_path: str | None = None) -> str | None:
    """The ``curate correct`` line that lets the job's model (an endpoint, whatever backend the
    dataset's runs use) write corrections; None before it has one."""
    if not job.fine_tuned_model:
        return None
    words = ["curate", "correct", *(["--store", store_path] if store_path else []), "--dataset", dataset]
    words += ["--candidate-backend", "openai", "--candidate-model", job.fine_tuned_model]
    words += ["--candidate-base-url", job.base_url or OPENAI_URL]
    return shlex.join(words)


def _refreshed(store: Store, job: Job, llm: LLMConfig, environ: Mapping[str, str]) -> Job:
    config = replace(llm, base_url=job.base_url)
    try:
        remote = _call(
            config, environ, f"the status of job {job.job_id}", lambda c: c.fine_tuning.jobs.retrieve(job.job_id)
        )
    except LLMError as e:
        log.warning("%s", e)
        return replace(job, unreachable=str(e))
    store.update_finetune_job(
        job.job_id, status=remote.status, fine_tuned_model=remote.fine_tuned_model, error=_job_error(remote)
    )
    return Job(**store.finetune_job(job.job_id))


def _job_error(job: Any) -> str | None:
    error = getattr(job, "error", None)
    message = getattr(error, "message", None) if error is not None else None
    return message or None


def _call(
    llm: LLMConfig, environ: Mapping[str, str], what: str, call: Callable[[openai.OpenAI], T], *, after: str = ""
) -> T:
    """``call`` on a client for ``llm``; the ``openai`` package's errors become one :class:`LLMError`
    saying ``what`` failed, how, and ``after`` (what it means)."""
    where = f"{PROVIDERS[0]} fine-tuning at {llm.base_url or OPENAI_URL}"
    client = make_client(llm, environ=environ)
    cause: openai.OpenAIError
    try:
        return call(client)
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        code = f" [{body['code']}]" if body.get("code") else ""
        detail = f"refused ({e.status_code}): {body.get('message') or e.message}{code}"
        message, cause = f"{where}: {what} {detail}{after}", e
    except openai.APIConnectionError as e:
        message, cause = f"{where}: {what} failed: cannot reach the endpoint ({e}){after}", e
    except openai.OpenAIError as e:
        message, cause = f"{where}: {what} failed: {e}{after}", e
    finally:
        client.close()
    # Raised outside the except blocks so no context carries a key-bearing message along.
    key = secret(llm, environ=environ)
    leaked = bool(key) and (key in message or key in str(cause))
    raise LLMError(redacted(message, key)) from (None if leaked else cause)


__all__ = [
    "start",
    "status",
    "endpoint",
    "export_chat",
    "correct_command",
    "Job",
    "DEFAULT_BASE_MODEL",
    "FINISHED",
    "OPENAI_URL",
]
