"""Read one dataset file (or an in-memory table: :func:`read_table`) into raw records, one per
line or row; no format logic.

In: a path (optionally compressed: ``.gz``, ``.bz2``, ``.xz``, ``.zst`` after the type's own
extension, e.g. ``data.jsonl.gz``). Out: a :class:`RawFile` whose records are decoded objects each with its line
(JSONL line, 1-based JSON array element, or 1-based CSV / Parquet data row) and raw text,
or a per-record :class:`~curation.errors.Problem` where the line could not be decoded.
:func:`stream_raw` reads JSONL, CSV and Parquet a block at a time each time its records are
iterated, so a file of any length is read in bounded memory; :func:`read_raw` lists them.
A problem with the whole file (a JSON syntax error, an unreadable Parquet file, a bad CSV
header) raises :class:`~curation.errors.InvalidRecordError`; a file that cannot be opened
or has an unknown extension raises :class:`InputFileError`. JSON, JSON Lines, Parquet and
in-memory tables are read here; CSV in :mod:`curation.csv_rows`; a file's bytes
(compression, blocks, lines, digest) in :mod:`curation.raw_input`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from curation.csv_rows import stream_csv
from curation.errors import InputFileError, InvalidRecordError, Problem
from curation.formats import printable, type_name
from curation.json_errors import explain_json_error
from curation.raw_input import (
    BOM,
    COMPRESSIONS,
    EXTENSIONS,
    RawFile,
    RawRecord,
    Reread,
    blocks,
    dataset_stem,
    file_sha256,
    file_suffix,
    lines,
    null_byte,
)
from curation.tables import Table, is_hf_folder, load_hf_folder, table_of

#: Arrays / objects nested deeper than this inside one field make the record a problem: the
#: decoded value would overflow the stack of the recursive code that stores and renders it.
MAX_DEPTH = 100
_PARQUET_BATCH = 4096  # Parquet rows decoded at a time
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError)
#: The readers' names (``RawFile``, ``RawRecord``, ``dataset_stem`` and ``file_suffix`` live in
#: :mod:`curation.raw_input`, and are named here too for the modules that read files).
__all__ = [
    "RawFile",
    "RawRecord",
    "dataset_stem",
    "file_suffix",
    "jsonable",
    "read_raw",
    "read_table",
    "stream_raw",
]


def read_raw(path: str | Path, *, name: str | None = None) -> RawFile:
    """:func:`stream_raw` with every record read into a list (a file-level problem raises here)."""
    raw = stream_raw(path, name=name)
    return replace(raw, records=list(raw.records))


def stream_raw(path: str | Path, *, name: str | None = None) -> RawFile:
    """Open ``path`` for reading as raw records.

    Args:
        path: a ``.jsonl`` / ``.ndjson``, ``.json`` (array of objects; JSON Lines are
            accepted too), ``.csv`` or ``.parquet`` file, each possibly compressed, a folder
            of such files of one type (shards of one dataset), or a folder written by a
            Hugging Face dataset's ``save_to_disk`` (read with the optional ``datasets``).
        name: how problems name the file (default: ``path`` as given).

    Returns:
        The :class:`RawFile`; blank lines are skipped and a leading UTF-8 BOM is dropped. JSONL,
        CSV and Parquet records are read as they are iterated (a ``.json`` array, a Hugging
        Face folder and a compressed Parquet file are read whole, as such files must be).

    Raises:
        InputFileError: the file is missing, unreadable, damaged (compressed) or of an unknown type.
        InvalidRecordError: the file as a whole cannot be parsed (here, or while iterating).
    """
    name = str(path) if name is None else name
    if Path(path).is_dir():
        if is_hf_folder(Path(path)):
            return _raw_table(load_hf_folder(Path(path), name=name), name)
        return _stream_folder(Path(path), name)
    suffix, codec = file_suffix(path)
    if suffix not in EXTENSIONS:
        raise InputFileError(
            f"{name}: unknown file type {suffix or '(no extension)'!r}; expected one of {', '.join(EXTENSIONS)}"
            f" (optionally compressed: {', '.join(COMPRESSIONS)})"
        )
    digest = file_sha256(Path(path), name)  # of the file as stored
    if codec is not None:
        for _ in blocks(path, codec, name):  # a damaged stream fails here, before any record
            pass
    file_type = EXTENSIONS[suffix]
    if file_type == "parquet":
        return _stream_parquet(path, codec, digest, name)
    if file_type == "csv":
        return stream_csv(path, codec, digest, name)
    if file_type == "jsonl":
        return RawFile("jsonl", digest, None, Reread(lambda: _read_jsonl(lines(path, codec, name), name)))
    data = b"".join(blocks(path, codec, name))
    if not _looks_like_jsonl(data):
        return RawFile("json", digest, None, _read_json_array(data, name))
    if _one_object_over_lines(data):
        raise InvalidRecordError(
            [Problem(name, None, None, f"{_NOT_AN_ARRAY}, not one object over several lines (wrap the records in [ ])")]
        )
    return RawFile("jsonl", digest, None, list(_read_jsonl(data.split(b"\n"), name)))


def read_table(data: Any, *, name: str) -> RawFile:
    """An in-memory table (a pandas DataFrame, a ``datasets.Dataset``, a list of dicts; see
    :func:`curation.tables.table_of`) as raw records: row ``n`` (from 1) is line ``n``, a column
    is a field. Its sha256 is of the rows' JSON text.

    Raises:
        CurationError: ``data`` is not such a table; InvalidRecordError: a column appears twice.
    """
    return _raw_table(table_of(data, name=name), name)


def _raw_table(table: Table, name: str) -> RawFile:
    records = list(_row_records(table.rows, name))
    digest = hashlib.sha256("\n".join(r.raw for r in records).encode("utf-8")).hexdigest()
    return RawFile(table.kind, digest, table.columns, records)


def _stream_folder(folder: Path, name: str) -> RawFile:
    """A folder of shards of one type (``part-0000.parquet``, ``data-01.jsonl.gz``, ...) as one
    file: shards in name order, each record keeping its shard and line for problems."""
    shards = sorted(p for p in folder.iterdir() if p.is_file() and file_suffix(p)[0] in EXTENSIONS)
    if not shards:
        raise InputFileError(
            f"{name}: a folder with no data files (expected {', '.join(EXTENSIONS)}, optionally compressed)"
        )
    types = sorted({EXTENSIONS[file_suffix(p)[0]] for p in shards})
    if len(types) > 1:
        raise InputFileError(f"{name}: the folder mixes file types ({', '.join(types)}); a dataset is one type")
    parts = [(f"{name}/{p.name}", stream_raw(p, name=f"{name}/{p.name}")) for p in shards]
    first_name, first = parts[0]
    digest = hashlib.sha256("".join(f"{shard}\n{part.sha256}\n" for shard, part in parts).encode()).hexdigest()

    def records() -> Iterator[RawRecord]:
        for shard, part in parts:
            yield from (replace(r, source=shard) for r in part.records)
        for shard, part in parts[1:]:  # checked once every shard has been read, as before streaming
            if part.columns != first.columns:
                raise InvalidRecordError(
                    [Problem(shard, None, None, f"columns {list(part.columns or ())} differ from {first_name}'s")]
                )

    return RawFile(first.file_type, digest, first.columns, Reread(records))


def jsonable(value: Any) -> Any:
    """``value`` made strict-JSON-safe: NaN and infinities to null, dates to ISO text, other
    non-JSON types (Parquet decimals, durations, bytes) to text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, timedelta)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)


