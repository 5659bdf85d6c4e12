"""The project store: one DuckDB file holding every dataset, score, decision and LLM call.

The store package is the only code that talks to DuckDB. Every query is a named constant (in
:mod:`curation.store.sql`; the review queue's in :mod:`curation.store.review_sql`) with bound
parameters, run by a typed method; most are mixed in, one module a concern (:mod:`~curation.store.runs`,
:mod:`~curation.store.results`, :mod:`~curation.store.review_log`, :mod:`~curation.store.reviewing`,
:mod:`~curation.store.insights`, :mod:`~curation.store.finetuning`, :mod:`~curation.store.batches`).
One :class:`Store` wraps one connection; a re-entrant lock serialises use from several threads
(the app serves several sessions; the LLM layer writes the call cache from worker threads).
Writes that must land together run in :meth:`Store.transaction`. An import stages its records in
DuckDB (:meth:`Store.staging`, :mod:`curation.store.staging`) before :meth:`Store.add_staged`
stores them; an export reads its rows a page at a time (:meth:`Store.export_pages`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from curation.errors import StorageError, StoreLockedError
from curation.records import Example, ParsedDataset, Rejected
from curation.store import sql
from curation.store.batches import BatchQueries
from curation.store.finetuning import FineTuneQueries
from curation.store.insights import InsightQueries
from curation.store.results import ResultQueries
from curation.store.review_log import ReviewLogQueries
from curation.store.reviewing import ReviewQueries
from curation.store.runs import RunQueries
from curation.store.schema import MIGRATIONS
from curation.store.staging import Staging, example_of
from curation.store.values import now, prompt_text, prompt_to_json

log = logging.getLogger(__name__)

DEFAULT_STORE = "curation.duckdb"
#: DuckDB's memory for a store (DuckDB's own default is 80 % of the machine's).
MEMORY_LIMIT = "512MB"

_LOCK_PID = re.compile(r"\(PID (\d+)\)")


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: int
    name: str
    source_path: str
    source_sha256: str
    file_type: str
    format: str
    options: dict[str, Any]
    n_examples: int
    n_rejected: int
    imported_at: datetime


@dataclass(frozen=True)
class SourceFile:
    """What the store records of the file a dataset came from (its ``path`` as given)."""

    path: str
    sha256: str
    file_type: str
    format: str
    options: dict[str, Any]


class Store(RunQueries, ResultQueries, ReviewLogQueries, ReviewQueries, InsightQueries, FineTuneQueries, BatchQueries):
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

    # -- datasets and examples ----------------------------------------------------------
    @contextmanager
    def staging(self) -> Iterator[Staging]:
        """A staging for one import on this store's connection, held (with the lock) until the block ends."""
        with self._lock:
            staging = Staging(self._con, self.path)
            try:
                yield staging
            finally:
                staging.drop()

    def add_staged(
        self,
        staging: Staging,
        source: SourceFile,
        *,
        name: str,
        rejected: Sequence[Rejected] = (),
        append: bool = False,
    ) -> DatasetInfo:
        """Store a settled staging's kept records as a new dataset (or, with ``append``, the
        records an existing one lacks), all or nothing; ``rejected`` are the records left out.

        Raises:
            StorageError: a dataset of that name exists already (and not ``append``), or the
                file has another shape than the dataset.
        """
        if staging.kept is None:
            raise StorageError(f"{self.path}: the staging is not settled (call its settle first)")
        with self._lock:
            return self._add(source, name=name, rejected=rejected, append=append)

    def add_dataset(self, parsed: ParsedDataset, *, name: str, append: bool = False) -> DatasetInfo:
        """Write a parsed file as a new dataset, all or nothing (as :meth:`add_staged` does a staging).

        With ``append``, an existing dataset of that name gains the examples whose ids it does
        not have yet (an updated file re-imported: only the new examples get scored).

        Raises:
            StorageError: as for :meth:`add_staged`.
        """
        source = SourceFile(parsed.path, parsed.sha256, parsed.file_type, parsed.format, parsed.options)
        table = _examples_table(parsed.examples)
        with self._lock:
            for relation in ("new_ids", "new_rows"):
                self._con.register(relation, table)
            try:
                return self._add(source, name=name, rejected=parsed.rejected, append=append)
            finally:
                for relation in ("new_ids", "new_rows"):
                    self._con.unregister(relation)

    def _add(self, source: SourceFile, *, name: str, rejected: Sequence[Rejected], append: bool) -> DatasetInfo:
        """Store the relations ``new_ids`` and ``new_rows`` as dataset ``name``."""
        existing = self.find_dataset(name)
        if existing is not None and not append:
            raise StorageError(
                f"{self.path}: a dataset named {name!r} exists already; choose another --name "
                "or add --append to add its new examples"
            )
        if existing is not None and existing.format != source.format:
            raise StorageError(f"{self.path}: dataset {name!r} is {existing.format}, the file is {source.format}")
        with self.transaction():
            if existing is None:
                dataset_id, first = self._rows(sql.NEXT_DATASET_ID)[0][0], 0
                self._execute(
                    sql.INSERT_DATASET,
                    (
                        dataset_id,
                        name,
                        source.path,
                        source.sha256,
                        source.file_type,
                        source.format,
                        json.dumps(source.options),
                        0,
                        0,
                        now(),
                    ),
                )
            else:
                dataset_id, first = existing.dataset_id, existing.n_examples
            self._execute(sql.NEW_POSITIONS, (dataset_id,))
            added = self._rows(sql.INSERT_EXAMPLES, (dataset_id, first))[0][0]
            self._execute(sql.DROP_NEW_POSITIONS)
            self._with_table("new_rejected", _rejected_table(dataset_id, rejected), sql.INSERT_REJECTED)
            self._execute(sql.UPDATE_DATASET_COUNTS, (added, len(rejected), source.sha256, dataset_id))
        return self.dataset(name)

    def datasets(self) -> list[DatasetInfo]:
        return [_dataset_info(row) for row in self._rows(sql.DATASETS)]

    def find_dataset(self, name: str) -> DatasetInfo | None:
        rows = self._rows(sql.DATASET_BY_NAME, (name,))
        return _dataset_info(rows[0]) if rows else None

    def dataset(self, name: str | None = None) -> DatasetInfo:
        """The dataset called ``name``, or the only one when ``name`` is None.

        Raises:
            StorageError: no such dataset, or ``name`` is None and there is not exactly one.
        """
        if name is not None:
            found = self.find_dataset(name)
            if found is None:
                known = ", ".join(d.name for d in self.datasets()) or "none yet"
                raise StorageError(f"{self.path}: no dataset named {name!r} (datasets: {known})")
            return found
        all_sets = self.datasets()
        if len(all_sets) != 1:
            known = ", ".join(d.name for d in all_sets) or "none yet; run `curate import FILE` first"
            raise StorageError(f"{self.path}: name a dataset with --dataset (datasets: {known})")
        return all_sets[0]

    def rejected(self, dataset_id: int) -> list[dict[str, Any]]:
        return self._dicts(sql.REJECTED, (dataset_id,))

    def iter_examples(self, dataset_id: int, *, batch: int = 2000) -> Iterator[Example]:
        """Every example of a dataset in file order, read ``batch`` rows at a time."""
        position = 0
        while True:
            rows = self._rows(sql.EXAMPLES_PAGE, (dataset_id, position, batch))
            if not rows:
                return
            yield from (example_of(row) for row in rows)
            position += batch

    def example(self, dataset_id: int, example_id: str) -> Example:
        rows = self._rows(sql.EXAMPLE, (dataset_id, example_id))
        if not rows:
            raise StorageError(f"{self.path}: no example {example_id!r} in dataset {dataset_id}")
        return example_of(rows[0])

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


