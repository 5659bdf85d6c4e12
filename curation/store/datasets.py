"""The store's typed queries for datasets and their examples: import, look-up, reading back.

In: an import's settled staging (:mod:`curation.store.staging`) or a parsed file, with the
dataset's name; a dataset's name or id. Out: the stored dataset (:class:`DatasetInfo`, with
the :class:`SourceFile` it came from), its rejected records and its examples
(:class:`~curation.records.Example`), in file order. A dataset is stored all or nothing.

Mixed into :class:`curation.store.Store`, which provides ``_execute``, ``_rows``, ``_dicts``,
``_with_table`` and ``transaction``, and, for the relations an import registers, its
connection ``_con``, lock ``_lock`` and ``path``; the queries are named constants in
:mod:`curation.store.sql`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from curation.errors import StorageError
from curation.records import Example, ParsedDataset, Rejected
from curation.store import sql
from curation.store.staging import Staging, example_of
from curation.store.values import now, prompt_text, prompt_to_json


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


class DatasetQueries:
    """Datasets (stored from an import's staging or a parsed file, found by name) and their
    examples and rejected records."""

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
