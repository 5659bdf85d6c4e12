"""The project store: one DuckDB file holding every dataset, score, decision and LLM call.

The store package is the only code that talks to DuckDB. Every query is a named constant (in
:mod:`curation.store.sql`; the review queue's in :mod:`curation.store.review_sql`) with bound
parameters, run by a typed method; most are mixed in, one module a concern
(:mod:`~curation.store.datasets`, :mod:`~curation.store.runs`, :mod:`~curation.store.results`,
:mod:`~curation.store.review_log`, :mod:`~curation.store.reviewing`, :mod:`~curation.store.insights`,
:mod:`~curation.store.finetuning`, :mod:`~curation.store.batches`).
One :class:`Store` wraps one connection; a re-entrant lock serialises use from several threads
(the app serves several sessions; the LLM layer writes the call cache from worker threads).
Writes that must land together run in :meth:`Store.transaction`. An import stages its records in
DuckDB (:meth:`Store.staging`, :mod:`curation.store.staging`) before :meth:`Store.add_staged`
stores them; an export reads its rows a page at a time (:meth:`Store.export_pages`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from curation.errors import StorageError, StoreLockedError
from curation.store import sql
from curation.store.batches import BatchQueries
from curation.store.datasets import DatasetQueries
from curation.store.finetuning import FineTuneQueries
from curation.store.insights import InsightQueries
from curation.store.results import ResultQueries
from curation.store.review_log import ReviewLogQueries
from curation.store.reviewing import ReviewQueries
from curation.store.runs import RunQueries
from curation.store.schema import MIGRATIONS
from curation.store.values import now

log = logging.getLogger(__name__)

DEFAULT_STORE = "curation.duckdb"
#: DuckDB's memory for a store (DuckDB's own default is 80 % of the machine's).
MEMORY_LIMIT = "512MB"

_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class Store(
    DatasetQueries,
    RunQueries,
    ResultQueries,
    ReviewLogQueries,
    ReviewQueries,
    InsightQueries,
    FineTuneQueries,
    BatchQueries,
):
    """An open project store.

    Args:
        path: the DuckDB file (created with its schema when missing), or ``":memory:"``.
        memory_limit: what DuckDB may hold in memory (its cache and an import's staged records);
            past it, it spills to ``<path>.tmp``, so an import or export of any size fits in it.
    Raises:
        StoreLockedError: another process holds the file.
        StorageError: the file cannot be opened or is not a DuckDB database.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, *, read_only: bool = False, memory_limit: str = MEMORY_LIMIT):
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": memory_limit})
        except duckdb.IOException as e:
            raise _open_error(self.path, e) from e
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0]  # an internal error carries a stack trace
            hint = ""
            if "replaying WAL" in first:
                hint = (
                    f" (moving {self.path}.wal aside opens the store as of its last checkpoint; "
                    "what was written since is lost)"
                )
            raise StorageError(f"{self.path}: cannot open the store: {first}{hint}") from e
        if not read_only:
            self.migrate()

    # -- plumbing -------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block's writes atomically (re-entrant: nested blocks join the outer one)."""
        with self._lock:
            if getattr(self, "_in_tx", False):
                yield
                return
            self._in_tx = True
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")
            finally:
                self._in_tx = False

    def _execute(self, sql: str, params: list | tuple = ()) -> duckdb.DuckDBPyConnection:
        with self._lock:
            try:
                return self._con.execute(sql, params)
            except duckdb.Error as e:
                raise StorageError(f"{self.path}: store query failed: {e}") from e

    def _rows(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        with self._lock:
            return self._execute(sql, params).fetchall()

    def _dicts(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    # -- migrations -------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded, in order; return the names applied."""
        applied_now = []
        with self._lock:
            self._execute(sql.CREATE_MIGRATIONS)
            done = {row[0] for row in self._rows(sql.APPLIED)}
            for number, (name, statements) in enumerate(MIGRATIONS, start=1):
                if number in done:
                    continue
                with self.transaction():
                    for statement in statements:
                        self._execute(statement)
                    self._execute(sql.RECORD_MIGRATION, (number, name, now()))
                applied_now.append(name)
            if applied_now:
                # Into the file at once: DuckDB cannot replay an ``ADD COLUMN ... DEFAULT`` from
                # its write-ahead log, so a new store killed before its first checkpoint would
                # not open again (an internal error), with everything written since.
                self._execute("CHECKPOINT")
        return applied_now

    def applied_migrations(self) -> list[str]:
        return [row[1] for row in self._rows(sql.APPLIED)]

    # -- bulk writes -----------------------------------------------------------------------
    def _with_table(self, name: str, table: pa.Table, sql: str, params: tuple = ()) -> None:
        """Run ``sql`` with an Arrow table visible as ``name`` (bulk writes)."""
        with self._lock:
            self._con.register(name, table)
            try:
                self._execute(sql, params)
            finally:
                self._con.unregister(name)

    # -- views over the whole pipeline ----------------------------------------------------------
    def export_pages(self, dataset_id: int, *, size: int = 10_000) -> Iterator[list[dict[str, Any]]]:
        """Every example's export row, in file order, ``size`` at a time: its record, decision in
        force (``action``, ``annotator``), text in force (``in_force``), proposal (``auto_applied``,
        ``judge_confidence``, the winner's ``evidence``), flag (``flagged``, ``threshold``) and
        confidence.

        The pages are read on a cursor of their own, in one transaction: a snapshot of the store,
        while other threads go on using it.
        """
        key = self.active_score_key(dataset_id)
        with self._lock:
            cursor = self._con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            end = cursor.execute(sql.POSITIONS_END, (dataset_id,)).fetchone()[0]
            for start in range(0, end, size):
                cursor.execute(sql.EXPORT_PAGE, (dataset_id, start, start + size, key))
                names = [d[0] for d in cursor.description]
                yield [dict(zip(names, row)) for row in cursor.fetchall()]
        except duckdb.Error as e:
            raise StorageError(f"{self.path}: store query failed: {e}") from e
        finally:
            cursor.close()

    def export_rows(self, dataset_id: int) -> list[dict[str, Any]]:
        """Every example's export row (see :meth:`export_pages`), in file order."""
        return [row for page in self.export_pages(dataset_id) for row in page]

    def status(self, dataset_id: int) -> dict[str, int]:
        key = self.active_score_key(dataset_id)
        params = (dataset_id, dataset_id, key, dataset_id, key, dataset_id, dataset_id, dataset_id, dataset_id)
        return self._dicts(sql.STATUS, params)[0]


def _open_error(path: str, error: duckdb.IOException) -> StorageError:
    text = str(error)
    if "lock" in text.lower():
        pid = _LOCK_PID.search(text)
        holder = f" (PID {pid.group(1)})" if pid else ""
        return StoreLockedError(
            f"{path}: the store is in use by another process{holder}; close it (the app or another "
            "`curate` command) or use another --store"
        )
    return StorageError(f"{path}: cannot open the store: {text}")
