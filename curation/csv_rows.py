"""CSV files as raw records: a header, then one record per data row (pure reading, no format
logic; :mod:`curation.readers` dispatches here).

Rows are read a block at a time, so a file of any length stays in bounded memory; each row
keeps its 1-based number and its raw text, and a row that is not valid UTF-8, holds a NUL
byte or has the wrong number of cells becomes a problem naming the file, the row and the byte
offset. A header that is not text or repeats a column, a quote that never closes, and what
``csv`` itself rejects fail the whole file (:class:`InvalidRecordError`).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from curation.errors import InvalidRecordError, Problem
from curation.formats import quoted
from curation.raw_input import BLOCK, BOM, BlockFile, RawFile, RawRecord, Reread, blocks, null_byte


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


def stream_csv(path: str | Path, codec: str | None, digest: str, name: str) -> RawFile:
    rows = _read_csv(path, codec, name)
    header = next(rows)
    rows.close()
    return RawFile("csv", digest, header, Reread(lambda: itertools.islice(_read_csv(path, codec, name), 1, None)))


def _read_csv(path: str | Path, codec: str | None, name: str) -> Iterator[Any]:
    """The header (a tuple of column names), then each data row as a raw record."""
    # One response can be longer than csv's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    binary = io.BufferedReader(BlockFile(blocks(path, codec, name)), BLOCK)
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
            null_byte(at)
            if raw[bad] == "\x00"
            else f"not valid UTF-8: byte 0x{ord(raw[bad]) - 0xDC00:02x} at byte offset {at}"
        )
        return RawRecord(number, shown, None, Problem(name, number, None, message))
    if len(row) != len(header):
        message = f"row has {len(row)} cells but the header has {len(header)}"
        return RawRecord(number, shown, None, Problem(name, number, None, message))
    return RawRecord(number, shown, dict(zip(header, row)))
