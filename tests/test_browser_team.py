"""Review for a team in a real browser (Debian's Chromium via Playwright, against `streamlit run`).

A reload keeps the dataset, the annotator and the position (they live in the URL); two people
in two browser contexts decide differently on one example, the second is warned at once, and
the disagreement is settled on the Team page; export under each choice for undecided flags
writes what it says, checked on disk.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from curation import review
from curation.export import UNDECIDED_LABELS
from curation.store import Store
from tests.browser.driver import CHROMIUM, button, chromium, click_button, fill_text_input, go_to, new_page, settle
from tests.browser.seed import seed_scored_store
from tests.browser.server import streamlit_app

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: apt-get install chromium"),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="playwright missing: pip install -e '.[test]'"
    ),
]


def position(page) -> str:
    return page.get_by_text(re.compile(r"^Example \d+ of \d+")).first.inner_text()


def no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def test_reload_keeps_dataset_annotator_and_position(tmp_path):
    store = tmp_path / "store.duckdb"
    seed_scored_store(store, sample="support_intents.jsonl")
    seed_scored_store(store, sample="passage_qa.jsonl")  # a second dataset: the default is the first
    with streamlit_app(store, tmp_path / "streamlit.log") as url, chromium() as browser:
        page = new_page(browser)
        page.goto(url)
        settle(page)
        fill_text_input(page, "Annotator", "ann")
        page.get_by_role("combobox", name="Dataset").click()  # the sidebar's dataset picker
        page.get_by_role("option", name="passage_qa").click()
        settle(page)
        go_to(page, "Review")
        click_button(page, "Next")
        click_button(page, "Next")
        assert position(page).startswith("Example 3 of 150")
        shown = page.url
        assert "dataset=passage_qa" in shown and "annotator=ann" in shown and "example=" in shown

        page.reload()
        settle(page)
        assert position(page).startswith("Example 3 of 150")
        # the sidebar may be drawn a moment after the main area: wait for its value, do not race it
        from playwright.sync_api import expect

        expect(page.get_by_role("textbox", name="Annotator")).to_have_value("ann")
        page.get_by_text("Dataset passage_qa").first.wait_for()  # the page names its dataset

        other = new_page(browser)  # a shared link opens the same view in another session
        other.goto(shown)
        settle(other)
        assert position(other).startswith("Example 3 of 150")
        no_exception(other)


def test_two_annotators_conflict_then_the_disagreement_is_settled(tmp_path):
    store = tmp_path / "store.duckdb"
    seeded = seed_scored_store(store)
    first = seeded.flagged[0]
    with streamlit_app(store, tmp_path / "streamlit.log") as url, chromium() as browser:
        ann, bob = new_page(browser), new_page(browser)
        for page, name in ((ann, "ann"), (bob, "bob")):
            page.goto(f"{url}/Review?annotator={name}")
            settle(page)
            assert position(page).startswith("Example 1 of 160")
        click_button(ann, "Remove")
        click_button(bob, "Keep")  # bob's page still shows the first example: his decision conflicts
        warning = bob.get_by_text(re.compile(r"conflicts with ann's 'remove'")).first
        warning.wait_for()
        assert f"Your 'keep' on {first}" in warning.inner_text()

        go_to(bob, "Team")
        bob.get_by_text("Disagreements (1)").wait_for()
        button(bob, "Settle with this").click()  # the first vote: ann's removal
        settle(bob)
        bob.get_by_text("Disagreements (0)").wait_for()
        no_exception(bob)
    with Store(store) as s:
        last = review.history(s, s.dataset(seeded.dataset).dataset_id, first)[-1]
    assert (last["annotator"], last["action"]) == ("bob", "remove")


@pytest.mark.parametrize("choice", ["hold", "drop", "keep"])
def test_export_with_undecided_flags_under_each_choice(tmp_path, choice):
    store = tmp_path / "store.duckdb"
    seeded = seed_scored_store(store)  # six flagged examples, nobody decided on any
    out = tmp_path / f"{choice}.jsonl"
    with streamlit_app(store, tmp_path / "streamlit.log") as url, chromium() as browser:
        page = new_page(browser)
        page.goto(f"{url}/Export")
        settle(page)
        page.get_by_text(UNDECIDED_LABELS[choice]).click()
        settle(page)
        verb = {"hold": "held for review", "drop": "removed", "keep": "written unchanged"}[choice]
        page.get_by_text(f"6 flagged example(s) nobody decided on will be {verb}").wait_for()
        fill_text_input(page, "Output path", str(out))
        click_button(page, "Write files")
        written = 160 if choice == "keep" else 154
        page.get_by_text(f"Wrote {written} of 160 examples").wait_for()
        no_exception(page)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == written and (set(seeded.flagged) <= set(ids)) == (choice == "keep")
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["undecided"]["choice"] == choice and manifest["undecided"]["count"] == 6
    assert sorted(c["id"] for c in manifest["changes"]) == sorted(seeded.flagged)
    assert all(c["reason"].startswith("flagged (confidence") for c in manifest["changes"])
    held = out.with_name(out.name + ".held.jsonl")
    if choice == "hold":
        assert sorted(json.loads(line)["id"] for line in held.read_text().splitlines()) == sorted(seeded.flagged)
    else:
        assert not held.exists()


def test_a_click_on_a_queue_row_opens_that_example(tmp_path):
    store = tmp_path / "store.duckdb"
    seed_scored_store(store)
    with streamlit_app(store, tmp_path / "streamlit.log") as url, chromium() as browser:
        page = new_page(browser)
        page.goto(f"{url}/Review?annotator=ann")
        settle(page)
        assert position(page).startswith("Example 1 of 160")
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for()
        box = grid.bounding_box()
        # The row-selection column is the grid's first; rows are about 35 px high under a header row.
        page.mouse.click(box["x"] + 12, box["y"] + 35 * 3 + 17)
        settle(page)
        assert position(page).startswith("Example 3 of 160")
        assert "example=" in page.url
        no_exception(page)
