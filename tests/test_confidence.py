"""BSDetector maths by hand, and the invariants of every score."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import confidence as C
from curation.confidence import judge_confidence
from tests.support.strategies import unit

# --- normalisation and matching ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The  Eiffel Tower.", "eiffel tower"),
        ("An apple, a day!", "apple day"),
        ("  ", ""),
        ("card_arrival", "cardarrival"),
        ("1,000", "1000"),
        ("Théâtre   d'Orsay", "théâtre dorsay"),
    ],
)
def test_normalize_answer(raw, expected):
    assert C.normalize_answer(raw) == expected


@pytest.mark.parametrize(
    "sample, reference, expected",
    [
        ("Paris", "paris.", True),
        ("the Paris", "Paris", True),
        ("Lyon", "Paris", False),
        # JSON: parsed objects, key order free, string values normalised
        ('{"intent": "Card Arrival", "score": 1}', '{"score": 1.0, "intent": "card arrival"}', True),
        ('```json\n{"intent": "greet"}\n```', '{"intent":"greet"}', True),
        ('{"intent": "greet"}', '{"intent": "bye"}', False),
        ('{"intent": "greet"}', '{"label": "greet"}', False),
        ('{"intent": "greet"}', "greet", False),
        ("[1, 2]", "[1,2]", True),
        ('{"ok": true}', '{"ok": 1}', False),
        # worked solutions with a final '#### N' line
        ("He has 3 + 4 = 7.\n#### 7", "3 plus 4 is 7\n#### 7", True),
        ("#### 1,200", "so\n#### 1200", True),
        ("#### 8", "#### 7", False),
        ("72", "Natalia sold 48/2 = 24 clips in May.\n#### 72", True),
        ("$72.", "Total\n#### 72", True),
        ("71", "Total\n#### 72", False),
        ("72 clips", "Total\n#### 72", True),
        ("72 and 3", "Total\n#### 72", False),
        ("I sold 72 clips in all of May", "Total\n#### 72", False),
        ("seventy-two", "Total\n#### 72", False),
        ("Total\n#### 72", "72", True),
        # bare numbers
        ("1,000", "1000", True),
        ("3.50", "3.5", True),
        ("", "", True),
    ],
)
def test_answers_match(sample, reference, expected):
    assert C.answers_match(sample, reference) is expected


def test_final_number():
    assert C.final_number("a\n#### -1,234.5") == -1234.5
    assert C.final_number("#### 1\n#### 2") == 2.0
    assert C.final_number("no marker 5") is None


@pytest.mark.parametrize(
    "a, b, expected",
    [("the cat sat", "cat sat down", 2 / 3), ("", "", 1.0), ("x", "", 0.0), ("A b", "b a.", 1.0)],
)
def test_token_jaccard(a, b, expected):
    assert C.token_jaccard(a, b) == pytest.approx(expected)


# --- observed consistency ---------------------------------------------------------------


def test_observed_consistency_by_hand():
    # sample 1: jaccard({city, of, paris}, {paris}) = 1/3, no match -> 0.8/3
    # sample 2: identical -> 0.8 * 1 + 0.2 * 1 = 1
    samples = ["the city of Paris", "Paris"]
    assert C.sample_agreements(samples, "Paris", alpha=0.8) == pytest.approx([0.8 / 3, 1.0])
    assert C.observed_consistency(samples, "Paris", alpha=0.8) == pytest.approx((0.8 / 3 + 1.0) / 2)


def test_observed_consistency_match_and_non_match_alpha_08():
    # [match, non-match] with a similarity fixed at 0.5: (0.4 + 0.2 + 0.4 + 0) / 2 = 0.5
    def half(a, b):
        return 0.5

    assert C.observed_consistency(["72", "71"], "#### 72", alpha=0.8, similarity=half) == pytest.approx(0.5)


def test_similarity_uses_final_number_of_a_worked_solution():
    reference = "Natalia sold 48 / 2 = 24 clips in May, 48 + 24 = 72 in all.\n#### 72"
    # "72": similarity 1 with "72", match -> 1 ; "71": similarity 0, no match -> 0
    assert C.sample_agreements(["72", "71"], reference, alpha=0.8) == pytest.approx([1.0, 0.0])
    # a sample that is itself a worked solution is compared with the whole reference
    assert C.sample_agreements([reference], reference, alpha=0.8) == pytest.approx([1.0])


def test_observed_consistency_alpha_zero_is_exact_match_rate():
    assert C.observed_consistency(["a", "b", "b", "b"], "b", alpha=0.0) == pytest.approx(0.75)


def test_observed_consistency_no_samples_is_none():
    assert C.observed_consistency([], "x", alpha=0.8) is None


def test_observed_consistency_rejects_bad_similarity_and_alpha():
    with pytest.raises(ValueError, match=r"similarity must be in \[0, 1\]"):
        C.observed_consistency(["a"], "a", alpha=0.8, similarity=lambda a, b: 1.5)
    with pytest.raises(ValueError, match="similarity must be a finite number"):
        C.observed_consistency(["a"], "a", alpha=0.8, similarity=lambda a, b: float("nan"))
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        C.observed_consistency(["a"], "a", alpha=1.2)


@given(st.lists(st.text(max_size=20), max_size=6), st.text(max_size=20), unit)
def test_observed_consistency_in_unit_interval(samples, reference, alpha):
    value = C.observed_consistency(samples, reference, alpha=alpha)
    assert value is None if not samples else 0.0 <= value <= 1.0


# --- reflection and combination ---------------------------------------------------------


def test_reflection_certainty():
    assert C.reflection_certainty([1.0, 0.5]) == 0.75
    assert C.reflection_certainty([]) is None
    with pytest.raises(ValueError, match=r"reflection score must be in \[0, 1\]"):
        C.reflection_certainty([2.0])


def test_combine_by_hand_and_missing_parts():
    assert C.combine(0.5, 0.75, beta=0.7) == pytest.approx(0.7 * 0.5 + 0.3 * 0.75)
    assert C.combine(0.4, None, beta=0.7) == 0.4
    assert C.combine(None, 0.9, beta=0.7) == 0.9
    assert C.combine(None, None, beta=0.7) is None
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\]"):
        C.combine(0.5, 0.5, beta=-0.1)
    with pytest.raises(ValueError, match=r"observed must be in \[0, 1\]"):
        C.combine(1.5, 0.5, beta=0.5)


@given(unit, unit, unit, unit, unit)
def test_combine_in_range_and_monotone(o, s, beta, o2, s2):
    c = C.combine(o, s, beta=beta)
    assert 0.0 <= c <= 1.0
    lo_o, hi_o = sorted((o, o2))
    lo_s, hi_s = sorted((s, s2))
    assert C.combine(lo_o, s, beta=beta) <= C.combine(hi_o, s, beta=beta) + 1e-12
    assert C.combine(o, lo_s, beta=beta) <= C.combine(o, hi_s, beta=beta) + 1e-12


# --- judge ---


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (1.0, 0.0, 1.0),  # candidate preferred in both positions
        (0.0, 1.0, 0.0),  # original preferred in both positions
        (1.0, 1.0, 0.5),  # judge always prefers response 2: no information
        (0.5, 0.5, 0.5),
        (0.9, 0.3, 0.8),
    ],
)
def test_judge_confidence_maps_swapped_order(a, b, expected):
    assert C.judge_confidence(a, b) == pytest.approx(expected)


def test_judge_confidence_rejects_out_of_range():
    with pytest.raises(ValueError, match="p_second_better_candidate_first must be in"):
        C.judge_confidence(0.5, 1.5)


def test_judge_confidence_is_reexported():
    assert judge_confidence(1.0, 0.0) == 1.0
