"""Staging: an import's checked records held in DuckDB, not in memory, until they are stored.

Ingest checks each record and stages it (:meth:`Staging.add`, a chunk at a time); the staging
then finds the duplicate own ids across the whole file (:meth:`Staging.duplicates`) and gives
every kept record its id (:meth:`Staging.settle`), all in SQL, so memory stays flat however long
the file. :meth:`curation.store.Store.add_staged` then stores the kept records in one transaction. The
staged rows are DuckDB's to hold: past the store's memory limit they spill to disk.
A staging lives on the store's connection (:meth:`curation.store.Store.staging`) or on a scratch
in-memory database (:func:`scratch_staging`) for validation alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from curation.errors import StorageError
from curation.records import Example, Message
from curation.store import sql
from curation.store.values import prompt_from_json, prompt_text, prompt_to_json


@dataclass(frozen=True)
class StagedRecord:
    """One checked record: ``good`` (no problem) with its parts, or bad and staged for its own
    id alone. ``base`` is the content hash that names a good record without an own id; ``record``
    is the record as JSON text; ``raw`` its text as read, kept where a duplicate may need it."""

    seq: int
    source: str
    line: int
    own_id: str | None
    good: bool
    base: str | None = None
    prompt: tuple[Message, ...] = ()
    response: str = ""
    record: str = ""
    raw: str | None = None


@dataclass(frozen=True)
class Duplicate:
    """A record whose own id an earlier record (``first_source``:``first_line``) has."""

    seq: int
    source: str
    line: int
    own_id: str
    first_source: str
    first_line: int
    raw: str | None


class Staging:
    """Staged records on one DuckDB connection (its temporary tables); the caller serialises use."""

    def __init__(self, con: duckdb.DuckDBPyConnection, where: str):
        self._con, self._where = con, where
        self.kept: int | None = None  # records kept, once settled
        self._run(sql.CREATE_STAGED)

    def add(self, records: Sequence[StagedRecord]) -> None:
        """Stage a chunk of records."""
        if not records:
            return
        good = [r.good for r in records]
        table = pa.table(
            {
                "seq": pa.array([r.seq for r in records], pa.int64()),
                "source": pa.array([r.source for r in records], pa.string()),
                "line": pa.array([r.line for r in records], pa.int32()),
                "own_id": pa.array([r.own_id for r in records], pa.string()),
                "base": pa.array([r.base for r in records], pa.string()),
                "good": pa.array(good, pa.bool_()),
                "prompt": pa.array([prompt_to_json(r.prompt) if r.good else None for r in records], pa.string()),
                "prompt_text": pa.array([prompt_text(r.prompt) if r.good else None for r in records], pa.string()),
                "response": pa.array([r.response if r.good else None for r in records], pa.string()),
                "record": pa.array([r.record if r.good else None for r in records], pa.string()),
                "raw": pa.array([r.raw for r in records], pa.string()),
            }
        )
        self._con.register("staged_chunk", table)
        try:
            self._run(sql.INSERT_STAGED)
        finally:
            self._con.unregister("staged_chunk")

    def duplicates(self) -> list[Duplicate]:
        """Every staged record whose own id an earlier one has, in file order."""
        return [Duplicate(*row) for row in self._run(sql.STAGED_DUPLICATES).fetchall()]

    def settle(self) -> int:
        """Give every kept record (good, not a duplicate) its id; return how many are kept.

        The kept records are then the relations ``new_ids`` and ``new_rows`` on this connection
        (see :data:`curation.store.sql.INSERT_EXAMPLES`).
        """
        self._run(sql.SETTLE_STAGED_IDS)
        self._run(sql.STAGED_ROWS_VIEW)
        self.kept = self._run(sql.COUNT_STAGED_IDS).fetchone()[0]
        return self.kept

    def examples(self) -> list[Example]:
        """The kept records as examples, in file order (after :meth:`settle`)."""
        return [example_of(row) for row in self._run(sql.STAGED_EXAMPLES).fetchall()]

    def drop(self) -> None:
        for statement in sql.DROP_STAGED:
            self._run(statement)

    def _run(self, statement: str) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(statement)
        except duckdb.Error as e:
            raise StorageError(f"{self._where}: staging the import failed: {e}") from e


@contextmanager
def scratch_staging() -> Iterator[Staging]:
    """A staging on a private in-memory database, for validation that stores nothing."""
    con = duckdb.connect(":memory:")
    try:
        yield Staging(con, ":memory:")
    finally:
        con.close()


def example_of(row: tuple) -> Example:
    """An example from its stored columns: id, id source, line, prompt JSON, response, record JSON."""
    return Example(
        example_id=row[0],
        id_source=row[1],
        line=row[2],
        prompt=prompt_from_json(row[3]),
        response=row[4],
        record=json.loads(row[5]),
    )
