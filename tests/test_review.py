import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import review
from curation.diff import word_diff
from curation.errors import CurationError, ReviewError
from curation.records import Example, Message, ParsedDataset
from curation.review import BulkRule, QueueFilter
from tests.support import raw_sql

# id: (confidence, fired, flagged, proposal (judge confidence, auto-applied) or None, response)
# e8's scoring failed (no confidence); e9 has no score row at all.
SEED = {
    "e0": (0.10, ["degenerate"], True, (0.95, True), "aaaa aaaa aaaa aaaa"),
    "e1": (0.20, ["format"], True, (0.60, False), "The capital of France is Lyon."),
    "e2": (0.30, [], True, None, ""),
    "e3": (0.40, ["format"], True, None, "Save 50% on 'quoted' items: a_b"),
    "e4": (0.60, [], False, None, "It costs 500 dollars, axb."),
    "e5": (0.70, [], False, None, "Paris."),
    "e6": (0.80, [], False, None, "Four."),
    "e7": (0.90, [], False, None, "Blue."),
    "e8": (None, [], None, None, "Maybe."),
    "e9": (None, [], None, None, "Unscored."),
}
ORDER = [f"e{i}" for i in range(10)]


def seed(store, rows=SEED, *, name="demo"):
    """A dataset of ``rows`` with an active score, flags and proposals; returns its id."""
    examples = [
        Example(
            example_id=eid,
            id_source="record",
            line=i + 1,
            prompt=(Message("system", "Be brief."), Message("user", f"Question {eid}?")),
            response=row[4],
            record={"id": eid},
        )
        for i, (eid, row) in enumerate(rows.items())
    ]
    info = store.add_dataset(
        ParsedDataset(path="d.jsonl", file_type="jsonl", format="chat", sha256="0" * 64, examples=examples), name=name
    )
    ds = info.dataset_id
    store.start_run(
        run_id=f"run-{name}",
        dataset_id=ds,
        stage="score",
        backend="fake",
        model="m",
        config={},
        score_key="k1",
        n_examples=len(rows),
    )
    flags = {}
    for eid, (conf, fired, flagged, proposal, _) in rows.items():
        if eid == "e9":
            continue
        status = "failed" if conf is None else "ok"
        store.save_score(
            dataset_id=ds,
            example_id=eid,
            score_key="k1",
            run_id=f"run-{name}",
            status=status,
            confidence=conf,
            consistency=None if conf is None else conf,
            reflection=None,
            signals={} if conf is None else {"format": 0.2 if "format" in fired else 0.9, "degenerate": 0.5},
            fired=fired,
            explanation={
                "samples": [{"answer": "x", "match": True, "similarity": 0.9}],
                "reflections": [{"question": 1, "verdict": "A", "score": 1.0, "explanation": "ok", "weighted": True}],
                "reasons": {name: [f"{name} fired"] for name in fired},
            },
            error="timeout" if status == "failed" else None,
        )
        if flagged is not None:
            flags[eid] = flagged
        if proposal is not None:
            store.save_proposal(
                dataset_id=ds,
                example_id=eid,
                run_id=f"run-{name}",
                candidate=f"fixed {eid}",
                judge_confidence=proposal[0],
                verdicts=[{"order": "candidate_second", "p": 0.9, "verdict": "B", "explanation": "better"}],
                auto_applied=proposal[1],
            )
    store.replace_flags(ds, flags, threshold=0.5, run_id=f"run-{name}")
    return ds


def ids(store, ds, flt=None, **page):
    flt = flt or QueueFilter()
    return [
        r.example_id
        for r in review.queue_page(store, ds, flt, offset=page.get("offset", 0), limit=page.get("limit", 100))
    ]


def log_rows(store):
    return raw_sql.rows(store, "SELECT count(*) FROM review_log")[0][0]


@pytest.fixture
def ds(store):
    return seed(store)


# -- queue -------------------------------------------------------------------------------
def test_queue_is_lowest_confidence_first_with_unscored_last(store, ds):
    assert ids(store, ds) == ORDER
    assert review.queue_count(store, ds, QueueFilter()) == 10


