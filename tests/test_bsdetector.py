"""BSDetector's calls for one example, pure: sample and reflection requests, adaptive k, reflections read back."""

from __future__ import annotations

import pytest

from curation import prompts
from curation.bsdetector import (
    LETTER_ONLY_TOKENS,
    first_sample_count,
    read_reflections,
    reflection_requests,
    sample_request,
    samples_wanted,
)
from curation.config import Config
from curation.score import score_key
from tests.test_score import config, example, replies


# -- requests ------------------------------------------------------------------------------
def test_sample_request_asks_for_the_missing_samples_with_the_template():
    c = config(**{"scoring.sample_style": "answer_first", "scoring.temperature": 0.9, "scoring.max_tokens": 33})
    r = sample_request(example(), c, first=3, count=2)
    assert (r.n, r.sample_index, r.temperature, r.max_tokens) == (2, 3, 0.9, 33)
    assert r.stop == prompts.ANSWER_FIRST_STOP
    assert r.messages[-1].content.endswith(prompts.SAMPLING_INSTRUCTION_ANSWER_FIRST)
    assert r.reply_prefix == prompts.ANSWER_FIRST_PREFIX == "answer:"
    paper = sample_request(example(), config(**{"scoring.sample_style": "explanation_first"}), first=0, count=5)
    assert paper.stop == () and paper.messages[-1].content.endswith(prompts.SAMPLING_INSTRUCTION)
    assert paper.reply_prefix == ""
    # a dataset answering in JSON is sampled in its own format, not after the label
    assert sample_request(example(), c, first=0, count=3, opening="{").reply_prefix == "{"
    unprefixed = config(**{"scoring.answer_prefix": "false"})
    assert sample_request(example(), unprefixed, first=0, count=3).reply_prefix == ""
    assert sample_request(example(), unprefixed, first=0, count=3, opening="{").reply_prefix == ""
    assert score_key(unprefixed) != score_key(config())
    # the setting means nothing to the paper's template, so it does not set its scores apart
    paper_off = config(**{"scoring.sample_style": "explanation_first", "scoring.answer_prefix": "false"})
    assert score_key(paper_off) == score_key(config(**{"scoring.sample_style": "explanation_first"}))


@pytest.mark.parametrize("n", [0, 1, 2])
def test_reflection_requests_one_per_question_greedy(n):
    requests = reflection_requests(example(), config(**{"scoring.reflection_prompts": n}))
    assert len(requests) == n
    for question, r in enumerate(requests, start=1):
        assert r.temperature == 0.0 and r.top_logprobs == Config().scoring.top_logprobs
        # balanced (the default): the second question offers A and B the other way round
        ask = prompts.REFLECTION_QUESTIONS[question - 1]
        if question == 2:
            ask = ask.replace(prompts.REFLECTION_OPTIONS, prompts.SWAPPED_OPTIONS)
            assert "(A) Incorrect\n(B) Correct\n(C) I am not sure" in r.messages[-1].content
        assert ask in r.messages[-1].content


@pytest.mark.parametrize("style", ["tagged", "follow_up"])
def test_fixed_reflection_order_asks_the_papers_choices_twice(style):
    c = config(**{"scoring.reflection_order": "fixed", "scoring.reflection_style": style})
    for r in reflection_requests(example(), c):
        assert r.messages[-1].content.count("(A) Correct\n(B) Incorrect\n(C) I am not sure") == 1
    balanced = reflection_requests(example(), config(**{"scoring.reflection_style": style}))
    assert "(A) Incorrect\n(B) Correct\n(C) I am not sure" in balanced[1].messages[-1].content


@pytest.mark.parametrize(
    "overrides, caps",
    [
        ({}, [24, LETTER_ONLY_TOKENS]),  # letter first, scored from probabilities: the second reads the letter only
        ({"scoring.letter_first": False}, [24, 24]),  # explanation first: the letter comes last
        ({"scoring.top_logprobs": 0}, [24, 24]),
        ({"scoring.reflection_max_tokens": 3}, [3, 3]),
    ],
)
def test_only_the_first_reflection_keeps_its_explanation(overrides, caps):
    requests = reflection_requests(example(), config(**{"scoring.reflection_prompts": 2, **overrides}))
    assert [r.max_tokens for r in requests] == caps


# -- adaptive k ----------------------------------------------------------------------------------
EARLY = config(**{"scoring.k": 5, "scoring.early_stop": True, "scoring.early_stop_after": 3, "scoring.k_max": 7})
NO_EARLY = config(**{"scoring.k": 5, "scoring.early_stop": False, "scoring.k_max": 7})


@pytest.mark.parametrize(
    "answers, more",
    [
        (["7", "7", "7"], 0),  # all agree with the reference: settled
        (["8", "8", "8"], 0),  # all agree with each other against it: settled
        (["7", "8", "7"], 2),  # unsettled: on to k
        (["8", "9", "8"], 2),  # none match, but they disagree among themselves
        (["seven", "7", "7"], 2),  # "seven" is not the number 7
        (["7", "7", "7", "8", "8"], 2),  # k reached and split 3 to 2: on to k_max
        (["7", "7", "8", "8", "9"], 2),  # 2 of 5 match: split
        (["7", "7", "7", "7", "8"], 0),  # 4 of 5: a clear majority
        (["8", "9", "8", "9", "6"], 0),  # none of 5 match: clear
        (["7", "7", "7", "8", "8", "7", "8"], 0),  # k_max reached
    ],
)
def test_samples_wanted_with_early_stop(answers, more):
    assert samples_wanted(answers, "7", EARLY) == more


@pytest.mark.parametrize("answers, more", [(["7", "7", "7"], 2), (["7"] * 5, 0), (["7", "7", "8", "8", "9"], 0)])
def test_samples_wanted_without_early_stop_is_exactly_k(answers, more):
    assert samples_wanted(answers, "7", NO_EARLY) == more


def test_k_max_below_k_never_draws_past_k():
    capped = config(**{"scoring.k": 5, "scoring.k_max": 3})
    assert samples_wanted(["7", "7", "8", "8", "9"], "7", capped) == 0


@pytest.mark.parametrize(
    "overrides, first",
    [
        ({"scoring.k": 5, "scoring.early_stop_after": 3}, 3),
        ({"scoring.k": 2, "scoring.early_stop_after": 3}, 2),
        ({"scoring.k": 5, "scoring.early_stop": False}, 5),
        ({"scoring.k": 0}, 0),
    ],
)
def test_first_sample_count(overrides, first):
    assert first_sample_count(config(**overrides)) == first


# -- the reflections read back ----------------------------------------------------------------
@pytest.mark.parametrize(
    "order, texts, expected",
    [
        ("balanced", ("answer: A", "answer: B"), [("A", 1.0), ("A", 1.0)]),  # B in the swapped question = Correct
        ("fixed", ("answer: A", "answer: B"), [("A", 1.0), ("B", 0.0)]),
    ],
)
def test_read_reflections_reads_each_question_as_it_was_asked(order, texts, expected):
    read = read_reflections(replies(*texts), config(**{"scoring.reflection_order": order}))
    assert [(r.verdict, r.score) for r in read] == expected
