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
or has an unknown extension raises :class:`InputFileError`.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import itertools
import json
import lzma
import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from curation.errors import InputFileError, InvalidRecordError, Problem
from curation.formats import printable, quoted, type_name
from curation.json_errors import explain_json_error
from curation.tables import Table, is_hf_folder, load_hf_folder, table_of

#: Arrays / objects nested deeper than this inside one field make the record a problem: the
#: decoded value would overflow the stack of the recursive code that stores and renders it.
MAX_DEPTH = 100
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
#: A compression suffix after the type's extension -> the codec's name.
COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 20  # bytes read at a time
_PARQUET_BATCH = 4096  # Parquet rows decoded at a time
_READ_ERRORS = (EOFError, OSError, ValueError, lzma.LZMAError, zlib.error)
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError)


@dataclass(frozen=True)
class RawRecord:
    """One line or row: its decoded record, or the problem that stopped decoding it."""

    line: int
    raw: str
    record: dict[str, Any] | None
    problem: Problem | None = None
    source: str | None = None  # the shard it came from, when the input is a folder of shards


@dataclass(frozen=True)
class RawFile:
    """A file's type, the sha256 of its bytes, its columns (CSV / Parquet) and records: a list
    (:func:`read_raw`), or (:func:`stream_raw`) an iterable that reads the file afresh each time."""

    file_type: str
    sha256: str
    columns: tuple[str, ...] | None
    records: Iterable[RawRecord]


class _Reread:
    """Records read afresh, one at a time, on every iteration."""

    def __init__(self, read: Callable[[], Iterator[RawRecord]]):
        self._read = read

    def __iter__(self) -> Iterator[RawRecord]:
        return self._read()


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
    digest = _sha256(Path(path), name)  # of the file as stored
    if codec is not None:
        for _ in _blocks(path, codec, name):  # a damaged stream fails here, before any record
            pass
    file_type = EXTENSIONS[suffix]
    if file_type == "parquet":
        return _stream_parquet(path, codec, digest, name)
    if file_type == "csv":
        return _stream_csv(path, codec, digest, name)
    if file_type == "jsonl":
        return RawFile("jsonl", digest, None, _Reread(lambda: _read_jsonl(_lines(path, codec, name), name)))
    data = b"".join(_blocks(path, codec, name))
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

    return RawFile(first.file_type, digest, first.columns, _Reread(records))


def file_suffix(path: str | Path) -> tuple[str, str | None]:
    """The type's extension (lower case) and the compression codec, if any:
    ``data.jsonl.gz`` -> (``.jsonl``, ``gzip``)."""
    path = Path(path)
    last = path.suffix.lower()
    if last in COMPRESSIONS:
        return path.with_suffix("").suffix.lower(), COMPRESSIONS[last]
    return last, None


def dataset_stem(path: str | Path) -> str:
    """The file's name without its type and compression extensions: the default dataset name."""
    path = Path(path)
    return (path.with_suffix("") if path.suffix.lower() in COMPRESSIONS else path).with_suffix("").name