def _looks_like_jsonl(data: bytes) -> bool:
    """A ``.json`` file that holds JSON Lines: it starts with an object, not an array."""
    return data.removeprefix(BOM).lstrip().startswith(b"{")


def _one_object_over_lines(data: bytes) -> bool:
    """A ``.json`` file holding one pretty-printed object, which is not JSON Lines either."""
    body = data.removeprefix(BOM).lstrip()
    end = body.find(b"\n")
    try:
        json.loads(body[:end] if end >= 0 else body)
        return False  # the first line is a record by itself: JSON Lines
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    try:
        return isinstance(json.loads(body), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def _nested_too_deep(record: dict[str, Any]) -> str | None:
    """The first key whose value nests arrays / objects more than :data:`MAX_DEPTH` deep.

    Iterative on purpose: the point is to stop values that recursion cannot walk.
    """
    for key, value in record.items():
        stack = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, dict):
                children = list(item.values())
            elif isinstance(item, (list, tuple)):
                children = list(item)
            else:
                continue
            if depth > MAX_DEPTH:
                return printable(str(key))
            stack.extend((child, depth + 1) for child in children)
    return None


def _bad_utf8(data: bytes, offset: int, err: UnicodeDecodeError) -> str:
    return f"not valid UTF-8: byte 0x{data[err.start]:02x} at byte offset {offset + err.start}"


def _decode_json(text: str, *, with_line: bool = False) -> Any:
    """``json.loads``, with every way it can fail turned into a ValueError naming the spot."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {explain_json_error(e, with_line=with_line)}") from e
    except (ValueError, RecursionError) as e:  # integer too long; nesting too deep
        raise ValueError(f"invalid JSON: {e}") from e


def _object(line: int, raw: str, value: Any, name: str) -> RawRecord:
    if not isinstance(value, dict):
        message = f"record must be a JSON object, got {type_name(value)}"
        return RawRecord(line, raw, None, Problem(name, line, None, message))
    deep = _nested_too_deep(value)
    if deep is not None:
        message = f"is nested more than {MAX_DEPTH} levels deep"
        return RawRecord(line, raw, None, Problem(name, line, deep, message))
    return RawRecord(line, raw, value)


def _dump(value: Any) -> str:
    """One JSON array element as text, for a rejected record's raw line."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except RecursionError:  # checked and reported by _object
        return "(nested too deep to show)"
    except UnicodeEncodeError:  # an unpaired \ud83d escape: keep it escaped, as the file had it
        return json.dumps(value)
    return text


