"""The store's typed queries for fine-tuning jobs: every value a bound parameter.

What a job is and when it is refreshed belong to :mod:`curation.finetune`; this module only
reads and writes the ``finetune_jobs`` table (migration ``0006_finetune_jobs``).
"""

from __future__ import annotations

from typing import Any

from curation.store.values import now

JOB_COLUMNS = (
    "job_id, dataset_id, provider, base_model, base_url, file_id, export_path, status, fine_tuned_model, "
    "error, created_at, updated_at"
)
SQL_INSERT_JOB = f"INSERT INTO finetune_jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
SQL_UPDATE_JOB = "UPDATE finetune_jobs SET status = ?, fine_tuned_model = ?, error = ?, updated_at = ? WHERE job_id = ?"
SQL_JOBS = f"SELECT {JOB_COLUMNS} FROM finetune_jobs WHERE dataset_id = ? ORDER BY created_at DESC, job_id DESC"
SQL_JOB = f"SELECT {JOB_COLUMNS} FROM finetune_jobs WHERE job_id = ?"


class FineTuneQueries:
    """Mixed into :class:`curation.store.Store` (which provides ``_dicts`` and ``_execute``)."""

    def add_finetune_job(
        self,
        *,
        job_id: str,
        dataset_id: int,
        provider: str,
        base_model: str,
        base_url: str | None,
        file_id: str,
        export_path: str,
        status: str,
        fine_tuned_model: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a job the provider has accepted (its id is the provider's)."""
        at = now()
        self._execute(
            SQL_INSERT_JOB,
            (
                job_id,
                dataset_id,
                provider,
                base_model,
                base_url,
                file_id,
                export_path,
                status,
                fine_tuned_model,
                error,
                at,
                at,
            ),
        )

    def update_finetune_job(self, job_id: str, *, status: str, fine_tuned_model: str | None, error: str | None) -> None:
        """Record the job's state as last seen on the provider."""
        self._execute(SQL_UPDATE_JOB, (status, fine_tuned_model, error, now(), job_id))

    def finetune_jobs(self, dataset_id: int) -> list[dict[str, Any]]:
        """The dataset's jobs, newest first."""
        return self._dicts(SQL_JOBS, (dataset_id,))

    def finetune_job(self, job_id: str) -> dict[str, Any] | None:
        rows = self._dicts(SQL_JOB, (job_id,))
        return rows[0] if rows else None


__all__ = ["FineTuneQueries"]
