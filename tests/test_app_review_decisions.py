"""The Review page's decisions (AppTest): accept, remove, keep, undo, edit, bulk rules, agreement, the keyboard."""

import importlib.util

import pytest

from curation.store import Store
from tests.browser.driver import CHROMIUM, chromium_page, fill_text_input, settle
from tests.browser.server import streamlit_app
from tests.support import raw_sql
from tests.test_app_review import button, events, store_of, texts
from tests.test_review import seed


def test_accept_lands_in_the_store_with_the_annotator_and_moves_on(app):
    at = app()
    button(at, "Accept").click().run()
    assert not at.exception
    assert events(at) == [
        {"example_id": "e0", "action": "accept", "annotator": "ann", "after": "fixed e0", "batch_id": None}
    ]
    assert at.session_state["review_pos"] == 1
    assert "Question e1?" in texts(at)


def test_remove_and_keep_and_undo(app):
    at = app(annotator="bob")
    button(at, "Remove").click().run()
    button(at, "Keep").click().run()
    assert [(e["example_id"], e["action"], e["annotator"]) for e in events(at)] == [
        ("e0", "remove", "bob"),
        ("e1", "keep", "bob"),
    ]
    button(at, "Undo last").click().run()
    assert not at.exception
    assert [e["action"] for e in events(at)] == ["remove", "keep", "undo"]
    assert at.session_state["review_pos"] == 1  # back on the undone example
    assert list(store_of(at).current_decisions(1)) == ["e0"]


def test_edit_saves_the_typed_text(app):
    at = app()
    box = at.text_area(key="review_edit_e0")
    assert box.value == "fixed e0"  # the edit starts from the proposal
    box.input("A better answer.")
    next(b for b in at.button if b.label == "Save edit").click().run()
    assert not at.exception
    assert events(at)[-1] == {
        "example_id": "e0",
        "action": "edit",
        "annotator": "ann",
        "after": "A better answer.",
        "batch_id": None,
    }


def test_empty_edit_shows_the_error_and_writes_nothing(app):
    at = app()
    at.text_area(key="review_edit_e0").input("   ")
    next(b for b in at.button if b.label == "Save edit").click().run()
    assert "an edit needs a non-empty response text" in at.error[0].value
    assert events(at) == []


def test_bulk_rule_needs_confirmation_and_can_be_undone(app):
    at = app()
    assert not [s for s in at.selectbox if s.key == "review_bulk_rule"]  # closed until asked for
    at.toggle(key="review_bulk_open").set_value(True).run()
    at.selectbox(key="review_bulk_rule").set_value("keep_unflagged").run()
    apply = next(b for b in at.button if b.label.startswith("Apply to"))
    assert apply.label == "Apply to 4 example(s)…"
    apply.click().run()
    assert events(at) == []  # nothing until confirmed
    assert any("Record 4 'keep' decisions as ann" in w.value for w in at.warning)
    at.button(key="review_bulk_confirm_button").click().run()
    rows = events(at)
    assert len(rows) == 4 and {r["action"] for r in rows} == {"keep"} and len({r["batch_id"] for r in rows}) == 1
    at.button(key="review_bulk_undo").click().run()
    assert not at.exception
    assert store_of(at).current_decisions(1) == {}
    assert len(events(at)) == 8


def test_two_annotators_show_agreement(app):
    at = app()
    button(at, "Remove").click().run()
    at.session_state["annotator"] = "bob"
    at.session_state["review_pos"] = 0
    at.run()
    button(at, "Keep").click().run()
    at.session_state["review_pos"] = 0
    at.run()
    assert not at.exception
    assert any("Annotator agreement: 0% of 1 examples" in c.value for c in at.caption)
    assert any("2 annotators disagree" in w.value for w in at.warning)
    assert "ann: remove\nbob: keep" in texts(at)


# -- a real browser: the keyboard-only review flow ---------------------------------------------
@pytest.mark.skipif(
    not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's Chromium and the playwright package",
)
def test_a_reviewer_can_work_with_the_keyboard_only(tmp_path):
    path = tmp_path / "store.duckdb"
    with Store(path) as store:
        seed(store)
    with streamlit_app(path, tmp_path / "streamlit.log") as url, chromium_page() as page:
        page.goto(f"{url}/Review")
        settle(page)
        page.get_by_text("Question e0?").wait_for()
        fill_text_input(page, "Annotator", "kb")

        def key(name, then_text=None):
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.keyboard.press(name)
            settle(page)
            if then_text:
                page.get_by_text(then_text).wait_for()

        key("k", "Question e1?")  # keep e0, on to e1
        key("a", "Question e2?")  # accept e1's proposal, on to e2
        key("p", "Question e1?")  # back to e1
        key("e")  # focus the edit box
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Edited response"
        page.keyboard.press("Control+a")
        page.keyboard.type("Paris.")
        page.keyboard.press("Control+Enter")  # save the edit
        settle(page)
        page.get_by_text("Question e2?").wait_for()
        key("x")  # remove e2
        key("u")  # undo it
    with Store(path) as store:
        rows = raw_sql.rows(store, "SELECT example_id, action, annotator, after FROM review_log ORDER BY event_id")
    assert rows == [
        ("e0", "keep", "kb", "aaaa aaaa aaaa aaaa"),
        ("e1", "accept", "kb", "fixed e1"),
        ("e1", "edit", "kb", "Paris."),
        ("e2", "remove", "kb", None),
        ("e2", "undo", "kb", None),
    ]
