"""The export's files, written atomically: a synced temporary file beside each path, renamed over it.

In: records (JSON-ready dicts) or text for a path. Out: the temporary file's name, once it is
complete and synced (:class:`JsonlTemp`: JSON Lines, hashed as written; :class:`ParquetTemp`:
one Parquet file, spooled as JSON Lines while its schema is inferred a batch at a time, then
written a batch at a time; :func:`write_temp`: text as it comes), and :func:`commit` renames it
over the path. A failure to write raises :class:`~curation.errors.CurationError` naming the
path; :mod:`curation.export` decides what is written and in which order the files are committed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.errors import CurationError

#: Records a Parquet export converts at a time.
PARQUET_BATCH = 10_000


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


class _Temp:
    """A synced temporary file beside ``path``, to be renamed over it (:func:`commit`); ``lazy``:
    created at the first write."""

    def __init__(self, path: Path, *, lazy: bool = False):
        self.path, self.tmp, self._handle = path, None, None
        if not lazy:
            self._open()

    @property
    def started(self) -> bool:
        return self.tmp is not None

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            self._handle = os.fdopen(fd, "wb")
        except OSError as e:
            raise CurationError(f"{self.path}: cannot write the export: {e}") from e

    def write(self, chunk: str | bytes) -> None:
        if self._handle is None:
            self._open()
        try:
            self._handle.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        except OSError as e:
            raise CurationError(f"{self.path}: cannot write the export: {e}") from e

    def discard(self) -> None:
        """Close and remove the file (after a failure)."""
        if self._handle is not None:
            self._handle.close()
        remove(self.tmp)

    def finish(self) -> str:
        """Flush, sync and close the file; return its name."""
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        except OSError as e:
            raise CurationError(f"{self.path}: cannot write the export: {e}") from e
        return self.tmp


class JsonlTemp(_Temp):
    """Records as JSON Lines in a :class:`_Temp`, hashed as written."""

    def __init__(self, path: Path, *, lazy: bool = False):
        super().__init__(path, lazy=lazy)
        self._digest = hashlib.sha256()

    def write(self, record: dict[str, Any]) -> None:
        line = _json_line(record).encode("utf-8")
        self._digest.update(line)
        super().write(line)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class ParquetTemp(_Temp):
    """Records as one Parquet file in a :class:`_Temp`: spooled as JSON Lines while the schema is
    inferred a batch at a time (the columns of the first record, each typed as
    ``pa.Table.from_pylist`` would type it from every record), then written a batch at a time."""

    def __init__(self, path: Path):
        super().__init__(path)
        self._spool = tempfile.TemporaryFile(dir=path.parent)
        self._batch: list[dict[str, Any]] = []
        self._keys: list[str] | None = None
        self._schemas: list[pa.Schema] = []
        self.sha256 = ""

    def write(self, record: dict[str, Any]) -> None:
        self._keys = list(record) if self._keys is None else self._keys
        self._spool.write(_json_line(record).encode("utf-8"))
        self._batch.append(record)
        if len(self._batch) >= PARQUET_BATCH:
            self._infer()

    def _infer(self) -> None:
        columns = {k: [r.get(k) for r in self._batch] for k in self._keys or ()}
        with self._arrow_errors():
            self._schemas.append(pa.Table.from_pydict(columns).schema)
        self._batch = []

    def discard(self) -> None:
        self._spool.close()
        super().discard()

    def finish(self) -> str:
        if self._batch or not self._schemas:
            self._infer()
        self._spool.seek(0)
        with self._arrow_errors():
            schema = pa.unify_schemas(self._schemas, promote_options="permissive")
            with pq.ParquetWriter(self._handle, schema) as writer:
                while lines := list(itertools.islice(self._spool, PARQUET_BATCH)):
                    writer.write_table(pa.Table.from_pylist([json.loads(line) for line in lines], schema=schema))
        self._spool.close()
        tmp = super().finish()
        with open(tmp, "rb") as handle:
            self.sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        return tmp

    @contextmanager
    def _arrow_errors(self) -> Iterator[None]:
        try:
            yield
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise CurationError(
                f"{self.path}: cannot write Parquet: a field holds values of different types across records ({e}); "
                "export JSONL (.jsonl) instead"
            ) from e


def write_temp(path: Path, chunks: Iterable[str | bytes]) -> str:
    """Write ``chunks`` (text as UTF-8) to a synced temporary file beside ``path``; return its name."""
    temp = _Temp(path)
    try:
        for chunk in chunks:
            temp.write(chunk)
        return temp.finish()
    except BaseException:
        temp.discard()
        raise


def commit(tmp: str, path: Path, *, also: Iterable[str] = ()) -> None:
    """Rename ``tmp`` over ``path`` (on failure, remove it and the ``also`` temporary files)."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        remove(tmp)
        for other in also:
            remove(other)
        raise CurationError(f"{path}: cannot write the export: {e}") from e


def remove(tmp: str | None) -> None:
    """Delete the file ``tmp`` names, if there is one (None: nothing to delete)."""
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)
