"""The project store's queries, as named constants with ``?`` parameters.

Executed only by :mod:`curation.store` (the one module that talks to DuckDB); the schema
they run against is :mod:`curation.store.schema`.
"""

from __future__ import annotations

CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
    "applied_at TIMESTAMP NOT NULL)"
)
APPLIED = "SELECT id, name FROM migrations ORDER BY id"
RECORD_MIGRATION = "INSERT INTO migrations VALUES (?, ?, ?)"

NEXT_DATASET_ID = "SELECT coalesce(max(dataset_id), 0) + 1 FROM datasets"
INSERT_DATASET = "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_EXAMPLES = (
    "INSERT INTO examples SELECT dataset_id, example_id, id_source, position, line, prompt, "
    "prompt_text, response, record FROM new_examples"
)
INSERT_REJECTED = "INSERT INTO rejected VALUES (?, ?, ?, ?, ?)"
EXAMPLE_IDS = "SELECT example_id FROM examples WHERE dataset_id = ?"
UPDATE_DATASET_COUNTS = (
    "UPDATE datasets SET n_examples = n_examples + ?, n_rejected = n_rejected + ?, source_sha256 = ? "
    "WHERE dataset_id = ?"
)
DATASETS = (
    "SELECT dataset_id, name, source_path, source_sha256, file_type, format, options, n_examples, "
    "n_rejected, imported_at FROM datasets ORDER BY dataset_id"
)
DATASET_BY_NAME = DATASETS.replace("ORDER BY dataset_id", "WHERE name = ?")
REJECTED = "SELECT line, field, message, raw FROM rejected WHERE dataset_id = ? ORDER BY line"

EXAMPLES_PAGE = (
    "SELECT example_id, id_source, line, prompt, response, record FROM examples "
    "WHERE dataset_id = ? AND position >= ? ORDER BY position LIMIT ?"
)
EXAMPLE = (
    "SELECT example_id, id_source, line, prompt, response, record FROM examples WHERE dataset_id = ? AND example_id = ?"
)

CACHE_GET = "SELECT key, result FROM llm_cache WHERE key IN (SELECT unnest(?::VARCHAR[]))"
CACHE_PUT = "INSERT OR IGNORE INTO llm_cache VALUES (?, ?, ?, ?, ?, ?)"
CACHE_COUNT = "SELECT count(*) FROM llm_cache"

INSERT_RUN = (
    "INSERT INTO runs (run_id, dataset_id, stage, backend, model, config, score_key, status, "
    "started_at, n_examples) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)"
)
UPDATE_RUN = (
    "UPDATE runs SET n_done = ?, n_failed = ?, calls = ?, cache_hits = ?, prompt_tokens = ?, "
    "completion_tokens = ?, cost_usd = ? WHERE run_id = ?"
)
FINISH_RUN = "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?"
RUNS = (
    "SELECT run_id, dataset_id, stage, backend, model, score_key, status, started_at, finished_at, "
    "n_examples, n_done, n_failed, calls, cache_hits, prompt_tokens, completion_tokens, cost_usd, error "
    "FROM runs WHERE dataset_id = ? ORDER BY started_at DESC"
)
ACTIVE_SCORE_KEY = (
    "SELECT score_key FROM runs WHERE dataset_id = ? AND stage = 'score' AND score_key IS NOT NULL "
    "ORDER BY started_at DESC LIMIT 1"
)
LAST_RUN_CONFIG = "SELECT config FROM runs WHERE dataset_id = ? ORDER BY started_at DESC LIMIT 1"
RUN_TIMINGS = (  # finished runs that did something, newest first: what calibrates estimates
    "SELECT dataset_id, score_key, n_done, calls, cache_hits, "
    "date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds FROM runs "
    "WHERE stage = ? AND backend = ? AND model = ? AND status IN ('done', 'cancelled', 'budget') "
    "AND finished_at IS NOT NULL AND n_done > 0 ORDER BY finished_at DESC LIMIT ?"
)

