"""The domain's plain data types, passed between ingest, the LLM seam, the store and export.

A :class:`Message` is one turn of a conversation; an :class:`Example` is one (prompt,
response) pair as the pipeline sees it, plus the original record kept verbatim so that export
can give back exactly what came in. :func:`render_turns` is the one way turns become text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from curation.errors import Problem

ROLES = ("system", "user", "assistant")
FORMATS = ("chat", "alpaca", "sharegpt", "prompt-response")
FILE_TYPES = ("jsonl", "json", "csv", "parquet")


@dataclass(frozen=True)
class Message:
    """One turn: ``role`` is one of :data:`ROLES`."""

    role: str
    content: str


def messages_of(pairs: Iterable[tuple[str, str]]) -> tuple[Message, ...]:
    """Build a message tuple from ``(role, content)`` pairs."""
    return tuple(Message(role, content) for role, content in pairs)


def render_turns(turns: Iterable[Message], *, roles: bool = True, label_alone: bool = False) -> str:
    """The turns as one text: ``Role: content`` paragraphs, where a lone user turn is its
    content alone (unless ``label_alone``); ``roles=False``: the contents alone."""
    turns = tuple(turns)
    if not roles:
        return "\n\n".join(t.content for t in turns)
    if len(turns) == 1 and turns[0].role == "user" and not label_alone:
        return turns[0].content
    return "\n\n".join(f"{t.role.capitalize()}: {t.content}" for t in turns)


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