def test_queue_row_carries_what_the_card_needs(store, ds):
    row = review.queue_page(store, ds, QueueFilter(), offset=0, limit=1)[0]
    assert row.prompt == (Message("system", "Be brief."), Message("user", "Question e0?"))
    assert (row.confidence, row.fired, row.flagged, row.threshold) == (0.10, ["degenerate"], True, 0.5)
    assert row.signals == {"format": 0.9, "degenerate": 0.5}
    assert row.explanation["reasons"] == {"degenerate": ["degenerate fired"]}
    assert row.proposal.candidate == "fixed e0" and row.proposal.auto_applied
    assert row.proposal.verdicts[0]["verdict"] == "B"
    assert row.decision is None and row.n_annotators == 0
    assert row.in_force == "fixed e0"  # the auto-applied correction is what export writes now
    failed = review.queue_page(store, ds, QueueFilter(), offset=8, limit=1)[0]
    assert (failed.example_id, failed.score_status, failed.score_error) == ("e8", "failed", "timeout")


@pytest.mark.parametrize(
    "flt, expected",
    [
        (QueueFilter(status="flagged"), ["e0", "e1", "e2", "e3"]),
        (QueueFilter(status="proposed"), ["e0", "e1"]),
        (QueueFilter(status="auto_applied"), ["e0"]),
        (QueueFilter(signal="format"), ["e1", "e3"]),
        (QueueFilter(signal="degenerate", status="flagged"), ["e0"]),
        (QueueFilter(conf_min=0.25, conf_max=0.7), ["e2", "e3", "e4", "e5"]),
        (QueueFilter(conf_min=0.0, conf_max=1.0), ORDER[:8]),
        (QueueFilter(search="PARIS"), ["e5"]),
        (QueueFilter(search="question e7"), ["e7"]),  # the prompt is searched too
        (QueueFilter(search="   "), ORDER),
    ],
)
def test_each_filter(store, ds, flt, expected):
    assert ids(store, ds, flt) == expected
    assert review.queue_count(store, ds, flt) == len(expected)


@pytest.mark.parametrize(
    "search, expected",
    [
        ("50%", ["e3"]),  # % is literal: "500" does not match
        ("'quoted'", ["e3"]),  # quotes are bound, not spliced into SQL
        ("a_b", ["e3"]),  # _ is literal: "axb" does not match
        ("'; DROP TABLE examples; --", []),
        ("\\", []),
    ],
)
def test_search_is_bound_and_literal(store, ds, search, expected):
    assert ids(store, ds, QueueFilter(search=search)) == expected
    assert review.queue_count(store, ds, QueueFilter()) == 10


def test_queue_position_follows_the_filter(store, ds):
    assert review.queue_position(store, ds, QueueFilter(), "e5") == 5
    assert review.queue_position(store, ds, QueueFilter(status="flagged"), "e3") == 3
    assert review.queue_position(store, ds, QueueFilter(status="flagged"), "e5") is None


def test_decided_and_undecided_filters(store, ds):
    review.decide(store, ds, "e4", "keep", annotator="ann")
    assert ids(store, ds, QueueFilter(status="decided")) == ["e4"]
    assert ids(store, ds, QueueFilter(status="undecided")) == [e for e in ORDER if e != "e4"]


def test_paging_reads_the_whole_queue_in_order(store, ds):
    pages = [ids(store, ds, offset=offset, limit=3) for offset in (0, 3, 6, 9, 12)]
    assert pages == [ORDER[0:3], ORDER[3:6], ORDER[6:9], ORDER[9:], []]


@pytest.mark.parametrize(
    "flt, message",
    [
        (QueueFilter(status="bogus"), "status 'bogus' is not one of"),
        (QueueFilter(conf_min=-0.1), r"conf_min must be in \[0, 1\]"),
    ],
)
def test_bad_filters_are_refused(store, ds, flt, message):
    with pytest.raises(ReviewError, match=message):
        review.queue_count(store, ds, flt)


def test_bad_page_is_refused(store, ds):
    with pytest.raises(ReviewError, match="limit >= 1"):
        review.queue_page(store, ds, QueueFilter(), offset=0, limit=0)


def test_queue_works_before_scoring(store):
    ds = store.add_dataset(
        ParsedDataset(
            path="d",
            file_type="jsonl",
            format="chat",
            sha256="1" * 64,
            examples=[Example("x1", "record", 1, (Message("user", "q"),), "r", {})],
        ),
        name="raw",
    ).dataset_id
    row = review.queue_page(store, ds, QueueFilter(), offset=0, limit=5)[0]
    assert (row.example_id, row.confidence, row.proposal, row.flagged) == ("x1", None, None, None)


def test_signal_names_count_fired_signals(store, ds):
    assert review.signal_names(store, ds) == {"format": 2, "degenerate": 1}


