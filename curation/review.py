"""Review: the queue a person works through, their decisions, bulk rules, undo and agreement.

In: the store (examples, the active score, flags, proposals, the review log). Out: queue pages
(lowest confidence first, read with SQL LIMIT/OFFSET), and new events appended to the
append-only ``review_log`` (``accept`` | ``keep`` | ``remove`` | ``edit`` | ``undo``). The
decision in force for an example is its latest event that is not an undo and not undone, by
any annotator; undo is a new event naming the one it undoes. Nothing here updates or deletes
a review event.

It also measures the automatic stages against the reviewers (:func:`auto_precision`,
:func:`thresholds_for_precision`) and the reviewers against each other (:func:`agreement`).
Scores are floats in [0, 1], higher = more likely correct.
"""
from __future__ import annotations

import json
import logging
import math
import uuid
from collections import Counter
from dataclasses import dataclass
from itertools import combinations, groupby
from typing import Any, Iterable

from curation.errors import CurationError
from curation.llm.base import Message
from curation.store import Store, now, prompt_from_json

log = logging.getLogger(__name__)

ACTIONS = ("accept", "keep", "remove", "edit")
STATUSES = ("all", "flagged", "proposed", "auto_applied", "decided", "undecided")
#: Decisions that say the original response was bad (the Auto-Filter was right to flag it).
CONFIRMS_BAD = ("remove", "accept", "edit")


class ReviewError(CurationError):
    """A decision, filter or bulk rule that cannot be applied; the message says why."""


# -- SQL -------------------------------------------------------------------------------
# The queue's SQL is assembled from the named fragments below, one per filter in use, so that a
# filter left empty costs no join and no scan (a join of 100,000 rows is most of a page's time).
# Every value is a bound ``?`` parameter; a fragment lists how many it takes.
Q_DECISIONS = """
    WITH effective AS (
        SELECT event_id, example_id, action, annotator, after, batch_id, created_at
        FROM review_log
        WHERE dataset_id = ? AND action <> 'undo'
          AND event_id NOT IN (SELECT undoes FROM review_log
                               WHERE dataset_id = ? AND action = 'undo' AND undoes IS NOT NULL)
    ),
    decision AS (
        SELECT * FROM effective
        QUALIFY row_number() OVER (PARTITION BY example_id ORDER BY event_id DESC) = 1
    )"""  # dataset_id, dataset_id
Q_COUNT = "SELECT count(*)"
Q_PAGE = "SELECT e.example_id, count(*) OVER () AS total"
Q_POSITION = (
    "SELECT pos FROM (SELECT e.example_id, "
    "row_number() OVER (ORDER BY s.confidence ASC NULLS LAST, e.position) - 1 AS pos"
)
Q_FROM = "FROM examples e"
Q_JOIN_SCORES = (
    "LEFT JOIN scores s ON s.dataset_id = e.dataset_id AND s.example_id = e.example_id AND s.score_key = ?"
)  # score_key
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
}
Q_SIGNAL = """AND list_contains(from_json(s.fired, '["VARCHAR"]'), ?)"""  # signal
Q_CONF_MIN = "AND s.confidence >= ?"  # conf_min
Q_CONF_MAX = "AND s.confidence <= ?"  # conf_max
# A literal, case-insensitive substring: no LIKE wildcards, so % _ \\ ' need no escaping.
Q_SEARCH = "AND (contains(lower(e.prompt_text), lower(?)) OR contains(lower(e.response), lower(?)))"  # search x2
Q_ORDER_PAGE = "ORDER BY s.confidence ASC NULLS LAST, e.position LIMIT ? OFFSET ?"  # limit, offset
Q_POSITION_END = ") WHERE example_id = ?"  # example_id

# The wide columns of one page's examples, found by id: $1 dataset_id, $2 ids, $3 score_key.
SQL_QUEUE_DETAILS = """
    WITH effective AS (
        SELECT event_id, example_id, action, annotator, after, created_at FROM review_log
        WHERE dataset_id = $1 AND example_id = ANY($2) AND action <> 'undo'
          AND event_id NOT IN (SELECT undoes FROM review_log WHERE dataset_id = $1 AND example_id = ANY($2)
                               AND action = 'undo' AND undoes IS NOT NULL)
    ),
    decision AS (
        SELECT *, count(DISTINCT annotator) OVER (PARTITION BY example_id) AS n_annotators FROM effective
        QUALIFY row_number() OVER (PARTITION BY example_id ORDER BY event_id DESC) = 1
    )
    SELECT e.example_id, e.position, e.prompt, e.response,
           s.status AS score_status, s.confidence, s.consistency, s.reflection, s.signals, s.fired,
           s.explanation, s.error AS score_error, f.flagged, f.threshold,
           p.candidate, p.judge_confidence, p.verdicts, p.auto_applied, p.status AS proposal_status,
           p.error AS proposal_error,
           d.event_id, d.action, d.annotator, d.after, d.created_at AS decided_at,
           coalesce(d.n_annotators, 0) AS n_annotators
    FROM (SELECT * FROM examples WHERE dataset_id = $1 AND example_id = ANY($2)) e
    LEFT JOIN (SELECT * FROM scores WHERE dataset_id = $1 AND score_key = $3 AND example_id = ANY($2)) s
           ON s.example_id = e.example_id
    LEFT JOIN (SELECT * FROM flags WHERE dataset_id = $1 AND example_id = ANY($2)) f ON f.example_id = e.example_id
    LEFT JOIN (SELECT * FROM proposals WHERE dataset_id = $1 AND example_id = ANY($2)) p
           ON p.example_id = e.example_id
    LEFT JOIN decision d ON d.example_id = e.example_id
"""

