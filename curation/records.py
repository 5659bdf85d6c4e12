"""The domain's plain data types, passed between ingest, the LLM seam, the store and export.

A :class:`Message` is one turn of a conversation; an :class:`Example` is one (prompt,
response) pair as the pipeline sees it, plus the original record kept verbatim so that export
can give back exactly what came in. :func:`render_turns` is the one way turns become text.

An assistant turn that calls tools holds their canonical text, :func:`calls_text` (JSON, the
arguments parsed), so that answers compare as JSON; :func:`turn_text` shows it readably.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from curation.errors import Problem

ROLES = ("system", "user", "assistant", "tool")
FORMATS = ("chat", "alpaca", "sharegpt", "prompt-response")
FILE_TYPES = ("jsonl", "json", "csv", "parquet")


@dataclass(frozen=True)
class Message:
    """One turn: ``role`` is one of :data:`ROLES`; a ``tool`` turn holds a tool's result."""

    role: str
    content: str


@dataclass(frozen=True)
class ToolCall:
    """One call an assistant turn makes: the tool's name and its arguments as parsed JSON."""

    name: str
    arguments: Any


def messages_of(pairs: Iterable[tuple[str, str]]) -> tuple[Message, ...]:
    """Build a message tuple from ``(role, content)`` pairs."""
    return tuple(Message(role, content) for role, content in pairs)


def render_turns(turns: Iterable[Message], *, roles: bool = True, label_alone: bool = False) -> str:
    """The turns as one text: ``Role: text`` paragraphs (text as :func:`turn_text`), where a
    lone user turn is its content alone (unless ``label_alone``); ``roles=False``: the texts alone."""
    turns = tuple(turns)
    if not roles:
        return "\n\n".join(map(turn_text, turns))
    if len(turns) == 1 and turns[0].role == "user" and not label_alone:
        return turns[0].content
    return "\n\n".join(f"{t.role.capitalize()}: {turn_text(t)}" for t in turns)


def turn_text(turn: Message) -> str:
    """A turn's content for reading: an assistant's tool calls as ``calls name({...})`` lines
    after its text; any other turn's content as it is."""
    if turn.role != "assistant":
        return turn.content
    try:
        content, calls = parse_calls(turn.content)
    except ValueError:
        return turn.content
    lines = [f"calls {c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in calls]
    return "\n".join([content, *lines] if content else lines)


def calls_text(calls: Sequence[ToolCall], content: str | None = None) -> str:
    """The canonical text of an assistant turn that calls tools: the JSON array
    ``[{"name": ..., "arguments": {...}}, ...]``, or, with text beside the calls,
    ``{"content": ..., "tool_calls": [...]}``."""
    listed = [{"name": c.name, "arguments": c.arguments} for c in calls]
    return json.dumps({"content": content, "tool_calls": listed} if content else listed, ensure_ascii=False)


def parse_calls(text: str) -> tuple[str | None, tuple[ToolCall, ...]]:
    """The text and the calls of a :func:`calls_text` (any JSON spacing).

    Raises:
        ValueError: ``text`` is not JSON, or not of that shape; the message says how.
    """
    if not text.lstrip().startswith(("[", "{")):
        raise ValueError("must be a JSON array of tool calls")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"is not valid JSON ({e})") from e
    return calls_of(value)


def calls_of(value: Any) -> tuple[str | None, tuple[ToolCall, ...]]:
    """:func:`parse_calls` of a decoded JSON value.

    Raises:
        ValueError: ``value`` is not of the shape :func:`calls_text` writes.
    """
    content = None
    if isinstance(value, dict):
        if "tool_calls" not in value or set(value) - {"content", "tool_calls"}:
            raise ValueError('must be an array of tool calls, or an object of "content" and "tool_calls"')
        content = value.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError('"content" must be a string')
        value = value["tool_calls"]
    if not isinstance(value, list) or not value:
        raise ValueError("must be a non-empty array of tool calls")
    calls = []
    for n, item in enumerate(value, start=1):
        if not (isinstance(item, dict) and set(item) == {"name", "arguments"} and isinstance(item["name"], str)):
            raise ValueError(f'tool call {n} must be an object {{"name": "...", "arguments": ...}}')
        if not item["name"].strip():
            raise ValueError(f"tool call {n} has an empty name")
        calls.append(ToolCall(item["name"], item["arguments"]))
    return content, tuple(calls)


@dataclass(frozen=True)
class Example:
    """One parsed record.

    ``prompt`` is every turn before the response (system, user, earlier assistant and tool
    turns for chat data, the record's tool list in its system turn; one user turn, possibly
    preceded by a system turn, for the other shapes). ``response`` is text, or tool calls as
    :func:`calls_text`.
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
