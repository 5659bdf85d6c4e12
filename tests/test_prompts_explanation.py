"""Whether a reflection's or judge's explanation may be shown as the reason for its verdict
(:func:`curation.parsers.explanation_problem`), by hand and through the real parsers."""

from __future__ import annotations

import pytest

from curation import parsers as R
from curation.parsers import explanation_problem

READABLE = None


@pytest.mark.parametrize(
    "verdict, explanation, expected",
    [
        ("A", "2 + 2 is 4", READABLE),
        ("A", "The response correctly adds the numbers.", READABLE),
        ("B", "The correct answer is 56, not 54.", READABLE),  # "correct answer" names the fix, not the verdict
        ("B", "The answer is not correct.", READABLE),
        ("B", "I am not sure the answer is correct.", READABLE),
        ("C", "I am not sure whether this is wrong.", READABLE),
        ("C", "It might be correct if the year is 2020.", READABLE),
        ("A", "It is not wrong at all: it is right.", READABLE),  # both words: no clear contradiction
        ("A", "", READABLE),  # a letter-only reply has no explanation by design
        (
            "C",
            "The proposed answer is wrong: 12 * 4 is 48.",
            "verdict 'not sure' but the text says the answer is wrong",
        ),
        ("C", "It is correct.", "verdict 'not sure' but the text says the answer is correct"),
        ("A", "The answer is incorrect.", "verdict 'correct' but the text says the answer is wrong"),
        ("A", "The answer is not correct.", "verdict 'correct' but the text says the answer is wrong"),
        ("B", "The proposed answer is correct.", "verdict 'incorrect' but the text says the answer is correct"),
        ("C", "explanation", "the template's placeholder echoed, not an explanation"),
        ("A", "[insert analysis]", "the template's placeholder echoed, not an explanation"),
        ("B", "**Explanation:**", "the template's placeholder echoed, not an explanation"),
        ("A", "...", "no words"),
    ],
)
def test_reflection_explanations_by_hand(verdict, explanation, expected):
    assert explanation_problem(verdict, explanation) == expected


def test_an_unparsed_reply_is_unreadable_whatever_it_says():
    assert explanation_problem(None, "The answer looks fine to me", parsed=False) == "no verdict could be read"
    assert explanation_problem(None, "", parsed=False) == "no reply could be read"


@pytest.mark.parametrize(
    "verdict, explanation, expected",
    [
        ("A", "Response 2 is better: it gives the total.", READABLE),
        ("B", "Response 1 is more accurate.", READABLE),
        ("C", "Both are fine.", READABLE),
        (
            "A",
            "Response 1 is better because it is shorter.",
            "verdict 'response 2 is better' but the text says response 1 is",
        ),
        ("B", "Response two was clearly better.", "verdict 'response 1 is better' but the text says response 2 is"),
        ("A", "explanation", "the template's placeholder echoed, not an explanation"),
    ],
)
def test_judge_explanations_by_hand(verdict, explanation, expected):
    assert explanation_problem(verdict, explanation, judge=True) == expected


@pytest.mark.parametrize(
    "reply, readable",
    [
        ("answer: C, explanation: The proposed answer is wrong.", False),
        ("answer: A, explanation: explanation", False),
        ("explanation: explanation, answer: B", False),
        ("answer: A, explanation: 12 * 4 = 48, as the response says.", True),
        ("answer: A", True),
        ("I cannot tell.", False),  # no verdict
    ],
)
def test_through_the_reflection_parser(reply, readable):
    r = R.parse_reflection(reply)
    assert (explanation_problem(r.verdict, r.explanation, parsed=r.parsed) is None) == readable


def test_swapped_letters_are_checked_by_meaning():
    r = R.parse_reflection("answer: A, explanation: the sum is wrong", swapped=True)  # A = Incorrect here
    assert r.verdict == "B" and explanation_problem(r.verdict, r.explanation) is None
