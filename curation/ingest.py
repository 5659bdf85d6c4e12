"""Stage 1, ingest: read a dataset file (or an in-memory table) and validate every record.

In: a ``.jsonl`` / ``.ndjson``, ``.json``, ``.csv`` or ``.parquet`` file of ``chat``,
``alpaca``, ``sharegpt`` or ``prompt-response`` records (see :mod:`curation.formats`), or a
pandas DataFrame, ``datasets.Dataset`` or list of dicts of them (:func:`read_records`).
Out: a :class:`~curation.records.ParsedDataset` of :class:`~curation.records.Example`,
or an :class:`~curation.errors.InvalidRecordError` listing every problem as
``file:line: field message``, e.g. ``data.jsonl:9: id 'abc' duplicates line 3``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import ConfigError, InputFileError, InvalidRecordError, Problem
from curation.formats import (
    DEFAULT_COLUMNS,
    Prompt,
    check_format,
    detect_columns,
    detect_format,
    has_shape_keys,
    parse_record,
    printable,
    quoted,
    type_name,
)
from curation.readers import RawFile, RawRecord, dataset_stem, jsonable, read_raw, read_table
from curation.records import Example, ParsedDataset, Rejected
from curation.store import DatasetInfo, Store

__all__ = [
    "ImportResult",
    "InputFileError",
    "content_id",
    "import_file",
    "import_records",
    "read_dataset",
    "read_records",
]

_REQUIRED_COLUMNS = {"chat": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output")}
_COLUMN_HINT = " (name them with --prompt-col / --response-col)"


@dataclass
class _Checked:
    """One raw record after validation: its problems, or its parsed parts."""

    raw: RawRecord
    problems: list[Problem] = field(default_factory=list)
    prompt: Prompt = ()
    response: str = ""
    own_id: str | None = None


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
    _check_options(fmt, prompt_col, response_col)
    name = str(path)
    return _validate(read_raw(path, name=name), name, fmt, prompt_col, response_col, skip_invalid)


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
    _check_options(fmt, prompt_col, response_col)
    raw = read_table(data, name=source)
    if not raw.records:
        raise InvalidRecordError([Problem(source, None, None, "has no rows")])
    return _validate(raw, source, fmt, prompt_col, response_col, skip_invalid)


def _validate(
    raw: RawFile, name: str, fmt: str | None, prompt_col: str | None, response_col: str | None, skip_invalid: bool
) -> ParsedDataset:
    if not raw.records:
        raise InvalidRecordError([Problem(name, None, None, "file has no records")])
    fmt, cols = _decide_format(raw, fmt, prompt_col, response_col, name)
    checked = _check_records(raw.records, fmt, cols, name)
    problems = [p for c in checked for p in c.problems]
    good = [c for c in checked if not c.problems]
    if problems and (not skip_invalid or not good):
        raise InvalidRecordError(problems)
    return ParsedDataset(
        path=name,
        file_type=raw.file_type,
        format=fmt,
        sha256=raw.sha256,
        examples=_examples(good),
        rejected=[Rejected(c.problems[0], c.raw.raw) for c in checked if c.problems],
        options={"fmt": fmt, "prompt_col": cols[0], "response_col": cols[1], "skip_invalid": skip_invalid},
    )


def content_id(prompt: Prompt, response: str) -> str:
    """The first 16 hex digits of the sha256 of canonical JSON of prompt and response."""
    payload = {"prompt": [[m.role, m.content] for m in prompt], "response": response}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _check_options(fmt: str | None, prompt_col: str | None, response_col: str | None) -> None:
    if fmt is not None:
        check_format(fmt)
    for key, value in (("prompt_col", prompt_col), ("response_col", response_col)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{key} must be a non-empty column name, got {value!r}")
    if (prompt_col or response_col) and fmt not in (None, "prompt-response"):
        raise ConfigError(f"prompt_col / response_col apply to the prompt-response format, not {fmt!r}")
    if prompt_col is not None and prompt_col == response_col:
        raise ConfigError(f"prompt_col and response_col are both {prompt_col!r}")


def _decide_format(
    raw: RawFile, fmt: str | None, prompt_col: str | None, response_col: str | None, name: str
) -> tuple[str, tuple[str | None, ...]]:
    """The file's format and prompt-response columns; raises when it cannot be told."""
    readable = [r.record for r in raw.records if r.record is not None]
    if not readable:
        raise InvalidRecordError([r.problem for r in raw.records if r.problem])
    if fmt is None and (prompt_col or response_col):
        fmt = "prompt-response"
    if fmt is None:
        shapes = Counter(s for s in map(detect_format, readable) if s)
        if shapes:
            fmt = shapes.most_common(1)[0][0]
        elif raw.columns is not None:
            fmt = "prompt-response"
        else:
            keys = ", ".join(printable(str(k)) for k in readable[0]) or "(none)"
            unknown = Problem(
                name,
                None,
                None,
                (
                    "cannot tell the record format: expected messages (chat), conversations "
                    "(sharegpt), instruction/output (alpaca) or prompt/response columns; the first "
                    f"record has keys: {keys} (use --format, --prompt-col / --response-col)"
                ),
            )
            raise InvalidRecordError([unknown] + [r.problem for r in raw.records if r.problem])
    cols: tuple[str | None, ...] = (None, None)
    if fmt == "prompt-response":
        pairs = Counter(p for p in map(detect_columns, readable) if p)
        found = pairs.most_common(1)[0][0] if pairs else DEFAULT_COLUMNS
        cols = (prompt_col or found[0], response_col or found[1])
    if raw.columns is not None:
        _check_columns(raw.columns, _REQUIRED_COLUMNS.get(fmt, cols), fmt, name)
    return fmt, cols


