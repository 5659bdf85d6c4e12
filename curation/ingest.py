"""Stage 1, ingest: read a dataset file (or an in-memory table), validate every record and store it.

In: a ``.jsonl`` / ``.ndjson``, ``.json``, ``.csv`` or ``.parquet`` file of ``chat``,
``alpaca``, ``sharegpt`` or ``prompt-response`` records (see :mod:`curation.formats`), or a
pandas DataFrame, ``datasets.Dataset`` or list of dicts of them (:func:`read_records`).
Out: the stored dataset (:func:`import_file`, :func:`import_records`) or a
:class:`~curation.records.ParsedDataset` of :class:`~curation.records.Example` (:func:`read_dataset`),
or an :class:`~curation.errors.InvalidRecordError` listing every problem as
``file:line: field message``, e.g. ``data.jsonl:9: id 'abc' duplicates line 3``.

A file is read twice, a record at a time: once to decide its format
(:mod:`curation.file_format`), once to check each record and stage it
(:class:`~curation.store.Staging`, a chunk at a time), so that memory stays flat as the file
grows. The staging finds duplicate ids and names the examples; only a file without
problems (or, with ``skip_invalid``, its good records) reaches the dataset, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import ConfigError, InputFileError, InvalidRecordError, Problem
from curation.file_format import decide_format
from curation.formats import (
    Prompt,
    check_format,
    detect_format,
    has_shape_keys,
    parse_record,
    quoted,
    type_name,
)
from curation.readers import RawFile, RawRecord, dataset_stem, jsonable, read_table, stream_raw
from curation.records import ParsedDataset, Rejected
from curation.store import DatasetInfo, SourceFile, StagedRecord, Staging, Store, scratch_staging

__all__ = [
    "ImportResult",
    "InputFileError",
    "content_id",
    "import_file",
    "import_records",
    "read_dataset",
    "read_records",
]

#: Records checked and staged at a time: what bounds the memory an import takes.
CHUNK = 5000


@dataclass
class _Checked:
    """One raw record after validation: its problems, or its parsed parts."""

    raw: RawRecord
    problems: list[Problem] = field(default_factory=list)
    prompt: Prompt = ()
    response: str = ""
    own_id: str | None = None  # a valid own id (a duplicate is found later, across the file)
    id_slot: int = 0  # where among the problems a duplicate id's goes
    record: str = ""  # the record as stored: JSON text


@dataclass(frozen=True)
class _Options:
    """How to read records (see :func:`read_dataset`), checked by :func:`_options`."""

    fmt: str | None
    prompt_col: str | None
    response_col: str | None
    skip_invalid: bool


@dataclass
class _Bad:
    """A record with problems, as much of it as reports need."""

    problems: list[Problem]
    id_slot: int
    raw: str


def read_dataset(
    path: str | Path,
    *,
    fmt: str | None = None,
    prompt_col: str | None = None,
    response_col: str | None = None,
    skip_invalid: bool = False,
) -> ParsedDataset:
    """Read and validate one dataset file.

    Args:
        path: the file; its extension picks the reader. Problems name it as given.
        fmt: the record shape; by default the shape most records have. Records of another
            shape are problems (``data.jsonl:7: record looks like alpaca but the file is chat``).
        prompt_col: prompt column of ``prompt-response`` data (implies that format);
            default: the pair most records have (prompt/response, prompt/completion,
            question/answer, input/output), else ``prompt``.
        response_col: the response column, likewise.
        skip_invalid: keep going past bad records, returning them in ``rejected`` (one
            :class:`~curation.records.Rejected` per record, with its first problem).

    Returns:
        The examples in file order. ``example_id`` is the record's ``id`` as text, else
        :func:`content_id`, suffixed ``~2``, ``~3``... for repeats; ``options`` holds the
        ``fmt``, ``prompt_col``, ``response_col`` used and ``skip_invalid``.

    Raises:
        InputFileError: the file is missing, unreadable or of an unknown type.
        InvalidRecordError: any record is bad (only when none is good, with
            ``skip_invalid``), or the file as a whole is (no records, missing columns,
            shape not recognised), listing every problem.
        ConfigError: an unknown ``fmt``, or columns given for another format.
    """
    options = _options(fmt, prompt_col, response_col, skip_invalid)
    return _parse(stream_raw(path, name=str(path)), str(path), options)


def read_records(
    data: Any,
    *,
    source: str,
    fmt: str | None = None,
    prompt_col: str | None = None,
    response_col: str | None = None,
    skip_invalid: bool = False,
) -> ParsedDataset:
    """Validate an in-memory table exactly as :func:`read_dataset` validates a file.

    Args:
        data: a pandas DataFrame, a ``datasets.Dataset`` or a list of dicts (see
            :func:`curation.tables.table_of`); row ``n``, counted from 1, is line ``n`` and a
            column is a field: ``DataFrame:3: response must be a string, got integer``.
        source: how problems and the store name the table (``DataFrame``).
        fmt, prompt_col, response_col, skip_invalid: as for :func:`read_dataset`.
    Raises:
        CurationError: ``data`` is not such a table; InvalidRecordError, ConfigError: as for
            :func:`read_dataset`.
    """
    options = _options(fmt, prompt_col, response_col, skip_invalid)
    return _parse(_table(data, source), source, options)


def _table(data: Any, source: str) -> RawFile:
    raw = read_table(data, name=source)
    if not raw.records:
        raise InvalidRecordError([Problem(source, None, None, "has no rows")])
    return raw


def _parse(raw: RawFile, name: str, options: _Options) -> ParsedDataset:
    """Validate through a scratch staging and return what it keeps."""
    with scratch_staging() as staging:
        source, rejected = _check(staging, raw, name, options)
        return ParsedDataset(
            path=source.path,
            file_type=source.file_type,
            format=source.format,
            sha256=source.sha256,
            examples=staging.examples(),
            rejected=rejected,
            options=source.options,
        )


def _check(staging: Staging, raw: RawFile, name: str, options: _Options) -> tuple[SourceFile, list[Rejected]]:
    """Check and stage every record, then settle the staging; raise when a problem forbids it."""
    fmt, cols = decide_format(
        raw, name, fmt=options.fmt, prompt_col=options.prompt_col, response_col=options.response_col
    )
    skip_invalid = options.skip_invalid
    bad = _stage_records(staging, raw.records, fmt, cols, name, keep_raw=skip_invalid)
    for dup in staging.duplicates():
        at = f"line {dup.first_line}" if dup.first_source == dup.source else f"{dup.first_source}:{dup.first_line}"
        problem = Problem(dup.source, dup.line, "id", f"{quoted(dup.own_id)} duplicates {at}")
        found = bad.setdefault(dup.seq, _Bad([], 0, dup.raw or ""))
        found.problems.insert(found.id_slot, problem)
    kept = staging.settle()
    ordered = [bad[seq] for seq in sorted(bad)]
    problems = [p for b in ordered for p in b.problems]
    if problems and (not skip_invalid or not kept):
        raise InvalidRecordError(problems)
    used = {"fmt": fmt, "prompt_col": cols[0], "response_col": cols[1], "skip_invalid": skip_invalid}
    source = SourceFile(path=name, sha256=raw.sha256, file_type=raw.file_type, format=fmt, options=used)
    return source, [Rejected(b.problems[0], b.raw) for b in ordered]


def _stage_records(
    staging: Staging, records: Iterable[RawRecord], fmt: str, cols: tuple, name: str, *, keep_raw: bool
) -> dict[int, _Bad]:
    """Check each record and stage it, :data:`CHUNK` at a time; return the bad ones by position."""
    bad: dict[int, _Bad] = {}
    chunk: list[StagedRecord] = []
    for seq, raw in enumerate(records):
        c = _check_record(raw, fmt, cols, name)
        if c.problems:
            bad[seq] = _Bad(c.problems, c.id_slot, raw.raw)
        if c.own_id is not None or not c.problems:  # a bad record's own id still counts for duplicates
            chunk.append(_staged(seq, c, name, keep_raw=keep_raw))
        if len(chunk) >= CHUNK:
            staging.add(chunk)
            chunk = []
    staging.add(chunk)
    return bad


def _staged(seq: int, c: _Checked, name: str, *, keep_raw: bool) -> StagedRecord:
    good = not c.problems
    return StagedRecord(
        seq=seq,
        source=c.raw.source or name,
        line=c.raw.line,
        own_id=c.own_id,
        good=good,
        base=content_id(c.prompt, c.response) if good and c.own_id is None else None,
        prompt=c.prompt,
        response=c.response,
        record=c.record,
        raw=c.raw.raw if good and keep_raw and c.own_id is not None else None,  # a duplicate's, if skipped
    )


def content_id(prompt: Prompt, response: str) -> str:
    """The first 16 hex digits of the sha256 of canonical JSON of prompt and response."""
    payload = {"prompt": [[m.role, m.content] for m in prompt], "response": response}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _options(fmt: str | None, prompt_col: str | None, response_col: str | None, skip_invalid: bool) -> _Options:
    if fmt is not None:
        check_format(fmt)
    for key, value in (("prompt_col", prompt_col), ("response_col", response_col)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{key} must be a non-empty column name, got {value!r}")
    if (prompt_col or response_col) and fmt not in (None, "prompt-response"):
        raise ConfigError(f"prompt_col / response_col apply to the prompt-response format, not {fmt!r}")
    if prompt_col is not None and prompt_col == response_col:
        raise ConfigError(f"prompt_col and response_col are both {prompt_col!r}")
    return _Options(fmt, prompt_col, response_col, skip_invalid)


def _check_record(raw: RawRecord, fmt: str, cols: tuple, name: str) -> _Checked:
    c = _Checked(raw)
    where = raw.source or name  # a folder's record names its shard
    if raw.problem is not None or raw.record is None:
        c.problems.append(raw.problem or Problem(where, raw.line, None, "cannot be read"))
        return c
    record, line = raw.record, raw.line
    shape = detect_format(record)
    if shape and shape != fmt and not has_shape_keys(record, fmt, prompt_col=cols[0], response_col=cols[1]):
        c.problems.append(Problem(where, line, None, f"record looks like {shape} but the file is {fmt}"))
    else:
        try:
            c.prompt, c.response = parse_record(
                record, fmt, prompt_col=cols[0], response_col=cols[1], file=where, line=line
            )
        except InvalidRecordError as e:
            c.problems.extend(e.problems)
    if "id" in record:
        c.own_id, message = _own_id(record["id"])
        if message:
            c.problems.append(Problem(where, line, "id", message))
    c.id_slot = len(c.problems)
    c.record, unicode = _stored_record(record, where, line)
    c.problems.extend(unicode)
    return c


def _own_id(value: Any) -> tuple[str | None, str | None]:
    """The record's id as text, or the reason it cannot be one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    if isinstance(value, str):
        return (value, None) if value.strip() else (None, "is empty")
    return None, f"must be a string or integer, got {type_name(value)}"


