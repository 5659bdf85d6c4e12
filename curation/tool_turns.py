"""Turns beyond plain text: tool calls, tool results and content parts, read and written back.

In: one turn of a ``chat`` record (OpenAI's fine-tuning format: ``tool_calls`` or the legacy
``function_call``, ``tool`` / ``function`` turns with ``tool_call_id``, content-part arrays,
``weight``) or of a ``sharegpt`` one (``function_call`` / ``observation``), and the record's
``tools``. Out: the turn's text, where calls become their canonical text
(:func:`~curation.records.calls_text`), or problems ``(field, message)``; and, going back, the
turn holding an edited response, or chat messages built from plain turns.
:mod:`curation.formats` (reading) and :mod:`curation.render` (writing back) call these for the
two turn shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from curation.errors import InvalidRecordError, Problem
from curation.fields import absent, printable, quoted, text_field, type_name
from curation.json_errors import explain_json_error
from curation.records import Message, ToolCall, calls_of, calls_text, parse_calls

#: The top-level keys of each shape that list tool definitions.
TOOL_LISTS = {"chat": ("tools", "functions"), "sharegpt": ("tools",)}
TOOLS_HEADING = "Available tools:"


# -- reading -----------------------------------------------------------------------------------------
def text_of(
    turn: Mapping[str, Any], fmt: str, role: Any, path: str, problems: list, call_ids: set[str] | None
) -> str | None:
    """The text of one ``chat`` or ``sharegpt`` turn (tool calls as their canonical text), or
    None after a problem.

    Args:
        turn: the turn as read.
        fmt: its shape.
        role: its role as written (``role`` / ``from``).
        path: the turn's field path for problems (``messages[2]``).
        problems: where problems are appended, as ``(field, message)``.
        call_ids: gathers the ids of the calls so far and checks a ``tool_call_id`` against
            them (None: no check, for a turn read again).
    """
    if fmt == "sharegpt":
        text = text_field(turn, "value", f"{path}.value", problems, allow_empty=True)
        if role != "function_call" or text is None:
            return text
        return _sharegpt_calls(text, f"{path}.value", problems)
    before = len(problems)
    calls = _chat_calls(turn, role, path, problems, call_ids)
    if call_ids is not None and not absent(turn.get("tool_call_id")):
        _check_call_id(turn["tool_call_id"], f"{path}.tool_call_id", problems, call_ids)
    weight = turn.get("weight")
    if not absent(weight) and (isinstance(weight, bool) or weight not in (0, 1)):
        shown = weight if isinstance(weight, (int, float)) and not isinstance(weight, bool) else type_name(weight)
        problems.append((f"{path}.weight", f"must be 0 or 1, got {shown}"))
    calling = _calling(turn)
    content = None if calling and absent(turn.get("content")) else _content(turn, path, problems)
    if len(problems) > before or calls is None or (content is None and not calling):
        return None
    return calls_text(calls, content or None) if calling else content


def tools_text(record: Mapping[str, Any], fmt: str, problems: list) -> str | None:
    """The record's tool definitions as text: :data:`TOOLS_HEADING`, then one JSON line per tool
    (None when it lists none)."""
    lines = []
    for key in TOOL_LISTS[fmt]:
        tools = record.get(key)
        if absent(tools) or tools == [] or tools == "":
            continue
        if isinstance(tools, str):  # LLaMA-Factory keeps them as JSON text
            lines.append(tools.strip())
        elif isinstance(tools, (list, tuple)):
            lines += [json.dumps(tool, ensure_ascii=False) for tool in tools]
        else:
            problems.append((key, f"must be an array, got {type_name(tools)}"))
    return "\n".join([TOOLS_HEADING, *lines]) if lines else None


def with_tools(prompt: tuple[Message, ...], tools: str | None) -> tuple[Message, ...]:
    """``prompt`` with ``tools`` after its leading system turn's text (a new system turn when it
    has none): chat templates take one system turn."""
    if tools is None:
        return prompt
    if prompt and prompt[0].role == "system":
        return (Message("system", f"{prompt[0].content}\n\n{tools}"), *prompt[1:])
    return (Message("system", tools), *prompt)


def _calling(turn: Mapping[str, Any]) -> bool:
    """Whether a chat turn calls tools (an empty ``tool_calls``, as uniform columns hold, does not)."""
    listed = turn.get("tool_calls")
    return not (absent(listed) or listed == []) or not absent(turn.get("function_call"))


def _content(turn: Mapping[str, Any], path: str, problems: list) -> str | None:
    """A chat turn's text: the string, or its content parts joined (text parts as their text,
    others as ``[type part]``)."""
    parts = turn.get("content")
    if not isinstance(parts, (list, tuple)):
        return text_field(turn, "content", f"{path}.content", problems, allow_empty=True)
    texts = []
    for j, part in enumerate(parts):
        where = f"{path}.content[{j}]"
        if not isinstance(part, Mapping):
            problems.append((where, f"must be an object, got {type_name(part)}"))
            continue
        kind = text_field(part, "type", f"{where}.type", problems)
        if kind == "text":
            texts.append(text_field(part, "text", f"{where}.text", problems, allow_empty=True))
        elif kind is not None:
            texts.append(f"[{printable(kind)} part]")
    return None if None in texts or len(texts) != len(parts) else "\n".join(texts)


def _chat_calls(
    turn: Mapping[str, Any], role: Any, path: str, problems: list, call_ids: set[str] | None
) -> list[ToolCall] | None:
    """The tool calls of a chat turn (``tool_calls``, else the legacy ``function_call``;
    none when it makes none); None after a problem."""
    if not _calling(turn):
        return []
    key = "function_call" if absent(turn.get("tool_calls")) or turn["tool_calls"] == [] else "tool_calls"
    if role != "assistant":
        problems.append((f"{path}.{key}", "is allowed on assistant turns only"))
        return None
    if key == "function_call":
        call = _function(turn[key], f"{path}.{key}", problems)
        return None if call is None else [call]
    listed = turn[key]
    if not isinstance(listed, (list, tuple)):
        problems.append((f"{path}.{key}", f"must be an array, got {type_name(listed)}"))
        return None
    calls = []
    for k, item in enumerate(listed):
        where = f"{path}.{key}[{k}]"
        if not isinstance(item, Mapping):
            problems.append((where, f"must be an object, got {type_name(item)}"))
            continue
        if not absent(item.get("id")):
            call_id = text_field(item, "id", f"{where}.id", problems)
            if call_id is not None and call_ids is not None:
                call_ids.add(call_id)
        if "function" not in item:
            problems.append((f"{where}.function", "is missing"))
            continue
        calls.append(_function(item["function"], f"{where}.function", problems))
    return None if None in calls or len(calls) != len(listed) else calls


def _function(value: Any, path: str, problems: list) -> ToolCall | None:
    """One ``{"name": str, "arguments": JSON text}`` call (arguments already decoded are accepted)."""
    if not isinstance(value, Mapping):
        problems.append((path, f"must be an object, got {type_name(value)}"))
        return None
    name = text_field(value, "name", f"{path}.name", problems)
    arguments = _arguments(value.get("arguments"), f"{path}.arguments", problems)
    return None if name is None or arguments is None else ToolCall(name, arguments[0])


def _arguments(value: Any, path: str, problems: list) -> tuple[Any] | None:
    """``(arguments,)``: decoded from JSON text, as given when already decoded, ``{}`` when
    absent; None after a problem."""
    if isinstance(value, str):
        return _json(value, path, problems)
    return ({},) if absent(value) else (value,)


def _json(text: str, path: str, problems: list) -> tuple[Any] | None:
    """``(value,)`` of JSON ``text``, or None with a problem in plain words."""
    try:
        return (json.loads(text),)
    except json.JSONDecodeError as e:
        problems.append((path, f"is not valid JSON: {explain_json_error(e)}"))
    except (ValueError, RecursionError) as e:
        problems.append((path, f"is not valid JSON: {e}"))
    return None


def _check_call_id(call_id: Any, path: str, problems: list, call_ids: set[str]) -> None:
    if not isinstance(call_id, str):
        problems.append((path, f"must be a string, got {type_name(call_id)}"))
    elif call_id not in call_ids:
        problems.append((path, f"{quoted(printable(call_id))} matches no earlier tool call"))


def _sharegpt_calls(text: str, path: str, problems: list) -> str | None:
    """A ``function_call`` turn's value (one call object or an array of them) as canonical text."""
    decoded = _json(text, path, problems)
    if decoded is None:
        return None
    items = decoded[0] if isinstance(decoded[0], list) else [decoded[0]]
    calls = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"].strip():
            break
        arguments = _arguments(item.get("arguments"), f"{path} (call {n} arguments)", problems)
        if arguments is None:
            return None
        calls.append(ToolCall(item["name"], arguments[0]))
    if not calls or len(calls) != len(items):
        problems.append((path, 'must be a tool call {"name": ..., "arguments": ...} or an array of them'))
        return None
    return calls_text(calls)


