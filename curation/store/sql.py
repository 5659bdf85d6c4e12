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
# New examples come from two relations: ``new_ids`` (seq, example_id, id_source) and ``new_rows``
# (seq, line, prompt, prompt_text, response, record), a registered Arrow table or an import's
# staging. Ids the dataset has already are left out; the rest take the next positions in ``seq``
# order, numbered first on the narrow ids alone (so the wide rows are only joined once, by seq).
NEW_POSITIONS = """
    CREATE OR REPLACE TEMP TABLE new_positions AS
    SELECT seq, example_id, id_source, row_number() OVER (ORDER BY seq) - 1 AS nth FROM new_ids
    WHERE example_id NOT IN (SELECT example_id FROM examples WHERE dataset_id = ?)
"""
INSERT_EXAMPLES = """
    INSERT INTO examples
    SELECT ?, p.example_id, p.id_source, ? + p.nth, r.line, r.prompt, r.prompt_text, r.response, r.record
    FROM new_positions p JOIN new_rows r USING (seq)
"""
DROP_NEW_POSITIONS = "DROP TABLE new_positions"
INSERT_REJECTED = "INSERT INTO rejected SELECT dataset_id, line, field, message, raw FROM new_rejected"

# Staging: an import's checked records, on one connection, before anything is stored. A record
# with problems is staged only for its own id (good = false, no text), so that duplicates count it.
CREATE_STAGED = """
    CREATE OR REPLACE TEMP TABLE staged_records (
        seq BIGINT NOT NULL, source VARCHAR NOT NULL, line INTEGER NOT NULL, own_id VARCHAR, base VARCHAR,
        good BOOLEAN NOT NULL, prompt VARCHAR, prompt_text VARCHAR, response VARCHAR, record VARCHAR, raw VARCHAR
    )
"""
INSERT_STAGED = "INSERT INTO staged_records SELECT * FROM staged_chunk"
# Every record whose own id an earlier record has, with where that one is.
STAGED_DUPLICATES = """
    SELECT d.seq, d.source, d.line, d.own_id, d.first_source, d.first_line, r.raw
    FROM (SELECT seq, source, line, own_id, row_number() OVER w AS nth,
                 first_value(source) OVER w AS first_source, first_value(line) OVER w AS first_line
          FROM staged_records WHERE own_id IS NOT NULL
          WINDOW w AS (PARTITION BY own_id ORDER BY seq)) d
    JOIN staged_records r USING (seq)
    WHERE d.nth > 1
    ORDER BY d.seq
"""
# The id of every record kept (good, and not a duplicate): its own id, else its content hash
# ``base`` for the first record of that content, ``base~2``, ``base~3``... for the next ones,
# skipping any such id that a kept record has as its own (the k-th hash of a base is its k-th
# candidate id that no own id takes: k plus the taken candidates j_i, ranked i, with j_i - i < k).
SETTLE_STAGED_IDS = """
    CREATE OR REPLACE TEMP TABLE new_ids AS
    WITH kept AS (
        SELECT seq, own_id, base FROM (
            SELECT seq, own_id, base, good,
                   own_id IS NULL OR row_number() OVER (PARTITION BY own_id ORDER BY seq) = 1 AS first
            FROM staged_records)
        WHERE good AND first
    ),
    hashed AS (
        SELECT seq, base, row_number() OVER (PARTITION BY base ORDER BY seq) AS k FROM kept WHERE own_id IS NULL
    ),
    forms AS (
        SELECT own_id, regexp_extract(own_id, '~([1-9][0-9]{0,8})$', 1) AS suffix FROM kept WHERE own_id IS NOT NULL
    ),
    taken AS (
        SELECT base, j, row_number() OVER (PARTITION BY base ORDER BY j) AS i FROM (
            SELECT CASE WHEN suffix = '' THEN own_id ELSE left(own_id, length(own_id) - length(suffix) - 1) END AS base,
                   CASE WHEN suffix = '' THEN 1 ELSE CAST(suffix AS BIGINT) END AS j
            FROM forms WHERE suffix <> '1')
        WHERE base IN (SELECT base FROM hashed)
    ),
    numbered AS (
        SELECT h.seq, h.base, h.k + count(t.j) AS j
        FROM hashed h LEFT JOIN taken t ON t.base = h.base AND t.j - t.i < h.k
        GROUP BY h.seq, h.base, h.k
    )
    SELECT k.seq,
           coalesce(k.own_id, CASE WHEN n.j = 1 THEN n.base ELSE n.base || '~' || n.j END) AS example_id,
           CASE WHEN k.own_id IS NULL THEN 'hash' ELSE 'record' END AS id_source
    FROM kept k LEFT JOIN numbered n USING (seq)
"""
STAGED_ROWS_VIEW = "CREATE OR REPLACE TEMP VIEW new_rows AS SELECT * FROM staged_records"
COUNT_STAGED_IDS = "SELECT count(*) FROM new_ids"
STAGED_EXAMPLES = """
    SELECT i.example_id, i.id_source, r.line, r.prompt, r.response, r.record
    FROM new_ids i JOIN staged_records r USING (seq) ORDER BY seq
"""
DROP_STAGED = (
    "DROP VIEW IF EXISTS new_rows",
    "DROP TABLE IF EXISTS new_ids",
    "DROP TABLE IF EXISTS staged_records",
)
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

# Export: the examples at positions [$2, $3) with their decision in force, their text in force
# (the text_in_force macro, the definition of texts_in_force, on a page already narrowed), proposal,
# flag and confidence ($4 score_key).
POSITIONS_END = "SELECT coalesce(max(position) + 1, 0) FROM examples WHERE dataset_id = ?"
EXPORT_PAGE = """
    WITH e AS (SELECT * FROM examples WHERE dataset_id = $1 AND position >= $2 AND position < $3)
    SELECT e.example_id, e.prompt, e.response, e.record,
           d.action, d.annotator,
           text_in_force(d.action, d.after, p.auto_applied, p.candidate, e.response) AS in_force,
           coalesce(p.auto_applied, false) AS auto_applied, p.judge_confidence,
           p.candidates ->> '$[1].evidence' AS evidence,
           f.flagged, f.threshold, s.confidence
    FROM e
    LEFT JOIN (SELECT * FROM proposals WHERE dataset_id = $1 AND example_id IN (SELECT example_id FROM e)) p
           ON p.example_id = e.example_id
    LEFT JOIN (SELECT * FROM decisions_in_force WHERE dataset_id = $1 AND example_id IN (SELECT example_id FROM e)) d
           ON d.example_id = e.example_id
    LEFT JOIN (SELECT * FROM flags WHERE dataset_id = $1 AND example_id IN (SELECT example_id FROM e)) f
           ON f.example_id = e.example_id
    LEFT JOIN (SELECT * FROM scores WHERE dataset_id = $1 AND score_key = $4
                                      AND example_id IN (SELECT example_id FROM e)) s
           ON s.example_id = e.example_id
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