# Bulk rules, decision history and insights share these numbered parameters:
#   $1 dataset_id, $2 score_key, $3 status, $4 signal, $5 conf_min, $6 conf_max, $7 search
_EFFECTIVE = """
    effective AS (
        SELECT event_id, example_id, action, annotator, before, after, batch_id, created_at
        FROM review_log
        WHERE dataset_id = $1 AND action <> 'undo'
          AND event_id NOT IN (SELECT undoes FROM review_log
                               WHERE dataset_id = $1 AND action = 'undo' AND undoes IS NOT NULL)
    ),
    decision AS (
        SELECT * FROM effective
        QUALIFY row_number() OVER (PARTITION BY example_id ORDER BY event_id DESC) = 1
    )"""

# The filtered queue with everything the bulk rules need (one statement for any filter).
_BASE = f"""
    WITH {_EFFECTIVE},
    base AS (
        SELECT e.example_id, e.position, e.response, s.confidence, s.fired, f.flagged,
               p.candidate, p.judge_confidence, p.status AS proposal_status, p.auto_applied,
               d.action, d.after,
               CASE WHEN d.action IN ('accept', 'edit') THEN d.after
                    WHEN d.action IS NULL AND p.auto_applied THEN p.candidate
                    ELSE e.response END AS in_force
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
               OR ($3 = 'undecided' AND d.action IS NULL))
          AND ($4 IS NULL OR coalesce(list_contains(from_json(s.fired, '["VARCHAR"]'), $4), false))
          AND ($5 IS NULL OR s.confidence >= $5)
          AND ($6 IS NULL OR s.confidence <= $6)
          AND ($7 IS NULL OR contains(lower(e.prompt_text), lower($7)) OR contains(lower(e.response), lower($7)))
    )"""

# One example's state before a decision: $1 dataset_id, $2 example_id.
SQL_EXAMPLE_STATE = """
    WITH mine AS (
        SELECT event_id, action, after FROM review_log
        WHERE dataset_id = $1 AND example_id = $2 AND action <> 'undo'
          AND event_id NOT IN (SELECT undoes FROM review_log WHERE dataset_id = $1 AND example_id = $2
                               AND action = 'undo' AND undoes IS NOT NULL)
        ORDER BY event_id DESC LIMIT 1
    )
    SELECT e.response, p.candidate, p.status, p.auto_applied, mine.action, mine.after
    FROM (SELECT response FROM examples WHERE dataset_id = $1 AND example_id = $2) e
    LEFT JOIN (SELECT candidate, status, auto_applied FROM proposals WHERE dataset_id = $1 AND example_id = $2) p
           ON true
    LEFT JOIN mine ON true
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
    WITH {_EFFECTIVE}
    SELECT event_id, example_id FROM effective WHERE annotator = $2 ORDER BY event_id DESC LIMIT 1
"""

SQL_EVENT_EXAMPLE = "SELECT example_id FROM review_log WHERE dataset_id = ? AND event_id = ?"
SQL_UNDO_EVENT = (
    "INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, "
    "created_at) VALUES (?, ?, 'undo', ?, NULL, NULL, ?, ?, ?)"
)

# Bulk: $8 rule, $9 min judge confidence, $10 override decisions, $11 action.
_RULE_MATCH = """
    (($8 = 'accept_proposals' AND proposal_status = 'ok' AND judge_confidence >= $9)
     OR ($8 = 'remove_empty_or_degenerate'
         AND (trim(response) = '' OR coalesce(list_contains(from_json(fired, '["VARCHAR"]'), 'degenerate'), false)))
     OR ($8 = 'remove_flagged_unproposed' AND coalesce(flagged, false) AND coalesce(proposal_status <> 'ok', true))
     OR ($8 = 'keep_unflagged' AND flagged = false))
    AND (action IS NULL OR ($10 AND action <> $11))
"""
SQL_BULK_PREVIEW = f"{_BASE} SELECT count(*) FROM base WHERE {_RULE_MATCH}"
# $12 annotator, $13 batch_id, $14 created_at.
SQL_BULK_APPLY = f"""
    INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, created_at)
    {_BASE}
    SELECT $1, example_id, $11, $12, in_force,
           CASE $11 WHEN 'accept' THEN candidate WHEN 'keep' THEN response ELSE NULL END,
           $13, NULL, $14
    FROM base WHERE {_RULE_MATCH}
    ORDER BY confidence ASC NULLS LAST, position
"""

