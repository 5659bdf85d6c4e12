"""The project store's schema, as ordered, named migrations.

Each migration is a name and a list of DDL statements; :mod:`curation.store` applies the
ones not yet recorded in ``migrations``, in order, each in its own transaction. Never edit
a released migration: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0001_initial",
        [
            """CREATE TABLE datasets (
            dataset_id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            source_path VARCHAR NOT NULL,
            source_sha256 VARCHAR NOT NULL,
            file_type VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            options JSON NOT NULL,
            n_examples INTEGER NOT NULL,
            n_rejected INTEGER NOT NULL,
            imported_at TIMESTAMP NOT NULL
        )""",
            """CREATE TABLE examples (
            dataset_id INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            id_source VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            line INTEGER NOT NULL,
            prompt JSON NOT NULL,
            prompt_text VARCHAR NOT NULL,
            response VARCHAR NOT NULL,
            record JSON NOT NULL,
            PRIMARY KEY (dataset_id, example_id)
        )""",
            """CREATE TABLE rejected (
            dataset_id INTEGER NOT NULL,
            line INTEGER,
            field VARCHAR,
            message VARCHAR NOT NULL,
            raw VARCHAR NOT NULL
        )""",
            """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            dataset_id INTEGER NOT NULL,
            stage VARCHAR NOT NULL,
            backend VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            config JSON NOT NULL,
            score_key VARCHAR,
            status VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            n_examples INTEGER NOT NULL DEFAULT 0,
            n_done INTEGER NOT NULL DEFAULT 0,
            n_failed INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0,
            cache_hits INTEGER NOT NULL DEFAULT 0,
            prompt_tokens BIGINT NOT NULL DEFAULT 0,
            completion_tokens BIGINT NOT NULL DEFAULT 0,
            cost_usd DOUBLE NOT NULL DEFAULT 0,
            error VARCHAR
        )""",
            # One row per example and scoring configuration (score_key = hash of model + scoring
            # settings): a new config scores afresh, an old one is kept as history.
            """CREATE TABLE scores (
            dataset_id INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            score_key VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            confidence DOUBLE,
            consistency DOUBLE,
            reflection DOUBLE,
            signals JSON NOT NULL,
            fired JSON NOT NULL,
            explanation JSON NOT NULL,
            error VARCHAR,
            scored_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, example_id, score_key)
        )""",
            """CREATE TABLE flags (
            dataset_id INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            flagged BOOLEAN NOT NULL,
            threshold DOUBLE NOT NULL,
            run_id VARCHAR NOT NULL,
            PRIMARY KEY (dataset_id, example_id)
        )""",
            """CREATE TABLE proposals (
            dataset_id INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            candidate VARCHAR NOT NULL,
            judge_confidence DOUBLE,
            verdicts JSON NOT NULL,
            auto_applied BOOLEAN NOT NULL,
            status VARCHAR NOT NULL,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, example_id)
        )""",
            "CREATE SEQUENCE review_event_ids START 1",
            # Append-only: the current decision is the latest event not undone.
            """CREATE TABLE review_log (
            event_id BIGINT PRIMARY KEY DEFAULT nextval('review_event_ids'),
            dataset_id INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            annotator VARCHAR NOT NULL,
            before VARCHAR,
            after VARCHAR,
            batch_id VARCHAR,
            undoes BIGINT,
            created_at TIMESTAMP NOT NULL
        )""",
            """CREATE TABLE llm_cache (
            key VARCHAR PRIMARY KEY,
            backend VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            request JSON NOT NULL,
            result JSON NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
            "CREATE INDEX review_log_example ON review_log (dataset_id, example_id)",
        ],
    ),
    # Correction as a contest: every candidate with its confidence, the winner's source, its
    # margin over the original and the calibration that turned the margin into a probability.
    (
        "0002_proposal_contest",
        [
            "ALTER TABLE proposals ADD COLUMN candidates JSON DEFAULT '[]'",
            "ALTER TABLE proposals ADD COLUMN source VARCHAR",
            "ALTER TABLE proposals ADD COLUMN margin DOUBLE",
            "ALTER TABLE proposals ADD COLUMN calibration VARCHAR",
        ],
    ),
    # Team review: per-dataset settings (the export's choice for undecided flags), the queue's
    # split among annotators, and the events that settle a disagreement (adjudications).
    (
        "0003_team_review",
        [
            """CREATE TABLE dataset_settings (
            dataset_id INTEGER NOT NULL,
            key VARCHAR NOT NULL,
            value JSON NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, key)
        )""",
            """CREATE TABLE assignments (
            dataset_id INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            annotator VARCHAR NOT NULL,
            assigned_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, example_id, annotator)
        )""",
            "ALTER TABLE review_log ADD COLUMN adjudicates BOOLEAN DEFAULT false",
        ],
    ),
    # The decision in force and the text in force, defined once for every reader (review,
    # insights, status, export). An event is in effect unless it is an undo or an undo names it;
    # the decision in force is an example's latest event in effect, by anyone; the text in force
    # is what export would write if the example stays: the decision's text for accept / edit,
    # else an auto-applied correction, else the original response.
    (
        "0004_decision_views",
        [
            """CREATE VIEW review_effective AS
            SELECT * FROM review_log
            WHERE action <> 'undo'
              AND event_id NOT IN (SELECT undoes FROM review_log WHERE action = 'undo' AND undoes IS NOT NULL)""",
            """CREATE VIEW decisions_in_force AS
            SELECT * FROM review_effective
            QUALIFY row_number() OVER (PARTITION BY dataset_id, example_id ORDER BY event_id DESC) = 1""",
            """CREATE VIEW texts_in_force AS
            SELECT e.dataset_id, e.example_id, e.response, p.candidate, p.status AS proposal_status,
                   coalesce(p.auto_applied, false) AS auto_applied, p.judge_confidence,
                   d.event_id, d.action, d.annotator, d.after, d.batch_id, d.created_at AS decided_at,
                   CASE WHEN d.action IN ('accept', 'edit') THEN d.after
                        WHEN d.action IS NULL AND coalesce(p.auto_applied, false) THEN p.candidate
                        ELSE e.response END AS in_force
            FROM examples e
            LEFT JOIN proposals p ON p.dataset_id = e.dataset_id AND p.example_id = e.example_id
            LEFT JOIN decisions_in_force d ON d.dataset_id = e.dataset_id AND d.example_id = e.example_id""",
        ],
    ),
    # The text in force as a macro, so a query that has already narrowed its examples (a queue
    # page) applies the same definition without running the view over the whole dataset.
    (
        "0005_text_in_force_macro",
        [
            """CREATE OR REPLACE MACRO text_in_force(action, after, auto_applied, candidate, response) AS
            CASE WHEN action IN ('accept', 'edit') THEN after
                 WHEN action IS NULL AND coalesce(auto_applied, false) THEN candidate
                 ELSE response END""",
            """CREATE OR REPLACE VIEW texts_in_force AS
            SELECT e.dataset_id, e.example_id, e.response, p.candidate, p.status AS proposal_status,
                   coalesce(p.auto_applied, false) AS auto_applied, p.judge_confidence,
                   d.event_id, d.action, d.annotator, d.after, d.batch_id, d.created_at AS decided_at,
                   text_in_force(d.action, d.after, p.auto_applied, p.candidate, e.response) AS in_force
            FROM examples e
            LEFT JOIN proposals p ON p.dataset_id = e.dataset_id AND p.example_id = e.example_id
            LEFT JOIN decisions_in_force d ON d.dataset_id = e.dataset_id AND d.example_id = e.example_id""",
        ],
    ),
    # Fine-tuning hand-off: one row per job started on a provider, refreshed from its endpoint
    # (a job's state lives there; this is the last state seen), so `curate finetune --status`
    # and the Export page list them and a finished job's model can write the next corrections.
    (
        "0006_finetune_jobs",
        [
            """CREATE TABLE finetune_jobs (
            job_id VARCHAR PRIMARY KEY,
            dataset_id INTEGER NOT NULL,
            provider VARCHAR NOT NULL,
            base_model VARCHAR NOT NULL,
            base_url VARCHAR,
            file_id VARCHAR NOT NULL,
            export_path VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            fine_tuned_model VARCHAR,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
        ],
    ),
    # OpenAI Batch API: one row per batch sent, so a restarted run polls it instead of sending its
    # calls again; its lines (the request of each, to fill the call cache from its results) are
    # kept until the results are in; ``failed`` lists the cache keys it did not answer (normal calls).
    (
        "0007_llm_batches",
        [
            """CREATE TABLE llm_batches (
            batch_id VARCHAR PRIMARY KEY,
            backend VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            base_url VARCHAR,
            input_file_id VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            n_lines INTEGER NOT NULL,
            n_failed INTEGER NOT NULL DEFAULT 0,
            failed JSON NOT NULL DEFAULT '[]',
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
            """CREATE TABLE llm_batch_lines (
            batch_id VARCHAR NOT NULL,
            custom_id VARCHAR NOT NULL,
            request JSON NOT NULL,
            PRIMARY KEY (batch_id, custom_id)
        )""",
        ],
    ),
    # The review queue's order, stored: rank 0.. over every example of a dataset under its active
    # score (least confident first, unscored last, ties in file order), rebuilt when a scoring run
    # folds its confidences, with a stamp of the scores it was built from; a queue page ranks by it
    # (an integer, without joining a million scores) only while the stamp still matches. And the
    # decision in force narrowed to some examples, as a table macro: the view over the whole
    # dataset does not push an example filter through its window.
    (
        "0008_queue_order",
        [
            """CREATE TABLE queue_order (
            dataset_id INTEGER NOT NULL,
            rank INTEGER NOT NULL,
            example_id VARCHAR NOT NULL
        )""",
            """CREATE TABLE queue_order_stamps (
            dataset_id INTEGER PRIMARY KEY,
            score_key VARCHAR NOT NULL,
            stamp VARCHAR NOT NULL,
            built_at TIMESTAMP NOT NULL
        )""",
            """CREATE OR REPLACE MACRO decisions_in_force_of(ds, ids) AS TABLE
            SELECT * FROM review_effective WHERE dataset_id = ds AND list_contains(ids, example_id)
            QUALIFY row_number() OVER (PARTITION BY dataset_id, example_id ORDER BY event_id DESC) = 1""",
        ],
    ),
]
