"""How values are written to the store: timestamps (UTC, no tzinfo) and prompts (JSON turns)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from curation.records import Message, render_turns


def now() -> datetime:
    """The current UTC time without tzinfo (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


def prompt_to_json(prompt: tuple[Message, ...]) -> str:
    return json.dumps([{"role": m.role, "content": m.content} for m in prompt], ensure_ascii=False)


def prompt_from_json(text: str) -> tuple[Message, ...]:
    return tuple(Message(t["role"], t["content"]) for t in json.loads(text))


def prompt_text(prompt: tuple[Message, ...]) -> str:
    """The prompt's turns as one searchable string (every turn labelled with its role)."""
    return render_turns(prompt, label_alone=True)


__all__ = ["now", "prompt_to_json", "prompt_from_json", "prompt_text"]
