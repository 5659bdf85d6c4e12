"""Team review: the queue split among annotators, disagreements and their adjudication, progress.

In: the store (the filtered queue, the review log, the assignments). Out: assignments (each
example of a queue given to one annotator, an ``overlap`` share to two, so that agreement can
be measured), each annotator's progress and agreement, and the disagreements still open.

A *vote* is an annotator's latest decision still in force on an example; its outcome is the
text it writes (``after``; None for ``remove``), so an ``accept`` and an ``edit`` to the same
text agree. An example is *disputed* while its votes write different outcomes; an
*adjudication* (an ordinary decision event marked ``adjudicates``) settles it, and only votes
cast after it can open it again. The decision in force is still the latest event, by anyone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from curation import review
from curation.errors import ReviewError
from curation.insights import agreement
from curation.review import QueueFilter
from curation.store import Store

#: What a new split covers by default: what export would otherwise hold back.
DEFAULT_SCOPE = QueueFilter(status="flagged_undecided")


@dataclass(frozen=True)
class Vote:
    annotator: str
    event_id: int
    action: str
    after: str | None
    created_at: Any
    adjudicates: bool = False


@dataclass(frozen=True)
class Dispute:
    """An example whose annotators disagree, with their votes (and the settlement they reopened)."""

    example_id: str
    prompt_text: str
    response: str
    votes: list[Vote]


@dataclass(frozen=True)
class AnnotatorProgress:
    annotator: str
    assigned: int
    done: int  # assigned examples this annotator decided
    decided: int  # examples decided in all, assigned or not
    overlap: int  # examples also decided by someone else
    agreement: float | None  # share of those where both wrote the same outcome


# -- pure ----------------------------------------------------------------------------------------
def plan_split(example_ids: list[str], annotators: list[str], overlap: float) -> list[tuple[str, str]]:
    """Give each example to the least-loaded annotator, and an even ``overlap`` share also to a second one.

    Walking the queue in order gives every annotator easy and hard examples alike; loads differ
    by one at most.

    Returns:
        ``(example_id, annotator)`` pairs.
    Raises:
        ReviewError: no annotator, a repeated name, or ``overlap`` outside [0, 1].
    """
    names = [a.strip() for a in annotators if a.strip()]
    if not names:
        raise ReviewError("assignment: name at least one annotator")
    if len(set(names)) != len(names):
        raise ReviewError(f"assignment: an annotator is named twice in {', '.join(names)}")
    if not 0.0 <= overlap <= 1.0:
        raise ReviewError(f"assignment: overlap must be in [0, 1], got {overlap}")
    load = dict.fromkeys(names, 0)
    pairs = []
    for i, example_id in enumerate(example_ids):
        # int((i + 1) * overlap) steps up on an even spread of round(n * overlap) examples.
        shared = len(names) > 1 and int((i + 1) * overlap + 1e-9) > int(i * overlap + 1e-9)
        for who in sorted(names, key=lambda n: (load[n], names.index(n)))[: 2 if shared else 1]:
            load[who] += 1
            pairs.append((example_id, who))
    return pairs


def open_votes(votes: list[Vote]) -> list[Vote]:
    """The votes that still count: the latest adjudication and the votes cast after it (all if none)."""
    settlements = [v for v in votes if v.adjudicates]
    if not settlements:
        return [v for v in votes if not v.adjudicates]
    settled = max(settlements, key=lambda v: v.event_id)
    return [settled] + [v for v in votes if not v.adjudicates and v.event_id > settled.event_id]


def is_disputed(votes: list[Vote]) -> bool:
    """Do the votes that still count write different outcomes?"""
    return len({v.after for v in open_votes(votes)}) > 1


def _vote(row: dict[str, Any]) -> Vote:
    return Vote(row["annotator"], row["event_id"], row["action"], row["after"], row["created_at"], row["adjudicates"])


# -- store ---------------------------------------------------------------------------------------
def assign(
    store: Store, dataset_id: int, annotators: list[str], *, overlap: float = 0.1, scope: QueueFilter = DEFAULT_SCOPE
) -> dict[str, int]:
    """Split the ``scope`` queue among ``annotators`` (replacing any earlier split).

    Returns:
        How many examples each annotator got.
    Raises:
        ReviewError: as :func:`plan_split`, or a bad filter.
    """
    pairs = plan_split(review.queue_ids(store, dataset_id, scope), annotators, overlap)
    store.replace_assignments(dataset_id, pairs)
    return dict(Counter(who for _, who in pairs))


def votes(store: Store, dataset_id: int, example_id: str) -> list[Vote]:
    """Every annotator's vote on one example, and its latest adjudication, oldest first."""
    return [_vote(row) for row in store.example_votes(dataset_id, example_id)]


def conflicts(store: Store, dataset_id: int, example_id: str, annotator: str) -> list[Vote]:
    """The votes still counting on ``example_id`` that write something else than ``annotator``'s."""
    counting = open_votes(votes(store, dataset_id, example_id))
    mine = [v for v in counting if v.annotator == annotator and not v.adjudicates]
    if not mine:
        return []
    return [v for v in counting if v.after != mine[-1].after and v is not mine[-1]]


def disputes(store: Store, dataset_id: int) -> list[Dispute]:
    """Every example whose annotators disagree and that no adjudication settled since, by example id."""
    by_example: dict[str, list[Vote]] = {}
    for row in store.votes(dataset_id):
        by_example.setdefault(row["example_id"], []).append(_vote(row))
    open_ids = sorted(example_id for example_id, vs in by_example.items() if is_disputed(vs))
    texts = store.example_texts(dataset_id, open_ids)
    return [Dispute(i, texts[i]["prompt_text"], texts[i]["response"], open_votes(by_example[i])) for i in open_ids]


def settle(store: Store, dataset_id: int, example_id: str, event_id: int, *, annotator: str) -> int:
    """Settle a disagreement with the outcome of vote ``event_id``; logged as ``annotator``'s decision.

    Returns:
        The adjudication event's id.
    Raises:
        ReviewError: ``event_id`` is not a vote still counting on the example.
    """
    chosen = [v for v in open_votes(votes(store, dataset_id, example_id)) if v.event_id == event_id]
    if not chosen:
        raise ReviewError(f"adjudication of {example_id!r}: event {event_id} is not one of its open votes")
    vote = chosen[0]
    text = vote.after if vote.action == "edit" else None
    return review.decide(store, dataset_id, example_id, vote.action, annotator=annotator, text=text, adjudicates=True)


def progress(store: Store, dataset_id: int) -> list[AnnotatorProgress]:
    """Each annotator's assignment, decisions and agreement with the others where they overlap."""
    pairs = agreement(store, dataset_id).pairs
    result = []
    for row in store.annotator_progress(dataset_id):
        mine = [p for p in pairs if row["annotator"] in p.annotators]
        n = sum(p.n for p in mine)
        agree = sum(p.agreement * p.n for p in mine) / n if n else None
        result.append(
            AnnotatorProgress(
                annotator=row["annotator"],
                assigned=row["assigned"],
                done=row["done"],
                decided=row["decided"],
                overlap=n,
                agreement=agree,
            )
        )
    return result


__all__ = [
    "Vote",
    "Dispute",
    "AnnotatorProgress",
    "DEFAULT_SCOPE",
    "plan_split",
    "open_votes",
    "is_disputed",
    "assign",
    "votes",
    "conflicts",
    "disputes",
    "settle",
    "progress",
]
