"""The Review page driven through streamlit.testing.v1.AppTest on a temporary, seeded store."""

import importlib.util
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curation.store import Store
from tests.browser.driver import CHROMIUM, chromium_page, fill_text_input, settle
from tests.browser.server import streamlit_app
from tests.support import raw_sql
from tests.test_review import seed
from ui import card, common

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "3_Review.py")


@pytest.fixture
def app(tmp_path, monkeypatch):
    """A function giving an AppTest of the page on the store at ``tmp_path`` (seeded or not)."""
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv(common.STORE_ENV, str(path))
    common.open_store.clear()

    def make(*, seeded=True, annotator="ann"):
        if seeded:
            with Store(path) as store:
                seed(store)
        at = AppTest.from_file(PAGE, default_timeout=30)
        if annotator:
            at.session_state["annotator"] = annotator
        return at.run()

    yield make
    common.open_store.clear()


def store_of(at):
    """The store the app opened (one per process, cached)."""
    return common.open_store(common.store_path())


def button(at, label):
    return next(b for b in at.button if b.label == label)


def texts(at):
    return [t.value for t in at.text]


def events(at):
    return raw_sql.dicts(
        store_of(at), "SELECT example_id, action, annotator, after, batch_id FROM review_log ORDER BY event_id"
    )


def test_page_renders_the_lowest_confidence_example_first(app):
    at = app()
    assert not at.exception
    assert "Example 1 of 10 · page 1 of 1" in [c.value for c in at.caption]
    assert "Question e0?" in texts(at) and "aaaa aaaa aaaa aaaa" in texts(at)
    assert at.metric[0].value == "0.10"
    assert len(at.chat_message) == 2  # system + user turns
    assert any("fixed e0" in h.proto.body for h in at.get("html"))  # the diff of the correction


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


def test_undecided_filter_keeps_the_position_after_a_decision(app):
    at = app()
    at.selectbox(key="review_status").set_value("undecided").run()
    button(at, "Keep").click().run()
    assert at.session_state["review_pos"] == 0
    assert "Question e1?" in texts(at)
    assert "Example 1 of 9 · page 1 of 1" in [c.value for c in at.caption]


def test_filters_and_navigation_change_what_is_shown(app):
    at = app()
    at.selectbox(key="review_status").set_value("flagged").run()
    assert "Example 1 of 4 · page 1 of 1" in [c.value for c in at.caption]
    button(at, "Next").click().run()
    assert at.session_state["review_pos"] == 1 and "Question e1?" in texts(at)
    button(at, "Previous").click().run()
    assert at.session_state["review_pos"] == 0
    at.text_input(key="review_search").input("50%").run()
    assert "Example 1 of 1 · page 1 of 1" in [c.value for c in at.caption]
    assert "Question e3?" in texts(at)
    at.text_input(key="review_search").input("no such text").run()
    assert any("No example matches these filters" in i.value for i in at.info)
    at.text_input(key="review_search").input("").run()
    at.selectbox(key="review_signal").set_value("format").run()
    assert "Example 1 of 2 · page 1 of 1" in [c.value for c in at.caption]
    at.selectbox(key="review_status").set_value("all").run()
    at.selectbox(key="review_signal").set_value("(any)").run()
    at.slider(key="review_conf").set_value((0.5, 1.0)).run()
    assert "Example 1 of 4 · page 1 of 1" in [c.value for c in at.caption]
    assert not at.exception


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


def test_example_text_is_never_markup(app, tmp_path):
    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:  # same file, same process: DuckDB shares the database
        ds = seed(store, {"e0": (0.1, [], True, (0.9, False), "<script>alert(1)</script> **bold**")}, name="x")
        store.save_proposal(
            dataset_id=ds,
            example_id="e0",
            run_id="r",
            candidate="<img src=x onerror=alert(1)>",
            judge_confidence=0.9,
            verdicts=[],
            auto_applied=False,
        )
    at.run()
    assert not at.exception
    assert "<script>alert(1)</script> **bold**" in texts(at)
    diff = next(h.proto.body for h in at.get("html") if "review-diff" in h.proto.body)
    assert "<script>" not in diff and "<img" not in diff and "&lt;" in diff and "img src=x onerror=" in diff
    assert all("alert" not in m.value for m in at.markdown)