def _stored_record(record: dict[str, Any], name: str, line: int) -> tuple[str, list[Problem]]:
    """The record as stored (JSON text), and its problem if it cannot be: a JSON ``\\ud83d``
    escape without its pair decodes to text that cannot be stored."""
    text = json.dumps(jsonable(record), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        code = f"\\u{ord(e.object[e.start]):04x}"
        return text, [
            Problem(name, line, None, f"contains an unpaired surrogate escape ({code}), which is not valid Unicode")
        ]
    return text, []


@dataclass(frozen=True)
class ImportResult:
    dataset: DatasetInfo
    rejected: list[Rejected]


def import_file(
    store: Store,
    path: str | Path,
    *,
    name: str | None = None,
    fmt: str | None = None,
    prompt_col: str | None = None,
    response_col: str | None = None,
    skip_invalid: bool = False,
    append: bool = False,
) -> ImportResult:
    """Read, validate and store one dataset file, all or nothing.

    Args:
        store: the project store.
        path: the dataset file (see :func:`read_dataset`).
        name: the dataset's name in the store (default: the file's stem).
        fmt, prompt_col, response_col, skip_invalid: as for :func:`read_dataset`.
        append: add the file's new examples (ids not yet stored) to an existing dataset.
    Returns:
        The stored dataset and the records left out (only with ``skip_invalid``).
    Raises:
        InvalidRecordError: bad records and not ``skip_invalid``; nothing is written.
        StorageError: the name is taken; nothing is written.
    """
    options = _options(fmt, prompt_col, response_col, skip_invalid)
    raw = stream_raw(path, name=str(path))
    return _import(store, raw, str(path), options, name=name or dataset_stem(path), append=append)


def import_records(
    store: Store,
    data: Any,
    *,
    name: str,
    source: str | None = None,
    fmt: str | None = None,
    prompt_col: str | None = None,
    response_col: str | None = None,
    skip_invalid: bool = False,
    append: bool = False,
) -> ImportResult:
    """Validate and store an in-memory table, all or nothing, as :func:`import_file` does a file.

    Args:
        data: see :func:`read_records`.
        name: the dataset's name in the store.
        source: how problems and the store name the table (default: its type, ``DataFrame``).
        fmt, prompt_col, response_col, skip_invalid, append: as for :func:`import_file`.
    Raises:
        as :func:`import_file`, and CurationError when ``data`` is not a table.
    """
    options = _options(fmt, prompt_col, response_col, skip_invalid)
    source = source or type(data).__name__
    return _import(store, _table(data, source), source, options, name=name, append=append)


def _import(store: Store, raw: RawFile, source: str, options: _Options, *, name: str, append: bool) -> ImportResult:
    with store.staging() as staging:
        checked, rejected = _check(staging, raw, source, options)
        info = store.add_staged(staging, checked, name=name, rejected=rejected, append=append)
    return ImportResult(dataset=info, rejected=rejected)
