"""The Review page driven through streamlit.testing.v1.AppTest on a temporary, seeded store: the queue, its
filters and navigation, an empty or unscored store, a reviewer with no name (decisions:
tests/test_app_review_decisions.py; the card: tests/test_app_review_card.py; the `app` fixture: tests/conftest.py)."""

from curation.store import Store
from tests.support import raw_sql
from ui import common


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