def _check_columns(columns: tuple[str, ...], required: tuple, fmt: str, name: str) -> None:
    shown = ", ".join(map(printable, columns)) or "(none)"
    hint = _COLUMN_HINT if fmt == "prompt-response" else ""
    problems = [
        Problem(name, None, None, f"column {col!r} not found; columns are: {shown}{hint}")
        for col in required
        if col not in columns
    ]
    if problems:
        raise InvalidRecordError(problems)


def _check_records(records: list[RawRecord], fmt: str, cols: tuple, name: str) -> list[_Checked]:
    checked = []
    seen_ids: dict[str, tuple[str, int]] = {}
    for raw in records:
        c = _Checked(raw)
        checked.append(c)
        where = raw.source or name  # a folder's record names its shard
        if raw.problem is not None or raw.record is None:
            c.problems.append(raw.problem or Problem(where, raw.line, None, "cannot be read"))
            continue
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
            elif c.own_id in seen_ids:
                first, first_line = seen_ids[c.own_id]
                at = f"line {first_line}" if first == where else f"{first}:{first_line}"
                c.problems.append(Problem(where, line, "id", f"{quoted(c.own_id)} duplicates {at}"))
            else:
                seen_ids[c.own_id] = (where, line)
        c.problems.extend(_unicode_problems(record, where, line))
    return checked


def _own_id(value: Any) -> tuple[str | None, str | None]:
    """The record's id as text, or the reason it cannot be one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    if isinstance(value, str):
        return (value, None) if value.strip() else (None, "is empty")
    return None, f"must be a string or integer, got {type_name(value)}"


def _unicode_problems(record: dict[str, Any], name: str, line: int) -> list[Problem]:
    """A JSON ``\\ud83d`` escape without its pair decodes to text that cannot be stored."""
    try:
        json.dumps(jsonable(record), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        code = f"\\u{ord(e.object[e.start]):04x}"
        return [
            Problem(name, line, None, f"contains an unpaired surrogate escape ({code}), which is not valid Unicode")
        ]
    return []


def _examples(good: list[_Checked]) -> list[Example]:
    used = {c.own_id for c in good if c.own_id is not None}
    repeats: Counter[str] = Counter()
    examples = []
    for c in good:
        if c.own_id is not None:
            example_id, source = c.own_id, "record"
        else:
            base = content_id(c.prompt, c.response)
            example_id = base
            while example_id in used:
                repeats[base] += 1
                example_id = f"{base}~{repeats[base] + 1}"
            used.add(example_id)
            source = "hash"
        examples.append(
            Example(
                example_id=example_id,
                id_source=source,
                line=c.raw.line,
                prompt=c.prompt,
                response=c.response,
                record=jsonable(c.raw.record),
            )
        )
    return examples


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
    parsed = read_dataset(path, fmt=fmt, prompt_col=prompt_col, response_col=response_col, skip_invalid=skip_invalid)
    info = store.add_dataset(parsed, name=name or dataset_stem(path), append=append)
    return ImportResult(dataset=info, rejected=parsed.rejected)


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
    parsed = read_records(
        data,
        source=source or type(data).__name__,
        fmt=fmt,
        prompt_col=prompt_col,
        response_col=response_col,
        skip_invalid=skip_invalid,
    )
    info = store.add_dataset(parsed, name=name, append=append)
    return ImportResult(dataset=info, rejected=parsed.rejected)