# -- decisions and undo -------------------------------------------------------------------
def test_decisions_record_before_and_after(store, ds):
    events = [
        review.decide(store, ds, "e1", "accept", annotator="ann"),
        review.decide(store, ds, "e1", "edit", annotator="ann", text="Paris is the capital."),
        review.decide(store, ds, "e1", "remove", annotator="ann"),
        review.decide(store, ds, "e5", "keep", annotator="ann"),
    ]
    assert log_rows(store) == 4 and events == sorted(events)
    hist = review.history(store, ds, "e1")
    assert [(h["action"], h["before"], h["after"]) for h in hist] == [
        ("accept", "The capital of France is Lyon.", "fixed e1"),
        ("edit", "fixed e1", "Paris is the capital."),
        ("remove", "Paris is the capital.", None),
    ]
    assert review.history(store, ds, "e5")[0]["after"] == "Paris."
    # Before a decision on an auto-corrected example, the correction is what is in force.
    review.decide(store, ds, "e0", "keep", annotator="ann")
    assert review.history(store, ds, "e0")[0]["before"] == "fixed e0"


@pytest.mark.parametrize(
    "eid, action, kwargs, message",
    [
        ("e5", "edit", {"text": "   "}, "an edit needs a non-empty response text"),
        ("e5", "edit", {}, "an edit needs a non-empty response text"),
        ("e5", "accept", {}, "there is no proposed correction to accept"),
        ("e5", "approve", {}, "action 'approve' is not one of accept, keep, remove, edit"),
        ("nope", "keep", {}, "no example 'nope' in dataset"),
    ],
)
def test_invalid_decisions_are_refused_and_nothing_written(store, ds, eid, action, kwargs, message):
    with pytest.raises(ReviewError, match=message):
        review.decide(store, ds, eid, action, annotator="ann", **kwargs)
    assert log_rows(store) == 0


def test_an_empty_annotator_is_refused(store, ds):
    with pytest.raises(ReviewError, match="annotator's name is empty"):
        review.decide(store, ds, "e5", "keep", annotator="  ")


def test_undo_last_appends_and_steps_back_per_annotator(store, ds):
    first = review.decide(store, ds, "e4", "remove", annotator="ann")
    bob = review.decide(store, ds, "e5", "remove", annotator="bob")
    second = review.decide(store, ds, "e6", "keep", annotator="ann")
    assert review.undo_last(store, ds, annotator="ann") == second
    assert review.example_of_event(store, ds, second) == "e6"
    assert review.undo_last(store, ds, annotator="ann") == first
    assert review.undo_last(store, ds, annotator="ann") is None
    assert log_rows(store) == 5  # three decisions, two undo events; nothing deleted
    decided = store.current_decisions(ds)
    assert list(decided) == ["e5"] and decided["e5"]["event_id"] == bob
    assert [h["undone"] for h in review.history(store, ds, "e4")] == [True, False]


def test_two_annotators_are_both_kept_and_the_latest_is_shown(store, ds):
    review.decide(store, ds, "e4", "remove", annotator="ann")
    review.decide(store, ds, "e4", "keep", annotator="bob")
    row = review.queue_page(store, ds, QueueFilter(status="decided"), offset=0, limit=5)[0]
    assert (row.decision.action, row.decision.annotator, row.n_annotators) == ("keep", "bob", 2)
    assert [(h["annotator"], h["action"]) for h in review.history(store, ds, "e4")] == [
        ("ann", "remove"),
        ("bob", "keep"),
    ]
    review.undo_last(store, ds, annotator="bob")
    row = review.queue_page(store, ds, QueueFilter(status="decided"), offset=0, limit=5)[0]
    assert (row.decision.action, row.decision.annotator, row.n_annotators) == ("remove", "ann", 1)


