"""Raw SQL on a store's own connection, for tests that set up or inspect what no library method offers.

The library's public surface has no SQL pass-through (the store writes all SQL); tests reach
below it only through these two helpers.
"""

from __future__ import annotations

from typing import Any

from curation.store import Store


def rows(store: Store, statement: str, params: list | tuple = ()) -> list[tuple]:
    """Run ``statement``; its rows as tuples (none for a statement that returns no rows)."""
    with store._lock:
        cursor = store._execute(statement, params)
        return [] if cursor.description is None else cursor.fetchall()


def dicts(store: Store, statement: str, params: list | tuple = ()) -> list[dict[str, Any]]:
    """Run ``statement``; its rows as dicts."""
    with store._lock:
        cursor = store._execute(statement, params)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
