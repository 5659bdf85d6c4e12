"""Review: the queue a person works through, their decisions, bulk rules and undo.

In: the store (examples, the active score, flags, proposals, the review log). Out: queue pages
(lowest confidence first, read with SQL LIMIT/OFFSET), and new events appended to the
append-only ``review_log`` (``accept`` | ``keep`` | ``remove`` | ``edit`` | ``undo``). The
decision in force for an example is its latest event that is not an undo and not undone, by
any annotator (the store's ``decisions_in_force`` view); undo is a new event naming the one it
undoes. Nothing here updates or deletes a review event, and nothing here writes SQL: the store's
typed queries do (:mod:`curation.store.reviewing`). Measuring the automatic stages and the
reviewers against each other is :mod:`curation.insights`; team review is :mod:`curation.team`.
Scores are floats in [0, 1], higher = more likely correct.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from curation.errors import ReviewError
from curation.records import Message
from curation.store import STATUSES, QueueFilter, Store, prompt_from_json

log = logging.getLogger(__name__)

ACTIONS = ("accept", "keep", "remove", "edit")


# -- types -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proposal:
    candidate: str
    judge_confidence: float | None
    verdicts: list[dict[str, Any]]
    auto_applied: bool
    status: str  # ok (a proposal), weaker / same (no candidate beat the original), failed
    error: str | None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # the original first, then best first
    source: str | None = None
    margin: float | None = None


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
    in_force: str  # the response export would write now, unless it is removed (the store's texts_in_force)


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


# -- queue -------------------------------------------------------------------------------
def queue_count(store: Store, dataset_id: int, flt: QueueFilter) -> int:
    """How many examples of the dataset pass ``flt``.

    Raises:
        ReviewError: a bad filter.
    """
    return store.queue_count(dataset_id, flt)


def queue_window(store: Store, dataset_id: int, flt: QueueFilter, *, offset: int, limit: int) -> QueueWindow:
    """One page of the queue and the size of the whole filtered queue, from one pass over it.

    The page is ordered by confidence ascending (least trustworthy first), unscored examples
    last, ties in file order; only the page's rows are read in full.

    Raises:
        ReviewError: a bad filter, or a negative offset / non-positive limit.
    """
    if offset < 0 or limit < 1:
        raise ReviewError(f"queue page: offset must be >= 0 and limit >= 1, got offset={offset}, limit={limit}")
    ranked = store.queue_ranked(dataset_id, flt, offset=offset, limit=limit)
    if not ranked:
        return QueueWindow(total=store.queue_count(dataset_id, flt) if offset else 0, rows=[])
    ids = [example_id for example_id, _ in ranked]
    details = store.queue_details(dataset_id, ids)
    return QueueWindow(total=ranked[0][1], rows=[_queue_row(details[example_id]) for example_id in ids])


def queue_ids(store: Store, dataset_id: int, flt: QueueFilter) -> list[str]:
    """Every example id of the filtered queue, in queue order (for splitting it among annotators)."""
    return store.queue_ids(dataset_id, flt)


def queue_page(store: Store, dataset_id: int, flt: QueueFilter, *, offset: int, limit: int) -> list[QueueRow]:
    """The rows of :func:`queue_window` (SQL ``LIMIT``/``OFFSET``; never the whole table)."""
    return queue_window(store, dataset_id, flt, offset=offset, limit=limit).rows


def queue_position(store: Store, dataset_id: int, flt: QueueFilter, example_id: str) -> int | None:
    """The 0-based place of ``example_id`` in the filtered queue, or None when it is not in it."""
    return store.queue_position(dataset_id, flt, example_id)


def history(store: Store, dataset_id: int, example_id: str) -> list[dict[str, Any]]:
    """Every review event of one example, oldest first, each with ``undone`` set."""
    return store.history(dataset_id, example_id)


def signal_names(store: Store, dataset_id: int) -> dict[str, int]:
    """Fired signal names of the active score, with how many examples each fired on."""
    return store.fired_counts(dataset_id)


# -- decisions ---------------------------------------------------------------------------
def decide(
    store: Store,
    dataset_id: int,
    example_id: str,
    action: str,
    *,
    annotator: str,
    text: str | None = None,
    adjudicates: bool = False,
) -> int:
    """Record one annotator's decision on one example.

    Args:
        action: ``accept`` (take the proposal's candidate), ``keep`` (the original),
            ``remove`` (drop the example) or ``edit`` (``text`` becomes the response).
        annotator: who decides (non-empty).
        text: the new response, for ``edit`` only.
        adjudicates: the decision settles annotators' disagreement (:func:`curation.team.settle`).
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
        state = store.example_state(dataset_id, example_id)
        if state is None:
            raise ReviewError(f"decision: no example {example_id!r} in dataset {dataset_id}")
        if action == "accept" and (state["candidate"] is None or state["proposal_status"] != "ok"):
            raise ReviewError(f"decision on {example_id!r}: there is no proposed correction to accept")
        after = {"accept": state["candidate"], "keep": state["response"], "remove": None, "edit": text}[action]
        return store.append_review(
            dataset_id=dataset_id,
            example_id=example_id,
            action=action,
            annotator=who,
            before=state["in_force"],
            after=after,
            adjudicates=adjudicates,
        )


def undo_last(store: Store, dataset_id: int, *, annotator: str) -> int | None:
    """Undo ``annotator``'s latest decision still in effect; return the undone event's id (None if none)."""
    who = _annotator(annotator)
    with store.transaction():
        found = store.last_in_effect_by(dataset_id, who)
        if found is None:
            return None
        event_id, example_id = found
        store.append_undo(dataset_id, example_id, annotator=who, undoes=event_id)
    return event_id


def example_of_event(store: Store, dataset_id: int, event_id: int) -> str | None:
    """The example a review event is about (None for an unknown event)."""
    return store.example_of_event(dataset_id, event_id)


# -- bulk --------------------------------------------------------------------------------
def bulk_preview(store: Store, dataset_id: int, flt: QueueFilter, rule: BulkRule) -> int:
    """How many examples :func:`bulk_apply` would change (the whole filtered set, not one page)."""
    return store.bulk_count(dataset_id, flt, _rule(rule))


def bulk_apply(store: Store, dataset_id: int, flt: QueueFilter, rule: BulkRule, *, annotator: str) -> str:
    """Apply ``rule`` to every matching example: one event each, one batch id, one transaction.

    Returns:
        The batch id (pass it to :func:`undo_batch`).
    Raises:
        ReviewError: unknown rule, bad filter or empty annotator.
    """
    who = _annotator(annotator)
    batch_id = uuid.uuid4().hex[:12]
    matched = _rule(rule)
    with store.transaction():
        store.bulk_decide(dataset_id, flt, matched, annotator=who, batch_id=batch_id)
    log.info("bulk %s by %s: batch %s", rule.kind, who, batch_id)
    return batch_id


def undo_batch(store: Store, dataset_id: int, batch_id: str, *, annotator: str) -> int:
    """Undo every event of a batch still in effect (as one new batch); return how many were undone."""
    who = _annotator(annotator)
    with store.transaction():
        undone = store.batch_in_effect(dataset_id, batch_id)
        store.undo_batch_events(dataset_id, batch_id, annotator=who)
    return undone


def last_batch(store: Store, dataset_id: int, *, annotator: str | None = None) -> Batch | None:
    """The latest bulk batch with events still in effect (of ``annotator`` when given)."""
    row = store.last_batch(dataset_id, annotator)
    return Batch(*row) if row else None


# -- helpers -----------------------------------------------------------------------------------
def _rule(rule: BulkRule) -> tuple[str, float, bool, str]:
    if rule.kind not in BULK_ACTIONS:
        raise ReviewError(f"bulk rule {rule.kind!r} is not one of {', '.join(BULK_ACTIONS)}")
    if not 0.0 <= rule.min_judge <= 1.0:
        raise ReviewError(f"bulk rule: min_judge must be in [0, 1], got {rule.min_judge}")
    return rule.kind, rule.min_judge, rule.override, BULK_ACTIONS[rule.kind]


def _annotator(name: str) -> str:
    who = (name or "").strip()
    if not who:
        raise ReviewError("decision: the annotator's name is empty; enter it in the sidebar")
    return who


def _queue_row(row: dict[str, Any]) -> QueueRow:
    proposal = None
    if row["candidate"] is not None or row["proposal_status"] is not None:
        proposal = Proposal(
            candidate=row["candidate"] or "",
            judge_confidence=row["judge_confidence"],
            verdicts=json.loads(row["verdicts"] or "[]"),
            auto_applied=bool(row["auto_applied"]),
            status=row["proposal_status"],
            error=row["proposal_error"],
            candidates=json.loads(row["candidates"] or "[]"),
            source=row["proposal_source"],
            margin=row["margin"],
        )
    decision = None
    if row["action"] is not None:
        decision = Decision(
            event_id=row["event_id"],
            action=row["action"],
            annotator=row["annotator"],
            after=row["after"],
            decided_at=row["decided_at"],
        )
    return QueueRow(
        example_id=row["example_id"],
        position=row["position"],
        prompt=prompt_from_json(row["prompt"]),
        response=row["response"],
        score_status=row["score_status"],
        confidence=row["confidence"],
        consistency=row["consistency"],
        reflection=row["reflection"],
        signals=json.loads(row["signals"]) if row["signals"] else {},
        fired=json.loads(row["fired"]) if row["fired"] else [],
        explanation=json.loads(row["explanation"]) if row["explanation"] else {},
        score_error=row["score_error"],
        flagged=row["flagged"],
        threshold=row["threshold"],
        proposal=proposal,
        decision=decision,
        n_annotators=row["n_annotators"],
        in_force=row["in_force"] or "",
    )


__all__ = [
    "ACTIONS",
    "STATUSES",
    "BULK_ACTIONS",
    "ReviewError",
    "QueueFilter",
    "QueueRow",
    "Proposal",
    "Decision",
    "BulkRule",
    "Batch",
    "QueueWindow",
    "queue_count",
    "queue_ids",
    "queue_page",
    "queue_window",
    "queue_position",
    "history",
    "example_of_event",
    "signal_names",
    "decide",
    "undo_last",
    "bulk_preview",
    "bulk_apply",
    "undo_batch",
    "last_batch",
]
