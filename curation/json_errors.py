"""JSON syntax errors in the words a person would use.

In: a :class:`json.JSONDecodeError`. Out: one sentence naming the column (and the line, in a
multi-line document). Python says ``Expecting ',' delimiter: line 1 column 40 (char 39)`` for a
record whose closing ``}`` is missing; this says "the object is not closed: a '}' is missing at
the end of the line".
"""

from __future__ import annotations

import json
import re

from curation.fields import printable

_CLOSER = {"{": "}", "[": "]"}
_NOUN = {"{": "object", "[": "list"}


def explain_json_error(e: json.JSONDecodeError, *, with_line: bool = False) -> str:
    """``e`` explained, naming the column, and the line too when ``with_line`` (a whole file).

    A pure function of the error: its message, position and document.
    """
    doc, pos = e.doc, e.pos
    at = f"line {e.lineno} column {e.colno}" if with_line else f"column {e.colno}"
    unit = "file" if with_line else "line"
    if pos >= len(doc.rstrip()):
        return _cut_short(e.msg, _open_containers(doc, pos), unit)
    char, before = doc[pos], doc[:pos].rstrip()[-1:]
    if e.msg == "Expecting ',' delimiter":
        inner = (_open_containers(doc, pos) or ["{"])[-1]
        if char in "]}" and char != _CLOSER[inner]:
            return f"a {_CLOSER[inner]!r} is missing before the {char!r} at {at}"
        hint = " (a '\"' inside the text must be written \\\")" if doc[pos - 1] == '"' and char.isalnum() else ""
        return f"a ',' or {_CLOSER[inner]!r} is missing after the value, before {at}{hint}"
    if e.msg == "Expecting ':' delimiter":
        return f"a ':' is missing after the key, before {at}"
    if e.msg.startswith("Expecting property name") or e.msg == "Expecting value":
        return _no_value(e.msg, char, before, pos, doc, at, unit)
    if e.msg == "Extra data":
        two = " (one record per line)" if char == "{" and not with_line else ""
        return f"more text after the record ends, at {at}: '{_word(doc, pos)}'{two}"
    if e.msg.startswith("Unterminated string"):
        return f"unterminated string starting at {at}: its closing '\"' is missing"
    if e.msg.startswith("Invalid control character"):
        return f"a raw control character inside a string at {at}: write it as {json.dumps(char)[1:-1]}"
    if e.msg == "Invalid \\escape":
        return f"invalid escape '{printable(doc[pos : pos + 2])}' at {at} (write a backslash as \\\\)"
    if e.msg == "Invalid \\uXXXX escape":
        return f"invalid \\u escape at {at}: it needs four hex digits"
    return f"{e.msg} at {at}"


_EXPECTED = {
    "Expecting value": "a value",
    "Expecting ':' delimiter": "a ':'",
    "Expecting property name enclosed in double quotes": "a key",
}


def _cut_short(msg: str, opened: list[str], unit: str) -> str:
    """The text stops before the JSON is complete: a record cut short, or nothing at all."""
    if not opened:
        return f"the {unit} is empty" if msg == "Expecting value" else f"the {unit} ends early ({msg})"
    inner = opened[-1]
    if msg == "Expecting ',' delimiter":
        return f"the {_NOUN[inner]} is not closed: a {_CLOSER[inner]!r} is missing at the end of the {unit}"
    return f"the {_NOUN[inner]} is not closed: the {unit} ends where {_EXPECTED.get(msg, 'more JSON')} should come"


def _no_value(msg: str, char: str, before: str, pos: int, doc: str, at: str, unit: str) -> str:
    """A key or value was expected at ``pos`` and ``char`` is there instead."""
    if before == "," and char in "]}":
        return f"trailing comma: the ',' before the {char!r} at {at} has nothing after it"
    if pos == len(doc) - len(doc.lstrip()):
        return f"the {unit} starts with '{_word(doc, pos)}'"
    if char == "'":
        return f"text must be in double quotes, not single quotes, at {at}"
    if msg.startswith("Expecting property name"):
        return f"a key must be a string in double quotes, got '{_word(doc, pos)}' at {at}"
    if char in ",]}":
        return f"a value is missing before the {char!r} at {at}"
    return (
        f"not a JSON value at {at}: '{_word(doc, pos)}' (text needs double quotes; true, false and null are lower case)"
    )


def _word(doc: str, pos: int, limit: int = 20) -> str:
    """The token at ``pos``, cut at white space or punctuation, at most ``limit`` characters,
    escaped so that quoting the data cannot drive a terminal."""
    match = re.match(r"[^\s,:\[\]{}]+|.", doc[pos : pos + limit])
    return printable(match.group(0) if match else doc[pos : pos + 1])


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')  # a whole string (to skip), or a bracket


def _open_containers(doc: str, pos: int) -> list[str]:
    """The ``{`` / ``[`` still open at ``pos``, outermost first (strings skipped)."""
    stack: list[str] = []
    for token in _BRACKETS.finditer(doc, 0, pos):
        ch = token.group(0)
        if ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack
