"""The decision in force and the text in force: one definition (the store's views), every reader agrees."""

from __future__ import annotations

import pytest

from curation import review
from curation.export import export_dataset
from curation.review import QueueFilter
from tests.test_review import seed


@pytest.fixture
def ds(store):
    return seed(store)


def in_force(store, ds) -> dict[str, tuple]:
    """Every reader's view of (action, text in force) per example, checked to agree."""
    decisions = {k: v["action"] for k, v in store.current_decisions(ds).items()}
    rows = {r["example_id"]: r for r in store.export_rows(ds)}
    assert {k: r["action"] for k, r in rows.items() if r["action"]} == decisions
    assert store.status(ds)["decided"] == len(decisions)
    assert review.queue_count(store, ds, QueueFilter(status="decided")) == len(decisions)
    page = review.queue_page(store, ds, QueueFilter(), offset=0, limit=50)
    assert {r.example_id: r.in_force for r in page} == {k: r["in_force"] for k, r in rows.items()}
    return {k: (r["action"], r["in_force"]) for k, r in rows.items()}


def event(store, ds, example_id, action, who="ann", after=None, undoes=None):
    return store.append_review(
        dataset_id=ds, example_id=example_id, action=action, annotator=who, before=None, after=after, undoes=undoes
    )


def test_text_in_force_for_each_kind_of_decision(store, ds):
    # e0 has an auto-applied proposal, e1 a proposal that is not applied (see tests.test_review.SEED).
    state = in_force(store, ds)
    assert state["e0"] == (None, "fixed e0") and state["e1"] == (None, "The capital of France is Lyon.")
    review.decide(store, ds, "e1", "accept", annotator="ann")
    review.decide(store, ds, "e0", "keep", annotator="ann")  # a person's keep beats the auto-correction
    review.decide(store, ds, "e2", "edit", annotator="ann", text="new text")
    review.decide(store, ds, "e3", "remove", annotator="ann")
    state = in_force(store, ds)
    assert state["e0"] == ("keep", "aaaa aaaa aaaa aaaa") and state["e1"] == ("accept", "fixed e1")
    assert state["e2"] == ("edit", "new text") and state["e3"][0] == "remove"


def test_latest_by_anyone_wins_and_undo_restores_the_one_before(store, ds):
    event(store, ds, "e5", "keep", "ann", after="Paris.")
    second = event(store, ds, "e5", "edit", "bob", after="Paris, France.")
    assert in_force(store, ds)["e5"] == ("edit", "Paris, France.")
    event(store, ds, "e5", "undo", "bob", undoes=second)
    assert in_force(store, ds)["e5"] == ("keep", "Paris.")


def test_a_chain_of_undos_walks_back_one_decision_at_a_time(store, ds):
    review.decide(store, ds, "e6", "keep", annotator="ann")
    review.decide(store, ds, "e6", "edit", annotator="ann", text="Four!")
    review.decide(store, ds, "e6", "remove", annotator="ann")
    assert in_force(store, ds)["e6"][0] == "remove"
    review.undo_last(store, ds, annotator="ann")
    assert in_force(store, ds)["e6"] == ("edit", "Four!")
    review.undo_last(store, ds, annotator="ann")
    assert in_force(store, ds)["e6"] == ("keep", "Four.")
    review.undo_last(store, ds, annotator="ann")
    assert "e6" not in store.current_decisions(ds) and in_force(store, ds)["e6"] == (None, "Four.")
    assert review.undo_last(store, ds, annotator="ann") is None  # nothing left of ann's


def test_an_undo_with_no_target_hides_nothing(store, ds):
    """A NULL in ``undoes`` must not turn ``NOT IN`` into 'unknown' for every event."""
    event(store, ds, "e4", "keep", after="It costs 500 dollars, axb.")
    event(store, ds, "e7", "undo", undoes=None)
    assert in_force(store, ds)["e4"][0] == "keep"
    assert store.status(ds)["decided"] == 1


def test_a_bulk_batch_and_its_undo(store, ds):
    batch = review.bulk_apply(store, ds, QueueFilter(), review.BulkRule("keep_unflagged"), annotator="ann")
    assert {k for k, (action, _) in in_force(store, ds).items() if action == "keep"} == {"e4", "e5", "e6", "e7"}
    review.undo_batch(store, ds, batch, annotator="ann")
    assert all(action is None for action, _ in in_force(store, ds).values())


def test_export_writes_the_text_in_force(store, ds, tmp_path):
    review.decide(store, ds, "e5", "edit", annotator="ann", text="Paris, France.")
    result = export_dataset(store, tmp_path / "out.jsonl", fmt="prompt-response", undecided="keep")
    written = {c["id"]: c for c in result.manifest["changes"]}
    assert written["e5"]["reason"] == "edited by ann" and written["e0"]["outcome"] == "corrected"
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert any("Paris, France." in line for line in lines) and any("fixed e0" in line for line in lines)
