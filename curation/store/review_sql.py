"""The review stage's SQL, as named constants (every value a bound parameter).

In: nothing but strings. Out: the queue's fragments (``Q_*``, assembled by
:func:`curation.review.queue_window` and friends) and whole statements (``SQL_*``) for decisions,
undo and bulk rules. The decision in force and the text in force are defined once, in
:mod:`curation.store.schema` (the views ``review_effective``, ``decisions_in_force`` and
``texts_in_force``, and the ``text_in_force`` macro for queries that have already narrowed their
examples); every statement here uses them rather than saying again what they mean.
"""

from __future__ import annotations

# The queue's SQL is assembled from the named fragments below, one per filter in use, so that a
# filter left empty costs no join and no scan (a join of 100,000 rows is most of a page's time).
# Every value is a bound ``?`` parameter; a fragment lists how many it takes.
Q_DECISIONS = "WITH decision AS (SELECT * FROM decisions_in_force WHERE dataset_id = ?)"  # dataset_id
Q_COUNT = "SELECT count(*)"
Q_PAGE = "SELECT e.example_id, count(*) OVER () AS total"
# The queue's order: least confident first, unscored last, ties in file order.
QUEUE_ORDER = "s.confidence ASC NULLS LAST, e.position"
Q_POSITION = f"SELECT pos FROM (SELECT e.example_id, row_number() OVER (ORDER BY {QUEUE_ORDER}) - 1 AS pos"
Q_FROM = "FROM examples e"
Q_JOIN_SCORES = (
    "LEFT JOIN scores s ON s.dataset_id = e.dataset_id AND s.example_id = e.example_id AND s.score_key = ?"  # score_key
)
Q_JOIN_FLAGS = "LEFT JOIN flags f ON f.dataset_id = e.dataset_id AND f.example_id = e.example_id"
Q_JOIN_PROPOSALS = "LEFT JOIN proposals p ON p.dataset_id = e.dataset_id AND p.example_id = e.example_id"
Q_JOIN_DECISIONS = "LEFT JOIN decision d ON d.example_id = e.example_id"
Q_WHERE = "WHERE e.dataset_id = ?"  # dataset_id
Q_STATUS = {
    "all": "",
    "flagged": "AND coalesce(f.flagged, false)",
    "proposed": "AND p.status = 'ok'",
    "auto_applied": "AND coalesce(p.auto_applied, false)",
    "decided": "AND d.action IS NOT NULL",
    "undecided": "AND d.action IS NULL",
    "flagged_undecided": "AND coalesce(f.flagged, false) AND d.action IS NULL AND NOT coalesce(p.auto_applied, false)",
}
# dataset_id, annotator
Q_ASSIGNED = "AND e.example_id IN (SELECT example_id FROM assignments WHERE dataset_id = ? AND annotator = ?)"
# The fired list is a JSON array of names: its quoted element, found as text (no JSON parse of
# every row; a name holds no quote, so '"format"' matches that element alone).
Q_SIGNAL = "AND contains(s.fired, ?)"  # the signal's name as a JSON string
Q_CONF_MIN = "AND s.confidence >= ?"  # conf_min
Q_CONF_MAX = "AND s.confidence <= ?"  # conf_max
# A literal, case-insensitive substring: no LIKE wildcards, so % _ \\ ' need no escaping.
Q_SEARCH = "AND (contains(lower(e.prompt_text), lower(?)) OR contains(lower(e.response), lower(?)))"  # search x2
Q_IDS = "SELECT e.example_id"
Q_ORDER = f"ORDER BY {QUEUE_ORDER}"
Q_ORDER_PAGE = f"{Q_ORDER} LIMIT ? OFFSET ?"  # limit, offset
Q_POSITION_END = ") WHERE example_id = ?"  # example_id
# The same queue ranked by the stored order (``queue_order`` as ``e``: its dataset_id and
# example_id serve the joins above; the search finds its examples' ids first).
Q_FROM_RANKED = "FROM queue_order e"
Q_SEARCH_RANKED = (
    "AND e.example_id IN (SELECT example_id FROM examples WHERE dataset_id = ? "
    "AND (contains(lower(prompt_text), lower(?)) OR contains(lower(response), lower(?))))"
)  # dataset_id, search x2
Q_ORDER_RANKED = "ORDER BY e.rank"
Q_ORDER_PAGE_RANKED = f"{Q_ORDER_RANKED} LIMIT ? OFFSET ?"  # limit, offset
Q_POSITION_RANKED = "SELECT pos FROM (SELECT e.example_id, row_number() OVER (ORDER BY e.rank) - 1 AS pos"
# The unfiltered queue's page straight from the ranks: dataset_id, first rank, limit, dataset_id.
SQL_PAGE_BY_RANK = """
    SELECT example_id, (SELECT count(*) FROM queue_order WHERE dataset_id = ?) AS total
    FROM queue_order WHERE dataset_id = ? AND rank >= ? ORDER BY rank LIMIT ?
"""

