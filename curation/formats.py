"""Detect and parse the four record shapes; pure functions, no I/O.

In: one decoded record (a ``dict``). Out: the prompt (a tuple of
:class:`~curation.records.Message`) and the response (the text a model should learn), or
the list of every field-level problem. :func:`curation.render.render_record` goes the other
way, from a stored record plus a (possibly corrected) response to a record of any shape.

Shapes (see :data:`~curation.records.FORMATS`):

* ``chat``: ``{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": str}, ...]}``,
  OpenAI's fine-tuning format in full: ``content`` may be an array of parts (text parts are
  joined; any other part shows as ``[image_url part]``), an assistant turn may call tools
  (``tool_calls``, or the legacy ``function_call``; ``content`` then null or absent), a
  ``tool`` turn (or legacy ``function`` turn) holds a result for an earlier call's
  ``tool_call_id``, an assistant turn may carry ``weight`` 0 or 1, and a top-level ``tools``
  (or legacy ``functions``) list is added to the leading system turn (a new one when there is
  none): ``Available tools:`` and one JSON line per tool. The response is the last assistant
  turn, text or tool calls (as :func:`~curation.records.calls_text`), the prompt every turn
  before it.
* ``alpaca``: ``instruction``, optional ``input``, ``output``; also the optional
  ``system`` (str) and ``history`` (``[[instruction, response], ...]``) fields of the
  LLaMA-Factory variant. The prompt's last user turn is ``instruction``, plus ``"\\n\\n"``
  and ``input`` when ``input`` is not empty.
* ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": str}]}``;
  ``user`` and ``assistant`` are accepted as ``from`` values too, and LLaMA-Factory's
  ``function_call`` (an assistant's call: JSON, one ``{"name", "arguments"}`` object or an
  array of them) and ``observation`` (the tool's result); a top-level ``tools`` goes to the
  system turn as for ``chat``.
* ``prompt-response``: two flat columns, ``prompt`` / ``response`` unless named otherwise;
  an optional ``system`` column becomes a system turn.

Empty system turns are dropped from the prompt; every other turn but a tool's result must have
non-empty text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.errors import ConfigError, InvalidRecordError, Problem
from curation.fields import absent, quoted, text_field, type_name
from curation.fields import printable as printable  # re-exported: readers and tables import it here
from curation.records import FORMATS, ROLES, Message
from curation.tool_turns import text_of, tools_text, with_tools

COLUMN_PAIRS = (("prompt", "response"), ("prompt", "completion"), ("question", "answer"), ("input", "output"))
DEFAULT_COLUMNS = COLUMN_PAIRS[0]
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool",
}
TURN_SHAPES = {  # list key, role key, text key, accepted roles -> role
    "chat": ("messages", "role", "content", {**{r: r for r in ROLES}, "function": "tool"}),
    "sharegpt": ("conversations", "from", "value", SHAREGPT_ROLES),
}

Prompt = tuple[Message, ...]


def detect_format(record: Any) -> str | None:
    """Guess a record's shape from its keys (types are checked later, by :func:`parse_record`).

    Args:
        record: one decoded record.

    Returns:
        ``"chat"`` if it has ``messages``, ``"sharegpt"`` if it has ``conversations``,
        ``"alpaca"`` if it has ``instruction`` and ``output``, ``"prompt-response"`` if
        exactly one of :data:`COLUMN_PAIRS` is present, else ``None``.
    """
    if not isinstance(record, Mapping):
        return None
    if "messages" in record:
        return "chat"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    return "prompt-response" if detect_columns(record) else None


def detect_columns(record: Any) -> tuple[str, str] | None:
    """The (prompt, response) column pair of a flat record, when exactly one pair fits.

    Args:
        record: one decoded record.

    Returns:
        The one pair of :data:`COLUMN_PAIRS` whose both names are keys, else ``None``
        (no pair, or more than one: ambiguous).
    """
    if not isinstance(record, Mapping):
        return None
    found = [pair for pair in COLUMN_PAIRS if pair[0] in record and pair[1] in record]
    return found[0] if len(found) == 1 else None


def has_shape_keys(
    record: Mapping[str, Any], fmt: str, *, prompt_col: str | None = None, response_col: str | None = None
) -> bool:
    """Whether ``record`` carries any key that identifies shape ``fmt``.

    Used to tell a broken record of the file's shape (reported field by field) from a
    record of another shape (reported as mixed shapes).
    """
    if fmt in TURN_SHAPES:
        return TURN_SHAPES[fmt][0] in record
    if fmt == "alpaca":
        return "instruction" in record or "output" in record
    cols = columns_of(record, prompt_col, response_col)
    return cols[0] in record or cols[1] in record


def parse_record(
    record: Any,
    fmt: str,
    *,
    prompt_col: str | None = None,
    response_col: str | None = None,
    file: str = "<record>",
    line: int | None = None,
) -> tuple[Prompt, str]:
    """Split one record of shape ``fmt`` into prompt turns and response text.

    Args:
        record: one decoded record.
        fmt: one of :data:`~curation.records.FORMATS`.
        prompt_col: prompt column of a ``prompt-response`` record (default: detected from
            the record, else ``prompt``).
        response_col: response column, likewise (default ``response``).
        file: file name put into each :class:`~curation.errors.Problem`.
        line: line put into each problem.

    Returns:
        ``(prompt, response)``: the prompt has at least one user turn; the response is the
        text as stored (not stripped).

    Raises:
        InvalidRecordError: listing every problem found, e.g.
            ``data.jsonl:3: messages[2].content must be a string, got null``.
        ConfigError: ``fmt`` is not a known format.
    """
    check_format(fmt)
    problems: list[tuple[str | None, str]] = []
    if not isinstance(record, Mapping):
        problems.append((None, f"record must be a JSON object, got {type_name(record)}"))
        result = None
    elif fmt in TURN_SHAPES:
        result = _parse_turns(record, fmt, problems)
    elif fmt == "alpaca":
        result = _parse_alpaca(record, problems)
    else:
        result = _parse_flat(record, columns_of(record, prompt_col, response_col), problems)
    if problems or result is None:
        raise InvalidRecordError([Problem(file, line, f, m) for f, m in problems])
    return result


def check_format(fmt: str) -> None:
    """Raise :class:`~curation.errors.ConfigError` unless ``fmt`` is one of the formats."""
    if fmt not in FORMATS:
        raise ConfigError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def columns_of(record: Any, prompt_col: str | None, response_col: str | None) -> tuple[str, str]:
    """The (prompt, response) columns of a flat record: those given, else the pair
    :func:`detect_columns` finds, else :data:`DEFAULT_COLUMNS`."""
    detected = detect_columns(record) or DEFAULT_COLUMNS
    return prompt_col or detected[0], response_col or detected[1]


def _parse_turns(record: Mapping[str, Any], fmt: str, problems: list) -> tuple[Prompt, str] | None:
    list_key, role_key, text_key, roles = TURN_SHAPES[fmt]
    turns = record.get(list_key)
    if list_key not in record:
        problems.append((list_key, "is missing"))
        return None
    if not isinstance(turns, (list, tuple)):
        problems.append((list_key, f"must be an array, got {type_name(turns)}"))
        return None
    if not turns:
        problems.append((list_key, "is empty"))
        return None
    parsed: list[Message] = []
    call_ids: set[str] = set()  # the ids of the tool calls so far, which a tool turn answers
    for i, turn in enumerate(turns):
        path = f"{list_key}[{i}]"
        if not isinstance(turn, Mapping):
            problems.append((path, f"must be an object, got {type_name(turn)}"))
            continue
        role = turn.get(role_key)
        if role_key not in turn:
            problems.append((f"{path}.{role_key}", "is missing"))
        elif not isinstance(role, str) or role not in roles:
            shown = quoted(role) if isinstance(role, str) else type_name(role)
            problems.append((f"{path}.{role_key}", f"must be one of {', '.join(roles)}, got {shown}"))
            role = None
        text = text_of(turn, fmt, role, path, problems, call_ids)
        if role in roles and text is not None:
            parsed.append(Message(roles[role], text))
    tools = tools_text(record, fmt, problems)
    if len(parsed) != len(turns):
        return None
    split = _split_turns(parsed, list_key, text_key, problems)
    return None if split is None else (with_tools(split[0], tools), split[1])


def _split_turns(turns: list[Message], list_key: str, text_key: str, problems: list) -> tuple[Prompt, str] | None:
    last = max((i for i, t in enumerate(turns) if t.role == "assistant"), default=None)
    if last is None:
        problems.append((list_key, "has no assistant turn"))
        return None
    if last + 1 < len(turns):
        problems.append((f"{list_key}[{last + 1}]", "comes after the last assistant turn (the response must be last)"))
    if not any(t.role == "user" for t in turns[:last]):
        problems.append((list_key, "has no user turn before the last assistant turn"))
    for i, turn in enumerate(turns[:last]):  # the prompt's turns; an empty response is a finding, not an error
        if turn.role not in ("system", "tool") and not turn.content.strip():
            problems.append((f"{list_key}[{i}].{text_key}", "is empty"))
    if problems:
        return None
    prompt = tuple(t for t in turns[:last] if t.role != "system" or t.content.strip())
    return prompt, turns[last].content


def _system(record: Mapping[str, Any], key: str, problems: list) -> list[Message]:
    if absent(record.get(key)):
        return []
    text = text_field(record, key, key, problems, optional=True, allow_empty=True)
    return [Message("system", text)] if text and text.strip() else []


def _parse_alpaca(record: Mapping[str, Any], problems: list) -> tuple[Prompt, str] | None:
    prompt = _system(record, "system", problems)
    history = record.get("history")
    if not absent(history) and not isinstance(history, (list, tuple)):
        problems.append(("history", f"must be an array, got {type_name(history)}"))
    for i, pair in enumerate(history if isinstance(history, (list, tuple)) else ()):
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not all(isinstance(p, str) and p.strip() and "\x00" not in p for p in pair)
        ):
            problems.append((f"history[{i}]", "must be a pair of non-empty strings [instruction, response]"))
            continue
        prompt += [Message("user", pair[0]), Message("assistant", pair[1])]
    instruction = text_field(record, "instruction", "instruction", problems)
    extra = None if absent(record.get("input")) else text_field(record, "input", "input", problems, allow_empty=True)
    output = text_field(record, "output", "output", problems, allow_empty=True)  # an empty response is a finding
    if problems or instruction is None or output is None:
        return None
    user = instruction + ("\n\n" + extra if extra else "")
    return tuple(prompt + [Message("user", user)]), output


def _parse_flat(record: Mapping[str, Any], cols: tuple[str, str], problems: list) -> tuple[Prompt, str] | None:
    prompt = [] if "system" in cols else _system(record, "system", problems)
    text = text_field(record, cols[0], cols[0], problems)
    response = text_field(record, cols[1], cols[1], problems, allow_empty=True)  # an empty response is a finding
    if problems or text is None or response is None:
        return None
    return tuple(prompt + [Message("user", text)]), response
