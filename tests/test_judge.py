"""The judge: both orders of the pairwise request, and its confidence by hand (position bias cancels)."""

from __future__ import annotations

import math

import pytest

from curation import prompts
from curation.config import Config
from curation.judge import judge, judge_requests, same_position
from curation.records import Message
from tests.test_correct import ex, reply


def test_judge_requests_ask_both_orders():
    c = Config().with_overrides({"correct.judge_max_tokens": 17})
    first, second = judge_requests(ex("t", "What is 2 + 2?", "5"), "4", c)
    assert "<response_1>\n5\n</response_1>" in first.messages[-1].content
    assert "<response_2>\n4\n</response_2>" in first.messages[-1].content
    assert "<response_1>\n4\n</response_1>" in second.messages[-1].content
    assert "<response_2>\n5\n</response_2>" in second.messages[-1].content
    for r in (first, second):
        assert r.temperature == 0.0 and r.max_tokens == 17 and r.top_logprobs == c.scoring.top_logprobs
        assert r.messages[0] == Message("system", prompts.DATA_RULE)


@pytest.mark.parametrize(
    "candidate_second, candidate_first, confidence",
    [
        ("answer: A", "answer: B", 1.0),  # candidate better in both orders
        ("answer: B", "answer: A", 0.0),  # original better in both orders
        ("answer: A", "answer: A", 0.5),  # always "response 2": pure position bias
        ("answer: B", "answer: B", 0.5),  # always "response 1"
        ("answer: C", "answer: B", 0.75),  # (0.5 + (1 - 0)) / 2
        ("answer: A", "answer: C", 0.75),  # (1 + (1 - 0.5)) / 2
        ("I cannot decide", "", 0.5),  # unreadable: neutral
        ("Yes, response 2 is better.", "No.", 1.0),
    ],
)
def test_judge_confidence_by_hand(candidate_second, candidate_first, confidence):
    conf, verdicts = judge(reply(candidate_second), reply(candidate_first))
    assert conf == pytest.approx(confidence)
    assert [v["order"] for v in verdicts] == ["candidate_second", "candidate_first"]


def test_judge_verdicts_record_what_was_read():
    _, verdicts = judge(reply("answer: A, explanation: it adds up"), reply("gibberish"))
    assert verdicts[0] == {
        "order": "candidate_second",
        "p": 1.0,
        "verdict": "A",
        "explanation": "it adds up",
        "parsed": True,
    }
    assert verdicts[1]["p"] == 0.5 and verdicts[1]["parsed"] is False and verdicts[1]["verdict"] is None


def test_judge_weighs_letter_probabilities():
    # P(A) 0.6, P(B) 0.4 at the letter position -> 0.6; the other order says B -> (0.6 + 1) / 2
    logprobs = ({"answer": 0.0}, {":": 0.0}, {" A": math.log(0.6), " B": math.log(0.4)})
    conf, verdicts = judge(reply("answer: A", logprobs), reply("answer: B"))
    assert verdicts[0]["p"] == pytest.approx(0.6)
    assert conf == pytest.approx(0.8)


@pytest.mark.parametrize(
    "candidate_second, candidate_first, position",
    [
        ("answer: A", "answer: A", 2),  # "response 2" both times: the candidate, then the original
        ("answer: B", "answer: B", 1),
        ("answer: A", "answer: B", None),  # the candidate both times: it read the responses
        ("answer: B", "answer: A", None),  # the original both times
        ("answer: C", "answer: C", None),  # unsure is no position
        ("gibberish", "gibberish", None),
    ],
)
def test_same_position_names_a_judge_that_followed_the_position(candidate_second, candidate_first, position):
    _, verdicts = judge(reply(candidate_second), reply(candidate_first))
    assert same_position(verdicts) == position
    assert same_position(verdicts[:1]) is None and same_position([]) is None