# The stored order's stamp of the scores under $2 score_key of $1 dataset_id: when the examples,
# the scored examples or any confidence change, so does the stamp.
SQL_ORDER_STAMP = """
    SELECT concat_ws(':', (SELECT count(*) FROM examples WHERE dataset_id = $1), count(*),
                     coalesce(bit_xor(hash(example_id, confidence)), 0))
    FROM scores WHERE dataset_id = $1 AND score_key = $2
"""
SQL_ORDER_STAMP_SAVED = "SELECT stamp FROM queue_order_stamps WHERE dataset_id = ? AND score_key = ?"
SQL_ORDER_DELETE = "DELETE FROM queue_order WHERE dataset_id = ?"
# $1 dataset_id, $2 score_key.
SQL_ORDER_BUILD = f"""
    INSERT INTO queue_order
    SELECT e.dataset_id, row_number() OVER (ORDER BY {QUEUE_ORDER}) - 1 AS rank, e.example_id
    FROM examples e
    LEFT JOIN scores s ON s.dataset_id = e.dataset_id AND s.example_id = e.example_id AND s.score_key = $2
    WHERE e.dataset_id = $1
    ORDER BY rank
"""
SQL_ORDER_STAMP_SAVE = "INSERT OR REPLACE INTO queue_order_stamps VALUES (?, ?, ?, ?)"

# The wide columns of one page's examples, found by id: $1 dataset_id, $2 ids, $3 score_key.
SQL_QUEUE_DETAILS = """
    WITH d AS (SELECT * FROM decisions_in_force_of($1, $2)),
    voters AS (
        SELECT example_id, count(DISTINCT annotator) AS n_annotators FROM review_effective
        WHERE dataset_id = $1 AND example_id = ANY($2) GROUP BY example_id
    )
    SELECT e.example_id, e.position, e.prompt, e.response,
           s.status AS score_status, s.confidence, s.consistency, s.reflection, s.signals, s.fired,
           s.explanation, s.error AS score_error, f.flagged, f.threshold,
           p.candidate, p.judge_confidence, p.verdicts, p.auto_applied, p.status AS proposal_status,
           p.error AS proposal_error, p.candidates, p.source AS proposal_source, p.margin,
           d.event_id, d.action, d.annotator, d.after, d.created_at AS decided_at,
           text_in_force(d.action, d.after, p.auto_applied, p.candidate, e.response) AS in_force,
           coalesce(v.n_annotators, 0) AS n_annotators
    FROM (SELECT example_id, position, prompt, response FROM examples WHERE dataset_id = $1 AND example_id = ANY($2)) e
    LEFT JOIN (SELECT * FROM scores WHERE dataset_id = $1 AND score_key = $3 AND example_id = ANY($2)) s
           ON s.example_id = e.example_id
    LEFT JOIN (SELECT * FROM flags WHERE dataset_id = $1 AND example_id = ANY($2)) f ON f.example_id = e.example_id
    LEFT JOIN (SELECT * FROM proposals WHERE dataset_id = $1 AND example_id = ANY($2)) p
           ON p.example_id = e.example_id
    LEFT JOIN d ON d.example_id = e.example_id
    LEFT JOIN voters v ON v.example_id = e.example_id
"""

# The store's views narrowed to $1 dataset_id, as two CTEs for a ``WITH``: ``effective`` (every
# event in effect) and ``decision`` (the decision in force per example). Undo, bulk rules and
# curation.insights build on them. Bulk rules, decision history and insights share these
# numbered parameters:
#   $1 dataset_id, $2 score_key, $3 status, $4 signal, $5 conf_min, $6 conf_max, $7 search, $8 assignee
EFFECTIVE = """
    effective AS (SELECT * FROM review_effective WHERE dataset_id = $1),
    decision AS (SELECT * FROM decisions_in_force WHERE dataset_id = $1)"""

