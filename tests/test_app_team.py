"""Review state in the URL, conflicts at the moment they happen, the Team page (AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import review, team
from curation.export import UNDECIDED_SETTING
from curation.store import Store
from tests.browser.apptest import ROOT, app
from tests.test_review import seed
from ui import common

REVIEW = str(ROOT / "pages" / "3_Review.py")


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv(common.STORE_ENV, str(path))
    common.open_store.clear()
    with Store(path) as store:
        seed(store, name="demo")
        seed(store, name="other")
    yield path
    common.open_store.clear()


def review_page(**query) -> AppTest:
    at = AppTest.from_file(REVIEW, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def caption_with(at, text: str) -> str:
    return next(c.value for c in at.caption if text in c.value)


def test_the_url_opens_the_same_dataset_annotator_filters_and_example(store_path):
    at = review_page(dataset="other", annotator="bob", status="flagged", example="e2")
    assert not at.exception
    assert at.session_state["dataset_name"] == "other" and at.session_state["annotator"] == "bob"
    assert at.selectbox(key="review_status").value == "flagged"
    assert "Example 3 of 4 · page 1 of 1" in [c.value for c in at.caption]
    assert "Dataset **other**" in caption_with(at, "Dataset **")
    # What the page shows is written back, so a reload (a new session on this URL) comes back here.
    next(b for b in at.button if b.label == "Next").click().run()
    assert dict(at.query_params) == {"dataset": "other", "annotator": "bob", "status": "flagged", "example": "e3"}
    again = review_page(**at.query_params)
    assert "Example 4 of 4 · page 1 of 1" in [c.value for c in again.caption]


def test_a_conflicting_decision_warns_and_names_the_other(store_path):
    at = review_page(dataset="demo", annotator="ann")
    next(b for b in at.button if b.label == "Remove").click().run()
    bob = review_page(dataset="demo", annotator="bob", example="e0")
    next(b for b in bob.button if b.label == "Keep").click().run()
    assert not bob.exception
    warning = next(w.value for w in bob.warning if "conflicts with" in w.value)
    assert "Your 'keep' on e0 conflicts with ann's 'remove'" in warning and "Team page" in warning


def test_the_review_card_says_what_export_will_do(store_path):
    at = review_page(dataset="demo", annotator="ann", example="e2")  # flagged, no proposal, undecided
    assert any(
        t.startswith("held — flagged (confidence 0.30 < γ 0.50), undecided: held for review")
        for t in (x.value for x in at.text)
    )
    with Store(store_path) as store:
        store.put_setting(store.dataset("demo").dataset_id, UNDECIDED_SETTING, "keep")
    at.run()
    assert any(t.startswith("flag_kept — ") for t in (x.value for x in at.text))
    at = review_page(dataset="demo", annotator="ann", example="e0")  # auto-corrected
    assert any(t.startswith("corrected — auto-corrected") for t in (x.value for x in at.text))


def test_an_assigned_annotator_sees_their_part(store_path):
    with Store(store_path) as store:
        ds = store.dataset("demo").dataset_id
        team.assign(store, ds, ["ann", "bob"], overlap=0.0, scope=review.QueueFilter(status="flagged"))
    at = review_page(dataset="demo", annotator="bob")
    assert at.toggle(key="review_mine").value is True
    assert "Example 1 of 2 · page 1 of 1" in [c.value for c in at.caption]
    at.toggle(key="review_mine").set_value(False).run()
    assert "Example 1 of 10 · page 1 of 1" in [c.value for c in at.caption]
    assert at.query_params["mine"] == "0"


def test_team_page_splits_shows_progress_and_settles_a_disagreement(store_path):
    at = app("team")
    at.session_state["annotator"] = "lead"
    at.query_params["dataset"] = "demo"
    at.run()
    assert not at.exception
    at.text_input(key="team_names").input("ann, bob")
    at.selectbox(key="team_scope").select("flagged")
    at.slider(key="team_overlap").set_value(0.5)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert any("Assigned: ann 3, bob 3" in s.value for s in at.success)
    with Store(store_path) as store:
        ds = store.dataset("demo").dataset_id
        review.decide(store, ds, "e1", "accept", annotator="ann")
        review.decide(store, ds, "e1", "remove", annotator="bob")
    at.run()
    progress = at.dataframe[0].value.set_index("annotator")
    assert progress.loc["ann", "assigned"] == 3 and progress.loc["ann", "decided in all"] == 1
    assert "Disagreements (1)" in [s.value for s in at.subheader]
    settle = [b for b in at.button if b.key and b.key.startswith("team_settle_e1_")]
    assert len(settle) == 2
    settle[0].click().run()
    assert not at.exception
    assert "Disagreements (0)" in [s.value for s in at.subheader]
    with Store(store_path) as store:
        last = review.history(store, store.dataset("demo").dataset_id, "e1")[-1]
    assert (last["annotator"], last["action"]) == ("lead", "accept")