@pytest.mark.parametrize("letters, says", [(("B", "B"), True), (("A", "B"), False)])
def test_a_judge_that_followed_the_position_is_named(app, tmp_path, letters, says):
    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        ds = seed(store, {"e0": (0.1, [], True, (0.5, False), "13")}, name="x")
        verdicts = [
            {"order": o, "p": 0.5, "verdict": v, "explanation": "", "parsed": True}
            for o, v in zip(("candidate_second", "candidate_first"), letters)
        ]
        store.save_proposal(
            dataset_id=ds,
            example_id="e0",
            run_id="r",
            candidate="12",
            judge_confidence=0.5,
            verdicts=verdicts,
            auto_applied=False,
        )
    at.run()
    assert not at.exception
    named = [c.value for c in at.caption if "in both orders" in c.value]
    assert named == (
        [
            "The judge picked response 1 in both orders, so it followed the position, not the text: "
            "its confidence says nothing here. Decide from the diff."
        ]
        if says
        else []
    )


@pytest.mark.parametrize("status", ["ok", "weaker"])
def test_every_candidate_of_the_contest_is_shown_with_its_score(app, tmp_path, status):
    at = app(seeded=False)
    candidates = [
        {
            "text": "7 times 8 is 54.",
            "source": "original",
            "agreement": 0.2,
            "likelihood": 0.3,
            "format": 1.0,
            "degenerate": 1.0,
            "confidence": 0.25,
        },
        {
            "text": "7 times 8 is 56.",
            "source": "repair",
            "agreement": 0.8,
            "likelihood": 0.6,
            "format": 1.0,
            "degenerate": 1.0,
            "confidence": 0.7,
            "p_better": 0.93,
            "evidence": "repair",
        },
    ]
    with Store(tmp_path / "store.duckdb") as store:
        ds = seed(store, {"e0": (0.1, [], True, (0.5, False), "7 times 8 is 54.")}, name="x")
        store.save_proposal(
            dataset_id=ds,
            example_id="e0",
            run_id="r",
            candidate="7 times 8 is 56.",
            judge_confidence=0.93,
            verdicts=[],
            auto_applied=False,
            status=status,
            candidates=candidates,
            source="repair",
            margin=0.45,
            calibration="t",
        )
    at.run()
    assert not at.exception
    assert any(e.label == "All candidates (1) and their confidence" for e in at.expander)
    table = next(d.value for d in at.dataframe if "P(better)" in d.value.columns)
    assert list(table["response"]) == ["7 times 8 is 54.", "7 times 8 is 56."] and list(table["from"]) == [
        "the recorded response",
        "the recorded response, its form or arithmetic repaired",
    ]
    assert list(table["checked by a rule"]) == ["", card.EVIDENCE_LABELS["repair"]]
    if status == "ok":
        assert any(
            "Proposed correction** from the recorded response, its form or arithmetic repaired (P(better) 0.93"
            in m.value
            for m in at.markdown
        )
        assert any(c.value == f"Checked by a rule: {card.EVIDENCE_LABELS['repair']}." for c in at.caption)
    else:
        assert any("no candidate was more plausible than this response" in c.value for c in at.caption)


def test_empty_store_points_to_import(app):
    at = app(seeded=False)
    assert not at.exception
    assert any("No dataset yet" in i.value for i in at.info)


def test_unscored_dataset_points_to_run_and_still_lists_examples(app, tmp_path):
    from curation.records import Example, Message, ParsedDataset

    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        store.add_dataset(
            ParsedDataset(
                path="d",
                file_type="jsonl",
                format="chat",
                sha256="1" * 64,
                examples=[Example("x1", "record", 1, (Message("user", "hello?"),), "hi", {})],
            ),
            name="raw",
        )
    at.run()
    assert not at.exception
    assert any("not scored yet" in i.value for i in at.info)
    assert "hello?" in texts(at)


def test_anonymous_reviewer_is_warned(app):
    at = app(annotator=None)
    assert any("Enter your name" in w.value for w in at.warning)


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