# -- writing back -------------------------------------------------------------------------------------
def edited_turn(turns: Sequence[Any], index: int, fmt: str, response: str, path: str) -> dict[str, Any]:
    """``turns[index]``, the response's turn as read, holding ``response`` instead: as its text,
    or, for a turn of tool calls, as its calls (ids, argument style and other fields kept, call
    by call; a new call gets an id no turn uses).

    Raises:
        InvalidRecordError: a turn of tool calls whose new response is not tool calls; the
            problem names the field (``messages[3].tool_calls cannot be written: ...``).
    """
    turn = turns[index]
    if fmt == "sharegpt":
        if turn.get("from") != "function_call":
            return {**turn, "value": response}
        content, calls = _edited_calls(response, f"{path}.value")
        if content is not None:
            raise _cannot(f"{path}.value", "a function_call turn holds calls, not text")
        old = json.loads(turn["value"])
        items = old if isinstance(old, list) else [old]
        written = [_written(items[k] if k < len(items) else None, c, as_text=False) for k, c in enumerate(calls)]
        value = written[0] if isinstance(old, dict) and len(written) == 1 else written
        return {**turn, "value": json.dumps(value, ensure_ascii=False)}
    if not _calling(turn):
        return {**turn, "content": response}
    key = "function_call" if absent(turn.get("tool_calls")) or turn["tool_calls"] == [] else "tool_calls"
    content, calls = _edited_calls(response, f"{path}.{key}")
    if key == "function_call":
        if len(calls) != 1:
            raise _cannot(f"{path}.{key}", f"a function_call turn holds one call, the edited response has {len(calls)}")
        out = {**turn, key: _written(turn[key], calls[0], as_text=True)}
    else:
        old = list(turn[key])
        ids = {
            c.get("id") for t in turns if isinstance(t, Mapping) for c in _listed(t.get(key)) if isinstance(c, Mapping)
        }
        listed = []
        for k, call in enumerate(calls):
            base = dict(old[k]) if k < len(old) else {"id": _new_id(ids), "type": "function"}
            listed.append({**base, "function": _written(base.get("function"), call, as_text=True)})
        out = {**turn, key: listed}
    if content is not None or (isinstance(turn.get("content"), (str, list)) and turn["content"]):
        out["content"] = content
    return out


