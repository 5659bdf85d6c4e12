"""Cheap signals that read the text: format patterns, degenerate text, the JSON opening."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import signals as S

INTENTS = [
    '{"intent": "card_arrival"}',
    '{"intent": "lost_card"}',
    '{"intent": "top_up"}',
    '{"intent": "card_arrival"}',
    '{"intent": "refund"}',
    '{"intent": "lost_card"}',
    '{"intent": "top_up"}',
    '{"intent": "refund"}',
    '{"intent": "greet"}',
]


def test_format_consistency_json_dataset_with_one_broken_row():
    rows = INTENTS + ["card arrival"]
    scores = S.format_consistency(rows)
    assert [s.score for s in scores[:-1]] == [1.0] * len(INTENTS)
    assert all(s.reasons == () for s in scores[:-1])
    broken = scores[-1]
    # shape (0.9 * 0.9), start (0.3 * 0.9) and end (0.3 * 0.9) patterns broken
    assert broken.score == pytest.approx((1 - 0.9 * 0.9) * (1 - 0.3 * 0.9) ** 2)
    assert broken.reasons[0] == "text, but 90% of responses: JSON object"
    assert len(broken.reasons) == 3


def test_format_consistency_json_key_set():
    rows = INTENTS + ['{"label": "refund"}']
    scores = S.format_consistency(rows)
    assert scores[-1].score == pytest.approx(1 - 0.8 * 0.9)
    assert scores[-1].reasons == ("JSON keys {label}, but 90% of responses: JSON keys {intent}",)


def test_format_consistency_worked_solutions():
    rows = [
        f"She had {n} apples and bought {n} more, so now she has {2 * n} apples in total.\n#### {2 * n}"
        for n in range(1, 9)
    ]
    rows.append("She had 3 apples and bought 3 more, so now she has 6 apples in")
    rows.append("6")
    scores = S.format_consistency(rows)
    assert all(s.score == 1.0 for s in scores[:8])
    truncated, bare = scores[8], scores[9]
    assert "no '#### N' final line, but 80% of responses: a '#### N' final line" in truncated.reasons
    assert truncated.score < 0.5
    assert "short (<= 8 words), but 90% of responses: long (> 8 words)" in bare.reasons
    assert bare.score < truncated.score


def test_format_consistency_short_spans_flag_a_long_sentence():
    rows = ["Denver Broncos", "1990", "Santa Clara", "gold", "Beyoncé", "the 1960s", "Paris", "three"]
    rows.append("The game was played on February 7, 2016, at Levi's Stadium in Santa Clara.")
    scores = S.format_consistency(rows)
    assert scores[-1].score < 1.0
    assert any(r.startswith("long (> 8 words)") for r in scores[-1].reasons)
    assert all(s.score == 1.0 for s in scores[:-1] if not s.reasons)


def test_format_consistency_no_dominant_pattern_and_small_data():
    assert [s.score for s in S.format_consistency(['{"a": 1}', "text", '{"a": 1}', "more"])] == [1.0] * 4
    mixed = ['{"a": 1}', "text here", "[1, 2]", "Text", "12", "more text words", '{"b": 2}']
    scores = S.format_consistency(mixed)
    assert all(0.0 <= s.score <= 1.0 for s in scores)
    assert S.format_consistency([]) == []


def test_format_consistency_rejects_bad_dominance():
    with pytest.raises(ValueError, match=r"dominance must be in \(0.5, 1\]"):
        S.format_consistency(["a"], dominance=0.4)


@given(st.lists(st.text(max_size=30), max_size=15))
def test_format_consistency_scores_in_unit_interval(responses):
    scores = S.format_consistency(responses)
    assert len(scores) == len(responses)
    assert all(0.0 <= s.score <= 1.0 for s in scores)
    assert all((s.score < 1.0) == bool(s.reasons) for s in scores)


# --- degenerate -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, response, score, reason",
    [
        ("Q?", "", 0.0, "empty response"),
        ("Q?", "  \n\t", 0.0, "empty response"),
        ("Classify this.", "I'm sorry, but I cannot help with that.", 0.2, 'refusal phrase "i\'m sorry"'),
        ("Classify this.", "As an AI language model, I do not have opinions.", 0.2, "refusal phrase 'as an ai'"),
        (
            "Summarise: the cat sat on the mat all day long",
            "Summarise: the cat sat on the mat all day long",
            0.1,
            "repeats the prompt",
        ),
        ("Intent?", '{"intent": "card_', 0.3, "truncated? looks like JSON but does not parse"),
        (
            "Explain.",
            "The reason is that the water cycle moves heat from the oceans to the land and",
            0.3,
            "truncated? ends mid-sentence",
        ),
        (
            "Explain.",
            "It rains. The water cycle moves heat from the oceans to the land masses everywhe",
            0.7,
            "truncated? ends without final punctuation",
        ),
        ("Say hi.", "hello there friend " * 6, 0.3, "repeated text"),
    ],
)
def test_degenerate_rules(prompt, response, score, reason):
    result = S.degenerate(prompt, response)
    assert result.score == pytest.approx(score)
    assert result.reasons[0] == reason


@pytest.mark.parametrize(
    "prompt, response",
    [
        ("What is the capital of France? Context: Paris is the capital of France.", "Paris"),
        ("Context: The Broncos won Super Bowl 50. Who won Super Bowl 50?", "The Broncos"),
        ("Intent of: where is my card", '{"intent": "card_arrival"}'),
        ("Natalia sold clips...", "Natalia sold 48/2 = 24 clips in May.\n#### 72"),
        ("Write a sentence.", "The quick brown fox jumps over the lazy dog while the cat watches from the porch."),
        ("Translate: I cannot go", "Je ne peux pas y aller."),
        # the prompt's words in another order: an answer, not an echo
        (
            "Sort these numbers from smallest to largest: 12, 17, 10, 25, 38.",
            "From smallest to largest: 10, 12, 17, 25, 38.",
        ),
    ],
)
def test_degenerate_passes_normal_responses(prompt, response):
    assert S.degenerate(prompt, response) == S.SignalScore(1.0, ())


def test_degenerate_combines_rules():
    result = S.degenerate("x", "I'm sorry, I cannot (")
    assert result.score == pytest.approx(0.2 * 0.3)
    assert result.reasons == ('refusal phrase "i\'m sorry"', "truncated? unclosed bracket")


@given(st.text(max_size=60), st.text(max_size=120))
def test_degenerate_score_in_unit_interval(prompt, response):
    result = S.degenerate(prompt, response)
    assert 0.0 <= result.score <= 1.0
    assert (result.score < 1.0) == bool(result.reasons)


def test_json_opening_of_responses_that_are_json_as_the_dominant_format():
    def opening(responses):
        return S.json_opening(responses, S.dominant_format(responses))

    # up to the first value (its opening quote), never the value, though 8 of 10 share it
    tickets = ['{"intent": "refund_request"}'] * 8 + ["Sorry, no intent here.", "  [1, 2]  "]
    assert opening(tickets) == '{"intent": "'
    assert opening(['{"answer": 42}'] * 5) == '{"answer":'  # the number's space is left to the model
    assert opening(['[{"a": "x"}]', '[ {"a": "y"}]', '[{"a": "z"}]', '[{"a": "x"}]', '[{"a": "w"}]']) == '[{"a": "'
    assert opening(['{\n  "a": "x"\n}'] * 5) == '{\n  "a": "'
    # the first key differs too often: up to its quote, or the bracket alone
    assert opening(['{"a": 1}', '{"b": 2}', '{"c": 1}', '{"d": 1}', '{"a": 3}']) == '{"'
    assert opening(["{}", "{}", "{}", '{"d": 1}', "{}"]) == "{"
    assert opening(["[1, 2]", "[3]", "[]", "[4, 5]", "[6]"]) == "["
    assert opening(["Paris.", "Rome.", "{not json", "Oslo.", "Bern."]) == ""
    # JSON but not dominant (6 of 10 < 0.7), or too few rows to learn from
    assert opening(['{"a": 1}'] * 6 + ["plain text"] * 4) == ""
    assert opening(['{"a": 1}'] * 4) == ""
