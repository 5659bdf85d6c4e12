"""Parsers over clean, noisy, empty and malformed replies, and log-probability weighting of their letters."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import parsers as R

LP = math.log


# --- sampling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, answer, explanation, ok",
    [
        ("explanation: 2 + 2 = 4, answer: 4", "4", "2 + 2 = 4", True),
        ("Explanation: add them.\nAnswer: 4", "4", "add them.", True),
        ('**Answer:** "Paris".', "Paris", "", True),
        ("**Answer**: Paris", "Paris", "", True),
        ("Answer - 42.", "42", "", True),
        ("ANSWER: 'yes'", "yes", "", True),
        ("explanation: first answer: 3 is wrong. answer: 5", "5", "first answer: 3 is wrong.", True),
        ('answer: {"intent": "greet"}', '{"intent": "greet"}', "", True),
        ("explanation: sum, answer: [42]", "42", "sum", True),
        ("answer: [1, 2]", "[1, 2]", "", True),
        ('answer: ["a"]', '["a"]', "", True),
        ("the answer-based approach gives 4", "the answer-based approach gives 4", "", False),
        ("  just 4  ", "just 4", "", False),
        ("", "", "", False),
        # answer first, past the stop sequence: a capitalised label on a later line ends the answer
        ("answer: 12\nExplanation: 7 + 5 = 12", "12", "", True),
        ("12\n**Explanation:** 7 + 5", "12", "", False),
        ("answer: 12. The explanation: none", "12. The explanation: none", "", True),  # same line: kept
    ],
)
def test_parse_answer(reply, answer, explanation, ok):
    assert R.parse_answer(reply) == R.ParsedAnswer(answer, explanation, ok)


# --- self-reflection --------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, verdict, score, explanation",
    [
        ("explanation: 2 + 2 is 4, answer: A", "A", 1.0, "2 + 2 is 4"),
        ("explanation: wrong sum, answer: B", "B", 0.0, "wrong sum"),
        ("explanation: unclear, answer: C", "C", 0.5, "unclear"),
        ("**Answer:** A.", "A", 1.0, ""),
        ("answer: (B) incorrect", "B", 0.0, "incorrect"),
        ("answer: c", "C", 0.5, ""),
        ("Answer - B", "B", 0.0, ""),
        ("Explanation: sums fine.\n**Answer**: Correct", "A", 1.0, "sums fine."),
        ("explanation: no, answer: Incorrect", "B", 0.0, "no"),
        ("answer: not sure", "C", 0.5, ""),
        (
            "answer: A, explanation: the proposed answer: B is what I would reject",
            "A",
            1.0,
            "the proposed answer: B is what I would reject",
        ),
        ("explanation: first answer: B, on reflection answer: A", "A", 1.0, "first answer: B, on reflection"),
        ("A", "A", 1.0, ""),
        ("(B) Incorrect", "B", 0.0, "Incorrect"),
        ("b.", "B", 0.0, ""),
        ("The answer is C.", "C", 0.5, ""),
        ("I would pick (A) Correct here.", "A", 1.0, "I would pick (A) Correct here."),
    ],
)
def test_parse_reflection_text(reply, verdict, score, explanation):
    r = R.parse_reflection(reply)
    assert (r.verdict, r.score, r.explanation, r.parsed, r.weighted) == (verdict, score, explanation, True, False)


@pytest.mark.parametrize(
    "reply", ["", "   ", "I don't know", "a correct-looking answer", "(A) or (B), hard to say", "answer: D", "answer:"]
)
def test_unparseable_reflection_is_neutral_and_marked(reply):
    r = R.parse_reflection(reply)
    assert (r.score, r.verdict, r.parsed, r.weighted) == (0.5, None, False, False)
    assert r.explanation == reply.strip()


@pytest.mark.parametrize(
    "positions, expected",
    [
        # letter-first: "answer" ":" then the letter; variants of one letter are summed
        (
            (
                {"answer": LP(0.9), "Answer": LP(0.1)},
                {":": LP(0.99)},
                {" A": LP(0.5), "A": LP(0.1), " B": LP(0.3), " C": LP(0.1)},
            ),
            (0.6 + 0.05) / 1.0,
        ),
        # bare letter first, with bracket forms
        (({"A)": LP(0.2), "(A": LP(0.2), "B": LP(0.4), " C": LP(0.2)},), (0.4 + 0.1) / 1.0),
        # probabilities that do not add to one are renormalised over A, B, C only
        (({"A": LP(0.3), "B": LP(0.1), "Hello": LP(0.05)},), 0.75),
        # "(" first, then the letter
        (({"answer": 0.0}, {":": 0.0}, {" (": 0.0}, {"A": LP(0.8), "B": LP(0.2)}), 0.8),
    ],
)
def test_reflection_weighted_by_letter_probabilities(positions, expected):
    r = R.parse_reflection("answer: A, explanation: fine", positions)
    assert r.weighted and r.parsed
    assert r.verdict == "A"
    assert r.score == pytest.approx(expected)


def test_weighted_ignores_a_letter_that_starts_the_explanation():
    # explanation-first: "explanation: A train ..." must not be read as verdict A
    positions = ({"explanation": 0.0}, {":": 0.0}, {" A": LP(0.7), " The": LP(0.3)}, {" train": 0.0})
    r = R.parse_reflection("explanation: A train is late, answer: B", positions)
    assert (r.score, r.verdict, r.weighted) == (0.0, "B", False)


def test_weighted_score_even_when_text_is_unparseable():
    r = R.parse_reflection("", ({"C": LP(1.0)},))
    assert (r.score, r.verdict, r.parsed, r.weighted) == (0.5, None, True, True)


def test_lowercase_letter_tokens_are_not_read_as_choices():
    r = R.parse_reflection("a", ({"a": LP(0.9), " the": LP(0.1)},))
    assert (r.score, r.verdict, r.weighted) == (1.0, "A", False)


@pytest.mark.parametrize(
    "reply, verdict, score",
    [
        ("answer: A, explanation: wrong sum", "B", 0.0),  # swapped: A is "Incorrect"
        ("answer: B, explanation: right", "A", 1.0),
        ("answer: C", "C", 0.5),
        ("(A) Incorrect", "B", 0.0),
        ("answer: Correct", "A", 1.0),  # a word is read by its meaning
        ("answer: incorrect", "B", 0.0),
    ],
)
def test_swapped_reflection_is_read_by_meaning(reply, verdict, score):
    r = R.parse_reflection(reply, swapped=True)
    assert (r.verdict, r.score, r.parsed) == (verdict, score, True)


def test_swapped_reflection_weighs_letters_by_meaning():
    positions = ({"answer": 0.0}, {":": 0.0}, {" A": LP(0.7), " B": LP(0.2), " C": LP(0.1)})
    fixed, swapped = (
        R.parse_reflection("answer: A", positions),
        R.parse_reflection("answer: A", positions, swapped=True),
    )
    assert (fixed.verdict, fixed.score) == ("A", pytest.approx(0.75))
    assert (swapped.verdict, swapped.score) == ("B", pytest.approx(0.25))
    # a pull towards the letter A, whatever it means, cancels across the two orders
    assert (fixed.score + swapped.score) / 2 == pytest.approx(0.5)


def test_choice_probabilities_none_without_a_choice():
    assert R.choice_probabilities(({"Hello": 0.0},), {"A": "A"}) is None
    assert R.choice_probabilities((), {"A": "A"}) is None


@given(
    st.lists(
        st.dictionaries(st.sampled_from(["A", " B", "C)", "(A", "x", " yes"]), st.floats(min_value=-30, max_value=0)),
        max_size=4,
    ),
    st.text(max_size=40),
)
def test_reflection_score_always_in_unit_interval(positions, text):
    r = R.parse_reflection(text, tuple(positions))
    assert 0.0 <= r.score <= 1.0
    assert r.parsed or r.score == 0.5


# --- judge ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, p, verdict, parsed",
    [
        ("answer: A, explanation: 2 is right", 1.0, "A", True),
        ("answer: B", 0.0, "B", True),
        ("**Answer:** C.", 0.5, "C", True),
        ("", 0.5, None, False),
        ("both fine", 0.5, None, False),
    ],
)
def test_parse_judge(reply, p, verdict, parsed):
    v = R.parse_judge(reply)
    assert (v.p_second_better, v.verdict, v.parsed) == (p, verdict, parsed)


@pytest.mark.parametrize(
    "reply, verdict", [("answer: Yes", "A"), ("No, response 1 is better.", "B"), ("**Answer**: no", "B")]
)
def test_parse_judge_reads_yes_no(reply, verdict):
    v = R.parse_judge(reply)
    assert (v.verdict, v.p_second_better, v.parsed) == (verdict, R.CHOICE_SCORES[verdict], True)


def test_parse_judge_weighted():
    v = R.parse_judge("answer: A", ({"answer": 0.0}, {":": 0.0}, {" A": LP(0.6), " B": LP(0.4)}))
    assert v.weighted and v.p_second_better == pytest.approx(0.6)


# --- equivalence ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, positions, expected",
    [
        ("Yes", (), 1.0),
        ("no.", (), 0.0),
        ("**Yes**, they match", (), 1.0),
        ("answer: no", (), 0.0),
        ("maybe", (), 0.5),
        ("", (), 0.5),
        ("Nope", (), 0.5),
        ("Yes", ({"Yes": LP(0.6), " yes": LP(0.1), "No": LP(0.3)},), 0.7),
        ("", ({"Hello": 0.0},), 0.5),
    ],
)
def test_parse_equivalence(reply, positions, expected):
    assert R.parse_equivalence(reply, positions) == pytest.approx(expected)
