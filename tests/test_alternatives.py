"""Auto-Correct's alternatives by hand: the dataset's shape, majority, prompt spans, candidates and those dropped."""

from __future__ import annotations

import pytest

from curation.alternatives import (
    CLOSED_SET_MAX_MEMBERS,
    DatasetShape,
    alternatives,
    dataset_shape,
    echoes_dropped,
    majority,
    mistyped_dropped,
    rephrasings_dropped,
    snap_to_spans,
)

LABELS = ['{"label": "spam"}', '{"label": "ham"}']


def test_a_small_set_of_repeated_responses_is_a_closed_set():
    responses = [LABELS[0]] * 5 + [LABELS[1]] * 4 + ['{"label": "sp', "whatever"]  # 9 of 11 in the set
    shape = dataset_shape(["p"] * len(responses), responses)
    assert shape.closed_set == tuple(LABELS) and not shape.extractive and not shape.reasoning
    assert "closed set of 2 responses covering 82%" in shape.note


def test_members_are_compared_as_json_and_keep_their_most_common_wording():
    responses = ['{"label": "spam"}'] * 3 + ['{ "label" : "spam" }'] + ['{"label": "ham"}'] * 2
    assert dataset_shape(["p"] * 6, responses).closed_set == ('{"label": "spam"}', '{"label": "ham"}')


def test_varied_responses_fall_back_and_say_why():
    responses = [f"answer number {i}" for i in range(20)]
    shape = dataset_shape(["p"] * 20, responses)
    assert shape.closed_set == () and not shape.extractive
    assert "not a closed set (0 repeated responses cover 0%" in shape.note
    assert "not extractive (0% of responses are spans of their prompt; needs 70%)" in shape.note


def test_too_many_members_is_not_a_closed_set():
    responses = [f"label {i // 2}" for i in range(2 * (CLOSED_SET_MAX_MEMBERS + 1))]
    assert dataset_shape(["p"] * len(responses), responses).closed_set == ()


def test_spans_of_the_prompt_make_an_extractive_dataset_and_final_lines_reasoning():
    prompts = [f"Passage: the key is under the mat {i}. Question: where is the key?" for i in range(10)]
    spans = ["under the mat"] * 7 + ["in the car", "on the roof", "nowhere"]
    shape = dataset_shape(prompts, spans)
    assert shape.extractive and "extractive (70% of responses are spans" in shape.note
    assert dataset_shape(["q"] * 4, ["2 + 2 = 4\n#### 4", "#### 5", "six", "#### 7"]).reasoning


@pytest.mark.parametrize(
    "answers, expected",
    [
        (["56", "56", "54", "56"], ("56", 3)),
        (["56", "54"], None),  # no two agree
        (["$56.", "56", "fifty"], ("$56.", 2)),  # numbers match numerically; the first wording is kept
        (["a", "b", "b", "a"], ("a", 2)),  # a tie goes to the earliest
        ([], None),
        (["", "", "x"], None),  # empty answers never win
    ],
)
def test_majority(answers, expected):
    assert majority(answers) == expected


PASSAGE = "The 1878 expedition was led by Bruno Varga. Their ship returned with samples of red seaweed."


def test_a_sample_snaps_to_the_span_it_overlaps_most_then_one_word_either_way():
    assert snap_to_spans("the red seaweed", PASSAGE) == [
        "red seaweed",
        "seaweed",
        "red",
        "of red seaweed",
    ]  # the last word ends the prompt
    assert snap_to_spans("Bruno Varga", PASSAGE, variants=False) == ["Bruno Varga"]


def test_a_sample_with_too_little_overlap_snaps_to_nothing():
    assert snap_to_spans("the bridge was built in 1890 by the town", PASSAGE) == []
    assert snap_to_spans("", PASSAGE) == [] and snap_to_spans("x", "") == []


def test_alternatives_by_shape_without_repeats_or_the_response_itself():
    closed = DatasetShape(tuple(LABELS), False, False, "")
    assert alternatives(LABELS[0], ['{"label":"spam"}'] * 3, "p", closed) == [(LABELS[1], "closed_set")]
    open_set = DatasetShape((), False, False, "")
    assert alternatives("54", ["56", "56", "54"], "7 x 8?", open_set) == [("56", "samples")]
    assert alternatives("54", ["56", "56"], "7 x 8?", open_set, sources=("few_shot",)) == []
    reasoning = DatasetShape((), False, True, "")
    assert alternatives("...\n#### 54", ["56", "56"], "7 x 8?", reasoning) == []  # bare answers only vote
    spans = DatasetShape((), True, False, "")
    found = alternatives("Bruno", ["Bruno Varga", "Bruno Varga"], PASSAGE, spans)
    assert found[0] == ("Bruno Varga", "extractive") and ("Bruno Varga", "samples") not in found
    assert all(source == "extractive" for _, source in found) and ("Bruno", "extractive") not in found


def test_spans_stay_within_one_sentence():
    passage = "The bakery opened in 1956.\n\nQuestion: When did the bakery open?"
    assert snap_to_spans("1956", passage) == ["1956", "in 1956"]  # not "1956.\n\nQuestion"


CHILE = "Name the capital city of Chile."


def test_rephrasings_of_a_sound_response_are_dropped_but_form_fixes_stay():
    found = [("The capital of Chile is Santiago.", "few_shot"), ("Valparaiso.", "samples")]
    assert rephrasings_dropped(found, "Santiago.", CHILE, fired=[]) == [("Valparaiso.", "samples")]
    assert rephrasings_dropped(found, "Santiago.", CHILE, fired=["likelihood"]) == [("Valparaiso.", "samples")]
    assert rephrasings_dropped(found, "Santiago.", CHILE, fired=["ending"]) == found  # a cut-off answer
    cut = [("Marta Lindqvist", "extractive")]
    assert rephrasings_dropped(cut, "Marta L", "Who led it?", fired=["ending"]) == cut


def test_candidates_that_repeat_the_question_are_dropped_where_answers_are_not_its_spans():
    open_answers = dataset_shape(["q"] * 3, ["Santiago.", "Rome.", "Lima."])
    found = [("Chile", "samples"), ("Santiago", "few_shot"), ("Chile", "repair")]
    assert echoes_dropped(found, CHILE, open_answers) == [("Santiago", "few_shot"), ("Chile", "repair")]
    choice = "Which is larger, France or Spain?"
    assert echoes_dropped([("France", "samples")], choice, open_answers) == [("France", "samples")]
    passage = "Passage: Marta Lindqvist led the team. Question: Who led it?"
    spans = dataset_shape([passage] * 3, ["Marta Lindqvist"] * 3)
    assert spans.extractive
    assert echoes_dropped([("Marta Lindqvist", "extractive")], passage, spans) == [("Marta Lindqvist", "extractive")]


def test_candidates_of_another_kind_than_the_question_asks_are_dropped():
    passage = (
        "Passage: A team of 38 explorers spent 399 days mapping the chain of salt marshes.\n\n"
        "Question: What did the team spend its time mapping?"
    )
    found = [("399 days", "extractive"), ("salt marshes", "extractive"), ("399 days", "repair")]
    assert mistyped_dropped(found, "chain of salt marshes", passage) == found[1:]
    # a quantity asked for: numbers stay; a recorded number is never replaced by a name
    asked = passage.replace("What did the team spend its time mapping?", "How many days did they spend?")
    assert mistyped_dropped([("399 days", "extractive")], "38", asked) == [("399 days", "extractive")]
    assert mistyped_dropped([("salt marshes", "samples")], "38", asked) == []
