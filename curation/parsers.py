"""How the library reads what a model replies (pure): one parser per judgement of
:mod:`curation.prompts`, each giving a typed result.

- **Sampling**: :func:`parse_answer` reads the part after the last ``answer:``.
- **Self-reflection**: :func:`parse_reflection` maps A/B/C to 1/0/0.5 by meaning (the swapped
  question's letters through :data:`curation.prompts.SWAPPED_MEANING`), or weighs them by
  their first-token probabilities (:func:`choice_probabilities`).
- **Judge**: :func:`parse_judge`; the caller combines both orders with
  :func:`curation.confidence.judge_confidence`.
- **Equivalence**: :func:`parse_equivalence`.
- **Is an explanation a reason?** :func:`explanation_problem` (display only: no score reads it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from curation.prompts import SWAPPED_MEANING

#: What each reflection / judge letter is worth (A = correct / second better).
CHOICE_SCORES = {"A": 1.0, "B": 0.0, "C": 0.5}


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAnswer:
    """A sampled reply split into its answer and explanation; ``ok`` is False when no
    ``answer:`` label was found (then ``answer`` is the whole stripped reply)."""

    answer: str
    explanation: str
    ok: bool


@dataclass(frozen=True)
class Reflection:
    """A self-reflection verdict. ``score`` in [0, 1], higher = the proposed answer is more
    likely correct; 0.5 with ``parsed=False`` when the reply could not be read. ``weighted``
    is True when the score came from token probabilities rather than the text."""

    score: float
    verdict: str | None
    explanation: str
    parsed: bool
    weighted: bool


@dataclass(frozen=True)
class JudgeVerdict:
    """A judge verdict. ``p_second_better`` in [0, 1] is the probability that response 2 is
    better than response 1 (C, "equal or not sure", counts half); 0.5 when unparsed."""

    p_second_better: float
    verdict: str | None
    explanation: str
    parsed: bool
    weighted: bool = False


# --- sampled answers -----------------------------------------------------------------

_LABEL = r"(?<![A-Za-z])(?:\*\*|__)?{word}(?:\s*(?:\*\*|__))?\s*(?::|\s[-\u2013\u2014](?=\s))(?:\s*(?:\*\*|__))?"
_ANSWER_LABEL = re.compile(_LABEL.format(word="answer"), re.IGNORECASE)
_EXPLANATION_LABEL = re.compile(r"^\s*" + _LABEL.format(word="explanation"), re.IGNORECASE)
_WRAPPERS = "*_`\"'\u201c\u201d\u2018\u2019 \t\n"


def _clean_answer(text: str) -> str:
    text = text.strip().strip(_WRAPPERS).rstrip(".").strip().strip(_WRAPPERS)
    # "[42]": the template's brackets copied; a real JSON array keeps them ("[1, 2]", '["a"]').
    if len(text) > 2 and text[0] == "[" and text[-1] == "]" and not any(c in text[1:-1] for c in '[]{}",'):
        text = text[1:-1].strip()
    return text


def _clean_explanation(text: str) -> str:
    text = _EXPLANATION_LABEL.sub("", text, count=1)
    return text.strip().rstrip(",;").strip()


def parse_answer(text: str) -> ParsedAnswer:
    """Split a sampled reply at its last ``answer:`` label.

    Accepted: ``explanation: ..., answer: X`` and variants: any case, ``**Answer:** X``,
    ``**Answer**: X``, ``Answer - X``, ``Answer: "X".`` (quotes, markdown and trailing periods
    around X are removed, and the template's brackets in ``answer: [X]`` unless X looks like
    JSON: containing ``[]{}",``). An explanation on a later line (``answer: X\nExplanation:
    ...``, the answer-first template, whose stop sequence a capitalised label slips past) is
    not part of the answer. Without a label, ``ok`` is False and the answer is the whole
    stripped reply up to such an explanation.
    """
    matches = list(_ANSWER_LABEL.finditer(text))
    if not matches:
        return ParsedAnswer(answer=_before_explanation(text).strip(), explanation="", ok=False)
    last = matches[-1]
    return ParsedAnswer(
        answer=_clean_answer(_before_explanation(text[last.end() :])),
        explanation=_clean_explanation(text[: last.start()]),
        ok=True,
    )


_LATER_EXPLANATION = re.compile(r"\n\s*" + _LABEL.format(word="explanation"), re.IGNORECASE)


def _before_explanation(text: str) -> str:
    found = _LATER_EXPLANATION.search(text)
    return text[: found.start()] if found else text


# --- self-reflection -------------------------------------------------------------------

_CHOICE_AFTER_LABEL = re.compile(
    r"\s*(?:is\s+)?[\(\[\"'`*]*\s*"
    r"(?:(?P<letter>[ABC])(?![A-Za-z])|(?P<word>incorrect|correct|not\s+sure|unsure|uncertain))",
    re.IGNORECASE,
)
_BARE_CHOICE = re.compile(r"^[\s\(\[\"'`*]*(?P<letter>[ABC])(?![A-Za-z])")
_BARE_LOWER = re.compile(r"^[\s\(\[\"'`*]*(?P<letter>[abc])[\s\)\]\"'`*.]*$")
_ANSWER_IS = re.compile(r"\b(?:answer|choice)\s+is\s*:?\s*[\(\[\"'`*]*\s*(?P<letter>[ABC])(?![A-Za-z])", re.IGNORECASE)
_PAREN_LETTER = re.compile(r"\(([ABC])\)")
_AFTER_CHOICE = " .,;:)]*\"'`\n"
_WORD_CHOICE = {"incorrect": "B", "correct": "A", "not sure": "C", "unsure": "C", "uncertain": "C"}


def _choice_from_match(m: re.Match, meaning: Mapping[str, str]) -> str:
    if m.group("letter"):
        return meaning[m.group("letter").upper()]
    return _WORD_CHOICE[re.sub(r"\s+", " ", m.group("word").lower())]


def _text_choice(text: str, meaning: Mapping[str, str]) -> tuple[str | None, str]:
    """The choice a reply made (a letter read through ``meaning``; a word such as
    "incorrect" as its letter in the paper's order) and its explanation, from the text alone."""
    found = []
    for label in _ANSWER_LABEL.finditer(text):
        m = _CHOICE_AFTER_LABEL.match(text, label.end())
        if m:
            found.append((label, m))
    if found:
        # A reply that opens with its answer is letter-first: the first label is the verdict.
        letter_first = not text[: found[0][0].start()].strip(" *_\n")
        label, m = found[0] if letter_first else found[-1]
        rest = text[m.end() :] if letter_first else text[: label.start()]
        return _choice_from_match(m, meaning), _clean_explanation(rest.lstrip(_AFTER_CHOICE))
    letters = set(_PAREN_LETTER.findall(text))
    if len(letters) > 1:  # "(A) or (B)": no single choice
        return None, text.strip()
    m = _BARE_CHOICE.match(text) or _BARE_LOWER.match(text) or _ANSWER_IS.search(text)
    if m:
        return meaning[m.group("letter").upper()], _clean_explanation(text[m.end() :].lstrip(_AFTER_CHOICE))
    return (meaning[letters.pop()], text.strip()) if letters else (None, text.strip())


def _token_choice(token: str, choices: Mapping[str, str]) -> str | None:
    core = token.strip().strip("()[]{}.:,;*\"'`").strip()
    return choices.get(core)


_PREFIX_OK = re.compile(r"(?:^|answer\s*(?:\*\*|__)?\s*[:\-])[\s\(\[\"'`*:]*$", re.IGNORECASE)


def choice_probabilities(
    top_logprobs: Iterable[Mapping[str, float]], choices: Mapping[str, str]
) -> dict[str, float] | None:
    """Probabilities of each choice at the position where the reply gives its choice.

    That position is the first whose most likely token is a choice and whose preceding
    most-likely tokens are empty, punctuation, or end with an ``answer:`` label (so an
    explanation that happens to start with "A" is not read as a verdict; this assumes
    greedy decoding). Tokens are matched after removing spaces and surrounding brackets and
    punctuation (" A", "A)", "(A" all mean A); ``choices`` maps a token core to a choice
    name. Variants of one choice at that position are summed. Returns ``None`` when no
    position qualifies (the text verdict is used then).
    """
    prefix = ""
    for position in top_logprobs:
        if not position:
            return None
        best = max(position, key=position.__getitem__)
        if _token_choice(best, choices) is not None and _PREFIX_OK.search(prefix):
            probs: dict[str, float] = {}
            for token, logprob in position.items():
                name = _token_choice(token, choices)
                if name is not None and math.isfinite(logprob):
                    probs[name] = probs.get(name, 0.0) + math.exp(logprob)
            return probs
        prefix += best
    return None


_ABC = {"A": "A", "B": "B", "C": "C"}


def _weighted_abc(top_logprobs: Iterable[Mapping[str, float]], meaning: Mapping[str, str]) -> float | None:
    probs = choice_probabilities(top_logprobs, meaning)
    if not probs:
        return None
    total = sum(probs.values())
    if total <= 0.0:
        return None
    return min(1.0, max(0.0, (probs.get("A", 0.0) + 0.5 * probs.get("C", 0.0)) / total))


def parse_reflection(
    text: str, top_logprobs: tuple[Mapping[str, float], ...] = (), *, swapped: bool = False
) -> Reflection:
    """Read a self-reflection reply; score in [0, 1], higher = proposed answer correct.

    Text accepted: ``answer: A`` anywhere (any case, ``**Answer:** A.``, ``answer: (B)
    incorrect``, ``Answer - C``, ``answer: Correct`` / ``Incorrect`` / ``not sure``), a reply
    that is just the letter (``A``, ``(A)``, ``A) Correct``), in either order with the
    explanation. A = 1, B = 0, C = 0.5. With ``top_logprobs``, the score is
    ``(P(A) + 0.5 P(C)) / (P(A) + P(B) + P(C))`` at the first position whose top token is a
    letter (``weighted=True``). Neither: 0.5 with ``parsed=False``. ``swapped``: the question
    offered :data:`SWAPPED_OPTIONS`; its letters are read by meaning, so the score and the
    verdict (in the paper's letters) mean the same as for an unswapped question.
    """
    meaning = SWAPPED_MEANING if swapped else _ABC
    verdict, explanation = _text_choice(text, meaning)
    weighted = _weighted_abc(top_logprobs, meaning)
    if weighted is not None:
        return Reflection(weighted, verdict, explanation, parsed=True, weighted=True)
    if verdict is None:
        return Reflection(0.5, None, explanation, parsed=False, weighted=False)
    return Reflection(CHOICE_SCORES[verdict], verdict, explanation, parsed=True, weighted=False)


# --- judge -------------------------------------------------------------------------------

_JUDGE_YES_NO = re.compile(r"(?:^[\s*_`\"'(\[]*|answer\W*[:\-]\W*)(?P<word>yes|no)\b", re.IGNORECASE)


def parse_judge(text: str, top_logprobs: tuple[Mapping[str, float], ...] = ()) -> JudgeVerdict:
    """Read a judge reply: same accepted forms as :func:`parse_reflection`, where A = response
    2 is better (1.0), B = response 1 is better (0.0), C = equal or not sure (0.5); weighted by
    letter probabilities when given; ``answer: yes`` / ``no`` (or a reply starting with yes /
    no) read as A / B; 0.5 with ``parsed=False`` when unreadable."""
    r = parse_reflection(text, top_logprobs)
    if not r.parsed:
        m = _JUDGE_YES_NO.search(text)
        if m:
            verdict = "A" if m.group("word").lower() == "yes" else "B"
            return JudgeVerdict(CHOICE_SCORES[verdict], verdict, r.explanation, parsed=True)
    return JudgeVerdict(r.score, r.verdict, r.explanation, r.parsed, r.weighted)


# --- equivalence ---------------------------------------------------------------------

_YES_NO = {"yes": "yes", "Yes": "yes", "YES": "yes", "no": "no", "No": "no", "NO": "no"}
_TEXT_YES_NO = re.compile(r"^[\s*_`\"'(\[]*(?:answer\s*:\s*)?(?P<word>yes|no)\b", re.IGNORECASE)


def parse_equivalence(text: str, top_logprobs: tuple[Mapping[str, float], ...] = ()) -> float:
    """P(the answers are equivalent) in [0, 1].

    From token probabilities, ``P(yes) / (P(yes) + P(no))`` at the first position whose top
    token is yes/no (any of ``yes``, ``Yes``, ``YES``, with spaces or punctuation); else the
    reply's first word: yes = 1.0, no = 0.0; anything else 0.5.
    """
    probs = choice_probabilities(top_logprobs, _YES_NO)
    if probs and sum(probs.values()) > 0.0:
        return min(1.0, max(0.0, probs.get("yes", 0.0) / sum(probs.values())))
    m = _TEXT_YES_NO.match(text)
    if m is None:
        return 0.5
    return 1.0 if m.group("word").lower() == "yes" else 0.0


# --- is an explanation a reason? (display only; scores are untouched) -----------------

#: What a model echoes from the templates instead of explaining (compared lower-cased,
#: without brackets, quotes or punctuation around it).
TEMPLATE_ECHOES = frozenset(
    {
        "explanation",
        "explanation explanation",
        "analysis",
        "answer",
        "insert analysis",
        "insert a short analysis",
        "insert step-by-step analysis",
        "provide your answer",
        "your explanation",
        "explanation here",
    }
)
_SAYS_WRONG = re.compile(
    r"\b(?:incorrect|wrong|inaccurate|invalid|(?:an?|the)\s+(?:error|mistake)"
    r"|not\s+(?:\w+\s+)?(?:correct|right|accurate|valid)"
    r"|(?:is|are)n['\u2019]t\s+(?:\w+\s+)?(?:correct|right|accurate))\b",
    re.IGNORECASE,
)
_SAYS_RIGHT = re.compile(
    r"\b(?:(?:is|are|was)\s+(?:\w+\s+)?(?:correct|right|accurate|valid)|correctly)\b", re.IGNORECASE
)
_SAYS_UNSURE = re.compile(
    r"\b(?:not\s+(?:\w+\s+)?sure|unsure|uncertain|unclear|ambiguous|cannot|can['\u2019]?t|could|may|might"
    r"|possibly|perhaps|probably|likely|seems?|appears?|depends?|assum\w*|if)\b",
    re.IGNORECASE,
)
_SAYS_BETTER = re.compile(
    r"\bresponse\s*(?P<n>1|2|one|two)\b[^.;]{0,20}?\b(?:is|was)\s+(?:\w+\s+)?"
    r"(?:better|preferable|superior|more\s+(?:correct|accurate|complete|helpful|relevant))",
    re.IGNORECASE,
)
_RESPONSE_NUMBER = {"1": "1", "one": "1", "2": "2", "two": "2"}


def explanation_problem(
    verdict: str | None, explanation: str, *, parsed: bool = True, judge: bool = False
) -> str | None:
    """Why a reflection's (or, ``judge``, a judge's) explanation must not be shown as the
    reason for its verdict, or None when it may be.

    ``verdict`` is in the paper's letters (reflection: A correct, B incorrect, C not sure;
    judge: A response 2 better, B response 1 better, C equal). Unreadable: no verdict could
    be read (``parsed`` False); the text is only a template word ("explanation") or has no
    letter at all; the text contradicts the verdict in clear words: a reflection A saying
    "wrong" / "incorrect" and nothing right, B saying "is correct" and nothing wrong or
    unsure, C saying one of them plainly with no hedge; a judge naming the other response as
    better. An empty explanation of a parsed verdict is no problem (a letter-only reply has
    none by design). Pure: the score is not touched.
    """
    text = explanation.strip()
    if not parsed:
        return "no verdict could be read" if text else "no reply could be read"
    if not text:
        return None
    core = re.sub(r"[^\w\s-]", " ", text.lower()).split()
    if " ".join(core) in TEMPLATE_ECHOES:
        return "the template's placeholder echoed, not an explanation"
    if not any(ch.isalpha() for ch in text):
        return "no words"
    if judge:
        return _judge_contradiction(verdict, text)
    wrong = bool(_SAYS_WRONG.search(text))
    right = bool(_SAYS_RIGHT.search(_SAYS_WRONG.sub(" ", text)))
    unsure = bool(_SAYS_UNSURE.search(text))
    if verdict == "A" and wrong and not right:
        return "verdict 'correct' but the text says the answer is wrong"
    if verdict == "B" and right and not (wrong or unsure):
        return "verdict 'incorrect' but the text says the answer is correct"
    if verdict == "C" and wrong != right and not unsure:
        return f"verdict 'not sure' but the text says the answer is {'wrong' if wrong else 'correct'}"
    return None


def _judge_contradiction(verdict: str | None, text: str) -> str | None:
    said = {_RESPONSE_NUMBER[m.group("n").lower()] for m in _SAYS_BETTER.finditer(text)}
    expected = {"A": "2", "B": "1"}.get(verdict or "")
    if expected and said == {"1", "2"} - {expected}:
        return f"verdict 'response {expected} is better' but the text says response {said.pop()} is"
    return None
