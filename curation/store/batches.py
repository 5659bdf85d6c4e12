"""The store's typed queries for Batch API batches: every value a bound parameter.

How batches are sent, polled and read belongs to :mod:`curation.llm.batch` (whose ``BatchLog``
these methods implement); this module reads and writes the ``llm_batches`` and
``llm_batch_lines`` tables (migration ``0007_llm_batches``), and puts a batch's results into the
call cache in the transaction that marks it collected, so a kill leaves it whole or not at all.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from curation.store.values import now

#: A batch in one of these states is done with: its results are in the cache, or it is gone.
CLOSED = ("collected", "lost")
_SAME_MODEL = "backend = ? AND model = ? AND base_url IS NOT DISTINCT FROM ?"
SQL_INSERT_BATCH = (
    "INSERT INTO llm_batches (batch_id, backend, model, base_url, input_file_id, status, n_lines, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQL_INSERT_LINES = "INSERT INTO llm_batch_lines SELECT batch_id, custom_id, request FROM new_batch_lines"
SQL_OPEN = (
    f"SELECT batch_id FROM llm_batches WHERE {_SAME_MODEL} AND status NOT IN (SELECT unnest(?::VARCHAR[])) "
    "ORDER BY created_at, batch_id"
)
SQL_LINES = "SELECT custom_id, request FROM llm_batch_lines WHERE batch_id = ?"
SQL_STATUS = "UPDATE llm_batches SET status = ?, updated_at = ? WHERE batch_id = ?"
SQL_COLLECT = "UPDATE llm_batches SET status = ?, n_failed = ?, failed = ?, updated_at = ? WHERE batch_id = ?"
SQL_DELETE_LINES = "DELETE FROM llm_batch_lines WHERE batch_id = ?"
SQL_FAILED = f"SELECT failed FROM llm_batches WHERE {_SAME_MODEL} AND n_failed > 0"
SQL_PUT_RESULTS = (
    "INSERT OR IGNORE INTO llm_cache SELECT key, backend, model, request, result, created_at FROM new_batch_results"
)
SQL_BATCHES = (
    "SELECT batch_id, backend, model, base_url, input_file_id, status, n_lines, n_failed, created_at, updated_at "
    "FROM llm_batches ORDER BY created_at, batch_id"
)


class BatchQueries:
    """Mixed into :class:`curation.store.Store` (which provides ``_dicts``, ``_rows``, ``_execute``,
    ``_with_table`` and ``transaction``)."""

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
    ) -> None:
        """Record a batch the provider has accepted, with its lines (custom id -> request)."""
        at = now()
        table = pa.table(
            {
                "batch_id": pa.array([batch_id] * len(lines), pa.string()),
                "custom_id": pa.array(list(lines), pa.string()),
                "request": pa.array([json.dumps(r, ensure_ascii=False) for r in lines.values()], pa.string()),
            }
        )
        with self.transaction():
            self._execute(
                SQL_INSERT_BATCH, (batch_id, backend, model, base_url, input_file_id, status, len(lines), at, at)
            )
            self._with_table("new_batch_lines", table, SQL_INSERT_LINES)

    def open_llm_batches(self, backend: str, model: str, base_url: str | None) -> list[str]:
        """The ids of this model's batches whose results are not in the cache yet, oldest first."""
        return [row[0] for row in self._rows(SQL_OPEN, (backend, model, base_url, list(CLOSED)))]

    def llm_batch_lines(self, batch_id: str) -> dict[str, dict[str, Any]]:
        """A batch's lines: custom id -> the request it asked for."""
        return {custom_id: json.loads(request) for custom_id, request in self._rows(SQL_LINES, (batch_id,))}

    def set_llm_batch_status(self, batch_id: str, status: str) -> None:
        """Record the batch's state as last seen on the provider."""
        self._execute(SQL_STATUS, (status, now(), batch_id))

    def collect_llm_batch(
        self,
        batch_id: str,
        *,
        backend: str,
        model: str,
        results: list[tuple[str, dict[str, Any], dict[str, Any]]],
        failed: list[str],
        status: str = "collected",
    ) -> None:
        """Put a finished batch's ``results`` (cache key, request, result) into the call cache and
        close it (``collected``, or ``lost`` when the provider no longer knows it), keeping the
        cache keys it did not answer, in one transaction."""
        at = now()
        table = pa.table(
            {
                "key": pa.array([k for k, _, _ in results], pa.string()),
                "backend": pa.array([backend] * len(results), pa.string()),
                "model": pa.array([model] * len(results), pa.string()),
                "request": pa.array([json.dumps(q, ensure_ascii=False) for _, q, _ in results], pa.string()),
                "result": pa.array([json.dumps(r, ensure_ascii=False) for _, _, r in results], pa.string()),
                "created_at": pa.array([at] * len(results), pa.timestamp("us")),
            }
        )
        with self.transaction():
            if results:
                self._with_table("new_batch_results", table, SQL_PUT_RESULTS)
            self._execute(SQL_COLLECT, (status, len(failed), json.dumps(failed), at, batch_id))
            self._execute(SQL_DELETE_LINES, (batch_id,))

    def llm_batch_failures(self, backend: str, model: str, base_url: str | None) -> set[str]:
        """The cache keys this model's collected batches did not answer (made as normal calls)."""
        return {key for (failed,) in self._rows(SQL_FAILED, (backend, model, base_url)) for key in json.loads(failed)}

    def llm_batches(self) -> list[dict[str, Any]]:
        """Every batch sent from this store, oldest first."""
        return self._dicts(SQL_BATCHES)


__all__ = ["BatchQueries", "CLOSED"]
