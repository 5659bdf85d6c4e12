"""The store's typed queries for the review log, team assignments and per-dataset settings.

Mixed into :class:`curation.store.Store`, which provides ``_execute``, ``_rows``, ``_dicts``,
``_with_table`` and ``transaction``; the queries are named constants in :mod:`curation.store.sql`.
The log is append-only: a decision is never changed, a later event (an undo, an adjudication)
supersedes it.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from curation.store import sql
from curation.store.values import now


class ReviewLogQueries:
    """Review events as they happen, who is assigned what, and a dataset's saved choices."""

    # -- review log -------------------------------------------------------------------------
    def append_review(
        self,
        *,
        dataset_id: int,
        example_id: str,
        action: str,
        annotator: str,
        before: str | None,
        after: str | None,
        batch_id: str | None = None,
        undoes: int | None = None,
        adjudicates: bool = False,
    ) -> int:
        """Append one event to the review log and return its id (events are never changed).

        ``adjudicates``: the event settles a disagreement between annotators.
        """
        rows = self._rows(
            sql.APPEND_REVIEW,
            (
                dataset_id,
                example_id,
                action,
                annotator,
                before,
                after,
                batch_id,
                undoes,
                now(),
                adjudicates,
            ),
        )
        return rows[0][0]

    # -- team review ---------------------------------------------------------------------------
    def replace_assignments(self, dataset_id: int, pairs: list[tuple[str, str]]) -> None:
        """Make ``(example_id, annotator)`` pairs the dataset's whole assignment (one transaction)."""
        table = pa.table(
            {
                "dataset_id": pa.array([dataset_id] * len(pairs), pa.int32()),
                "example_id": pa.array([example_id for example_id, _ in pairs], pa.string()),
                "annotator": pa.array([who for _, who in pairs], pa.string()),
                "assigned_at": pa.array([now()] * len(pairs), pa.timestamp("us")),
            }
        )
        with self.transaction():
            self._execute(sql.DELETE_ASSIGNMENTS, (dataset_id,))
            self._with_table("new_assignments", table, sql.INSERT_ASSIGNMENTS)

    def assignees(self, dataset_id: int) -> list[str]:
        """Everyone with part of the dataset's queue assigned, by name."""
        return [row[0] for row in self._rows(sql.ASSIGNEES, (dataset_id,))]

    # -- per-dataset settings ------------------------------------------------------------------
    def setting(self, dataset_id: int, key: str, default: Any = None) -> Any:
        """A dataset's saved choice (JSON), or ``default`` when never set."""
        rows = self._rows(sql.SETTING, (dataset_id, key))
        return json.loads(rows[0][0]) if rows else default

    def put_setting(self, dataset_id: int, key: str, value: Any) -> None:
        self._execute(sql.PUT_SETTING, (dataset_id, key, json.dumps(value), now()))

    def current_decisions(self, dataset_id: int) -> dict[str, dict[str, Any]]:
        return {row["example_id"]: row for row in self._dicts(sql.CURRENT_DECISIONS, (dataset_id,))}
