"""One field of a decoded record, read with its checks, and how problems name what was found.

In: a decoded record (a mapping), a key and the field's path for messages. Out: the value, or a
problem ``(path, message)`` appended to the caller's list, e.g. ``("messages[2].content", "must be
a string, got null")``. Pure functions, no I/O; :mod:`curation.formats` and
:mod:`curation.tool_turns` share them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def type_name(value: Any) -> str:
    """The JSON name of a value's type (``null``, ``string``, ``array``, ``NaN``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def quoted(text: str, *, limit: int = 60) -> str:
    """``repr(text)`` for a one-line message: cut to ``limit`` characters, the length noted."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit] + '…'!r} ({len(text)} characters)"


def printable(text: str) -> str:
    """``text`` with control and other invisible characters written as escapes, so that a
    message quoting the data cannot drive a terminal (``\x1b[2J``) or reorder text."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def absent(value: Any) -> bool:
    """None, or the NaN that pandas and Parquet use for an empty cell of an optional column."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def text_field(
    record: Mapping[str, Any], key: str, path: str, problems: list, *, optional: bool = False, allow_empty: bool = False
) -> str | None:
    """The string at ``record[key]``; appends a problem and returns None when it is not one."""
    if key not in record:
        if not optional:
            problems.append((path, "is missing"))
        return None
    value = record[key]
    if not isinstance(value, str):
        problems.append((path, f"must be a string, got {type_name(value)}"))
        return None
    if "\x00" in value:
        problems.append((path, "contains a null character"))
        return None
    if not allow_empty and not value.strip():
        problems.append((path, "is empty"))
        return None
    return value
