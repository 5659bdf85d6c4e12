"""Correction as a contest (pure): each response's confidence, the calibrated margin, the evidence
a rule gives a candidate and the answers compared past their wording, worked out by hand."""

from __future__ import annotations

import math

import pytest

from curation import confidence as cmath
from curation import contest
from curation.contest import Calibration, Scored
from curation.signals import SignalScore, format_scorer
from tests.test_alternatives import CHILE


def fmt(text: str) -> SignalScore:
    return SignalScore(0.5 if text.startswith("#") else 1.0)


def test_a_responses_confidence_by_hand():
    answers = ["56", "56", "54"]
    s = contest.score_response(
        "56", "samples", answers=answers, logprob=math.log(0.5), alpha=0.8, format_of=fmt, prompt="7 x 8?"
    )
    # agreement: two samples agree fully (1), one shares no word (0) -> 2/3; likelihood exp(log 0.5) = 0.5
    assert s.agreement == pytest.approx(2 / 3) and s.likelihood == pytest.approx(0.5)
    assert s.confidence == pytest.approx((2 / 3 + 0.5) / 2)
    bad = contest.score_response("# 56", "few_shot", answers=[], logprob=None, alpha=0.8, format_of=fmt, prompt="")
    assert (bad.agreement, bad.likelihood, bad.confidence) == (None, None, 0.25)  # 0.5 (no evidence) x format 0.5
    empty = contest.score_response("", "few_shot", answers=answers, logprob=None, alpha=0.8, format_of=fmt, prompt="")
    assert empty.confidence == 0.0  # the degenerate rule zeroes an empty response


def scored(text: str, confidence: float) -> Scored:
    return Scored(text, "samples", None, None, 1.0, 1.0, confidence)


def test_the_contest_ranks_candidates_and_calibrates_the_margin():
    calibration = Calibration(version="t", intercept=-1.0, slope=4.0)
    result = contest.contest(scored("54", 0.2), [scored("55", 0.3), scored("56", 0.7)], calibration)
    assert [c.text for c in result.candidates] == ["56", "55"]
    assert result.margin == pytest.approx(0.5)
    assert result.p_better == pytest.approx(1 / (1 + math.exp(-1.0)))  # -1 + 4 * 0.5 = 1
    assert contest.contrast_score(result) == pytest.approx(1 - result.p_better)
    alone = contest.contest(scored("54", 0.2), [], calibration)
    assert (alone.margin, alone.p_better, contest.contrast_score(alone)) == (None, None, 1.0)


def test_p_better_rises_with_the_margin_and_stays_in_range():
    values = [contest.p_better(m) for m in (-1.0, -0.2, 0.0, 0.2, 1.0)]
    assert values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)
    assert contest.p_better(-1e6) == 0.0 and contest.p_better(1e6) == 1.0


def worked(text: str, source: str, confidence: float, rules: float = 1.0) -> Scored:
    return Scored(text, source, None, None, 1.0, 1.0, confidence, rules)


@pytest.mark.parametrize(
    "original, rules, candidate, source, kind",
    [
        ('{"a": 1,}', 1.0, '{"a": 1}', "repair", "repair"),
        ("Cost: 5 * 3 = 1.\n#### 1", 1.0, "Cost: 5 * 3 = 15.\n#### 15", "repair", "repair"),  # recomputed
        ("Samir Ostr", 1.0, "Samir Ostrander", "extractive", "completion"),  # stops inside a word
        (
            '{"intent": "order_status", "urge',
            0.1,
            '{"intent": "order_status", "urgency": "low"}',
            "closed_set",
            "completion",
        ),  # fmt: skip
        ("The capital is", 0.1, "The capital is Paris", "extractive", "completion"),  # the ending rule fired
        ("The capital is", 1.0, "The capital is Paris", "extractive", None),  # a whole word, nothing fired
        ("Santiago", 1.0, "Santiago de Chile", "extractive", None),
        # an end the model writes is its judgement, not a check
        ("Cost: 5 * 3 = 15.\nTo", 0.1, "Cost: 5 * 3 = 15.\nTotal: 15.\n#### 15", "few_shot", None),
        ("Cost: 5 * 3 = 1.\n#### 1", 1.0, "Cost: 5 * 3 = 15.\n#### 15", "few_shot", None),
        ("Paris", 1.0, "Lyon", "samples", None),
    ],
)
def test_a_candidate_a_rule_checks_has_evidence(original, rules, candidate, source, kind):
    assert contest.evidence(worked(candidate, source, 0.6), worked(original, "original", 0.1, rules)) == kind


