"""The store's typed queries for scores, flags and proposals: every value a bound parameter.

Mixed into :class:`curation.store.Store`, which provides ``_execute``, ``_rows``, ``_dicts``,
``_with_table`` and ``transaction``; the queries are named constants in :mod:`curation.store.sql`.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from curation.store import sql
from curation.store.values import now


class ResultQueries:
    """What the stages found: each example's score, the Auto-Filter's flags, Auto-Correct's proposals."""

    # -- scores, flags, proposals -----------------------------------------------------------
    def save_score(
        self,
        *,
        dataset_id: int,
        example_id: str,
        score_key: str,
        run_id: str,
        status: str,
        confidence: float | None,
        consistency: float | None,
        reflection: float | None,
        signals: dict[str, float],
        fired: list[str],
        explanation: dict[str, Any],
        error: str | None = None,
    ) -> None:
        """Record one example's score (replacing an earlier one for the same ``score_key``).

        Scores are floats in [0, 1], higher = more likely correct; ``status`` is ``ok`` or
        ``failed`` (then ``error`` says why and a later run retries it).
        """
        self._execute(
            sql.UPSERT_SCORE,
            (
                dataset_id,
                example_id,
                score_key,
                run_id,
                status,
                confidence,
                consistency,
                reflection,
                json.dumps(signals),
                json.dumps(fired),
                json.dumps(explanation, ensure_ascii=False),
                error,
                now(),
            ),
        )

    def scored_ids(self, dataset_id: int, score_key: str) -> set[str]:
        return {row[0] for row in self._rows(sql.SCORED_IDS, (dataset_id, score_key))}

    def scores(self, dataset_id: int, score_key: str) -> list[dict[str, Any]]:
        rows = self._dicts(sql.SCORES, (dataset_id, score_key))
        for row in rows:
            for name in ("signals", "fired", "explanation"):
                row[name] = json.loads(row[name])
        return rows

    def confidences(self, dataset_id: int, score_key: str) -> dict[str, float | None]:
        """Final confidence of every successfully scored example (higher = more likely correct)."""
        return dict(self._rows(sql.CONFIDENCES, (dataset_id, score_key)))

    def flagged_ids(self, dataset_id: int) -> list[str]:
        return [row[0] for row in self._rows(sql.FLAGGED_IDS, (dataset_id,))]

    def update_confidences(
        self, dataset_id: int, score_key: str, updates: dict[str, tuple[float | None, list[str]]]
    ) -> None:
        """Set the final confidence and fired signals of many examples at once (and store the
        review queue's order that follows from them)."""
        table = pa.table(
            {
                "example_id": list(updates),
                "confidence": pa.array([c for c, _ in updates.values()], pa.float64()),
                "fired": [json.dumps(f) for _, f in updates.values()],
            }
        )
        with self.transaction():
            self._with_table("new_confidences", table, sql.UPDATE_CONFIDENCES, (dataset_id, score_key))
            self.refresh_queue_order(dataset_id, score_key)

    def replace_flags(self, dataset_id: int, flags: dict[str, bool], *, threshold: float, run_id: str) -> None:
        """Set the Auto-Filter decision of every scored example at once."""
        table = pa.table(
            {
                "dataset_id": pa.array([dataset_id] * len(flags), pa.int32()),
                "example_id": list(flags),
                "flagged": pa.array(list(flags.values()), pa.bool_()),
                "threshold": pa.array([threshold] * len(flags), pa.float64()),
                "run_id": [run_id] * len(flags),
            }
        )
        with self.transaction():
            self._execute(sql.DELETE_FLAGS, (dataset_id,))
            self._with_table("new_flags", table, sql.INSERT_FLAGS)

    def save_proposal(
        self,
        *,
        dataset_id: int,
        example_id: str,
        run_id: str,
        candidate: str,
        judge_confidence: float | None,
        verdicts: list[dict[str, Any]],
        auto_applied: bool,
        status: str = "ok",
        error: str | None = None,
        candidates: list[dict[str, Any]] = (),
        source: str | None = None,
        margin: float | None = None,
        calibration: str | None = None,
    ) -> None:
        """Record an example's proposal (or why there is none: ``status`` ``same``, ``weaker`` or
        ``failed``) with every candidate that competed (:meth:`curation.contest.Scored.to_json`)."""
        self._execute(
            sql.UPSERT_PROPOSAL,
            (
                dataset_id,
                example_id,
                run_id,
                candidate,
                judge_confidence,
                json.dumps(verdicts, ensure_ascii=False),
                auto_applied,
                status,
                error,
                now(),
                json.dumps(list(candidates), ensure_ascii=False),
                source,
                margin,
                calibration,
            ),
        )

    def proposals(self, dataset_id: int) -> dict[str, dict[str, Any]]:
        rows = self._dicts(sql.PROPOSALS, (dataset_id,))
        for row in rows:
            row["verdicts"] = json.loads(row["verdicts"])
            row["candidates"] = json.loads(row["candidates"] or "[]")
        return {row["example_id"]: row for row in rows}

    def set_auto_applied(self, dataset_id: int, *, eta: float, allowed: bool) -> None:
        """Re-decide which proposals apply themselves for a new η (no LLM call)."""
        self._execute(sql.SET_AUTO_APPLIED, (eta, allowed, dataset_id))
