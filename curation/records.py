"""Plain data types passed between ingest, the store and export.

An :class:`Example` is one (prompt, response) pair as the pipeline sees it, plus the
original record kept verbatim so that export can give back exactly what came in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curation.errors import Problem
from curation.llm.base import Message

FORMATS = ("chat", "alpaca", "sharegpt", "prompt-response")
FILE_TYPES = ("jsonl", "json", "csv", "parquet")


@dataclass(frozen=True)
class Example:
    """One parsed record.

    ``prompt`` is every turn before the response (system, user and earlier assistant turns
    for chat data; one user turn, possibly preceded by a system turn, for the other shapes).
    ``example_id`` is the record's own ``id`` when it has one (``id_source == "record"``),
    else a content hash (``id_source == "hash"``). ``line`` is where it came from (1-based).
    """

    example_id: str
    id_source: str
    line: int
    prompt: tuple[Message, ...]
    response: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A record left out by ``--skip-invalid``: where it was, why, and its raw text."""

    problem: Problem
    raw: str


@dataclass
class ParsedDataset:
    """The result of reading one file: its shape, its good examples and what was rejected."""

    path: str
    file_type: str
    format: str
    sha256: str
    examples: list[Example]
    rejected: list[Rejected] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