# The filtered queue with everything the bulk rules need (one statement for any filter).
_BASE = f"""
    WITH {EFFECTIVE},
    base AS (
        SELECT e.example_id, e.position, e.response, s.confidence, s.fired, f.flagged,
               p.candidate, p.judge_confidence, p.status AS proposal_status, p.auto_applied, d.action, d.after,
               text_in_force(d.action, d.after, p.auto_applied, p.candidate, e.response) AS in_force
        FROM examples e
        LEFT JOIN scores s ON s.dataset_id = e.dataset_id AND s.example_id = e.example_id
                          AND s.score_key = $2
        LEFT JOIN flags f ON f.dataset_id = e.dataset_id AND f.example_id = e.example_id
        LEFT JOIN proposals p ON p.dataset_id = e.dataset_id AND p.example_id = e.example_id
        LEFT JOIN decision d ON d.example_id = e.example_id
        WHERE e.dataset_id = $1
          AND ($3 = 'all'
               OR ($3 = 'flagged' AND coalesce(f.flagged, false))
               OR ($3 = 'proposed' AND coalesce(p.status = 'ok', false))
               OR ($3 = 'auto_applied' AND coalesce(p.auto_applied, false))
               OR ($3 = 'decided' AND d.action IS NOT NULL)
               OR ($3 = 'undecided' AND d.action IS NULL)
               OR ($3 = 'flagged_undecided' AND coalesce(f.flagged, false) AND d.action IS NULL
                   AND NOT coalesce(p.auto_applied, false)))
          AND ($4 IS NULL OR coalesce(list_contains(from_json(s.fired, '["VARCHAR"]'), $4), false))
          AND ($5 IS NULL OR s.confidence >= $5)
          AND ($6 IS NULL OR s.confidence <= $6)
          AND ($7 IS NULL OR contains(lower(e.prompt_text), lower($7)) OR contains(lower(e.response), lower($7)))
          AND ($8 IS NULL OR e.example_id IN (SELECT example_id FROM assignments
                                              WHERE dataset_id = $1 AND annotator = $8))
    )"""

# One example's state before a decision: $1 dataset_id, $2 example_id.
SQL_EXAMPLE_STATE = """
    SELECT response, candidate, proposal_status, in_force FROM texts_in_force
    WHERE dataset_id = $1 AND example_id = $2
"""

SQL_HISTORY = """
    SELECT r.event_id, r.action, r.annotator, r.before, r.after, r.batch_id, r.undoes, r.created_at,
           u.event_id IS NOT NULL AS undone
    FROM review_log r
    LEFT JOIN review_log u ON u.dataset_id = r.dataset_id AND u.action = 'undo' AND u.undoes = r.event_id
    WHERE r.dataset_id = ? AND r.example_id = ?
    ORDER BY r.event_id
"""

# $1 dataset_id, $2 annotator.
SQL_LAST_EFFECTIVE_BY = f"""
    WITH {EFFECTIVE}
    SELECT event_id, example_id FROM effective WHERE annotator = $2 ORDER BY event_id DESC LIMIT 1
"""

SQL_EVENT_EXAMPLE = "SELECT example_id FROM review_log WHERE dataset_id = ? AND event_id = ?"
SQL_UNDO_EVENT = (
    "INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, "
    "created_at) VALUES (?, ?, 'undo', ?, NULL, NULL, ?, ?, ?)"
)

# Bulk: $9 rule, $10 min judge confidence, $11 override decisions, $12 action.
_RULE_MATCH = """
    (($9 = 'accept_proposals' AND proposal_status = 'ok' AND judge_confidence >= $10)
     OR ($9 = 'remove_empty_or_degenerate'
         AND (trim(response) = '' OR coalesce(list_contains(from_json(fired, '["VARCHAR"]'), 'degenerate'), false)))
     OR ($9 = 'remove_flagged_unproposed' AND coalesce(flagged, false) AND coalesce(proposal_status <> 'ok', true))
     OR ($9 = 'keep_unflagged' AND flagged = false))
    AND (action IS NULL OR ($11 AND action <> $12))
"""
SQL_BULK_PREVIEW = f"{_BASE} SELECT count(*) FROM base WHERE {_RULE_MATCH}"
# $13 annotator, $14 batch_id, $15 created_at.
SQL_BULK_APPLY = f"""
    INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, created_at)
    {_BASE}
    SELECT $1, example_id, $12, $13, in_force,
           CASE $12 WHEN 'accept' THEN candidate WHEN 'keep' THEN response ELSE NULL END,
           $14, NULL, $15
    FROM base WHERE {_RULE_MATCH}
    ORDER BY confidence ASC NULLS LAST, position
"""