# $1 dataset_id, $2 batch_id, $3 annotator, $4 undo batch id, $5 created_at.
SQL_UNDO_BATCH = f"""
    INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, created_at)
    WITH {_EFFECTIVE}
    SELECT $1, example_id, 'undo', $3, NULL, NULL, $4, event_id, $5 FROM effective WHERE batch_id = $2
    ORDER BY event_id
"""
SQL_BATCH_EFFECTIVE = f"WITH {_EFFECTIVE} SELECT count(*) FROM effective WHERE batch_id = $2"
# $1 dataset_id, $2 annotator or NULL.
SQL_LAST_BATCH = f"""
    WITH {_EFFECTIVE}
    SELECT batch_id, any_value(action) AS action, any_value(annotator) AS annotator, count(*) AS n,
           max(created_at) AS created_at
    FROM effective WHERE batch_id IS NOT NULL AND ($2 IS NULL OR annotator = $2)
    GROUP BY batch_id ORDER BY max(event_id) DESC LIMIT 1
"""

# Each annotator's latest decision on examples that two or more annotators decided.
SQL_MULTI_DECISIONS = f"""
    WITH {_EFFECTIVE},
    latest AS (
        SELECT example_id, annotator, action FROM effective
        QUALIFY row_number() OVER (PARTITION BY example_id, annotator ORDER BY event_id DESC) = 1
    )
    SELECT example_id, annotator, action FROM latest
    WHERE example_id IN (SELECT example_id FROM latest GROUP BY example_id HAVING count(*) >= 2)
    ORDER BY example_id, annotator
"""

# Examples whose decision in force a person made one by one (bulk rules measure nothing),
# with their automatic scores: $1 dataset_id, $2 score_key.
SQL_REVIEWED = f"""
    WITH {_EFFECTIVE}
    SELECT d.example_id, d.action, s.confidence, f.flagged, p.judge_confidence, p.auto_applied,
           p.status AS proposal_status
    FROM decision d
    LEFT JOIN scores s ON s.dataset_id = $1 AND s.example_id = d.example_id AND s.score_key = $2
                      AND s.status = 'ok'
    LEFT JOIN flags f ON f.dataset_id = $1 AND f.example_id = d.example_id
    LEFT JOIN proposals p ON p.dataset_id = $1 AND p.example_id = d.example_id
    WHERE d.batch_id IS NULL
"""

# Insights: $1 dataset_id, $2 score_key, $3 number of bins.
SQL_CONFIDENCE_HISTOGRAM = f"""
    WITH {_EFFECTIVE}
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
SQL_FIRED_COUNTS = """
    SELECT name, count(*) AS n
    FROM (SELECT unnest(from_json(fired, '["VARCHAR"]')) AS name FROM scores
          WHERE dataset_id = ? AND score_key = ? AND status = 'ok')
    GROUP BY name ORDER BY n DESC, name
"""
SQL_COUNT_BELOW = """
    SELECT count(*) FILTER (WHERE confidence < ?) AS below, count(*) AS scored,
           (SELECT max(threshold) FROM flags WHERE dataset_id = ?) AS gamma,
           (SELECT count(*) FROM flags WHERE dataset_id = ? AND flagged) AS flagged
    FROM scores WHERE dataset_id = ? AND score_key = ? AND status = 'ok' AND confidence IS NOT NULL
