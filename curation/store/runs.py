"""The store's typed queries for runs and the LLM-call cache: every value a bound parameter.

Mixed into :class:`curation.store.Store`, which provides ``_execute``, ``_rows``, ``_dicts``,
``_with_table`` and ``transaction``; the queries are named constants in :mod:`curation.store.sql`.
"""

from __future__ import annotations

import json
from typing import Any

from curation.store import sql
from curation.store.values import now


class RunQueries:
    """Runs of a stage (start, progress, finish, timings) and the LLM-call cache
    (:class:`curation.llm.base.CallCache`)."""

    # -- LLM-call cache (implements curation.llm.base.CallCache) ----------------------------
    def cache_get_many(self, keys: list[str]) -> dict[str, dict]:
        if not keys:
            return {}
        return {key: json.loads(result) for key, result in self._rows(sql.CACHE_GET, (list(keys),))}

    def cache_put(self, key: str, *, backend: str, model: str, request: dict, result: dict) -> None:
        self._execute(
            sql.CACHE_PUT,
            (
                key,
                backend,
                model,
                json.dumps(request, ensure_ascii=False),
                json.dumps(result, ensure_ascii=False),
                now(),
            ),
        )

    def cache_size(self) -> int:
        return self._rows(sql.CACHE_COUNT)[0][0]

    # -- runs -----------------------------------------------------------------------------
    def start_run(
        self,
        *,
        run_id: str,
        dataset_id: int,
        stage: str,
        backend: str,
        model: str,
        config: dict,
        score_key: str | None,
        n_examples: int,
    ) -> str:
        self._execute(
            sql.INSERT_RUN,
            (
                run_id,
                dataset_id,
                stage,
                backend,
                model,
                json.dumps(config),
                score_key,
                now(),
                n_examples,
            ),
        )
        return run_id

    def update_run(self, run_id: str, *, n_done: int, n_failed: int, stats: dict[str, Any]) -> None:
        self._execute(
            sql.UPDATE_RUN,
            (
                n_done,
                n_failed,
                stats.get("calls", 0),
                stats.get("cache_hits", 0),
                stats.get("prompt_tokens", 0),
                stats.get("completion_tokens", 0),
                stats.get("cost_usd", 0.0),
                run_id,
            ),
        )

    def finish_run(self, run_id: str, *, status: str, error: str | None = None) -> None:
        self._execute(sql.FINISH_RUN, (status, now(), error, run_id))

    def runs(self, dataset_id: int) -> list[dict[str, Any]]:
        return self._dicts(sql.RUNS, (dataset_id,))

    def active_score_key(self, dataset_id: int) -> str | None:
        rows = self._rows(sql.ACTIVE_SCORE_KEY, (dataset_id,))
        return rows[0][0] if rows else None

    def last_run_config(self, dataset_id: int) -> dict[str, Any] | None:
        rows = self._rows(sql.LAST_RUN_CONFIG, (dataset_id,))
        return json.loads(rows[0][0]) if rows else None

    def run_timings(self, *, stage: str, backend: str, model: str, limit: int = 50) -> list[dict[str, Any]]:
        """Finished runs of ``stage`` on this backend and model, newest first, with their
        wall-clock ``seconds``, ``n_done``, ``calls``, ``cache_hits``, dataset and score key."""
        return self._dicts(sql.RUN_TIMINGS, (stage, backend, model, limit))
