"""The review queue ranked by its stored order gives exactly what the joined query gives, and
only while the order is that of the scores as they are now."""

import random

import pytest

from curation import review, team
from curation.review import QueueFilter
from tests.test_review import seed

FILTERS = [
    QueueFilter(),
    QueueFilter(status="flagged"),
    QueueFilter(status="proposed"),
    QueueFilter(status="auto_applied"),
    QueueFilter(status="decided"),
    QueueFilter(status="undecided"),
    QueueFilter(status="flagged_undecided"),
    QueueFilter(signal="format"),
    QueueFilter(conf_min=0.2, conf_max=0.6),
    QueueFilter(status="flagged", signal="format", conf_max=0.5),
    QueueFilter(assignee="ann"),
    QueueFilter(status="undecided", assignee="bob"),
    QueueFilter(search="question e1"),
]


def rows(n=60, seed_=7):
    """``n`` examples for :func:`tests.test_review.seed`: many confidence ties, failed scores
    (None), e9 unscored, flags, proposals, some auto-applied."""
    rng = random.Random(seed_)
    out = {}
    for i in range(n):
        conf = rng.choice([None, 0.1, 0.25, 0.25, 0.5, rng.random()])
        flagged = None if conf is None else conf < 0.3
        proposal = (rng.random(), rng.random() < 0.3) if flagged and rng.random() < 0.6 else None
        fired = ["format"] if rng.random() < 0.3 else []
        out[f"e{i}"] = (conf, fired, flagged, proposal, f"answer {i}")
    return out


def everything(store, ds):
    """What every queue query returns for every filter."""
    out = {}
    for flt in FILTERS:
        ranked = review.queue_ids(store, ds, flt)
        out[flt] = {
            "count": review.queue_count(store, ds, flt),
            "ids": ranked,
            "pages": [
                (w.total, [r.example_id for r in w.rows])
                for offset in (0, 7, 35, 70)
                for w in [review.queue_window(store, ds, flt, offset=offset, limit=7)]
            ],
            "positions": [review.queue_position(store, ds, flt, eid) for eid in ("e0", "e3", "e9", "e41")],
        }
    return out


@pytest.fixture
def ds(store):
    ds = seed(store, rows())
    for eid, action in (("e1", "keep"), ("e4", "remove"), ("e5", "keep"), ("e12", "keep")):
        review.decide(store, ds, eid, action, annotator="ann")
    team.assign(store, ds, ["ann", "bob"], overlap=0.2, scope=QueueFilter())
    return ds


def test_the_stored_order_ranks_every_filter_as_the_joined_query_does(store, ds):
    assert not store._order_is_current(ds)  # seeded without a scoring run's fold
    joined = everything(store, ds)
    store.refresh_queue_order(ds, "k1")
    assert store._order_is_current(ds)
    assert everything(store, ds) == joined
    unscored = [eid for eid, row in rows().items() if row[0] is None]
    assert joined[QueueFilter()]["ids"][-len(unscored) :] == unscored  # last, in file order


def test_a_changed_score_retires_the_stored_order(store, ds):
    store.refresh_queue_order(ds, "k1")
    first = review.queue_ids(store, ds, QueueFilter())[0]
    store.save_score(
        dataset_id=ds, example_id=first, score_key="k1", run_id="run-demo", status="ok", confidence=0.99,
        consistency=None, reflection=None, signals={}, fired=[], explanation={},
    )  # fmt: skip
    assert not store._order_is_current(ds)
    assert review.queue_ids(store, ds, QueueFilter())[0] != first
    assert review.queue_window(store, ds, QueueFilter(), offset=0, limit=3).rows[0].example_id != first
    store.update_confidences(ds, "k1", {first: (0.0, [])})  # a fold stores the new order
    assert store._order_is_current(ds)
    assert review.queue_ids(store, ds, QueueFilter())[0] == first


def test_the_order_of_another_score_key_is_not_used(store, ds):
    joined = review.queue_ids(store, ds, QueueFilter())
    store.refresh_queue_order(ds, "other-key")  # nothing scored under it: file order
    assert not store._order_is_current(ds)
    assert review.queue_ids(store, ds, QueueFilter()) == joined != sorted(joined, key=lambda e: int(e[1:]))