"""


# -- types -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueFilter:
    """Which examples the queue shows.

    ``status``: one of :data:`STATUSES`; ``signal``: a fired signal's name; ``conf_min`` /
    ``conf_max``: inclusive bounds on confidence (either set leaves out unscored examples);
    ``search``: a case-insensitive substring of the prompt or the response (taken literally).
    """

    status: str = "all"
    signal: str | None = None
    conf_min: float | None = None
    conf_max: float | None = None
    search: str | None = None


@dataclass(frozen=True)
class Proposal:
    candidate: str
    judge_confidence: float | None
    verdicts: list[dict[str, Any]]
    auto_applied: bool
    status: str
    error: str | None


@dataclass(frozen=True)
class Decision:
    event_id: int
    action: str
    annotator: str
    after: str | None
    decided_at: Any


@dataclass(frozen=True)
class QueueRow:
    """One example with everything its review card shows (scores in [0, 1], higher = more likely correct)."""

    example_id: str
    position: int
    prompt: tuple[Message, ...]
    response: str
    score_status: str | None
    confidence: float | None
    consistency: float | None
    reflection: float | None
    signals: dict[str, float]
    fired: list[str]
    explanation: dict[str, Any]
    score_error: str | None
    flagged: bool | None
    threshold: float | None
    proposal: Proposal | None
    decision: Decision | None
    n_annotators: int

    @property
    def in_force(self) -> str:
        """The response the export would write now (ignoring a removal)."""
        if self.decision is not None and self.decision.action in ("accept", "edit"):
            return self.decision.after or ""
        if self.decision is None and self.proposal is not None and self.proposal.auto_applied:
            return self.proposal.candidate
        return self.response


@dataclass(frozen=True)
class QueueWindow:
    """One page of the queue and how many examples the whole filtered queue holds."""

    total: int
    rows: list[QueueRow]


@dataclass(frozen=True)
class BulkRule:
    """A rule applied to every example of a filtered queue at once.

    ``kind``: ``accept_proposals`` (every proposal with judge confidence ≥ ``min_judge``),
    ``remove_empty_or_degenerate`` (empty response, or the ``degenerate`` signal fired),
    ``remove_flagged_unproposed`` (flagged with no usable proposal) or ``keep_unflagged``.
    ``override``: also change examples that already have a different decision in force
    (by default a person's decision is left alone).
    """

    kind: str
    min_judge: float = 0.9
    override: bool = False


BULK_ACTIONS = {
    "accept_proposals": "accept",
    "remove_empty_or_degenerate": "remove",
    "remove_flagged_unproposed": "remove",
    "keep_unflagged": "keep",
}


@dataclass(frozen=True)
class Batch:
    batch_id: str
    action: str
    annotator: str
    n: int
    created_at: Any


@dataclass(frozen=True)
class PairAgreement:
    annotators: tuple[str, str]
    n: int
    agreement: float
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """Inter-annotator agreement over examples decided by two or more annotators.

    ``simple``: share of those examples where every annotator's latest action is the same;
    ``kappa``: Cohen's kappa per pair of annotators, averaged weighted by shared examples.
    """

    n_examples: int
    n_agree: int
    simple: float | None
    kappa: float | None
    pairs: list[PairAgreement]


@dataclass(frozen=True)
class AutoPrecision:
    """The automatic stages as measured by reviewers (precisions in [0, 1], None when unmeasured)."""

    flagged_reviewed: int
    flagged_confirmed: int
    passed_reviewed: int
    passed_bad: int
    auto_reviewed: int
    auto_accepted: int

    @property
    def filter_precision(self) -> float | None:
        return _share(self.flagged_confirmed, self.flagged_reviewed)

    @property
    def missed_rate(self) -> float | None:
        """Among reviewed examples the filter let through, the share a reviewer found bad."""
        return _share(self.passed_bad, self.passed_reviewed)

    @property
    def correction_precision(self) -> float | None:
        return _share(self.auto_accepted, self.auto_reviewed)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float
    selected: int
    total: int


# -- queue -------------------------------------------------------------------------------
def queue_count(store: Store, dataset_id: int, flt: QueueFilter) -> int:
    """How many examples of the dataset pass ``flt``.

    Raises:
        ReviewError: a bad filter.
    """
    sql, params = _queue_sql(dataset_id, store.active_score_key(dataset_id), flt, head=Q_COUNT)
    return store.query_rows(sql, params)[0][0]


def queue_window(store: Store, dataset_id: int, flt: QueueFilter, *, offset: int, limit: int) -> QueueWindow:
    """One page of the queue and the size of the whole filtered queue, from one pass over it.

    The page is ordered by confidence ascending (least trustworthy first), unscored examples
    last, ties in file order; only the page's rows are read in full.

    Raises:
        ReviewError: a bad filter, or a negative offset / non-positive limit.
    """
    if offset < 0 or limit < 1:
        raise ReviewError(f"queue page: offset must be >= 0 and limit >= 1, got offset={offset}, limit={limit}")
    key = store.active_score_key(dataset_id)
    sql, params = _queue_sql(dataset_id, key, flt, head=Q_PAGE, tail=Q_ORDER_PAGE, tail_params=(limit, offset))
    ranked = store.query_rows(sql, params)
    if not ranked:
        return QueueWindow(total=queue_count(store, dataset_id, flt) if offset else 0, rows=[])
    ids = [example_id for example_id, _ in ranked]
    details = {row["example_id"]: row for row in store.query_dicts(SQL_QUEUE_DETAILS, (dataset_id, ids, key))}
    return QueueWindow(total=ranked[0][1], rows=[_queue_row(details[example_id]) for example_id in ids])


def queue_page(store: Store, dataset_id: int, flt: QueueFilter, *, offset: int, limit: int) -> list[QueueRow]:
    """The rows of :func:`queue_window` (SQL ``LIMIT``/``OFFSET``; never the whole table)."""
    return queue_window(store, dataset_id, flt, offset=offset, limit=limit).rows


def queue_position(store: Store, dataset_id: int, flt: QueueFilter, example_id: str) -> int | None:
    """The 0-based place of ``example_id`` in the filtered queue, or None when it is not in it."""
    sql, params = _queue_sql(dataset_id, store.active_score_key(dataset_id), flt, head=Q_POSITION,
                             tail=Q_POSITION_END, tail_params=(example_id,))
    rows = store.query_rows(sql, params)
    return rows[0][0] if rows else None


def history(store: Store, dataset_id: int, example_id: str) -> list[dict[str, Any]]:
    """Every review event of one example, oldest first, each with ``undone`` set."""
    return store.query_dicts(SQL_HISTORY, (dataset_id, example_id))


def signal_names(store: Store, dataset_id: int) -> dict[str, int]:
    """Fired signal names of the active score, with how many examples each fired on."""
    key = store.active_score_key(dataset_id)
    return {name: n for name, n in store.query_rows(SQL_FIRED_COUNTS, (dataset_id, key))}


# -- decisions ---------------------------------------------------------------------------
def decide(store: Store, dataset_id: int, example_id: str, action: str, *, annotator: str,
           text: str | None = None) -> int:
    """Record one annotator's decision on one example.

    Args:
        action: ``accept`` (take the proposal's candidate), ``keep`` (the original),
            ``remove`` (drop the example) or ``edit`` (``text`` becomes the response).
        annotator: who decides (non-empty).
        text: the new response, for ``edit`` only.
    Returns:
        The new event's id.
    Raises:
        ReviewError: unknown action or example, empty annotator, ``edit`` without text,
            ``accept`` without a usable proposal.
    """
    if action not in ACTIONS:
        raise ReviewError(f"decision: action {action!r} is not one of {', '.join(ACTIONS)}")
    who = _annotator(annotator)
    if action == "edit" and (text is None or not text.strip()):
        raise ReviewError(f"decision on {example_id!r}: an edit needs a non-empty response text")
    with store.transaction():
        rows = store.query_rows(SQL_EXAMPLE_STATE, (dataset_id, example_id))
        if not rows:
            raise ReviewError(f"decision: no example {example_id!r} in dataset {dataset_id}")
        response, candidate, proposal_status, auto_applied, action_now, after_now = rows[0]
        if action == "accept" and (candidate is None or proposal_status != "ok"):
            raise ReviewError(f"decision on {example_id!r}: there is no proposed correction to accept")
        before = _in_force(response, candidate, auto_applied, action_now, after_now)
        after = {"accept": candidate, "keep": response, "remove": None, "edit": text}[action]
        return store.append_review(dataset_id=dataset_id, example_id=example_id, action=action,
                                   annotator=who, before=before, after=after)


def undo_last(store: Store, dataset_id: int, *, annotator: str) -> int | None:
    """Undo ``annotator``'s latest decision still in effect; return the undone event's id (None if none)."""
    who = _annotator(annotator)
    with store.transaction():
        rows = store.query_rows(SQL_LAST_EFFECTIVE_BY, (dataset_id, who))
        if not rows:
            return None
        event_id, example_id = rows[0]
        store.execute(SQL_UNDO_EVENT, (dataset_id, example_id, who, None, event_id, now()))
    return event_id


def example_of_event(store: Store, dataset_id: int, event_id: int) -> str | None:
    """The example a review event is about (None for an unknown event)."""
    rows = store.query_rows(SQL_EVENT_EXAMPLE, (dataset_id, event_id))
    return rows[0][0] if rows else None


# -- bulk --------------------------------------------------------------------------------
def bulk_preview(store: Store, dataset_id: int, flt: QueueFilter, rule: BulkRule) -> int:
    """How many examples :func:`bulk_apply` would change (the whole filtered set, not one page)."""
    return store.query_rows(SQL_BULK_PREVIEW, _bulk_params(store, dataset_id, flt, rule))[0][0]


def bulk_apply(store: Store, dataset_id: int, flt: QueueFilter, rule: BulkRule, *, annotator: str) -> str:
    """Apply ``rule`` to every matching example: one event each, one batch id, one transaction.

    Returns:
        The batch id (pass it to :func:`undo_batch`).
    Raises:
        ReviewError: unknown rule, bad filter or empty annotator.
    """
    who = _annotator(annotator)
    batch_id = uuid.uuid4().hex[:12]
    params = _bulk_params(store, dataset_id, flt, rule) + [who, batch_id, now()]
    with store.transaction():
        store.execute(SQL_BULK_APPLY, params)
    log.info("bulk %s by %s: batch %s", rule.kind, who, batch_id)
    return batch_id


def undo_batch(store: Store, dataset_id: int, batch_id: str, *, annotator: str) -> int:
    """Undo every event of a batch still in effect (as one new batch); return how many were undone."""
    who = _annotator(annotator)
    with store.transaction():
        undone = store.query_rows(SQL_BATCH_EFFECTIVE, (dataset_id, batch_id))[0][0]
        store.execute(SQL_UNDO_BATCH, (dataset_id, batch_id, who, f"undo:{batch_id}", now()))
    return undone


def last_batch(store: Store, dataset_id: int, *, annotator: str | None = None) -> Batch | None:
    """The latest bulk batch with events still in effect (of ``annotator`` when given)."""
    rows = store.query_rows(SQL_LAST_BATCH, (dataset_id, annotator))
    return Batch(*rows[0]) if rows else None


# -- agreement and measured precision ----------------------------------------------------------
def agreement(store: Store, dataset_id: int) -> Agreement:
    """Agreement between annotators' latest decisions on the examples two or more of them decided."""
    by_example: dict[str, dict[str, str]] = {}
    for example_id, who, action in store.query_rows(SQL_MULTI_DECISIONS, (dataset_id,)):
        by_example.setdefault(example_id, {})[who] = action
    n_agree = sum(1 for votes in by_example.values() if len(set(votes.values())) == 1)
    pair_labels: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for votes in by_example.values():
        for a, b in combinations(sorted(votes), 2):
            first, second = pair_labels.setdefault((a, b), ([], []))
            first.append(votes[a])
            second.append(votes[b])
    pairs = [PairAgreement(annotators=key, n=len(x), agreement=_agree_share(x, y), kappa=cohen_kappa(x, y))
             for key, (x, y) in sorted(pair_labels.items())]
    weighted = [(p.kappa, p.n) for p in pairs if p.kappa is not None]
    kappa = sum(k * n for k, n in weighted) / sum(n for _, n in weighted) if weighted else None
    return Agreement(n_examples=len(by_example), n_agree=n_agree, simple=_share(n_agree, len(by_example)),
                     kappa=kappa, pairs=pairs)


def auto_precision(store: Store, dataset_id: int) -> AutoPrecision:
    """How often reviewers confirmed the automatic decisions.

    Flagged examples count as confirmed when the decision in force is ``remove``, ``accept`` or
    ``edit`` (the original was bad) and not when it is ``keep``; auto-applied corrections count
    as confirmed only when ``accept``-ed.
    """
    reviewed = _reviewed(store, dataset_id)
    flagged = [r for r in reviewed if r["flagged"]]
    passed = [r for r in reviewed if r["flagged"] is False]
    auto = [r for r in reviewed if r["auto_applied"]]
    return AutoPrecision(
        flagged_reviewed=len(flagged), flagged_confirmed=sum(r["action"] in CONFIRMS_BAD for r in flagged),
        passed_reviewed=len(passed), passed_bad=sum(r["action"] in CONFIRMS_BAD for r in passed),
        auto_reviewed=len(auto), auto_accepted=sum(r["action"] == "accept" for r in auto),
    )


def thresholds_for_precision(store: Store, dataset_id: int, target: float) -> dict[str, ThresholdChoice | None]:
    """The γ and η that would have reached ``target`` precision on the reviewed examples.

    Returns:
        ``{"gamma": ..., "eta": ...}``: γ flags confidence < γ (precision = share confirmed bad),
        η auto-applies judge confidence ≥ η (precision = share accepted); None where no
        threshold reaches the target or nothing is reviewed.
    """
    pairs = reviewed_pairs(store, dataset_id)
    return {"gamma": threshold_for_precision(pairs["gamma"], target, direction="below"),
            "eta": threshold_for_precision(pairs["eta"], target, direction="at_or_above")}


def reviewed_pairs(store: Store, dataset_id: int) -> dict[str, list[tuple[float, bool]]]:
    """(confidence, confirmed bad) and (judge confidence, accepted) of every reviewed example."""
    reviewed = _reviewed(store, dataset_id)
    return {
        "gamma": [(r["confidence"], r["action"] in CONFIRMS_BAD) for r in reviewed if r["confidence"] is not None],
        "eta": [(r["judge_confidence"], r["action"] == "accept") for r in reviewed
                if r["judge_confidence"] is not None and r["proposal_status"] == "ok"],
    }


# -- insights ------------------------------------------------------------------------------
def confidence_histogram(store: Store, dataset_id: int, *, bins: int = 20) -> list[dict[str, Any]]:
    """Scored examples binned by confidence: rows of ``bin`` (0..bins-1), ``status``, ``decision``, ``n``."""
    _check_bins(bins)
    return store.query_dicts(SQL_CONFIDENCE_HISTOGRAM, (dataset_id, store.active_score_key(dataset_id), bins))


def signal_histogram(store: Store, dataset_id: int, *, bins: int = 20) -> list[dict[str, Any]]:
    """Each signal's values (plus consistency and reflection) binned: rows of ``signal``, ``bin``, ``n``."""
    _check_bins(bins)
    return store.query_dicts(SQL_SIGNAL_HISTOGRAM, (dataset_id, store.active_score_key(dataset_id), bins))


def count_below(store: Store, dataset_id: int, gamma: float) -> dict[str, Any]:
    """How many scored examples have confidence < ``gamma``; also the γ and flag count in force."""
    key = store.active_score_key(dataset_id)
    return store.query_dicts(SQL_COUNT_BELOW, (gamma, dataset_id, dataset_id, dataset_id, key))[0]


# -- pure maths ------------------------------------------------------------------------------
def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when undefined (chance agreement is 1)."""
    if len(a) != len(b):
        raise ReviewError(f"kappa: the two label lists differ in length ({len(a)} != {len(b)})")
    if not a:
        return None
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in count_a) / (n * n)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def precision_curve(pairs: Iterable[tuple[float, bool]], *, direction: str) -> list[ThresholdChoice]:
    """Precision at every threshold that splits the scores differently.

    Args:
        pairs: (score, positive) for each reviewed example; scores in [0, 1].
        direction: ``below`` (select score < threshold; thresholds are midpoints between
            distinct scores, or just above the highest) or ``at_or_above`` (select
            score ≥ threshold; thresholds are the distinct scores).
    Returns:
        One :class:`ThresholdChoice` per threshold, in increasing threshold order.
    """
    if direction not in ("below", "at_or_above"):
        raise ReviewError(f"precision curve: direction {direction!r} is not 'below' or 'at_or_above'")
    groups = [(score, [p for _, p in group]) for score, group in groupby(sorted(pairs), key=lambda x: x[0])]
    total = sum(len(g) for _, g in groups)
    out = []
    if direction == "below":
        selected = positives = 0
        for i, (score, group) in enumerate(groups):
            selected += len(group)
            positives += sum(group)
            cut = (score + groups[i + 1][0]) / 2 if i + 1 < len(groups) else math.nextafter(score, math.inf)
            out.append(ThresholdChoice(cut, positives / selected, selected, total))
    else:
        selected, positives = total, sum(sum(g) for _, g in groups)
        for score, group in groups:
            out.append(ThresholdChoice(score, positives / selected, selected, total))
            selected -= len(group)
            positives -= sum(group)
    return out


def threshold_for_precision(pairs: Iterable[tuple[float, bool]], target: float, *,
                            direction: str) -> ThresholdChoice | None:
    """The threshold selecting the most examples whose precision is at least ``target``.

    ``direction="below"`` is the Auto-Filter's γ (flag confidence < γ; positive = confirmed
    bad); ``"at_or_above"`` is Auto-Correct's η (apply judge confidence ≥ η; positive =
    accepted). Returns None when no threshold reaches ``target`` or there are no pairs.
    """
    if not 0.0 <= target <= 1.0:
        raise ReviewError(f"target precision must be in [0, 1], got {target}")
    reaching = [c for c in precision_curve(pairs, direction=direction) if c.precision >= target - 1e-12]
    if not reaching:
        return None
    return max(reaching, key=lambda c: c.selected)


# -- helpers -----------------------------------------------------------------------------------
def _check_filter(flt: QueueFilter) -> None:
    if flt.status not in STATUSES:
        raise ReviewError(f"queue filter: status {flt.status!r} is not one of {', '.join(STATUSES)}")
    for name in ("conf_min", "conf_max"):
        value = getattr(flt, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ReviewError(f"queue filter: {name} must be in [0, 1], got {value}")


def _search_text(flt: QueueFilter) -> str | None:
    return flt.search.strip() if flt.search and flt.search.strip() else None


def _queue_sql(dataset_id: int, score_key: str | None, flt: QueueFilter, *, head: str, tail: str = "",
               tail_params: tuple = ()) -> tuple[str, list[Any]]:
    """The queue query for ``flt``: only the joins and predicates its filters use."""
    _check_filter(flt)
    search = _search_text(flt)
    by_decision = flt.status in ("decided", "undecided")
    need_scores = head != Q_COUNT or flt.signal or flt.conf_min is not None or flt.conf_max is not None
    parts: list[tuple[str, tuple]] = [
        (Q_DECISIONS if by_decision else "", (dataset_id, dataset_id) if by_decision else ()),
        (head, ()), (Q_FROM, ()),
        (Q_JOIN_SCORES if need_scores else "", (score_key,) if need_scores else ()),
        (Q_JOIN_FLAGS if flt.status == "flagged" else "", ()),
        (Q_JOIN_PROPOSALS if flt.status in ("proposed", "auto_applied") else "", ()),
        (Q_JOIN_DECISIONS if by_decision else "", ()),
        (Q_WHERE, (dataset_id,)), (Q_STATUS[flt.status], ()),
        (Q_SIGNAL if flt.signal else "", (flt.signal,) if flt.signal else ()),
        (Q_CONF_MIN if flt.conf_min is not None else "", () if flt.conf_min is None else (flt.conf_min,)),
        (Q_CONF_MAX if flt.conf_max is not None else "", () if flt.conf_max is None else (flt.conf_max,)),
        (Q_SEARCH if search else "", (search, search) if search else ()),
        (tail, tail_params),
    ]
    return "\n".join(sql for sql, _ in parts if sql), [value for _, values in parts for value in values]


def _base_params(store: Store, dataset_id: int, flt: QueueFilter) -> list[Any]:
    _check_filter(flt)
    return [dataset_id, store.active_score_key(dataset_id), flt.status, flt.signal or None,
            flt.conf_min, flt.conf_max, _search_text(flt)]


def _bulk_params(store: Store, dataset_id: int, flt: QueueFilter, rule: BulkRule) -> list[Any]:
    if rule.kind not in BULK_ACTIONS:
        raise ReviewError(f"bulk rule {rule.kind!r} is not one of {', '.join(BULK_ACTIONS)}")
    if not 0.0 <= rule.min_judge <= 1.0:
        raise ReviewError(f"bulk rule: min_judge must be in [0, 1], got {rule.min_judge}")
    return _base_params(store, dataset_id, flt) + [rule.kind, rule.min_judge, rule.override,
                                                    BULK_ACTIONS[rule.kind]]


def _annotator(name: str) -> str:
    who = (name or "").strip()
    if not who:
        raise ReviewError("decision: the annotator's name is empty; enter it in the sidebar")
    return who


def _in_force(response: str, candidate: str | None, auto_applied: bool | None, action: str | None,
              after: str | None) -> str:
    if action in ("accept", "edit"):
        return after or ""
    if action is None and auto_applied:
        return candidate or response
    return response


def _reviewed(store: Store, dataset_id: int) -> list[dict[str, Any]]:
    return store.query_dicts(SQL_REVIEWED, (dataset_id, store.active_score_key(dataset_id)))


def _check_bins(bins: int) -> None:
    if not 1 <= bins <= 1000:
        raise ReviewError(f"histogram: bins must be between 1 and 1000, got {bins}")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _agree_share(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


def _queue_row(row: dict[str, Any]) -> QueueRow:
    proposal = None
    if row["candidate"] is not None or row["proposal_status"] is not None:
        proposal = Proposal(candidate=row["candidate"] or "", judge_confidence=row["judge_confidence"],
                            verdicts=json.loads(row["verdicts"] or "[]"), auto_applied=bool(row["auto_applied"]),
                            status=row["proposal_status"], error=row["proposal_error"])
    decision = None
    if row["action"] is not None:
        decision = Decision(event_id=row["event_id"], action=row["action"], annotator=row["annotator"],
                            after=row["after"], decided_at=row["decided_at"])
    return QueueRow(
        example_id=row["example_id"], position=row["position"], prompt=prompt_from_json(row["prompt"]),
        response=row["response"], score_status=row["score_status"], confidence=row["confidence"],
        consistency=row["consistency"], reflection=row["reflection"],
        signals=json.loads(row["signals"]) if row["signals"] else {},
        fired=json.loads(row["fired"]) if row["fired"] else [],
        explanation=json.loads(row["explanation"]) if row["explanation"] else {},
        score_error=row["score_error"], flagged=row["flagged"], threshold=row["threshold"],
        proposal=proposal, decision=decision, n_annotators=row["n_annotators"],
    )


__all__ = [
    "ACTIONS", "STATUSES", "BULK_ACTIONS", "ReviewError", "QueueFilter", "QueueRow", "Proposal", "Decision",
    "BulkRule", "Batch", "Agreement", "PairAgreement", "AutoPrecision", "ThresholdChoice",
    "QueueWindow", "queue_count", "queue_page", "queue_window", "queue_position", "history", "example_of_event",
    "signal_names", "decide", "undo_last", "bulk_preview", "bulk_apply", "undo_batch", "last_batch", "agreement", "auto_precision", "thresholds_for_precision",
    "reviewed_pairs", "confidence_histogram", "signal_histogram", "count_below", "cohen_kappa",
    "precision_curve", "threshold_for_precision",
]