def _examples_table(examples: Sequence[Example]) -> pa.Table:
    """Examples as the relations ``new_ids`` and ``new_rows`` (see :data:`curation.store.sql.INSERT_EXAMPLES`)."""
    return pa.table(
        {
            "seq": pa.array(range(len(examples)), pa.int64()),
            "example_id": pa.array([e.example_id for e in examples], pa.string()),
            "id_source": pa.array([e.id_source for e in examples], pa.string()),
            "line": pa.array([e.line for e in examples], pa.int32()),
            "prompt": pa.array([prompt_to_json(e.prompt) for e in examples], pa.string()),
            "prompt_text": pa.array([prompt_text(e.prompt) for e in examples], pa.string()),
            "response": pa.array([e.response for e in examples], pa.string()),
            "record": pa.array([json.dumps(e.record, ensure_ascii=False) for e in examples], pa.string()),
        }
    )


def _rejected_table(dataset_id: int, rejected: Sequence[Rejected]) -> pa.Table:
    return pa.table(
        {
            "dataset_id": pa.array([dataset_id] * len(rejected), pa.int32()),
            "line": pa.array([r.problem.line for r in rejected], pa.int32()),
            "field": pa.array([r.problem.field for r in rejected], pa.string()),
            "message": pa.array([str(r.problem) for r in rejected], pa.string()),
            "raw": pa.array([r.raw for r in rejected], pa.string()),
        }
    )


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


def _dataset_info(row: tuple) -> DatasetInfo:
    return DatasetInfo(
        dataset_id=row[0],
        name=row[1],
        source_path=row[2],
        source_sha256=row[3],
        file_type=row[4],
        format=row[5],
        options=json.loads(row[6]),
        n_examples=row[7],
        n_rejected=row[8],
        imported_at=row[9],
    )