# -- bulk --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rule, flt, expected",
    [
        (BulkRule("accept_proposals", min_judge=0.9), QueueFilter(), {"e0": "fixed e0"}),
        (BulkRule("accept_proposals", min_judge=0.5), QueueFilter(), {"e0": "fixed e0", "e1": "fixed e1"}),
        (BulkRule("remove_empty_or_degenerate"), QueueFilter(), {"e0": None, "e2": None}),
        (BulkRule("remove_flagged_unproposed"), QueueFilter(), {"e2": None, "e3": None}),
        (
            BulkRule("keep_unflagged"),
            QueueFilter(),
            {"e4": "It costs 500 dollars, axb.", "e5": "Paris.", "e6": "Four.", "e7": "Blue."},
        ),
        (BulkRule("keep_unflagged"), QueueFilter(conf_max=0.75), {"e4": "It costs 500 dollars, axb.", "e5": "Paris."}),
        (BulkRule("remove_flagged_unproposed"), QueueFilter(search="quoted"), {"e3": None}),
    ],
)
def test_bulk_rules_apply_to_the_whole_filtered_set(store, ds, rule, flt, expected):
    assert review.bulk_preview(store, ds, flt, rule) == len(expected)
    batch = review.bulk_apply(store, ds, flt, rule, annotator="ann")
    rows = raw_sql.dicts(store, "SELECT example_id, action, after, batch_id, annotator FROM review_log")
    assert {r["example_id"]: r["after"] for r in rows} == expected
    assert {r["action"] for r in rows} == {review.BULK_ACTIONS[rule.kind]}
    assert {(r["batch_id"], r["annotator"]) for r in rows} == {(batch, "ann")}
    assert review.bulk_preview(store, ds, flt, rule) == 0  # applying again changes nothing


def test_bulk_leaves_decisions_alone_unless_told(store, ds):
    review.decide(store, ds, "e2", "keep", annotator="bob")
    rule = BulkRule("remove_flagged_unproposed")
    assert review.bulk_preview(store, ds, QueueFilter(), rule) == 1
    assert review.bulk_preview(store, ds, QueueFilter(), BulkRule(rule.kind, override=True)) == 2
    review.bulk_apply(store, ds, QueueFilter(), BulkRule(rule.kind, override=True), annotator="ann")
    assert store.current_decisions(ds)["e2"]["action"] == "remove"


def test_undo_batch_restores_the_state_before_it(store, ds):
    review.decide(store, ds, "e4", "remove", annotator="bob")
    before = store.current_decisions(ds)
    batch = review.bulk_apply(store, ds, QueueFilter(), BulkRule("keep_unflagged", override=True), annotator="ann")
    assert review.last_batch(store, ds).batch_id == batch and review.last_batch(store, ds).n == 4
    assert review.last_batch(store, ds, annotator="bob") is None
    assert review.undo_batch(store, ds, batch, annotator="ann") == 4
    assert log_rows(store) == 1 + 4 + 4
    assert store.current_decisions(ds) == before
    assert review.last_batch(store, ds) is None
    assert review.undo_batch(store, ds, batch, annotator="ann") == 0  # undoing twice adds nothing
    assert log_rows(store) == 9


def test_bulk_apply_is_all_or_nothing(store, ds, monkeypatch):
    from curation.store import review_sql

    monkeypatch.setattr(review_sql, "SQL_BULK_APPLY", review_sql.SQL_BULK_APPLY + " RETURNING no_such_column")
    with pytest.raises(CurationError, match="store query failed"):
        review.bulk_apply(store, ds, QueueFilter(), BulkRule("keep_unflagged"), annotator="ann")
    assert log_rows(store) == 0


def test_unknown_bulk_rule_is_refused(store, ds):
    with pytest.raises(ReviewError, match="bulk rule 'remove_all' is not one of"):
        review.bulk_preview(store, ds, QueueFilter(), BulkRule("remove_all"))


# -- word diff ---------------------------------------------------------------------------------
def test_word_diff_by_hand():
    assert word_diff("The capital is Lyon.", "The capital is Paris.") == [
        ("equal", "The capital is "),
        ("delete", "Lyon"),
        ("insert", "Paris"),
        ("equal", "."),
    ]
    assert word_diff("a  b", "a  b\nc") == [("equal", "a  b"), ("insert", "\nc")]
    # A space between two changed words joins the change instead of chopping it up.
    assert word_diff("aaaa aaaa aaaa", "fixed e0") == [("delete", "aaaa aaaa aaaa"), ("insert", "fixed e0")]
    assert word_diff("", "") == []
    assert word_diff("x", "") == [("delete", "x")]


@given(st.text(alphabet="ab \n\t.", max_size=40), st.text(alphabet="ab \n\t.", max_size=40))
def test_word_diff_round_trips(a, b):
    pieces = word_diff(a, b)
    assert "".join(t for op, t in pieces if op != "insert") == a
    assert "".join(t for op, t in pieces if op != "delete") == b
    assert all(x[0] != y[0] for x, y in zip(pieces, pieces[1:]))


def test_review_does_not_import_streamlit():
    code = "import sys, curation.review, curation.insights, curation.diff\nassert 'streamlit' not in sys.modules\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
