"""Stage 3, Auto-Filter: the decision by hand (absolute and quantile γ), its monotonicity in γ,
and :func:`apply_filter` replacing the stored flags."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.config import Config, FilterConfig
from curation.filter import apply_filter, decide
from curation.ingest import import_file

CONFIDENCES = {"a": 0.2, "b": 0.5, "c": 0.9, "d": None}


def test_absolute_gamma_flags_at_or_below_it():
    flags, threshold = decide(CONFIDENCES, FilterConfig(gamma=0.5, gamma_mode="absolute"))
    assert threshold == 0.5
    assert flags == {"a": True, "b": True, "c": False, "d": False}  # unknown is never flagged


@pytest.mark.parametrize(
    "gamma, threshold, flagged",
    [
        (0.5, 0.3, {"a", "b", "c"}),  # median of 0.1 .. 0.5
        (0.25, 0.2, {"a", "b"}),  # h = 4 * 0.25 = 1 -> the second value
        (0.1, 0.14, {"a"}),  # h = 0.4 -> 0.1 + 0.4 * (0.2 - 0.1)
        (0.0, 0.1, {"a"}),  # the minimum is always flagged (c <= γ)
        (1.0, 0.5, {"a", "b", "c", "d", "e"}),
    ],
)
def test_quantile_gamma_by_hand(gamma, threshold, flagged):
    confidences = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4, "e": 0.5, "f": None}
    flags, used = decide(confidences, FilterConfig(gamma=gamma, gamma_mode="quantile"))
    assert used == pytest.approx(threshold)
    assert {i for i, f in flags.items() if f} == flagged


def test_quantile_of_nothing_known_flags_nothing():
    flags, threshold = decide({"a": None, "b": None}, FilterConfig(gamma=0.5, gamma_mode="quantile"))
    assert threshold == 0.0 and flags == {"a": False, "b": False}
    assert decide({}, FilterConfig()) == ({}, 0.15)


confidence_maps = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=3), st.one_of(st.none(), st.floats(0.0, 1.0, allow_nan=False)), max_size=12
)


@given(confidence_maps, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.sampled_from(["absolute", "quantile"]))
def test_flags_are_monotone_in_gamma(confidences, g1, g2, mode):
    low, high = sorted((g1, g2))
    flags_low, t_low = decide(confidences, FilterConfig(gamma=low, gamma_mode=mode))
    flags_high, t_high = decide(confidences, FilterConfig(gamma=high, gamma_mode=mode))
    assert t_low <= t_high
    assert {i for i, f in flags_low.items() if f} <= {i for i, f in flags_high.items() if f}
    assert set(flags_low) == set(confidences)
    assert not any(flags_high[i] for i, c in confidences.items() if c is None)


def test_apply_filter_replaces_earlier_flags(store, tmp_path):
    path = tmp_path / "tiny.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"e{i}", "prompt": f"q{i}", "response": f"r{i}"}) + "\n" for i in range(4))
    )
    info = import_file(store, path).dataset
    for i, conf in enumerate((0.1, 0.6, 0.95)):
        store.save_score(
            dataset_id=info.dataset_id,
            example_id=f"e{i}",
            score_key="k",
            run_id="r",
            status="ok",
            confidence=conf,
            consistency=None,
            reflection=None,
            signals={},
            fired=[],
            explanation={},
        )
    store.save_score(
        dataset_id=info.dataset_id,
        example_id="e3",
        score_key="k",
        run_id="r",
        status="failed",
        confidence=None,
        consistency=None,
        reflection=None,
        signals={},
        fired=[],
        explanation={},
        error="timed out",
    )
    result = apply_filter(store, info, Config(), score_key="k", run_id="f1")
    assert (result.threshold, result.flagged, result.total) == (0.15, 1, 3)  # the failed one is not judged
    assert store.flagged_ids(info.dataset_id) == ["e0"]
    result = apply_filter(store, info, Config().with_overrides({"filter.gamma": 0.7}), score_key="k", run_id="f2")
    assert result.flagged == 2 and store.flagged_ids(info.dataset_id) == ["e0", "e1"]
    result = apply_filter(store, info, Config().with_overrides({"filter.gamma": 0.0}), score_key="k", run_id="f3")
    assert result.flagged == 0 and store.flagged_ids(info.dataset_id) == []
