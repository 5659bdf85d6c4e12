"""What a reader gives back, and the bytes of a file as readers take them.

:class:`RawRecord` (one line or row, decoded or with its problem) and :class:`RawFile` (a
file's type, digest, columns and records); a file's type and compression from its name
(:func:`file_suffix`), its sha256, and its content decompressed a block or a line at a time,
with a damaged or cut-short stream named in plain words (:class:`InputFileError`).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.errors import InputFileError, Problem

EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
#: A compression suffix after the type's extension -> the codec's name.
COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
BOM = b"\xef\xbb\xbf"
BLOCK = 1 << 20  # bytes read at a time
_READ_ERRORS = (EOFError, OSError, ValueError, lzma.LZMAError, zlib.error)


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
    (:func:`curation.readers.read_raw`), or (:func:`curation.readers.stream_raw`) an iterable
    that reads the file afresh each time."""

    file_type: str
    sha256: str
    columns: tuple[str, ...] | None
    records: Iterable[RawRecord]


class Reread:
    """Records read afresh, one at a time, on every iteration."""

    def __init__(self, read: Callable[[], Iterator[RawRecord]]):
        self._read = read

    def __iter__(self) -> Iterator[RawRecord]:
        return self._read()


def null_byte(offset: int) -> str:
    """The problem of a NUL byte in text, where it is."""
    return f"contains a null byte at byte offset {offset}"


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


def file_sha256(path: Path, name: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError as e:
        raise InputFileError(f"{name}: file not found") from e
    except IsADirectoryError as e:
        raise InputFileError(f"{name}: is a directory, not a file") from e
    except OSError as e:
        raise InputFileError(f"{name}: cannot read the file: {e.strerror or e}") from e


def blocks(path: str | Path, codec: str | None, name: str) -> Iterator[bytes]:
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
            while block := handle.read(BLOCK):
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
        while not reader.eof and (block := handle.read(BLOCK)):
            try:
                out = reader.decompress(block)
            except zstandard.ZstdError as e:
                raise ValueError(str(e)) from e
            if out:
                yield out
    if not reader.eof:
        raise EOFError("zstd frame not finished")


def lines(path: str | Path, codec: str | None, name: str) -> Iterator[bytes]:
    """The file's lines split at ``\\n`` (which they lose), read a block at a time."""
    rest = b""
    for block in blocks(path, codec, name):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


class BlockFile(io.RawIOBase):
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
