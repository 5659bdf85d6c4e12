"""The store's typed queries for review: the queue, decisions and undo, bulk rules, team review.

Every statement is a named constant of :mod:`curation.store.review_sql` with bound parameters;
the queue's is assembled from fragments, only those its filter uses. The rules (what a
decision does, which filters exist, who may undo what) belong to :mod:`curation.review` and
:mod:`curation.team`; this module only reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from curation.errors import ReviewError
from curation.store import review_sql as q
from curation.store.values import now

#: The queue's statuses (see :class:`QueueFilter`).
STATUSES = ("all", "flagged", "proposed", "auto_applied", "decided", "undecided", "flagged_undecided")


@dataclass(frozen=True)
class QueueFilter:
    """Which examples the queue shows.

    ``status``: one of :data:`STATUSES` (``flagged_undecided`` is what export holds, drops or
    keeps by choice: flagged, no decision in force, no correction applied); ``signal``: a fired
    signal's name; ``conf_min`` / ``conf_max``: inclusive bounds on confidence (either set leaves
    out unscored examples); ``search``: a case-insensitive substring of the prompt or the
    response (taken literally); ``assignee``: only the examples assigned to this annotator.
    """

    status: str = "all"
    signal: str | None = None
    conf_min: float | None = None
    conf_max: float | None = None
    search: str | None = None
    assignee: str | None = None

    def check(self) -> None:
        """Raises ReviewError: an unknown status or a bound outside [0, 1]."""
        if self.status not in STATUSES:
            raise ReviewError(f"queue filter: status {self.status!r} is not one of {', '.join(STATUSES)}")
        for name in ("conf_min", "conf_max"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ReviewError(f"queue filter: {name} must be in [0, 1], got {value}")

    @property
    def unfiltered(self) -> bool:
        """Every example of the dataset, in queue order."""
        return self == QueueFilter()

    @property
    def search_text(self) -> str | None:
        return self.search.strip() if self.search and self.search.strip() else None


def _search_part(dataset_id: int, search: str | None, ranked: bool) -> tuple[str, tuple]:
    """The search's fragment and its values (none without a search)."""
    if not search:
        return "", ()
    return (q.Q_SEARCH_RANKED, (dataset_id, search, search)) if ranked else (q.Q_SEARCH, (search, search))


# Each kind of queue query's head and tail, ranked by the scores joined or by the stored order.
_JOINED = {
    "count": (q.Q_COUNT, ""),
    "page": (q.Q_PAGE, q.Q_ORDER_PAGE),
    "ids": (q.Q_IDS, q.Q_ORDER),
    "position": (q.Q_POSITION, q.Q_POSITION_END),
}
_RANKED = {  # a count needs no order
    "page": (q.Q_PAGE, q.Q_ORDER_PAGE_RANKED),
    "ids": (q.Q_IDS, q.Q_ORDER_RANKED),
    "position": (q.Q_POSITION_RANKED, q.Q_POSITION_END),
}


