"""The store's typed queries for the Insights page and agreement: every value a bound parameter."""

from __future__ import annotations

from typing import Any

from curation.store.review_sql import EFFECTIVE

# Each annotator's latest decision (adjudications left out) on examples two or more decided.
SQL_MULTI_DECISIONS = f"""
    WITH {EFFECTIVE},
    latest AS (
        SELECT example_id, annotator, action FROM effective WHERE NOT adjudicates
        QUALIFY row_number() OVER (PARTITION BY example_id, annotator ORDER BY event_id DESC) = 1
    )
    SELECT example_id, annotator, action FROM latest
    WHERE example_id IN (SELECT example_id FROM latest GROUP BY example_id HAVING count(*) >= 2)
    ORDER BY example_id, annotator
"""

# Examples whose decision in force a person made one by one (bulk rules measure nothing),
# with their automatic scores: $1 dataset_id, $2 score_key.
SQL_REVIEWED = f"""
    WITH {EFFECTIVE}
    SELECT d.example_id, d.action, s.confidence, f.flagged, p.judge_confidence, p.auto_applied,
           p.status AS proposal_status
    FROM decision d
    LEFT JOIN scores s ON s.dataset_id = $1 AND s.example_id = d.example_id AND s.score_key = $2
                      AND s.status = 'ok'
    LEFT JOIN flags f ON f.dataset_id = $1 AND f.example_id = d.example_id
    LEFT JOIN proposals p ON p.dataset_id = $1 AND p.example_id = d.example_id
    WHERE d.batch_id IS NULL
"""

# Histograms: $1 dataset_id, $2 score_key, $3 number of bins.
SQL_CONFIDENCE_HISTOGRAM = f"""
    WITH {EFFECTIVE}
    SELECT least(floor(s.confidence * $3), $3 - 1)::INTEGER AS bin,
           CASE WHEN coalesce(p.auto_applied, false) THEN 'auto-corrected'
                WHEN coalesce(f.flagged, false) THEN 'flagged' ELSE 'passed' END AS status,
           coalesce(d.action, 'undecided') AS decision,
           count(*) AS n
    FROM scores s
    LEFT JOIN flags f ON f.dataset_id = s.dataset_id AND f.example_id = s.example_id
    LEFT JOIN proposals p ON p.dataset_id = s.dataset_id AND p.example_id = s.example_id
    LEFT JOIN decision d ON d.example_id = s.example_id
    WHERE s.dataset_id = $1 AND s.score_key = $2 AND s.status = 'ok' AND s.confidence IS NOT NULL
    GROUP BY ALL ORDER BY bin
"""
SQL_SIGNAL_HISTOGRAM = """
    WITH parts AS (
        SELECT j.key AS signal, TRY_CAST(j.value AS DOUBLE) AS value
        FROM scores s, json_each(s.signals) j
        WHERE s.dataset_id = $1 AND s.score_key = $2 AND s.status = 'ok'
        UNION ALL
        SELECT 'consistency', consistency FROM scores WHERE dataset_id = $1 AND score_key = $2 AND status = 'ok'
        UNION ALL
        SELECT 'reflection', reflection FROM scores WHERE dataset_id = $1 AND score_key = $2 AND status = 'ok'
    )
    SELECT signal, least(floor(value * $3), $3 - 1)::INTEGER AS bin, count(*) AS n
    FROM parts WHERE value IS NOT NULL GROUP BY ALL ORDER BY signal, bin
"""
SQL_COUNT_BELOW = """
    SELECT count(*) FILTER (WHERE confidence < ?) AS below, count(*) AS scored,
           (SELECT max(threshold) FROM flags WHERE dataset_id = ?) AS gamma,
           (SELECT count(*) FROM flags WHERE dataset_id = ? AND flagged) AS flagged
    FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'ok' AND confidence IS NOT NULL
"""


class InsightQueries:
    """Mixed into :class:`curation.store.Store` (which provides ``_rows``, ``_dicts``, ``active_score_key``)."""

    def multi_decisions(self, dataset_id: int) -> list[tuple[str, str, str]]:
        """``(example_id, annotator, action)`` of every example two or more annotators decided."""
        return self._rows(SQL_MULTI_DECISIONS, (dataset_id,))

    def reviewed(self, dataset_id: int) -> list[dict[str, Any]]:
        """Examples decided one by one, with their confidence, flag and proposal."""
        return self._dicts(SQL_REVIEWED, (dataset_id, self.active_score_key(dataset_id)))

    def confidence_histogram(self, dataset_id: int, bins: int) -> list[dict[str, Any]]:
        return self._dicts(SQL_CONFIDENCE_HISTOGRAM, (dataset_id, self.active_score_key(dataset_id), bins))

    def signal_histogram(self, dataset_id: int, bins: int) -> list[dict[str, Any]]:
        return self._dicts(SQL_SIGNAL_HISTOGRAM, (dataset_id, self.active_score_key(dataset_id), bins))

    def count_below(self, dataset_id: int, gamma: float) -> dict[str, Any]:
        key = self.active_score_key(dataset_id)
        return self._dicts(SQL_COUNT_BELOW, (gamma, dataset_id, dataset_id, dataset_id, key))[0]


__all__ = ["InsightQueries"]
