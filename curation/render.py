"""Render a record of any of the four shapes from a stored record and its response; pure, no I/O.

In: a record as read (its shape and parsed prompt, :mod:`curation.formats`), the response to
write (the recorded one, or a correction) and the shape to write. Out: a new record (a
``dict``) for export; the record read is not changed.

Where a record is written back in its own shape, only its response changes: an edited
tool-call response must be tool calls again (:func:`~curation.records.parse_calls`) and is
written as the turn's calls; an unchanged response leaves the record as it was. Another
shape is built from the prompt and response (see :func:`render_record`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.errors import InvalidRecordError, Problem
from curation.formats import DEFAULT_COLUMNS, TURN_SHAPES, Prompt, check_format, columns_of
from curation.records import Message, render_turns
from curation.tool_turns import TOOL_LISTS, chat_messages, edited_turn, text_of, tool_calls_of

_SHAREGPT_FROM = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}
_ALPACA_KEYS = ("instruction", "input", "output", "system", "history")


def render_record(
    record: Mapping[str, Any],
    source_fmt: str,
    prompt: Prompt,
    response: str,
    target_fmt: str,
    *,
    prompt_col: str | None = None,
    response_col: str | None = None,
) -> dict[str, Any]:
    """Write a record of shape ``target_fmt`` for export.

    Same shape: a copy of ``record`` with only the response replaced (``prompt`` is not
    used), so an untouched record comes back equal, key order and extra fields kept; a
    response turn that calls tools gets the calls of ``response`` (see
    :func:`~curation.tool_turns.edited_turn`).

    Another shape: the target fields are built from ``prompt`` and ``response`` and put
    where the source's shape fields were (a turn shape's ``tools`` among them: they are in the
    prompt's system turn); every other field (``id``, ``metadata``, ...) is kept in place,
    except one named like a target field, which the target field replaces.
    Leading system turns become the ``system`` field of ``alpaca`` / ``prompt-response``
    (joined by a blank line). Earlier turns of a multi-turn prompt go, for ``alpaca``, into
    ``history`` as ``[user, assistant]`` pairs with ``instruction`` = the last user turn and
    ``input`` = ``""``; when the turns do not alternate user/assistant (or for
    ``prompt-response``), they are folded into one text, ``"User: ...\\n\\nAssistant: ..."``.

    Args:
        record: the record as read (:attr:`~curation.records.Example.record`).
        source_fmt: its shape.
        prompt: its parsed prompt.
        response: the response to write.
        target_fmt: the shape to write.
        prompt_col: the prompt column on the ``prompt-response`` side (source: detected
            when not given; target: default ``prompt``).
        response_col: the response column, likewise (default ``response``).

    Returns:
        A new dict; ``record`` is not changed.

    Raises:
        ConfigError: an unknown format.
        InvalidRecordError: a ``chat`` / ``sharegpt`` record with no assistant turn, or whose
            response turn calls tools while ``response`` is not tool calls (same shape).
    """
    check_format(source_fmt)
    check_format(target_fmt)
    if source_fmt == target_fmt:
        return _replace_response(record, source_fmt, response, prompt_col, response_col)
    if source_fmt == "prompt-response":
        source_keys = {*columns_of(record, prompt_col, response_col), "system"}
    else:
        source_keys = _shape_keys(source_fmt)
    target = _build(target_fmt, prompt, response, prompt_col, response_col)
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in source_keys:
            out.update((k, v) for k, v in target.items() if k not in out)
        elif key not in target:
            out[key] = value
    out.update((k, v) for k, v in target.items() if k not in out)
    return out


def _shape_keys(fmt: str) -> set[str]:
    return {TURN_SHAPES[fmt][0], *TOOL_LISTS[fmt]} if fmt in TURN_SHAPES else set(_ALPACA_KEYS)


def _last_turn(record: Mapping[str, Any], fmt: str) -> int:
    list_key, role_key, _, roles = TURN_SHAPES[fmt]
    turns = record.get(list_key)
    found = [
        i
        for i, t in enumerate(turns if isinstance(turns, (list, tuple)) else ())
        if isinstance(t, Mapping) and isinstance(t.get(role_key), str) and roles.get(t[role_key]) == "assistant"
    ]
    if not found:
        raise InvalidRecordError([Problem("<record>", None, list_key, "has no assistant turn")])
    return found[-1]


def _replace_response(
    record: Mapping[str, Any], fmt: str, response: str, prompt_col: str | None, response_col: str | None
) -> dict[str, Any]:
    out = dict(record)
    if fmt in TURN_SHAPES:
        list_key, role_key, _, _ = TURN_SHAPES[fmt]
        last = _last_turn(record, fmt)
        turns = list(record[list_key])
        turn, path = turns[last], f"{list_key}[{last}]"
        if response != text_of(turn, fmt, turn[role_key], path, [], None):  # unchanged: left as it was
            turns[last] = edited_turn(turns, last, fmt, response, path)
        out[list_key] = turns
    elif fmt == "alpaca":
        out["output"] = response
    else:
        out[columns_of(record, prompt_col, response_col)[1]] = response
    return out


def _split_system(prompt: Prompt) -> tuple[str | None, list[Message]]:
    n = next((i for i, m in enumerate(prompt) if m.role != "system"), len(prompt))
    system = "\n\n".join(m.content for m in prompt[:n])
    return (system or None), list(prompt[n:])


def _alternates(turns: list[Message]) -> bool:
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(turns))]
    return len(turns) % 2 == 1 and [m.role for m in turns] == expected


def _sharegpt_from(turn: Message) -> str:
    found = tool_calls_of(turn)
    return "function_call" if found is not None and found[0] is None else _SHAREGPT_FROM[turn.role]


def _build(fmt: str, prompt: Prompt, response: str, prompt_col: str | None, response_col: str | None) -> dict[str, Any]:
    if fmt == "chat":
        return {"messages": chat_messages([*prompt, Message("assistant", response)])}
    if fmt == "sharegpt":
        turns = [*prompt, Message("assistant", response)]
        return {"conversations": [{"from": _sharegpt_from(m), "value": m.content} for m in turns]}
    system, rest = _split_system(prompt)
    if fmt == "alpaca":
        if _alternates(rest):
            pairs = [[rest[i].content, rest[i + 1].content] for i in range(0, len(rest) - 1, 2)]
            out = {"instruction": rest[-1].content, "input": "", "output": response}
        else:
            pairs = []
            out = {"instruction": render_turns(rest), "input": "", "output": response}
        if system is not None:
            out["system"] = system
        if pairs:
            out["history"] = pairs
        return out
    text = render_turns(rest)
    out = {prompt_col or DEFAULT_COLUMNS[0]: text, response_col or DEFAULT_COLUMNS[1]: response}
    if system is not None:
        out["system"] = system
    return out