UPSERT_SCORE = "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
SCORED_IDS = "SELECT example_id FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'ok'"
SCORES = (
    "SELECT example_id, status, confidence, consistency, reflection, signals, fired, explanation, error "
    "FROM scores WHERE dataset_id = ? AND score_key = ?"
)
UPDATE_CONFIDENCES = (
    "UPDATE scores SET confidence = n.confidence, fired = n.fired FROM new_confidences n "
    "WHERE scores.dataset_id = ? AND scores.score_key = ? AND scores.example_id = n.example_id"
)
CONFIDENCES = "SELECT example_id, confidence FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'ok'"
FLAGGED_IDS = "SELECT example_id FROM flags WHERE dataset_id = ? AND flagged ORDER BY example_id"
DELETE_FLAGS = "DELETE FROM flags WHERE dataset_id = ?"
INSERT_FLAGS = "INSERT INTO flags SELECT dataset_id, example_id, flagged, threshold, run_id FROM new_flags"
UPSERT_PROPOSAL = (
    "INSERT OR REPLACE INTO proposals (dataset_id, example_id, run_id, candidate, judge_confidence, verdicts, "
    "auto_applied, status, error, created_at, candidates, source, margin, calibration) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
PROPOSALS = (
    "SELECT example_id, run_id, candidate, judge_confidence, verdicts, auto_applied, status, error, "
    "candidates, source, margin, calibration FROM proposals WHERE dataset_id = ?"
)
SET_AUTO_APPLIED = (
    "UPDATE proposals SET auto_applied = (status = 'ok' AND judge_confidence >= ? AND ?) WHERE dataset_id = ?"
)

APPEND_REVIEW = (
    "INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, "
    "undoes, created_at, adjudicates) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING event_id"
)
# The decision in force per example (the view defines it: curation.store.schema).
CURRENT_DECISIONS = """
    SELECT example_id, event_id, action, annotator, before, after, created_at
    FROM decisions_in_force WHERE dataset_id = ?
"""

# Export: every example with its decision in force, its text in force, its proposal and its flag.
EXPORT_ROWS = """
    SELECT e.example_id, e.prompt, e.response, e.record,
           t.action, t.annotator, t.in_force, t.auto_applied, t.judge_confidence,
           f.flagged, f.threshold, s.confidence
    FROM examples e
    JOIN texts_in_force t ON t.dataset_id = e.dataset_id AND t.example_id = e.example_id
    LEFT JOIN flags f ON f.dataset_id = e.dataset_id AND f.example_id = e.example_id
    LEFT JOIN scores s ON s.dataset_id = e.dataset_id AND s.example_id = e.example_id
                      AND s.score_key = ?
    WHERE e.dataset_id = ?
    ORDER BY e.position
"""

STATUS = """
    SELECT
      (SELECT count(*) FROM examples WHERE dataset_id = ?) AS examples,
      (SELECT count(*) FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'ok') AS scored,
      (SELECT count(*) FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'failed') AS failed,
      (SELECT count(*) FROM flags WHERE dataset_id = ? AND flagged) AS flagged,
      (SELECT count(*) FROM proposals WHERE dataset_id = ? AND status = 'ok') AS proposed,
      (SELECT count(*) FROM proposals WHERE dataset_id = ? AND auto_applied) AS auto_applied,
      (SELECT count(*) FROM decisions_in_force WHERE dataset_id = ?) AS decided
"""

SETTING = "SELECT value FROM dataset_settings WHERE dataset_id = ? AND key = ?"
PUT_SETTING = "INSERT OR REPLACE INTO dataset_settings VALUES (?, ?, ?, ?)"

DELETE_ASSIGNMENTS = "DELETE FROM assignments WHERE dataset_id = ?"
INSERT_ASSIGNMENTS = (
    "INSERT INTO assignments SELECT dataset_id, example_id, annotator, assigned_at FROM new_assignments"
)
ASSIGNEES = "SELECT DISTINCT annotator FROM assignments WHERE dataset_id = ? ORDER BY annotator"