def _sha256(path: Path, name: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError as e:
        raise InputFileError(f"{name}: file not found") from e
    except IsADirectoryError as e:
        raise InputFileError(f"{name}: is a directory, not a file") from e
    except OSError as e:
        raise InputFileError(f"{name}: cannot read the file: {e.strerror or e}") from e


def _blocks(path: str | Path, codec: str | None, name: str) -> Iterator[bytes]:
    """The file's content, decompressed, a block at a time; a damaged or cut-short stream
    raises InputFileError in plain words."""
    try:
        if codec == "zstd":
            yield from _zstd_blocks(path)
            return
        if codec == "bzip2" and Path(path).stat().st_size == 0:
            return  # bz2 reads an empty file as empty (its file object would call it cut short)
        opener = {None: open, "gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[codec]
        with opener(path, "rb") as handle:
            while block := handle.read(_BLOCK):
                yield block
    except _READ_ERRORS as e:
        if codec is None:
            raise InputFileError(f"{name}: cannot read the file: {getattr(e, 'strerror', None) or e}") from e
        if isinstance(e, EOFError) or "ended before the end-of-stream" in str(e):
            raise InputFileError(f"{name}: the {codec} file is cut short (it ends before its last block)") from e
        raise InputFileError(f"{name}: not a valid {codec} file ({e})") from e


def _zstd_blocks(path: str | Path) -> Iterator[bytes]:
    import zstandard  # a dependency; imported only for .zst files

    reader = zstandard.ZstdDecompressor().decompressobj()
    with open(path, "rb") as handle:
        while not reader.eof and (block := handle.read(_BLOCK)):
            try:
                out = reader.decompress(block)
            except zstandard.ZstdError as e:
                raise ValueError(str(e)) from e
            if out:
                yield out
    if not reader.eof:
        raise EOFError("zstd frame not finished")


def _lines(path: str | Path, codec: str | None, name: str) -> Iterator[bytes]:
    """The file's lines split at ``\\n`` (which they lose), read a block at a time."""
    rest = b""
    for block in _blocks(path, codec, name):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


class _BlockFile(io.RawIOBase):
    """Blocks of bytes as a readable binary file (for :class:`io.TextIOWrapper`)."""

    def __init__(self, blocks: Iterator[bytes]):
        self._blocks, self._block, self._at = blocks, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at >= len(self._block):
            self._block, self._at = next(self._blocks, None), 0
            if self._block is None:
                self._block = b""
                return 0
        n = min(len(buffer), len(self._block) - self._at)
        buffer[:n] = memoryview(self._block)[self._at : self._at + n]
        self._at += n
        return n


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


def _null_byte(offset: int) -> str:
    return f"contains a null byte at byte offset {offset}"


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
            message = _null_byte(start + body.index(0))
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
        message = f"{_null_byte(at)} (line {_line_of(data, at)})"
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


class _LineTap:
    """Feeds ``csv.reader`` one physical line at a time (a leading BOM dropped) and remembers
    what it consumed."""

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self.taken: list[str] = []
        self.skip = 0  # bytes of BOM dropped before the first line
        self._first = True

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if self._first and line.startswith("\ufeff"):
            line, self.skip = line[1:], len(BOM)
        self._first = False
        self.taken.append(line)
        return line


def _stream_csv(path: str | Path, codec: str | None, digest: str, name: str) -> RawFile:
    rows = _read_csv(path, codec, name)
    header = next(rows)
    rows.close()
    return RawFile("csv", digest, header, _Reread(lambda: itertools.islice(_read_csv(path, codec, name), 1, None)))


def _read_csv(path: str | Path, codec: str | None, name: str) -> Iterator[Any]:
    """The header (a tuple of column names), then each data row as a raw record."""
    # One response can be longer than csv's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    binary = io.BufferedReader(_BlockFile(_blocks(path, codec, name)), _BLOCK)
    tap = _LineTap(io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline=""))
    reader = csv.reader(tap)
    try:
        header = next((row for row in reader if row), None)  # blank lines before it too
        if header is None:
            yield ()
            return
        if any(_first_bad_char(c) is not None for c in header):
            raise InvalidRecordError([Problem(name, None, None, "header is not valid UTF-8 text")])
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise InvalidRecordError(
                [Problem(name, None, None, f"column {quoted(dupes[0])} appears more than once in the header")]
            )
        yield tuple(header)
        last = "".join(tap.taken)
        offset = tap.skip + len(last.encode("utf-8", "surrogateescape"))
        tap.taken.clear()
        count = 0
        for row in reader:
            raw = "".join(tap.taken)
            tap.taken.clear()
            if row:  # blank lines are not data rows
                count += 1
                yield _csv_record(count, raw, row, header, offset, name)
                last = raw
            offset += len(raw.encode("utf-8", "surrogateescape"))
        if _quote_never_closed(last):  # it swallowed every line after it into one cell
            raise InvalidRecordError(
                [
                    Problem(
                        name,
                        count or None,
                        None,
                        ("" if count else "header ") + "opens a quoted field that is never closed "
                        "(it runs to the end of the file)",
                    )
                ]
            )
    except csv.Error as e:
        raise InvalidRecordError([Problem(name, None, None, f"invalid CSV: {e}")]) from e


def _quote_never_closed(raw: str) -> bool:
    """Whether ``raw``, the last row read, ends inside a quoted field (the lenient reader
    takes the rest of the file as the field's text; the strict one says so)."""
    try:
        for _ in csv.reader(io.StringIO(raw, newline=""), strict=True):
            pass
    except csv.Error as e:
        return "unexpected end of data" in str(e)
    return False


def _first_bad_char(text: str) -> int | None:
    """Where ``text`` has a NUL or an undecodable byte (kept by ``surrogateescape``)."""
    return next((i for i, ch in enumerate(text) if ch == "\x00" or "\udc80" <= ch <= "\udcff"), None)


def _csv_record(number: int, raw: str, row: list[str], header: list[str], offset: int, name: str) -> RawRecord:
    shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace").rstrip("\r\n")
    bad = _first_bad_char(raw)
    if bad is not None:
        at = offset + len(raw[:bad].encode("utf-8", "surrogateescape"))
        message = (
            _null_byte(at)
            if raw[bad] == "\x00"
            else f"not valid UTF-8: byte 0x{ord(raw[bad]) - 0xDC00:02x} at byte offset {at}"
        )
        return RawRecord(number, shown, None, Problem(name, number, None, message))
    if len(row) != len(header):
        message = f"row has {len(row)} cells but the header has {len(header)}"
        return RawRecord(number, shown, None, Problem(name, number, None, message))
    return RawRecord(number, shown, dict(zip(header, row)))


def _stream_parquet(path: str | Path, codec: str | None, digest: str, name: str) -> RawFile:
    columns = tuple(_parquet_fragment(path, codec, name).physical_schema.names)
    return RawFile("parquet", digest, columns, _Reread(lambda: _read_parquet(path, codec, name)))


def _parquet_fragment(path: str | Path, codec: str | None, name: str) -> pads.Fragment:
    """The file as ``pq.read_table`` opens it (so its errors read the same), not yet read."""
    source = pa.OSFile(str(path)) if codec is None else pa.BufferReader(b"".join(_blocks(path, codec, name)))
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