def tool_calls_of(turn: Message) -> tuple[str | None, tuple[ToolCall, ...]] | None:
    """The text and calls of an assistant turn that calls tools, else None."""
    if turn.role != "assistant":
        return None
    try:
        return parse_calls(turn.content)
    except ValueError:
        return None


def chat_messages(turns: Sequence[Message]) -> list[dict[str, Any]]:
    """Plain turns as ``chat`` messages: an assistant's tool calls as ``tool_calls`` with ids
    ``call_1``, ``call_2``... in order, and each tool turn answering the next unanswered call."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for turn in turns:
        found = tool_calls_of(turn)
        if found is None:
            out.append({"role": turn.role, "content": turn.content})
            if turn.role == "tool" and pending:
                out[-1]["tool_call_id"] = pending.pop(0)
            continue
        first = sum(len(m.get("tool_calls", ())) for m in out) + 1
        pending = [f"call_{first + k}" for k in range(len(found[1]))]
        listed = [
            {"id": i, "type": "function", "function": _written(None, c, as_text=True)}
            for i, c in zip(pending, found[1])
        ]
        out.append({"role": "assistant", "content": found[0], "tool_calls": listed})
    return out


def _edited_calls(response: str, path: str) -> tuple[str | None, tuple[ToolCall, ...]]:
    problems: list = []
    decoded = _json(response, path, problems)
    if decoded is None:
        raise _cannot(path, f"the edited response {problems[0][1]}")
    try:
        return calls_of(decoded[0])
    except ValueError as e:
        raise _cannot(path, f"the edited response is not tool calls: {e}") from e


def _cannot(path: str, why: str) -> InvalidRecordError:
    return InvalidRecordError([Problem("<record>", None, path, f"cannot be written: {why}")])


def _written(old: Any, call: ToolCall, *, as_text: bool) -> dict[str, Any]:
    """``{"name", "arguments"}`` for ``call`` over ``old`` (its other fields kept), the arguments
    in old's style (JSON text or decoded; else ``as_text``), old's own text where they mean the same."""
    old = old if isinstance(old, Mapping) else {}
    before = old.get("arguments")
    if isinstance(before, str) and _arguments(before, "", []) == (call.arguments,):
        arguments = before
    elif isinstance(before, str) or ("arguments" not in old and as_text):
        arguments = json.dumps(call.arguments, ensure_ascii=False)
    else:
        arguments = call.arguments
    return {**old, "name": call.name, "arguments": arguments}


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _new_id(taken: set[Any]) -> str:
    n = 1
    while f"call_{n}" in taken:
        n += 1
    taken.add(f"call_{n}")
    return f"call_{n}"
