"""Cheap rule signals that need no generation: format rules, degenerate text, arithmetic.

In: response texts (and prompt text). Out: scores in [0, 1], higher = the response looks
fine, with short reasons when a rule fires. They are meant to be combined with the LLM
confidence by :func:`curation.stats.rank_average`; on a 0.5B model, rank-averaging likelihood
with these rules beat every single signal (see METHOD.md). The likelihood, IFD and ending of a
teacher-forced pass are :mod:`curation.likelihood_signals`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

from curation.arithmetic import wrong as wrong_equations


class SignalScore(NamedTuple):
    """A score in [0, 1] (1 = looks fine) and why it is lower, if it is."""

    score: float
    reasons: tuple[str, ...] = ()


#: Fewest responses a pattern is learnt from; below it every response scores 1.
MIN_ROWS = 5
#: Share of responses that must follow a pattern before breaking it counts.
DOMINANCE = 0.7
#: A response of at most this many words is "short".
SHORT_WORDS = 8

# Each feature: (name, weight); a broken pattern multiplies the score by 1 - weight * share.
_WEIGHTS = {"shape": 0.9, "keys": 0.8, "final": 0.9, "length": 0.5, "start": 0.3, "end": 0.3}
_FINAL_LINE = re.compile(r"(?:^|\n)[ \t]*####[ \t]*[-+]?\$?[\d,]*\.?\d+[ \t]*$")


def _json_shape(text: str) -> tuple[str, frozenset[str] | None]:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return "text", None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return "text", None
    if isinstance(value, dict):
        return "JSON object", frozenset(value)
    return ("JSON array", None) if isinstance(value, list) else ("text", None)


def _char_class(ch: str) -> str:
    if ch.isdigit():
        return "a digit"
    if ch.isalpha():
        return "an upper-case letter" if ch.isupper() else "a lower-case letter"
    return repr(ch)


def _end_class(text: str) -> str:
    if not text:
        return "nothing"
    if text[-1] in ".!?" or re.search(r"[.!?][\"')\]]+$", text):
        return "sentence punctuation"
    if text[-1] in "}])\"'`":
        return "a closing mark"
    return _char_class(text[-1])


def _features(text: str) -> dict[str, object]:
    stripped = text.strip()
    shape, keys = _json_shape(stripped)
    return {
        "shape": shape,
        "keys": keys,
        "final": "a '#### N' final line" if _FINAL_LINE.search(stripped) else "no '#### N' final line",
        "length": f"short (<= {SHORT_WORDS} words)"
        if len(stripped.split()) <= SHORT_WORDS
        else f"long (> {SHORT_WORDS} words)",
        "start": "starts with " + (_char_class(stripped[0]) if stripped else "nothing"),
        "end": "ends with " + _end_class(stripped),
    }


def _describe(feature: str, value: object) -> str:
    if feature == "keys":
        return "JSON keys {" + ", ".join(sorted(value)) + "}"  # type: ignore[arg-type]
    return str(value)


#: A dataset's dominant format (:func:`dominant_format`): per pattern, the value shared by at
#: least the dominance share of the responses, and that share.
DominantFormat = dict[str, tuple[object, float]]


def dominant_format(
    responses: Sequence[str], *, dominance: float = DOMINANCE, min_rows: int = MIN_ROWS
) -> DominantFormat:
    """Learn the dataset's dominant format from ``responses``.

    Patterns: shape (JSON object / JSON array / text); among JSON objects, the key set; a
    ``#### N`` final line or not; short (<= 8 words) or long; the first character's class;
    the last character's class. A pattern is dominant where one value is shared by at least
    ``dominance`` of the rows (JSON objects only, for the key set); none is with fewer than
    ``min_rows`` rows.

    Raises:
        ValueError: ``dominance`` is not in (0.5, 1].
    """
    if not 0.5 < dominance <= 1.0:
        raise ValueError(f"dominance must be in (0.5, 1], got {dominance!r}")
    rows = [_features(r) for r in responses]
    dominant: DominantFormat = {}
    for feature in _WEIGHTS:
        values = [row[feature] for row in rows if feature != "keys" or row["shape"] == "JSON object"]
        if len(values) < min_rows:
            continue
        value, count = Counter(values).most_common(1)[0]
        if count / len(values) >= dominance:
            dominant[feature] = (value, count / len(values))
    return dominant


#: The first character of each JSON shape.
_JSON_OPENINGS = {"JSON object": "{", "JSON array": "["}
#: A JSON response's structure up to its first value: the bracket(s), the first key and, for
#: a string value, its opening quote (``{"intent": "``). A value itself is never included.
_FIRST_KEY = re.compile(r'\s*((?:\[\s*)?\{\s*"(?:[^"\\\n]|\\.){1,64}"\s*:\s*"?)')
#: The same up to the first key's opening quote (``{"``: one token where the data has it).
_KEY_QUOTE = re.compile(r'\s*((?:\[\s*)?\{\s*")')


def json_opening(responses: Sequence[str], dominant: DominantFormat, *, dominance: float = DOMINANCE) -> str:
    """How the dataset's responses begin where they are JSON as the dominant format: their
    structure up to the first value (``{"intent": "``) where at least ``dominance`` of the
    responses share it, else up to the first key's quote (``{"``) where they share that,
    else the bracket alone (``{`` or ``[``); ``""`` for other formats. The opening ends
    where a value or key starts, on the token boundary the responses themselves have there,
    and never gives one away (trailing spaces are left out)."""
    shape = dominant.get("shape")
    bracket = _JSON_OPENINGS.get(str(shape[0]), "") if shape else ""
    if not bracket:
        return ""
    for pattern in (_FIRST_KEY, _KEY_QUOTE):
        openings = [m.group(1).rstrip() if (m := pattern.match(r)) else "" for r in responses]
        opening, count = Counter(openings).most_common(1)[0]
        if opening.startswith(bracket) and count / len(responses) >= dominance:
            return opening
    return bracket


def format_scorer(
    responses: Sequence[str], *, dominance: float = DOMINANCE, min_rows: int = MIN_ROWS
) -> Callable[[str], SignalScore]:
    """Learn the dataset's dominant format from ``responses`` (:func:`dominant_format`) and
    return a function that scores any response against it (:func:`score_against`).

    Raises:
        ValueError: ``dominance`` is not in (0.5, 1].
    """
    return score_against(dominant_format(responses, dominance=dominance, min_rows=min_rows))


def score_against(dominant: DominantFormat) -> Callable[[str], SignalScore]:
    """A function that scores any response (a candidate correction as well as a recorded
    response) against a dominant format: a response with another value than a dominant
    pattern's has its score multiplied by ``1 - weight * share`` (weights: shape 0.9, keys 0.8,
    final line 0.9, length 0.5, first and last character 0.3); with no dominant pattern every
    score is 1."""

    def score(response: str) -> SignalScore:
        row = _features(response)
        value_score, reasons = 1.0, []
        for feature, (value, share) in dominant.items():
            if feature == "keys" and row["shape"] != "JSON object":
                continue
            if row[feature] != value:
                value_score *= 1.0 - _WEIGHTS[feature] * share
                reasons.append(
                    f"{_describe(feature, row[feature])}, but {share:.0%} of responses: {_describe(feature, value)}"
                )
        return SignalScore(min(1.0, max(0.0, value_score)), tuple(reasons))

    return score


def format_consistency(
    responses: Sequence[str], *, dominance: float = DOMINANCE, min_rows: int = MIN_ROWS
) -> list[SignalScore]:
    """Score how well each response follows the dataset's dominant format
    (:func:`format_scorer` learnt from the same responses).

    Returns:
        One :class:`SignalScore` per response, in order; score in [0, 1], 1 = fits every
        dominant pattern.

    Raises:
        ValueError: ``dominance`` is not in (0.5, 1].
    """
    score = format_scorer(responses, dominance=dominance, min_rows=min_rows)
    return [score(r) for r in responses]


_WORD = re.compile(r"\w+")
_REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|as an ai\b|as a language model|i cannot|i can'?t|i can not|"
    r"i(?:'m| am) (?:unable|not able) to|i won'?t be able)",
)
_DANGLING = {
    "and",
    "or",
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "with",
    "for",
    "is",
    "are",
    "was",
    "were",
    "that",
    "which",
    "but",
    "because",
    "by",
    "on",
    "at",
    "from",
    "as",
    "so",
}
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _truncation(text: str) -> list[str]:
    reasons = []
    if text[0] in "{[" and _json_shape(text)[0] == "text":
        reasons.append("looks like JSON but does not parse")
    if any(text.count(o) > text.count(c) for o, c in _PAIRS.items()):
        reasons.append("unclosed bracket")
    if text.count("```") % 2:
        reasons.append("unclosed code fence")
    words = _WORD.findall(text.lower())
    if len(words) >= 12:
        if text[-1] in ",:;-(" or (text[-1].isalnum() and words[-1] in _DANGLING):
            reasons.append("ends mid-sentence")
        elif text[-1].isalpha() and re.search(r"[.!?]\s", text):
            reasons.append("ends without final punctuation")
    return reasons


def _repetition(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 10]
    if lines and Counter(lines).most_common(1)[0][1] >= 3:
        return True
    words = _WORD.findall(text.lower())
    if len(words) < 12:
        return False
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return len(set(grams)) / len(grams) < 0.5


def _is_echo(prompt_text: str, response: str) -> bool:
    """The response copies the prompt: its words, in the prompt's order (a sorted list of the
    prompt's numbers uses the prompt's words but is an answer, not a copy)."""
    resp_words, prompt_words = _WORD.findall(response.lower()), _WORD.findall(prompt_text.lower())
    resp, prompt = Counter(resp_words), Counter(prompt_words)
    n_resp, n_prompt = sum(resp.values()), sum(prompt.values())
    if n_resp < 5 or n_prompt == 0:
        return False
    common = sum((resp & prompt).values())
    if common / n_resp < 0.9 or common / n_prompt < 0.6:
        return False
    pairs = list(zip(resp_words, resp_words[1:]))
    in_prompt = set(zip(prompt_words, prompt_words[1:]))
    return sum(pair in in_prompt for pair in pairs) / len(pairs) >= 0.9


def degenerate(prompt_text: str, response: str) -> SignalScore:
    """Rules for responses that are broken whatever the task.

    Multipliers: empty or whitespace 0 (and nothing else is checked); a refusal phrase in
    the first 300 characters ("I'm sorry", "as an AI", "I cannot", ...) 0.2; an echo of the
    prompt (>= 5 words, >= 90 % of its words from the prompt, in the prompt's order (90 % of
    its word pairs are the prompt's), and covering >= 60 % of the prompt's words) 0.1;
    truncated-looking (JSON that does not parse, unclosed bracket or
    code fence, a long text ending on a comma or a word like "and"/"the") 0.3, or a long
    multi-sentence text ending on a letter 0.7; repeated text (a line three times, or under
    half of the word 3-grams distinct) 0.3.

    Returns:
        :class:`SignalScore`: score in [0, 1], 1 = nothing fired; a reason per rule fired.
    """
    text = response.strip()
    if not text:
        return SignalScore(0.0, ("empty response",))
    score, reasons = 1.0, []
    refusal = _REFUSAL.search(text[:300].lower().replace("\u2019", "'"))
    if refusal:
        score *= 0.2
        reasons.append(f"refusal phrase {refusal.group(0)!r}")
    if _is_echo(prompt_text, text):
        score *= 0.1
        reasons.append("repeats the prompt")
    truncation = _truncation(text)
    if truncation:
        score *= 0.7 if truncation == ["ends without final punctuation"] else 0.3
        reasons.extend(f"truncated? {r}" for r in truncation)
    if _repetition(text):
        score *= 0.3
        reasons.append("repeated text")
    return SignalScore(score, tuple(reasons))


#: Multiplier when a response states a wrong equation (:mod:`curation.arithmetic`).
ARITHMETIC_WRONG = 0.1


def arithmetic(response: str) -> SignalScore:
    """Rule: every equation the response states is checked (``19 + 17 = 38`` gives 36).

    Returns:
        :class:`SignalScore`: 1 when every checkable equation holds (or none is stated),
        :data:`ARITHMETIC_WRONG` when one does not, with one reason per wrong equation.
    """
    bad = wrong_equations(response)
    if not bad:
        return SignalScore(1.0, ())
    return SignalScore(ARITHMETIC_WRONG, tuple(f"states {e.text} (the arithmetic gives {e.computed:g})" for e in bad))


__all__ = [
    "SignalScore",
    "MIN_ROWS",
    "DOMINANCE",
    "SHORT_WORDS",
    "DominantFormat",
    "dominant_format",
    "score_against",
    "format_scorer",
    "json_opening",
    "format_consistency",
    "degenerate",
]
