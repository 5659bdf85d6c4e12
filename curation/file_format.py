"""A file's record format and prompt-response columns, decided in one pass over its records.

In: a :class:`~curation.readers.RawFile` (its records streamed, its columns where it has
them) and the format and columns the user named, if any. Out: the format (the one given, else
the shape most records have, else ``prompt-response`` for a table of columns) and, for
``prompt-response``, the (prompt, response) columns (those given, else the pair most records
have, else ``prompt`` / ``response``); or an :class:`~curation.errors.InvalidRecordError` when
the file has no records, none readable, no shape that can be told, or lacks a column the
format needs. The pass holds no record, so memory stays flat as the file grows; the ingest
stage (:mod:`curation.ingest`) then checks each record against what this decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from curation.errors import InvalidRecordError, Problem
from curation.fields import printable
from curation.formats import DEFAULT_COLUMNS, detect_columns, detect_format
from curation.readers import RawFile, RawRecord

_REQUIRED_COLUMNS = {"chat": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output")}
_COLUMN_HINT = " (name them with --prompt-col / --response-col)"


@dataclass
class _Survey:
    """What one pass over the records tells of the format, holding no record."""

    count: int = 0
    first_keys: list[str] | None = None  # of the first readable record
    shapes: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)
    read_problems: list[Problem] = field(default_factory=list)

    @classmethod
    def of(cls, records: Iterable[RawRecord]) -> _Survey:
        survey = cls()
        for r in records:
            survey.count += 1
            if r.problem:
                survey.read_problems.append(r.problem)
            if r.record is None:
                continue
            if survey.first_keys is None:
                survey.first_keys = list(r.record)
            if shape := detect_format(r.record):
                survey.shapes[shape] += 1
            if pair := detect_columns(r.record):
                survey.pairs[pair] += 1
        return survey


def decide_format(
    raw: RawFile, name: str, *, fmt: str | None, prompt_col: str | None, response_col: str | None
) -> tuple[str, tuple[str | None, ...]]:
    """The file's format and prompt-response columns (one pass over it); raises when it cannot be told.

    Args:
        raw: the file's records (read once here) and its columns, where it is a table.
        name: how problems name the file.
        fmt, prompt_col, response_col: what the user named (checked already), else None.
    Returns:
        ``(format, (prompt_col, response_col))``; the columns are ``(None, None)`` for a format
        other than ``prompt-response``.
    Raises:
        InvalidRecordError: no records, none readable, a format that cannot be told, or a
            column the format needs missing from the file's columns.
    """
    survey = _Survey.of(raw.records)
    if not survey.count:
        raise InvalidRecordError([Problem(name, None, None, "file has no records")])
    if survey.first_keys is None:
        raise InvalidRecordError(survey.read_problems)
    if fmt is None and (prompt_col or response_col):
        fmt = "prompt-response"
    if fmt is None:
        if survey.shapes:
            fmt = survey.shapes.most_common(1)[0][0]
        elif raw.columns is not None:
            fmt = "prompt-response"
        else:
            keys = ", ".join(printable(str(k)) for k in survey.first_keys) or "(none)"
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
            raise InvalidRecordError([unknown] + survey.read_problems)
    cols: tuple[str | None, ...] = (None, None)
    if fmt == "prompt-response":
        found = survey.pairs.most_common(1)[0][0] if survey.pairs else DEFAULT_COLUMNS
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
