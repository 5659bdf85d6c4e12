"""Rate and time left of a phase (pure): decayed sums worked out by hand, bursts, priors."""

from __future__ import annotations

import pytest

from curation import throughput
from curation.throughput import advance, countdown, duration, rate_text, start


def test_nothing_done_and_no_prior_means_unknown():
    state = start(100.0)
    assert state.rate is None and state.seconds_left(10) is None
    assert advance(state, 0, 130.0).rate is None


def test_rate_is_decayed_units_over_decayed_seconds():
    # half-life 10 s: 4 units in the first 10 s (0.4/s); 10 s later, 2 more units:
    # units = 4 * 0.5 + 2 = 4, seconds = 10 * 0.5 + 10 = 15 -> 4 / 15 a second
    state = advance(start(0.0), 4, 10.0, half_life_s=10)
    assert state.rate == pytest.approx(0.4)
    assert state.seconds_left(10) == pytest.approx(15.0)  # 6 left at 0.4/s
    state = advance(state, 6, 20.0, half_life_s=10)
    assert (state.units, state.seconds) == (pytest.approx(4.0), pytest.approx(15.0))
    assert state.rate == pytest.approx(4 / 15)
    assert state.seconds_left(10) == pytest.approx(15.0)  # 4 left at 4/15 a second


def test_a_batch_finishing_together_gives_a_steady_rate():
    # 4 examples every 10 s, reported one after the other within milliseconds: after each
    # batch the rate is 0.4/s and the time left falls by 10 s, batch after batch.
    state, after_batches = start(0.0), []
    for batch in range(1, 6):
        for i in range(4):
            state = advance(state, 4 * (batch - 1) + i + 1, 10.0 * batch + 0.001 * i)
        after_batches.append((state.rate, state.seconds_left(40)))
    for rate, _ in after_batches:
        assert rate == pytest.approx(0.4, rel=1e-3)
    lefts = [left for _, left in after_batches]
    assert lefts == pytest.approx([90, 80, 70, 60, 50], rel=1e-3)


def test_the_rate_follows_a_slowdown():
    state = start(0.0)
    for t in range(1, 31):  # 1 a second for 30 s
        state = advance(state, t, float(t), half_life_s=10)
    for i in range(1, 61):  # then 1 every 2 s for 120 s
        state = advance(state, 30 + i, 30 + 2.0 * i, half_life_s=10)
    assert state.rate == pytest.approx(0.5, rel=0.02)


def test_a_prior_gives_a_time_left_before_the_first_unit():
    state = start(0.0, prior_rate=0.5)
    assert state.seconds_left(10) == pytest.approx(20.0)
    # the first batch (4 in 10 s, 0.4/s) moves it toward what is measured here
    state = advance(state, 4, 10.0, half_life_s=1e9)
    assert state.rate == pytest.approx((0.5 * throughput.PRIOR_WEIGHT_S + 4) / (throughput.PRIOR_WEIGHT_S + 10))


def test_done_means_no_time_left_and_nothing_goes_backwards():
    state = advance(start(0.0), 5, 5.0)
    assert state.seconds_left(5) == 0.0
    later = advance(state, 3, 4.0)  # a late report of fewer units at an earlier time
    assert (later.done, later.at) == (5, 5.0)


def test_countdown_between_reports():
    assert countdown(30.0, 10.0) == 20.0
    assert countdown(5.0, 10.0) == 0.0
    assert countdown(30.0, -1.0) == 30.0
    assert countdown(None, 3.0) is None


@pytest.mark.parametrize(
    "seconds, text", [(0.4, "0 s"), (42, "42 s"), (89, "89 s"), (90, "2 min"), (420, "7 min"), (5400, "1.5 h")]
)
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    "rate, text",
    [
        (None, "– examples/s"),
        (0.0, "– examples/s"),
        (2.5, "2.5 examples/s"),
        (0.15, "9.0 examples/min"),
        (40.0, "40.0 MB/s"),
    ],
)
def test_rate_text(rate, text):
    unit = "MB" if text.endswith("MB/s") else "examples"
    assert rate_text(rate, unit) == text
