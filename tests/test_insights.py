"""Agreement, measured precision and the Insights page's queries, on the seeded store of test_review."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import insights, review
from curation.errors import ReviewError
from curation.review import BulkRule, QueueFilter
from tests.test_review import seed


@pytest.fixture
def ds(store):
    return seed(store)


# -- agreement ---------------------------------------------------------------------------
def test_agreement_by_hand(store, ds):
    for eid, who, action in [
        ("e4", "ann", "remove"),
        ("e4", "bob", "remove"),
        ("e5", "ann", "keep"),
        ("e5", "bob", "remove"),
        ("e6", "ann", "remove"),
        ("e6", "bob", "remove"),
        ("e6", "cy", "keep"),
        ("e7", "ann", "keep"),
    ]:
        review.decide(store, ds, eid, action, annotator=who)
    review.decide(store, ds, "e5", "keep", annotator="ann")  # a repeat by the same person counts once
    result = insights.agreement(store, ds)
    assert (result.n_examples, result.n_agree, result.simple) == (3, 1, pytest.approx(1 / 3))
    pairs = {p.annotators: p for p in result.pairs}
    # ann vs bob on e4, e5, e6: observed 2/3; chance (2*3 + 1*0)/9 = 2/3; kappa 0.
    assert (pairs["ann", "bob"].n, pairs["ann", "bob"].agreement) == (3, pytest.approx(2 / 3))
    assert pairs["ann", "bob"].kappa == pytest.approx(0.0)
    assert pairs["ann", "cy"].agreement == 0 and pairs["bob", "cy"].n == 1
    assert result.kappa == pytest.approx(0.0)


def test_agreement_with_one_annotator_is_empty(store, ds):
    review.decide(store, ds, "e4", "remove", annotator="ann")
    assert insights.agreement(store, ds) == insights.Agreement(0, 0, None, None, [])


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (["x", "x", "y", "y"], ["x", "y", "y", "y"], 0.5),  # po 3/4, pe (2*1 + 2*3)/16 = 1/2
        (["x", "y"], ["x", "y"], 1.0),
        (["x", "y"], ["y", "x"], -1.0),
        (["x", "x"], ["x", "x"], None),  # chance agreement is 1: undefined
        ([], [], None),
    ],
)
def test_cohen_kappa(a, b, expected):
    got = insights.cohen_kappa(a, b)
    assert got == (None if expected is None else pytest.approx(expected))


def test_cohen_kappa_needs_equal_lengths():
    with pytest.raises(ReviewError, match="differ in length"):
        insights.cohen_kappa(["x"], [])


# -- measured precision ------------------------------------------------------------------------
def test_auto_precision_counts_only_one_by_one_decisions(store, ds):
    review.decide(store, ds, "e0", "accept", annotator="ann")  # flagged, confirmed; auto-fix accepted
    review.decide(store, ds, "e1", "keep", annotator="ann")  # flagged, not confirmed
    review.decide(store, ds, "e2", "edit", annotator="ann", text="Something.")  # flagged, confirmed
    review.decide(store, ds, "e4", "remove", annotator="ann")  # passed but bad
    review.decide(store, ds, "e5", "keep", annotator="ann")  # passed and good
    review.bulk_apply(store, ds, QueueFilter(), BulkRule("keep_unflagged"), annotator="bot")  # measures nothing
    got = insights.auto_precision(store, ds)
    assert (got.flagged_reviewed, got.flagged_confirmed, got.filter_precision) == (3, 2, pytest.approx(2 / 3))
    assert (got.passed_reviewed, got.passed_bad, got.missed_rate) == (2, 1, 0.5)
    assert (got.auto_reviewed, got.auto_accepted, got.correction_precision) == (1, 1, 1.0)


def test_auto_precision_without_reviews_is_unmeasured(store, ds):
    got = insights.auto_precision(store, ds)
    assert (got.filter_precision, got.missed_rate, got.correction_precision) == (None, None, None)


def test_thresholds_for_precision_from_the_store(store, ds):
    for eid, action in [("e0", "accept"), ("e1", "remove"), ("e2", "keep"), ("e3", "remove"), ("e4", "keep")]:
        review.decide(store, ds, eid, action, annotator="ann")
    # (confidence, bad): (.1 T) (.2 T) (.3 F) (.4 T) (.6 F); judge: (.95 accepted) (.60 not)
    got = insights.thresholds_for_precision(store, ds, 0.75)
    assert (got["gamma"].threshold, got["gamma"].precision, got["gamma"].selected) == (pytest.approx(0.5), 0.75, 4)
    assert (got["eta"].threshold, got["eta"].precision, got["eta"].selected) == (0.95, 1.0, 1)


@pytest.mark.parametrize(
    "target, threshold, selected", [(0.75, 0.5, 4), (0.8, 0.25, 2), (1.0, 0.25, 2), (0.6, 0.6 + 2**-52 * 0.5, 5)]
)
def test_gamma_for_precision_by_hand(target, threshold, selected):
    pairs = [(0.4, True), (0.1, True), (0.3, False), (0.2, True), (0.6, False)]
    got = insights.threshold_for_precision(pairs, target, direction="below")
    assert (got.threshold, got.selected, got.total) == (pytest.approx(threshold), selected, 5)


@pytest.mark.parametrize("target, threshold, selected", [(0.9, 0.7, 3), (0.75, 0.5, 4), (0.5, 0.5, 4)])
def test_eta_for_precision_by_hand(target, threshold, selected):
    pairs = [(0.5, False), (0.7, True), (0.9, True), (0.95, True)]
    got = insights.threshold_for_precision(pairs, target, direction="at_or_above")
    assert (got.threshold, got.selected) == (threshold, selected)


def test_unreachable_target_gives_none():
    assert insights.threshold_for_precision([(0.2, False)], 0.5, direction="below") is None
    assert insights.threshold_for_precision([], 0.5, direction="at_or_above") is None
    with pytest.raises(ReviewError, match=r"target precision must be in \[0, 1\]"):
        insights.threshold_for_precision([], 1.5, direction="below")


pair_lists = st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=30)


@given(pair_lists, st.floats(0, 1))
def test_gamma_choice_meets_the_target_and_flags_the_most(pairs, target):
    got = insights.threshold_for_precision(pairs, target, direction="below")
    flagged = [bad for score, bad in pairs if got is not None and score < got.threshold]
    curve = insights.precision_curve(pairs, direction="below")
    if got is None:
        assert all(c.precision < target for c in curve)
        return
    assert len(flagged) == got.selected and sum(flagged) / len(flagged) >= target - 1e-9
    assert all(c.selected <= got.selected for c in curve if c.precision >= target)


def test_a_gamma_between_two_adjacent_floats_still_flags_the_lower():
    got = insights.threshold_for_precision([(0.0, True), (5e-324, False)], 1.0, direction="below")
    assert got.selected == 1 and 0.0 < got.threshold <= 5e-324


@given(pair_lists, st.floats(0, 1))
def test_eta_choice_meets_the_target(pairs, target):
    got = insights.threshold_for_precision(pairs, target, direction="at_or_above")
    if got is not None:
        applied = [ok for score, ok in pairs if score >= got.threshold]
        assert len(applied) == got.selected and sum(applied) / len(applied) >= target - 1e-9


# -- insights --------------------------------------------------------------------------------
def test_insight_queries(store, ds):
    review.decide(store, ds, "e5", "keep", annotator="ann")
    hist = insights.confidence_histogram(store, ds, bins=10)
    assert sum(r["n"] for r in hist) == 8
    assert {(r["bin"], r["status"], r["decision"]) for r in hist if r["bin"] in (1, 7)} == {
        (1, "auto-corrected", "undecided"),
        (7, "passed", "keep"),
    }
    signals = insights.signal_histogram(store, ds, bins=10)
    assert {r["signal"] for r in signals} == {"format", "degenerate", "consistency"}
    assert sum(r["n"] for r in signals if r["signal"] == "format") == 8
    assert insights.count_below(store, ds, 0.5) == {"below": 4, "scored": 8, "gamma": 0.5, "flagged": 4}
    assert insights.count_below(store, ds, 0.0)["below"] == 0


def test_histogram_bins_are_checked(store, ds):
    with pytest.raises(ReviewError, match="bins must be between 1 and 1000"):
        insights.confidence_histogram(store, ds, bins=0)