def test_a_completion_is_no_check_where_another_answer_completes_the_response_too():
    """intent-0100, ``{"intent": "order_status", "u``: the label set completes it with each
    urgency, and the model's pick among them ("medium") was wrong at the completion rate."""
    original = worked('{"intent": "order_status", "u', "original", 0.0, rules=0.0)
    medium, low, other = (
        worked(f'{{"intent": "order_status", "urgency": "{u}"}}', "closed_set", c)
        for u, c in (("medium", 0.8), ("low", 0.4), ("high", 0.6))
    )
    assert contest.evidence(medium, original) == "completion"  # alone it would be
    assert contest.evidence(medium, original, (medium, low, other)) is None
    assert contest.winner_evidence(medium, original, (medium, low)) is None
    unique = worked('{"intent": "billing_question", "urgency": "low"}', "closed_set", 0.3)
    assert contest.evidence(medium, original, (medium, unique)) == "completion"  # no other end fits
    assert (
        contest.evidence(medium, original, (medium, worked(medium.text, "samples", 0.7))) == "completion"
    )  # same answer


def test_another_answer_must_beat_the_recorded_content_not_only_its_broken_form():
    """intent-0114, ``{"intent": technical_issue, "urgency": low}``: its repair keeps "low"; the
    samples' "medium" beat the broken original by 0.94 but the repair by 0.52 only."""
    original = worked('{"intent": technical_issue, "urgency": low}', "original", 0.01)
    repair = worked('{"intent": "technical_issue", "urgency": "low"}', "repair", 0.43)
    medium = worked('{"intent": "technical_issue", "urgency": "medium"}', "closed_set", 0.95)
    rival = contest.contest(original, [repair, medium])
    assert rival.candidates[0] is medium and rival.margin == pytest.approx(0.95 - 0.43)
    assert contest.p_better(rival.margin) < contest.p_better(0.95 - 0.01)
    assert contest.margin_over_recorded(repair, original, rival.candidates) == pytest.approx(0.43 - 0.01)
    assert contest.contest(original, [medium]).margin == pytest.approx(0.94)  # no repair: the original


def test_evidence_raises_the_probability_to_its_class_rate_only_where_the_contest_prefers_it():
    kinds = contest.Evidence("t", (("repair", 0.95),))
    original, fixed = worked('{"a": 1,}', "original", 0.2), worked('{"a": 1}', "repair", 0.5)
    assert contest.winner_evidence(fixed, original) == "repair"
    assert contest.winner_evidence(worked('{"a": 1}', "repair", 0.1), original) is None  # it lost
    assert contest.p_right(0.6, "repair", kinds) == 0.95
    assert contest.p_right(0.99, "repair", kinds) == 0.99  # never lowered
    assert contest.p_right(0.6, "completion", kinds) == 0.6 and contest.p_right(0.6, None, kinds) == 0.6  # no rate
    assert dict(contest.EVIDENCE.rates).keys() == {"repair", "completion"}


def test_candidates_are_scored_against_the_datasets_format():
    score = format_scorer(['{"intent": "a"}'] * 9 + ["prose"])
    assert score('{"intent": "b"}').score == 1.0
    assert score("the intent is b").score < 0.2


def test_the_few_shot_draft_votes_as_a_third_part():
    kw = dict(answers=["56", "54"], logprob=math.log(0.5), alpha=0.8, format_of=fmt, prompt="7 x 8?")
    voted = contest.score_response("56", "closed_set", draft="56", **kw)
    other = contest.score_response("54", "original", draft="56", **kw)
    # agreement 0.5 each (one of two samples), likelihood 0.5 each; the vote 1 or 0
    assert voted.confidence == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert other.confidence == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert contest.score_response("56", "x", **kw).confidence == pytest.approx(0.5)  # no draft: two parts


SORT = "Sort these numbers from smallest to largest: 12, 17, 10."


@pytest.mark.parametrize(
    "a, b, prompt, same",
    [
        ("The capital of Chile is Santiago.", "Santiago.", CHILE, True),
        ("The capital of Chile is Valparaiso.", "Santiago.", CHILE, False),
        ("The capital of Brazil is Brasília.", "Brasilia.", "Name the capital city of Brazil.", True),
        ("Here are the numbers sorted: 10, 12, 17.", "From smallest to largest: 10, 12, 17.", SORT, True),
        ("From smallest to largest: 12, 10, 17.", "From smallest to largest: 10, 12, 17.", SORT, False),
        ('{"answer": "1956"}', "1956", "When was it opened?", True),
        # spans of the prompt: its words count when neither says anything else
        ("January", "rye sourdough", "Passage: It opened in January. Its rye sourdough sells.", False),
        ("weekly poetry reading", "poetry reading", "Passage: a weekly poetry reading.", True),
        ("", "Santiago.", CHILE, False),
    ],
)
def test_same_answer_reads_past_the_wording(a, b, prompt, same):
    assert cmath.same_answer(a, b, prompt) is same
    assert cmath.same_answer(b, a, prompt) is same


def test_elaborating_keeps_every_word_and_only_adds():
    assert cmath.elaborates("The capital of Chile is Santiago.", "Santiago.", CHILE)
    assert not cmath.elaborates("Santiago.", "The capital of Chile is Santiago, a big city.", CHILE)
    assert not cmath.elaborates("1956", '{"answer": "1956"}', "When was it opened?")  # drops a word