# $1 dataset_id, $2 batch_id, $3 annotator, $4 undo batch id, $5 created_at.
SQL_UNDO_BATCH = f"""
    INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, created_at)
    WITH {EFFECTIVE}
    SELECT $1, example_id, 'undo', $3, NULL, NULL, $4, event_id, $5 FROM effective WHERE batch_id = $2
    ORDER BY event_id
"""
SQL_BATCH_EFFECTIVE = f"WITH {EFFECTIVE} SELECT count(*) FROM effective WHERE batch_id = $2"
# $1 dataset_id, $2 annotator or NULL.
SQL_LAST_BATCH = f"""
    WITH {EFFECTIVE}
    SELECT batch_id, any_value(action) AS action, any_value(annotator) AS annotator, count(*) AS n,
           max(created_at) AS created_at
    FROM effective WHERE batch_id IS NOT NULL AND ($2 IS NULL OR annotator = $2)
    GROUP BY batch_id ORDER BY max(event_id) DESC LIMIT 1
"""

# Fired signal names of the active score, with how often each fired: dataset_id, score_key.
SQL_FIRED_COUNTS = """
    SELECT name, count(*) AS n
    FROM (SELECT unnest(from_json(fired, '["VARCHAR"]')) AS name FROM scores
          WHERE dataset_id = ? AND score_key = ? AND status = 'ok')
    GROUP BY name ORDER BY n DESC, name
"""

# -- team review: each annotator's latest decision ("vote") and the adjudications ----------------
# Each annotator's vote (their latest decision in effect) and the latest adjudication, per example
# of $1 dataset_id (one definition for every reader below).
_VOTES = """
    SELECT example_id, annotator, event_id, action, after, created_at, adjudicates FROM review_effective
    WHERE dataset_id = $1 {narrow}
    QUALIFY row_number() OVER (PARTITION BY example_id, CASE WHEN adjudicates THEN NULL ELSE annotator END
                               ORDER BY event_id DESC) = 1
"""
# The votes on every example two or more people decided: $1 dataset_id.
SQL_VOTES = f"""
    WITH votes AS ({_VOTES.format(narrow="")})
    SELECT * FROM votes
    WHERE example_id IN (SELECT example_id FROM votes WHERE NOT adjudicates GROUP BY example_id HAVING count(*) >= 2)
    ORDER BY example_id, event_id
"""
# One example's votes: $1 dataset_id, $2 example_id.
SQL_EXAMPLE_VOTES = _VOTES.format(narrow="AND example_id = $2") + "ORDER BY event_id"
# Per annotator: examples assigned, of those decided by them, and decided in all: $1 dataset_id.
SQL_ANNOTATOR_PROGRESS = f"""
    WITH {EFFECTIVE},
    mine AS (SELECT DISTINCT example_id, annotator FROM effective WHERE NOT adjudicates),
    assigned AS (SELECT example_id, annotator FROM assignments WHERE dataset_id = $1),
    people AS (SELECT annotator FROM assigned UNION SELECT annotator FROM mine)
    SELECT p.annotator,
           (SELECT count(*) FROM assigned a WHERE a.annotator = p.annotator) AS assigned,
           (SELECT count(*) FROM assigned a JOIN mine m ON m.example_id = a.example_id
                                                   AND m.annotator = a.annotator
            WHERE a.annotator = p.annotator) AS done,
           (SELECT count(*) FROM mine m WHERE m.annotator = p.annotator) AS decided
    FROM people p ORDER BY p.annotator
"""
# The prompt and response of some examples: $1 dataset_id, $2 ids.
SQL_EXAMPLE_TEXTS = """
    SELECT example_id, prompt_text, response FROM examples WHERE dataset_id = $1 AND example_id = ANY($2)
"""
