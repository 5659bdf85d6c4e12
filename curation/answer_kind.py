"""Whether a short answer is of the kind its question asks for: a quantity or not (pure).

In: a prompt (its last question is read) and two short answers, the recorded one and a
candidate. Out: whether the candidate answers a different kind of question than the one
asked while the recorded response answers the one asked.

A 0.5B model likes numbers: asked ``What did the team spend its time mapping?`` over a
passage that says ``spent 399 days mapping the chain of salt marshes``, it gives ``399 days``
a likelihood of 0.81 against the recorded span's 0.06. No margin tells that apart; the
question's words do. Only the kind is read (a quantity or not), from cues any factoid question
carries (``how many``, ``when``, ``what year``, a quantity's noun, a digit); a question with
any cue of a quantity is never read as asking for something else. Answers longer than
:data:`SHORT_ANSWER_WORDS` words are left alone: an explanation's numbers need not be its answer.
"""

from __future__ import annotations

import re

#: An answer of at most this many words is a factoid answer whose kind the question fixes.
SHORT_ANSWER_WORDS = 6

_QUESTION = re.compile(r"[^.!?\n]*\?")
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand million billion dozen half"
)
_HAS_NUMBER = re.compile(r"\d|\b(?:" + "|".join(_NUMBER_WORDS.split()) + r")\b", re.IGNORECASE)
#: A question that may ask for a quantity, a time or a date (broad on purpose).
_QUANTITY_CUE = re.compile(
    r"\d|\bhow\s+(?:many|much|long|old|far|tall|high|deep|wide|big|large|heavy|often|fast|soon)\b|\bwhen\b|"
    r"\bwhat\s+time\b|\btimes\b|\b(?:year|month|day|date|age|number|percent|percentage|population|amount|price|cost|size|"
    r"length|height|width|depth|weight|distance|temperature|speed|score|total|count|rate|sum|"
    r"difference|product|ratio|hours?|minutes?|seconds?|days|weeks|years|decade|century)\b",
    re.IGNORECASE,
)
#: A question whose answer must hold a number.
_NUMBER_ASKED = re.compile(r"\bhow\s+(?:many|much|old)\b|\b(?:what|which)\s+year\b", re.IGNORECASE)


def last_question(prompt: str) -> str | None:
    """The prompt's last question (the text up to its last ``?``), None when it asks none."""
    found = _QUESTION.findall(prompt)
    return found[-1].strip() if found else None


def has_number(text: str) -> bool:
    """Whether ``text`` holds a number, in digits or words."""
    return bool(_HAS_NUMBER.search(text))


def short(text: str) -> bool:
    return len(text.split()) <= SHORT_ANSWER_WORDS


def mistyped(candidate: str, response: str, prompt: str) -> bool:
    """Whether ``candidate`` answers another kind of question than the prompt's last one while
    the recorded ``response`` answers that kind: a number where nothing countable is asked
    (``399 days`` for ``What did the team spend its time mapping?``), or none where a number is
    (``Lanfield`` for ``How many members ...?`` over ``23``). Short answers only."""
    question = last_question(prompt)
    if question is None or not (short(candidate) and short(response)):
        return False
    if has_number(candidate) and not has_number(response) and not _QUANTITY_CUE.search(question):
        return True
    return bool(_NUMBER_ASKED.search(question)) and has_number(response) and not has_number(candidate)