def _read_jsonl(lines: Iterable[bytes], name: str) -> Iterator[RawRecord]:
    """Records of JSON Lines, from the file's lines without their ``\\n``."""
    offset = 0
    for number, chunk in enumerate(lines, start=1):
        start, offset = offset, offset + len(chunk) + 1
        body = chunk.removesuffix(b"\r")
        if body.startswith(BOM):  # files joined with cat keep each part's BOM
            body, start = body[len(BOM) :], start + len(BOM)
        if not body.strip():
            continue
        message = None
        if b"\x00" in body:
            message = null_byte(start + body.index(0))
        else:
            try:
                text = body.decode("utf-8")
                value = _decode_json(text)
            except UnicodeDecodeError as e:
                message = _bad_utf8(body, start, e)
            except ValueError as e:
                message = str(e)
        if message is None:
            yield _object(number, text, value, name)
        else:
            raw = body.decode("utf-8", errors="replace")
            yield RawRecord(number, raw, None, Problem(name, number, None, message))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


_NOT_AN_ARRAY = "must hold a JSON array of records (or one JSON object per line)"


def _read_json_array(data: bytes, name: str) -> list[RawRecord]:
    skip = len(BOM) if data.startswith(BOM) else 0
    if b"\x00" in data:
        at = data.index(b"\x00")
        message = f"{null_byte(at)} (line {_line_of(data, at)})"
        raise InvalidRecordError([Problem(name, None, None, message)])
    try:
        value = _decode_json(data[skip:].decode("utf-8"), with_line=True)
    except UnicodeDecodeError as e:
        where = f" (line {_line_of(data, skip + e.start)})"
        raise InvalidRecordError([Problem(name, None, None, _bad_utf8(data[skip:], skip, e) + where)]) from e
    except ValueError as e:
        raise InvalidRecordError([Problem(name, None, None, str(e))]) from e
    if not isinstance(value, list):
        raise InvalidRecordError([Problem(name, None, None, _NOT_AN_ARRAY)])
    return [_object(i, _dump(v), v, name) for i, v in enumerate(value, start=1)]


def _stream_parquet(path: str | Path, codec: str | None, digest: str, name: str) -> RawFile:
    columns = tuple(_parquet_fragment(path, codec, name).physical_schema.names)
    return RawFile("parquet", digest, columns, Reread(lambda: _read_parquet(path, codec, name)))


def _parquet_fragment(path: str | Path, codec: str | None, name: str) -> pads.Fragment:
    """The file as ``pq.read_table`` opens it (so its errors read the same), not yet read."""
    source = pa.OSFile(str(path)) if codec is None else pa.BufferReader(b"".join(blocks(path, codec, name)))
    try:
        fragment = pads.ParquetFileFormat().make_fragment(source)
        fragment.physical_schema  # noqa: B018 -- opens the file: a bad one fails here
    except _PARQUET_ERRORS as e:
        raise _parquet_error(name, e) from e
    return fragment


def _read_parquet(path: str | Path, codec: str | None, name: str) -> Iterator[RawRecord]:
    batches = iter(_parquet_fragment(path, codec, name).to_batches(batch_size=_PARQUET_BATCH))
    first = 1
    while True:
        try:
            batch = next(batches, None)
            rows = None if batch is None else batch.to_pylist()
        except _PARQUET_ERRORS as e:
            raise _parquet_error(name, e) from e
        if rows is None:
            return
        yield from _row_records(rows, name, first=first)
        first += len(rows)


def _parquet_error(name: str, error: Exception) -> InvalidRecordError:
    return InvalidRecordError([Problem(name, None, None, f"cannot read Parquet: {error}")])


def _row_records(rows: list[Any], name: str, *, first: int = 1) -> Iterator[RawRecord]:
    """Decoded rows (Parquet, in-memory tables) as raw records, row ``n`` (from 1) as line ``n``."""
    for number, row in enumerate(rows, start=first):
        if not isinstance(row, dict):  # a list of dicts can hold anything
            yield _object(number, _dump(jsonable(row)), row, name)
            continue
        deep = _nested_too_deep(row)
        if deep is not None:
            problem = Problem(name, number, deep, f"is nested more than {MAX_DEPTH} levels deep")
            yield RawRecord(number, "(nested too deep to show)", None, problem)
            continue
        yield RawRecord(number, _dump(jsonable(row)), row)
