"""The statistics over columns of scores by hand: AUROC, quantile thresholds and rank averages."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import stats
from tests.support.strategies import unit

# --- auroc ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scores, labels, expected",
    [
        ([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], 1.0),
        ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], 0.5),
        # pairs (pos, neg): (0.8,0.5)=1 (0.8,0.3)=1 (0.4,0.5)=0 (0.4,0.3)=1 (0.5,0.5)=.5 (0.5,0.3)=1 -> 4.5/6
        ([0.8, 0.4, 0.5, 0.5, 0.3], [1, 1, 1, 0, 0], 4.5 / 6),
    ],
)
def test_auroc_known_values(scores, labels, expected):
    assert stats.auroc(scores, labels) == pytest.approx(expected)


def test_error_auroc_uses_low_confidence_as_error():
    assert stats.error_auroc([0.1, 0.2, 0.9, 0.95], [1, 1, 0, 0]) == 1.0


@pytest.mark.parametrize(
    "scores, labels, message",
    [
        ([0.1], [1, 0], "differ in length"),
        ([0.1, 0.2], [1, 2], "labels must be 0 or 1"),
        ([0.1, 0.2], [1, 1], "at least one positive and one negative"),
        ([float("nan"), 0.2], [1, 0], "scores must be finite"),
    ],
)
def test_auroc_rejects_bad_input(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        stats.auroc(scores, labels)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1)), min_size=2, max_size=30))
def test_auroc_matches_pairwise_definition(rows):
    scores = [float(s) for s, _ in rows]
    labels = [label for _, label in rows]
    pos = [s for s, label in zip(scores, labels) if label]
    neg = [s for s, label in zip(scores, labels) if not label]
    if not pos or not neg:
        return
    pairwise = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))
    assert stats.auroc(scores, labels) == pytest.approx(pairwise)
    assert stats.auroc([-s for s in scores], labels) == pytest.approx(1.0 - pairwise)


# --- thresholds -------------------------------------------------------------------------


def test_quantile_threshold_by_hand():
    assert stats.quantile_threshold([0.4, 0.1, 0.3, 0.2], 0.5) == pytest.approx(0.25)
    assert stats.quantile_threshold([0.4, 0.1, 0.3, 0.2], 0.0) == 0.1
    assert stats.quantile_threshold([0.4, 0.1, 0.3, 0.2], 1.0) == 0.4
    assert stats.quantile_threshold([0.7], 0.3) == 0.7


@pytest.mark.parametrize(
    "scores, q, message",
    [([], 0.5, "at least one score"), ([0.1], 1.5, r"q must be in \[0, 1\]"), ([float("inf")], 0.5, "must be finite")],
)
def test_quantile_threshold_rejects_bad_input(scores, q, message):
    with pytest.raises(ValueError, match=message):
        stats.quantile_threshold(scores, q)


def test_below_threshold_flags_at_or_below_gamma():
    assert stats.below_threshold([0.2, 0.5, 0.8, None], 0.5) == [True, True, False, False]


@given(st.lists(unit, min_size=1, max_size=40), unit, unit)
def test_flags_monotone_in_gamma(scores, q1, q2):
    lo, hi = sorted((q1, q2))
    t_lo, t_hi = stats.quantile_threshold(scores, lo), stats.quantile_threshold(scores, hi)
    assert min(scores) <= t_lo <= t_hi <= max(scores)
    f_lo, f_hi = stats.below_threshold(scores, t_lo), stats.below_threshold(scores, t_hi)
    assert all(h for lo_flag, h in zip(f_lo, f_hi) if lo_flag)


# --- rank average -----------------------------------------------------------------------


def test_rank_average_by_hand():
    # signal 1 ranks: 0, 0.5, 1 ; signal 2 (ties on rows 1 and 2): 0, 0.75, 0.75
    combined = stats.rank_average([[0.1, 0.5, 0.9], [-3.0, -1.0, -1.0]])
    assert combined == pytest.approx([0.0, 0.625, 0.875])


def test_rank_average_missing_values_and_weights():
    combined = stats.rank_average([[0.1, None, 0.9], [0.3, 0.2, 0.1]], weights=[3.0, 1.0])
    # row 0: (3*0 + 1*1) / 4 ; row 1: only signal 2 -> 0.5 ; row 2: (3*1 + 0) / 4
    assert combined == pytest.approx([0.25, 0.5, 0.75])
    assert stats.rank_average([[None, None]]) == [None, None]
    assert stats.rank_average([[0.3]]) == [0.5]
    assert stats.rank_average([]) == []


def test_rank_average_rejects_bad_input():
    with pytest.raises(ValueError, match="lengths differ"):
        stats.rank_average([[0.1, 0.2], [0.1]])
    with pytest.raises(ValueError, match="one non-negative number per signal"):
        stats.rank_average([[0.1]], weights=[-1.0])


@given(st.lists(st.lists(st.floats(min_value=-100, max_value=100), min_size=5, max_size=5), min_size=1, max_size=4))
def test_rank_average_in_unit_interval_and_order_preserving(signals):
    combined = stats.rank_average(signals)
    assert all(0.0 <= v <= 1.0 for v in combined)
    single = stats.rank_average(signals[:1])
    for i in range(5):
        for j in range(5):
            if signals[0][i] < signals[0][j]:
                assert single[i] < single[j]