# -- plain words on the card: labels, unreadable replies, word diff, collapsed turns ----------
def _one_example(store, *, prompt, response, reflections=(), candidate=None):
    """A dataset of one scored, flagged example with the given prompt turns, reflections and proposal."""
    from curation.records import Example, Message, ParsedDataset

    turns = tuple(Message(role, text) for role, text in prompt)
    ds = store.add_dataset(
        ParsedDataset(
            path="d",
            file_type="jsonl",
            format="chat",
            sha256="2" * 64,
            examples=[Example("x1", "record", 1, turns, response, {})],
        ),
        name="one",
    ).dataset_id
    store.start_run(
        run_id="run-one",
        dataset_id=ds,
        stage="score",
        backend="fake",
        model="m",
        config={},
        score_key="k1",
        n_examples=1,
    )
    store.save_score(
        dataset_id=ds,
        example_id="x1",
        score_key="k1",
        run_id="run-one",
        status="ok",
        confidence=0.1,
        consistency=0.2,
        reflection=0.5,
        signals={"ifd": 0.1, "degenerate": 1.0},
        fired=["ifd"],
        explanation={"reflections": list(reflections)},
    )
    store.replace_flags(ds, {"x1": True}, threshold=0.5, run_id="run-one")
    if candidate is not None:
        store.save_proposal(
            dataset_id=ds,
            example_id="x1",
            run_id="run-one",
            candidate=candidate,
            judge_confidence=0.9,
            verdicts=[
                {
                    "order": "candidate_second",
                    "p": 0.9,
                    "verdict": "B",
                    "explanation": "Response 2 is better.",
                    "parsed": True,
                }
            ],
            auto_applied=False,
        )
    return ds


def test_the_card_names_signals_and_thresholds_in_words(app):
    at = app()
    assert not at.exception
    assert "Broken text" in texts(at) and "degenerate" not in texts(at)  # e0's fired signal
    table = next(d.value for d in at.dataframe if "meaning" in d.value.columns)
    assert list(table["signal"]) == ["Broken text", "Format"]
    assert any("γ (flag threshold) = 0.50" in e.value for e in at.error)
    assert "Broken text (1)" in at.selectbox(key="review_signal").options


def test_an_unreadable_reflection_is_not_shown_as_a_reason(app, tmp_path):
    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        _one_example(
            store,
            prompt=[("user", "What is 12 * 4?")],
            response="48",
            reflections=[
                {
                    "question": 1,
                    "verdict": "C",
                    "score": 0.5,
                    "explanation": "The proposed answer is wrong.",
                    "parsed": True,
                    "weighted": False,
                },
                {
                    "question": 2,
                    "verdict": "A",
                    "score": 1.0,
                    "explanation": "explanation",
                    "parsed": True,
                    "weighted": True,
                },
                {
                    "question": 3,
                    "verdict": "A",
                    "score": 1.0,
                    "explanation": "12 * 4 is 48.",
                    "parsed": True,
                    "weighted": False,
                },
            ],
        )
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    reasons = list(table["reason"])
    assert reasons[0].startswith("reply unreadable") and reasons[1].startswith("reply unreadable")
    assert reasons[2] == "12 * 4 is 48." and "explanation" not in table.columns
    raw = next(e for e in at.expander if e.label.startswith("Raw text of the 2 unreadable"))
    assert [t.value for t in raw.text] == ["The proposed answer is wrong.", "explanation"]
    assert "Prompt fit" in texts(at)  # the fired signal by its label


def test_the_diff_shows_a_changed_number_as_a_whole_word(app, tmp_path):
    import re

    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        _one_example(
            store, prompt=[("user", "What is 7 * 8?")], response="The answer is 54.", candidate="The answer is 56."
        )
    at.run()
    assert not at.exception
    diff = next(h.proto.body for h in at.get("html") if "review-diff" in h.proto.body)
    assert re.search(
        r'<span>The answer is </span><del[^>]*>54</del><span class="diff-arrow"[^>]*> → </span>'
        r"<ins[^>]*>56</ins><span>\.</span>",
        diff,
    ), diff


def test_system_and_long_turns_start_collapsed_but_the_last_user_turn_stays_open(app, tmp_path):
    at = app(seeded=False)
    long_turn = "Background line one.\n" + " ".join(["More context."] * 60)
    last = " ".join(["And the capital?"] * 40)  # long, but the question being answered: open
    with Store(tmp_path / "store.duckdb") as store:
        _one_example(
            store,
            prompt=[
                ("system", "You are *terse*.\nAnswer in one word."),
                ("user", long_turn),
                ("assistant", "Noted."),
                ("user", last),
            ],
            response="Paris.",
        )
    at.run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert "You are \\*terse\\*\\. (+1 lines)" in labels  # a preview, its Markdown escaped
    assert "Background line one\\. (+1 lines)" in labels
    collapsed = [t.value for e in at.expander for t in e.text]
    assert "You are *terse*.\nAnswer in one word." in collapsed and long_turn in collapsed
    assert "Noted." not in collapsed and last not in collapsed
    assert last in texts(at) and "Noted." in texts(at) and "Paris." in texts(at)
