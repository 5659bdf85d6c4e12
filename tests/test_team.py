"""Team review: splitting the queue, conflicts, adjudication, progress (on a real store)."""

from __future__ import annotations

import pytest

from curation import review, team
from curation.errors import ReviewError
from curation.export import export_dataset
from curation.review import QueueFilter
from curation.team import Vote
from tests.browser.seed import seed_scored_store
from tests.support import raw_sql


@pytest.fixture
def seeded(tmp_path):
    from curation.store import Store

    seeded = seed_scored_store(tmp_path / "s.duckdb")
    with Store(tmp_path / "s.duckdb") as store:
        yield store, store.dataset(seeded.dataset).dataset_id, seeded


def test_split_is_round_robin_with_an_even_overlap():
    ids = [f"e{i}" for i in range(20)]
    pairs = team.plan_split(ids, ["ann", "bob"], overlap=0.1)
    by_example: dict[str, list[str]] = {}
    for example_id, who in pairs:
        by_example.setdefault(example_id, []).append(who)
    assert set(by_example) == set(ids)
    doubled = [i for i, names in by_example.items() if len(names) == 2]
    assert len(doubled) == 2 and doubled == ["e9", "e19"]  # spread, not bunched at the top
    assert all(set(names) == {"ann", "bob"} for i, names in by_example.items() if i in doubled)
    assert [by_example[f"e{i}"][0] for i in range(4)] == ["ann", "bob", "ann", "bob"]
    loads = [sum(1 for _, who in pairs if who == name) for name in ("ann", "bob")]
    assert loads == [11, 11]
    assert len(team.plan_split(ids, ["ann", "bob", "cy"], overlap=0.5)) == 30
    assert len(team.plan_split(ids, ["solo"], overlap=0.5)) == 20  # nobody to overlap with


@pytest.mark.parametrize(
    "names, overlap, message",
    [([], 0.1, "at least one"), (["a", "a"], 0.1, "named twice"), (["a", "b"], 1.5, "overlap must be in")],
)
def test_split_refuses_bad_input(names, overlap, message):
    with pytest.raises(ReviewError, match=message):
        team.plan_split(["e1"], names, overlap)


def test_open_votes_after_a_settlement():
    a = Vote("ann", 1, "keep", "x", None)
    b = Vote("bob", 2, "remove", None, None)
    assert team.is_disputed([a, b])
    settled = Vote("cy", 3, "keep", "x", None, adjudicates=True)
    assert not team.is_disputed([a, b, settled])
    assert team.is_disputed([a, b, settled, Vote("bob", 4, "edit", "y", None)])  # a later vote reopens it
    assert not team.is_disputed([a, b, settled, Vote("bob", 4, "edit", "x", None)])


def test_assign_then_filter_the_queue_by_assignee(seeded):
    store, ds, s = seeded
    counts = team.assign(store, ds, ["ann", "bob"], overlap=0.5)
    assert counts == {"ann": 5, "bob": 4}  # 6 flagged, 3 of them shared
    mine = review.queue_ids(store, ds, QueueFilter(assignee="ann"))
    theirs = review.queue_ids(store, ds, QueueFilter(assignee="bob"))
    assert set(mine) | set(theirs) == set(s.flagged) and len(set(mine) & set(theirs)) == 3
    assert mine == [i for i in s.flagged if i in mine]  # queue order kept
    assert review.queue_count(store, ds, QueueFilter(status="flagged", assignee="bob")) == len(theirs)
    assert store.assignees(ds) == ["ann", "bob"]
    # A bulk rule on "my" queue touches only my examples.
    rule = review.BulkRule("remove_flagged_unproposed")
    raw_sql.rows(store, "DELETE FROM proposals WHERE dataset_id = ?", (ds,))
    assert review.bulk_preview(store, ds, QueueFilter(assignee="ann"), rule) == len(mine)


def test_conflict_shows_the_other_decision_then_adjudication_settles_it(seeded, tmp_path):
    store, ds, s = seeded
    example = s.flagged[0]
    review.decide(store, ds, example, "accept", annotator="ann")
    assert team.conflicts(store, ds, example, "ann") == []
    review.decide(store, ds, example, "remove", annotator="bob")
    clash = team.conflicts(store, ds, example, "bob")
    assert [(v.annotator, v.action, v.after) for v in clash] == [("ann", "accept", s.candidates[example])]
    assert [d.example_id for d in team.disputes(store, ds)] == [example]
    dispute = team.disputes(store, ds)[0]
    assert {v.annotator: v.action for v in dispute.votes} == {"ann": "accept", "bob": "remove"}
    ann_vote = next(v for v in dispute.votes if v.annotator == "ann")
    team.settle(store, ds, example, ann_vote.event_id, annotator="lead")
    assert team.disputes(store, ds) == []
    history = review.history(store, ds, example)
    assert history[-1]["annotator"] == "lead" and history[-1]["action"] == "accept"
    records = export_dataset(store, tmp_path / "out.jsonl").manifest["changes"]
    assert {c["id"]: c["reason"] for c in records}[example] == "correction accepted by lead"
    # Agreement ignores the adjudicator; progress counts each person's own decisions.
    progress = {p.annotator: p for p in team.progress(store, ds)}
    assert set(progress) == {"ann", "bob"}
    assert progress["ann"].overlap == 1 and progress["ann"].agreement == 0.0
    with pytest.raises(ReviewError, match="not one of its open votes"):
        team.settle(store, ds, example, 10_000, annotator="lead")


def test_undoing_a_vote_ends_the_dispute(seeded):
    store, ds, s = seeded
    example = s.flagged[1]
    review.decide(store, ds, example, "keep", annotator="ann")
    review.decide(store, ds, example, "remove", annotator="bob")
    assert len(team.disputes(store, ds)) == 1
    review.undo_last(store, ds, annotator="bob")
    assert team.disputes(store, ds) == []


def test_progress_counts_assigned_and_done(seeded):
    store, ds, s = seeded
    team.assign(store, ds, ["ann", "bob"], overlap=0.0)
    first = review.queue_ids(store, ds, QueueFilter(assignee="ann"))[0]
    review.decide(store, ds, first, "keep", annotator="ann")
    progress = {p.annotator: p for p in team.progress(store, ds)}
    assert (progress["ann"].assigned, progress["ann"].done, progress["ann"].decided) == (3, 1, 1)
    assert (progress["bob"].assigned, progress["bob"].done) == (3, 0)


def test_each_dispute_carries_its_own_example(seeded):
    store, ds, s = seeded
    first, second = s.flagged[:2]
    for example in (first, second):
        review.decide(store, ds, example, "keep", annotator="ann")
        review.decide(store, ds, example, "remove", annotator="bob")
    listed = team.disputes(store, ds)
    assert sorted(d.example_id for d in listed) == sorted([first, second])
    for d in listed:
        assert d.response == s.originals[d.example_id]
    settled = next(d for d in listed if d.example_id == first)
    team.settle(store, ds, first, settled.votes[0].event_id, annotator="lead")
    assert [d.example_id for d in team.disputes(store, ds)] == [second]
