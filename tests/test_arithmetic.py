"""The arithmetic check: equations a response states, read only where they are arithmetic."""

from __future__ import annotations

import pytest

from curation import contest, signals
from curation.arithmetic import equations, wrong


def _read(text: str) -> list[tuple[str, bool]]:
    return [(e.text, e.holds) for e in equations(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Pages read: 21 + 28 = 49.\nPages left: 163 - 49 = 114.\n#### 114",
            [("21 + 28 = 49", True), ("163 - 49 = 114", True)],
        ),
        ("Change: 50 - 15 = 33 dollars.", [("50 - 15 = 33", False)]),
        ("Split 28 cards into 7 groups: 28 / 7 = 4.2857142857142857.", [("28 / 7 = 4.2857142857142857", False)]),
        ("8 times 9 is 70.", [("8 times 9 is 70", False)]),
        ("8 multiplied by 9 equals 72.", [("8 multiplied by 9 equals 72", True)]),
        ("2 * (3 + 4) = 2 * 7 = 14", [("2 * (3 + 4) = 2 * 7", True), ("2 * 7 = 14", True)]),
        ("5 - 8 = -3", [("5 - 8 = -3", True)]),
        ("(5 + 3 = 8)", [("5 + 3 = 8", True)]),
        ("$5 * 3 = $15 and 1,200 + 300 = 1,500", [("$5 * 3 = $15", True), ("1,200 + 300 = 1,500", True)]),
        ("3 x 4 = 12", [("3 x 4 = 12", True)]),
        # precision: the stated value's own decimals; a whole number for a division rounds either way
        ("10 / 3 = 3.33", [("10 / 3 = 3.33", True)]),
        ("20 / 3 = 6 full bags", [("20 / 3 = 6", True)]),
        ("10 / 4 = 3.4", [("10 / 4 = 3.4", False)]),
        (
            "2 / 3 = 0.66 and 2 / 3 = 0.67, not 2 / 3 = 0.65",
            [("2 / 3 = 0.66", True), ("2 / 3 = 0.67", True), ("2 / 3 = 0.65", False)],
        ),
        ("7 * 1.5 = 10.5, so 10 or 11 whole, not 7 * 1.5 = 9", [("7 * 1.5 = 10.5", True), ("7 * 1.5 = 9", False)]),
        ("19 + 17 = 37", [("19 + 17 = 37", False)]),  # a whole result is exact
        # GSM8K's calculator marks
        ("She sold 48/2 = <<48/2=24>>24 clips.", [("48/2=24", True)]),
        ("She sold 48/2 = <<48/2=25>>25 clips.", [("48/2=25", False)]),
    ],
)
def test_equations_are_read_and_checked(text, expected):
    assert _read(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "x = 3 + 4",  # no left-hand arithmetic
        "i += 1",
        "a == 3 + 4",
        "2x + 3 = 11",  # algebra, not arithmetic
        "2^3 + 1 = 9",
        "50% of 20 = 10",
        "3/4 = 75%",
        "10:30 + 15 = 10:45",  # clock times
        "Read pages 3-5 is 20 minutes of work.",  # a range before "is"
        "The 24/7 line is 1 of 3 options.",
        "The sum of 3 and 4 is 7.",  # words only
        "",
    ],
)
def test_what_only_looks_like_arithmetic_is_left_alone(text):
    assert equations(text) == []


def test_the_rule_names_each_wrong_equation_and_passes_the_rest():
    right = "Earnings: 10 * 2 = 20 dollars.\nAfter lunch: 20 - 5 = 15 dollars.\n#### 15"
    assert signals.arithmetic(right) == signals.SignalScore(1.0, ())
    assert signals.arithmetic("No numbers here.") == signals.SignalScore(1.0, ())
    bad = signals.arithmetic("Earnings: 10 * 2 = 20 dollars.\nAfter lunch: 20 - 5 = 5 dollars.\n#### 5")
    assert bad.score == signals.ARITHMETIC_WRONG
    assert bad.reasons == ("states 20 - 5 = 5 (the arithmetic gives 15)",)
    assert [e.text for e in wrong("1 + 1 = 3, 2 + 2 = 4, 3 + 3 = 7")] == ["1 + 1 = 3", "3 + 3 = 7"]


def test_a_candidate_with_wrong_arithmetic_loses_the_contest():
    def scored(text: str) -> contest.Scored:
        return contest.score_response(
            text,
            "few_shot",
            answers=[],
            logprob=-0.2,
            alpha=0.8,
            format_of=lambda _: signals.SignalScore(1.0),
            prompt="Split 28 cards into 7 equal groups. How many in each?",
        )

    sound, broken = scored("28 / 7 = 4.\n#### 4"), scored("28 / 7 = 5.\n#### 5")
    assert (sound.arithmetic, broken.arithmetic) == (1.0, signals.ARITHMETIC_WRONG)
    assert broken.confidence == pytest.approx(sound.confidence * signals.ARITHMETIC_WRONG)
