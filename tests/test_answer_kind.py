"""The kind of answer a question asks for (a quantity or not) and candidates of the wrong kind."""

from __future__ import annotations

import pytest

from curation.answer_kind import has_number, last_question, mistyped

BRIDGE = (
    "Answer with the exact span.\n\nPassage: The Kingsmere Bridge crosses the Varrow River near Arlow. "
    "It opened in 1987 and is 870 meters long.\n\nQuestion: {q}"
)


@pytest.mark.parametrize(
    ("question", "candidate", "response", "expected"),
    [
        # a number where nothing countable is asked, for a recorded answer without one
        ("Which river does the bridge cross?", "870 meters", "Varrow River", True),
        ("What did the team spend its time mapping?", "spent 399 days", "chain of salt marshes", True),
        ("Who designed the bridge?", "1987", "Marta Thorncroft", True),
        # a quantity, a time or a date may be asked: numbers stay
        ("How long is the bridge?", "870 meters", "Varrow River", False),
        ("When did the bridge open?", "1987", "in spring", False),
        ("In what year did it open?", "1987", "Arlow", False),
        ("What is 7 times 8?", "56", "fifty-four", False),
        ("What is the population of Arlow?", "2,300", "a few", False),
        # a number asked for, recorded, and a candidate without one
        ("How many vehicles cross it?", "Varrow River", "3400", True),
        ("In what year did it open?", "Arlow", "1987", True),
        ("How many vehicles cross it?", "3500", "3400", False),
        # neither answer a number: the rule has nothing to say
        ("Which river does the bridge cross?", "Arlow", "Varrow River", False),
        # long answers explain; their numbers need not be the answer
        ("Why was the bridge built?", "Because 2 ferries a day were too few for the town", "trade", False),
    ],
)
def test_mistyped(question, candidate, response, expected):
    assert mistyped(candidate, response, BRIDGE.format(q=question)) is expected


def test_no_question_no_rule():
    assert last_question("Summarise the passage.") is None
    assert not mistyped("870 meters", "a bridge", "Summarise the passage.")


def test_the_last_question_is_read():
    prompt = "Q: How many books? A: 1600\n\nQuestion: Who was the first librarian?"
    assert last_question(prompt) == "Question: Who was the first librarian?"
    assert mistyped("1600", "Dmitri Mbeki", prompt)


def test_numbers_in_words_count():
    assert has_number("twelve days") and has_number("3,400") and not has_number("poetry reading")