class ReviewQueries:
    """Mixed into :class:`curation.store.Store` (which provides ``_rows``, ``_dicts``, ``_execute``)."""

    # -- the queue ---------------------------------------------------------------------------
    def queue_count(self, dataset_id: int, flt: QueueFilter) -> int:
        sql, params = self._queue_sql(dataset_id, flt, "count")
        return self._rows(sql, params)[0][0]

    def queue_ranked(self, dataset_id: int, flt: QueueFilter, *, offset: int, limit: int) -> list[tuple[str, int]]:
        """One page of ``(example_id, size of the whole filtered queue)``, least confident first."""
        ranked = self._order_is_current(dataset_id)
        if ranked and flt.unfiltered:
            return self._rows(q.SQL_PAGE_BY_RANK, (dataset_id, dataset_id, offset, limit))
        sql, params = self._queue_sql(dataset_id, flt, "page", (limit, offset), ranked=ranked)
        return self._rows(sql, params)

    def queue_ids(self, dataset_id: int, flt: QueueFilter) -> list[str]:
        sql, params = self._queue_sql(dataset_id, flt, "ids")
        return [row[0] for row in self._rows(sql, params)]

    def queue_position(self, dataset_id: int, flt: QueueFilter, example_id: str) -> int | None:
        sql, params = self._queue_sql(dataset_id, flt, "position", (example_id,))
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    def refresh_queue_order(self, dataset_id: int, score_key: str) -> None:
        """Store the queue's order under ``score_key`` with the stamp of the scores it comes from
        (a scoring run's last write; the queue ranks by it while the stamp matches)."""
        with self.transaction():
            self._execute(q.SQL_ORDER_DELETE, (dataset_id,))
            self._execute(q.SQL_ORDER_BUILD, (dataset_id, score_key))
            stamp = self._rows(q.SQL_ORDER_STAMP, (dataset_id, score_key))[0][0]
            self._execute(q.SQL_ORDER_STAMP_SAVE, (dataset_id, score_key, stamp, now()))

    def _order_is_current(self, dataset_id: int) -> bool:
        """Whether the stored order is that of the active score's confidences as they are now."""
        key = self.active_score_key(dataset_id)
        saved = self._rows(q.SQL_ORDER_STAMP_SAVED, (dataset_id, key)) if key else []
        return bool(saved) and saved[0][0] == self._rows(q.SQL_ORDER_STAMP, (dataset_id, key))[0][0]

    def queue_details(self, dataset_id: int, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Everything a review card shows, for the examples ``ids``."""
        rows = self._dicts(q.SQL_QUEUE_DETAILS, (dataset_id, ids, self.active_score_key(dataset_id)))
        return {row["example_id"]: row for row in rows}

    def fired_counts(self, dataset_id: int) -> dict[str, int]:
        """Fired signal names of the active score, with how many examples each fired on."""
        return dict(self._rows(q.SQL_FIRED_COUNTS, (dataset_id, self.active_score_key(dataset_id))))

    def _queue_sql(
        self, dataset_id: int, flt: QueueFilter, kind: str, tail_params: tuple = (), *, ranked: bool | None = None
    ) -> tuple[str, list[Any]]:
        """The queue query for ``flt`` (``kind``: count, page, ids or position): only the joins
        and predicates its filters use, ranked by the stored order when it is current (``ranked``:
        already checked by the caller; a count is never ranked)."""
        flt.check()
        search = flt.search_text
        ranked = kind != "count" and (self._order_is_current(dataset_id) if ranked is None else ranked)
        head, tail = (_RANKED if ranked else _JOINED)[kind]
        by_decision = flt.status in ("decided", "undecided", "flagged_undecided")
        by_score = flt.signal or flt.conf_min is not None or flt.conf_max is not None
        need_scores = by_score or (kind != "count" and not ranked)
        parts: list[tuple[str, tuple]] = [
            (q.Q_DECISIONS if by_decision else "", (dataset_id,) if by_decision else ()),
            (head, ()),
            (q.Q_FROM_RANKED if ranked else q.Q_FROM, ()),
            (q.Q_JOIN_SCORES if need_scores else "", (self.active_score_key(dataset_id),) if need_scores else ()),
            (q.Q_JOIN_FLAGS if flt.status in ("flagged", "flagged_undecided") else "", ()),
            (q.Q_JOIN_PROPOSALS if flt.status in ("proposed", "auto_applied", "flagged_undecided") else "", ()),
            (q.Q_JOIN_DECISIONS if by_decision else "", ()),
            (q.Q_WHERE, (dataset_id,)),
            (q.Q_STATUS[flt.status], ()),
            (q.Q_SIGNAL if flt.signal else "", (json.dumps(flt.signal),) if flt.signal else ()),
            (q.Q_CONF_MIN if flt.conf_min is not None else "", () if flt.conf_min is None else (flt.conf_min,)),
            (q.Q_CONF_MAX if flt.conf_max is not None else "", () if flt.conf_max is None else (flt.conf_max,)),
            _search_part(dataset_id, search, ranked),
            (q.Q_ASSIGNED if flt.assignee else "", (dataset_id, flt.assignee) if flt.assignee else ()),
            (tail, tail_params),
        ]
        return "\n".join(sql for sql, _ in parts if sql), [value for _, values in parts for value in values]

    # -- decisions and undo ----------------------------------------------------------------
    def example_state(self, dataset_id: int, example_id: str) -> dict[str, Any] | None:
        """An example's response, proposal and text in force (None for an unknown example)."""
        rows = self._dicts(q.SQL_EXAMPLE_STATE, (dataset_id, example_id))
        return rows[0] if rows else None

    def history(self, dataset_id: int, example_id: str) -> list[dict[str, Any]]:
        """Every review event of one example, oldest first, each with ``undone``."""
        return self._dicts(q.SQL_HISTORY, (dataset_id, example_id))

    def last_in_effect_by(self, dataset_id: int, annotator: str) -> tuple[int, str] | None:
        """``(event_id, example_id)`` of the annotator's latest event still in effect."""
        rows = self._rows(q.SQL_LAST_EFFECTIVE_BY, (dataset_id, annotator))
        return rows[0] if rows else None

    def append_undo(self, dataset_id: int, example_id: str, *, annotator: str, undoes: int) -> None:
        self._execute(q.SQL_UNDO_EVENT, (dataset_id, example_id, annotator, None, undoes, now()))

    def example_of_event(self, dataset_id: int, event_id: int) -> str | None:
        rows = self._rows(q.SQL_EVENT_EXAMPLE, (dataset_id, event_id))
        return rows[0][0] if rows else None

    # -- bulk rules and batches --------------------------------------------------------------
    def bulk_count(self, dataset_id: int, flt: QueueFilter, rule: tuple[str, float, bool, str]) -> int:
        """How many examples of the filtered queue ``rule`` (kind, min judge, override, action) matches."""
        return self._rows(q.SQL_BULK_PREVIEW, self._bulk_params(dataset_id, flt, rule))[0][0]

    def bulk_decide(
        self, dataset_id: int, flt: QueueFilter, rule: tuple[str, float, bool, str], *, annotator: str, batch_id: str
    ) -> None:
        """One event per matching example, all in ``batch_id`` (the caller holds a transaction)."""
        self._execute(q.SQL_BULK_APPLY, self._bulk_params(dataset_id, flt, rule) + [annotator, batch_id, now()])

    def batch_in_effect(self, dataset_id: int, batch_id: str) -> int:
        return self._rows(q.SQL_BATCH_EFFECTIVE, (dataset_id, batch_id))[0][0]

    def undo_batch_events(self, dataset_id: int, batch_id: str, *, annotator: str) -> None:
        self._execute(q.SQL_UNDO_BATCH, (dataset_id, batch_id, annotator, f"undo:{batch_id}", now()))

    def last_batch(self, dataset_id: int, annotator: str | None) -> tuple | None:
        """``(batch_id, action, annotator, n, created_at)`` of the latest batch with events in effect."""
        rows = self._rows(q.SQL_LAST_BATCH, (dataset_id, annotator))
        return rows[0] if rows else None

    def _bulk_params(self, dataset_id: int, flt: QueueFilter, rule: tuple[str, float, bool, str]) -> list[Any]:
        flt.check()
        return [
            dataset_id,
            self.active_score_key(dataset_id),
            flt.status,
            flt.signal or None,
            flt.conf_min,
            flt.conf_max,
            flt.search_text,
            flt.assignee or None,
            *rule,
        ]

    # -- team review --------------------------------------------------------------------------
    def votes(self, dataset_id: int) -> list[dict[str, Any]]:
        """Each annotator's latest decision on every example two or more people decided."""
        return self._dicts(q.SQL_VOTES, (dataset_id,))

    def example_votes(self, dataset_id: int, example_id: str) -> list[dict[str, Any]]:
        """Each annotator's latest decision on one example, and its latest adjudication."""
        return self._dicts(q.SQL_EXAMPLE_VOTES, (dataset_id, example_id))

    def annotator_progress(self, dataset_id: int) -> list[dict[str, Any]]:
        return self._dicts(q.SQL_ANNOTATOR_PROGRESS, (dataset_id,))

    def example_texts(self, dataset_id: int, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {row["example_id"]: row for row in self._dicts(q.SQL_EXAMPLE_TEXTS, (dataset_id, ids))}


__all__ = ["QueueFilter", "ReviewQueries", "STATUSES"]
