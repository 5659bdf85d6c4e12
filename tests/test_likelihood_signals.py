"""The signals of a teacher-forced pass by hand: likelihood, IFD and the ending's ramp."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import likelihood_signals as LS

# --- likelihood and IFD -----------------------------------------------------------------


def test_likelihood_score():
    assert LS.likelihood_score(0.0) == 1.0
    assert LS.likelihood_score(math.log(0.25)) == pytest.approx(0.25)
    assert LS.likelihood_score(1e-12) == 1.0
    assert LS.likelihood_score(-math.inf) == 0.0
    with pytest.raises(ValueError, match="mean_logprob must be a number"):
        LS.likelihood_score(float("nan"))


@pytest.mark.parametrize(
    "with_prompt, without_prompt, expected",
    [
        (-1.0, -1.0, 0.5),  # IFD 1
        (-0.5, -1.0, 1 / (1 + 0.125)),  # IFD 0.5
        (-2.0, -1.0, 1 / (1 + 8.0)),  # IFD 2
        (0.0, -1.0, 1.0),  # prompt makes it certain
        (0.0, 0.0, 0.5),  # certain either way
        (-1.0, 0.0, 0.0),  # certain only without the prompt
        (-math.inf, -1.0, 0.0),
        (-1.0, -math.inf, 1.0),
        (-math.inf, -math.inf, 0.5),
    ],
)
def test_ifd_score(with_prompt, without_prompt, expected):
    assert LS.ifd_score(with_prompt, without_prompt) == pytest.approx(expected)


def test_ifd_score_rejects_bad_input():
    with pytest.raises(ValueError, match="mean_lp_with_prompt must be a number"):
        LS.ifd_score(float("nan"), -1.0)
    with pytest.raises(ValueError, match="steepness must be > 0"):
        LS.ifd_score(-1.0, -1.0, steepness=0)


lp = st.floats(min_value=-50.0, max_value=0.0, allow_nan=False)


@given(lp, lp, lp)
def test_ifd_score_in_range_and_decreasing_in_loss_with_prompt(a, b, without):
    lo, hi = sorted((a, b))  # hi = higher log-prob = lower loss = lower IFD
    s_lo, s_hi = LS.ifd_score(lo, without), LS.ifd_score(hi, without)
    assert 0.0 <= s_lo <= s_hi <= 1.0


@given(lp, lp)
def test_likelihood_monotone(a, b):
    lo, hi = sorted((a, b))
    assert 0.0 <= LS.likelihood_score(lo) <= LS.likelihood_score(hi) <= 1.0


# --- the ending -------------------------------------------------------------------------


@pytest.mark.parametrize("gap, score", [(0.0, 1.0), (10.0, 1.0), (13.0, 0.5), (16.0, 0.0), (30.0, 0.0), (-3.0, 1.0)])
def test_the_ending_rule_ramps_between_10_and_16_nats_below_the_typical_ending(gap, score):
    assert LS.ending_score(-2.0 - gap, -2.0) == pytest.approx(score)


def test_the_ending_is_stored_as_a_probability_and_read_back_exactly():
    assert LS.end_logprob_of(LS.end_probability(-29.5)) == pytest.approx(-29.5)
    assert LS.end_logprob_of(0.0) < -700
    with pytest.raises(ValueError, match="end_logprob must be a number <= 0"):
        LS.ending_score(float("nan"), -1.0)
