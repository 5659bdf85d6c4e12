"""The word diff (:mod:`curation.diff`): words, numbers and marks are whole tokens, by hand,
and the pieces always give back both texts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.diff import tokens, word_diff


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The answer is 54.", ["The", " ", "answer", " ", "is", " ", "54", "."]),
        ("don't 3.5 1,000 well-known", ["don't", " ", "3.5", " ", "1,000", " ", "well-known"]),
        ("$54!", ["$", "54", "!"]),
        ("a,b\n\tc", ["a", ",", "b", "\n\t", "c"]),
        ("", []),
    ],
)
def test_tokens_by_hand(text, expected):
    assert tokens(text) == expected


@pytest.mark.parametrize(
    "a, b, expected",
    [
        # A changed number is one word replaced, never its digits merged ("5456"); the mark after it stays.
        (
            "The answer is 54.",
            "The answer is 56.",
            [("equal", "The answer is "), ("delete", "54"), ("insert", "56"), ("equal", ".")],
        ),
        ("#### 54", "#### 56", [("equal", "#### "), ("delete", "54"), ("insert", "56")]),
        (
            "costs 3.50 now",
            "costs 3.75 now",
            [("equal", "costs "), ("delete", "3.50"), ("insert", "3.75"), ("equal", " now")],
        ),
        # A list keeps its separators: two replacements, not one.
        (
            "Lyon, France",
            "Paris, Italy",
            [("delete", "Lyon"), ("insert", "Paris"), ("equal", ", "), ("delete", "France"), ("insert", "Italy")],
        ),
        # A mark inside a changed word joins the change.
        ("src=x", "dst=y", [("delete", "src=x"), ("insert", "dst=y")]),
        (
            '{"label": "spam"}',
            '{"label": "ham"}',
            [("equal", '{"label": "'), ("delete", "spam"), ("insert", "ham"), ("equal", '"}')],
        ),
    ],
)
def test_word_diff_by_hand(a, b, expected):
    assert word_diff(a, b) == expected


@given(st.text(alphabet="ab5 6\n.,-'=", max_size=40), st.text(alphabet="ab5 6\n.,-'=", max_size=40))
def test_word_diff_round_trips_with_marks_and_numbers(a, b):
    pieces = word_diff(a, b)
    assert "".join(t for op, t in pieces if op != "insert") == a
    assert "".join(t for op, t in pieces if op != "delete") == b
    assert all(x[0] != y[0] for x, y in zip(pieces, pieces[1:]))
    assert all(t for _, t in pieces)


@given(st.text(max_size=60))
def test_tokens_concatenate_to_the_text(text):
    assert "".join(tokens(text)) == text
