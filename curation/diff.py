"""A word-level diff of two responses, for showing a proposed correction beside the original.

In: two strings. Out: a list of ``(op, text)`` pieces with ``op`` in ``equal`` / ``delete`` /
``insert``. Tokens are whole words and numbers (``don't``, ``3.5``, ``1,000``), single
punctuation marks and runs of whitespace, so a changed number is one word replaced ("54" by
"56", the full stop after it unchanged) and never a merge of digits. Whitespace is kept
exactly: joining the ``equal`` and ``delete`` pieces gives back the first string, joining the
``equal`` and ``insert`` pieces gives back the second.
"""

from __future__ import annotations

import difflib
import re

EQUAL, DELETE, INSERT = "equal", "delete", "insert"
_TOKEN = re.compile(r"\s+|\d+(?:[.,]\d+)+|\w+(?:['\u2019.\-]\w+)*|[^\w\s]")


def tokens(text: str) -> list[str]:
    """``text`` split into words, numbers, punctuation marks and whitespace runs (their
    concatenation is ``text``)."""
    return _TOKEN.findall(text)


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """The edit from ``a`` to ``b`` as word-level pieces.

    Args:
        a: the original text.
        b: the new text.
    Returns:
        ``[(op, text), ...]`` with ``op`` one of ``equal``, ``delete``, ``insert``; adjacent
        pieces never share an op, and a replacement is a ``delete`` followed by an ``insert``.
    """
    old, new = tokens(a), tokens(b)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    raw: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            raw.append((EQUAL, "".join(old[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            raw.append((DELETE, "".join(old[i1:i2])))
        if tag in ("insert", "replace"):
            raw.append((INSERT, "".join(new[j1:j2])))
    return _group_changes(raw)


def _group_changes(raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge each run of changes into one delete and one insert.

    A lone space or mark kept equal between two changes would chop a rewritten sentence into
    alternating word pairs; whitespace, and one or two marks inside a word (``=`` in
    ``a=b``), join the change around them instead.
    """
    pieces: list[tuple[str, str]] = []
    deleted: list[str] = []
    inserted: list[str] = []

    def flush() -> None:
        _push(pieces, DELETE, "".join(deleted))
        _push(pieces, INSERT, "".join(inserted))
        deleted.clear()
        inserted.clear()

    for i, (op, text) in enumerate(raw):
        between_changes = 0 < i < len(raw) - 1 and raw[i - 1][0] != EQUAL and raw[i + 1][0] != EQUAL
        if op == EQUAL and not (between_changes and _is_glue(text)):
            flush()
            _push(pieces, EQUAL, text)
        elif op == EQUAL:
            deleted.append(text)
            inserted.append(text)
        else:
            (deleted if op == DELETE else inserted).append(text)
    flush()
    return pieces


def _is_glue(text: str) -> bool:
    return text.isspace() or (len(text) <= 2 and not any(ch.isalnum() or ch.isspace() for ch in text))


def _push(pieces: list[tuple[str, str]], op: str, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1][0] == op:
        pieces[-1] = (op, pieces[-1][1] + text)
    else:
        pieces.append((op, text))


__all__ = ["word_diff", "tokens", "EQUAL", "DELETE", "INSERT"]
