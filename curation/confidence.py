"""BSDetector's confidence maths: answers compared, consistency, reflection, their combination; all pure.

In: plain values (answer strings, per-question reflection scores). Out: floats in [0, 1],
higher = the dataset response is more likely correct (:func:`judge_confidence`: higher = the
candidate is better). The tools that combine and evaluate columns of scores (ranks, AUROC,
thresholds) are :mod:`curation.stats`.

- Observed consistency ``O = mean_i [alpha * sim(sample_i, y) + (1 - alpha) * match(sample_i, y)]``
  with :func:`answers_match` as the exact-match indicator and a pluggable similarity
  (:data:`Similarity`; default :func:`token_jaccard`).
- Self-reflection certainty ``S = mean`` of the reflection scores (A = 1, B = 0, C = 0.5).
- Confidence ``C = beta * O + (1 - beta) * S``, or whichever part exists.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

#: A similarity between a sample and the reference answer, in [0, 1] (1 = same meaning).
Similarity = Callable[[str, str], float]

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_FINAL_NUMBER = re.compile(r"####\s*\$?\s*(?P<num>[-+]?[\d,]*\.?\d+)")
_NUMBER = re.compile(r"^\s*\$?\s*(?P<num>[-+]?[\d,]*\.?\d+)\s*\.?\s*$")
_ANY_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w.]*\d)")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)
_TOLERANCE = 1e-9


def normalize_answer(s: str) -> str:
    """Lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace (SQuAD)."""
    s = s.lower()
    s = "".join(ch for ch in s if not unicodedata.category(ch).startswith(("P", "S")))
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _as_json(s: str) -> tuple[bool, Any]:
    m = _FENCE.match(s)
    text = m.group("body") if m else s
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        return normalize_answer(a) == normalize_answer(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
    return a == b


def _to_number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def final_number(s: str) -> float | None:
    """The number on the last ``#### N`` marker of a worked solution (commas stripped)."""
    found = _FINAL_NUMBER.findall(s)
    return _to_number(found[-1]) if found else None


def _format_number(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)


def _bare_number(s: str) -> float | None:
    m = _NUMBER.match(s)
    return _to_number(m.group("num")) if m else None


def _short_number(s: str) -> float | None:
    """The one number in a short answer ("72", "$72.", "72 clips"), else None."""
    if len(s.split()) > 4:
        return None
    found = _ANY_NUMBER.findall(s)
    return _to_number(found[0]) if len(found) == 1 else None


def _same_number(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)


def answers_match(sample: str, reference: str) -> bool:
    """Whether a sampled answer is the same answer as the reference response.

    In order: (1) both are JSON (a code fence around it is allowed) and at least one is an
    object or array: equal structure, keys exact, string values compared normalised,
    numbers numerically; this decides. (2) Either ends with a ``#### N`` line: the final
    numbers are compared, and a short answer with one number (``72``, ``$1,200``, ``72
    clips``) on one side matches the other's ``#### N``. (3) Both are bare numbers: numeric equality. (4) Equal after
    :func:`normalize_answer`.
    """
    ok_a, obj_a = _as_json(sample)
    ok_b, obj_b = _as_json(reference)
    if ok_a and ok_b:
        if isinstance(obj_a, (dict, list)) or isinstance(obj_b, (dict, list)):
            return _json_equal(obj_a, obj_b)
        if _json_equal(obj_a, obj_b):
            return True
    final_a, final_b = final_number(sample), final_number(reference)
    if final_a is not None or final_b is not None:
        a = final_a if final_a is not None else _short_number(sample)
        b = final_b if final_b is not None else _short_number(reference)
        if a is not None and b is not None:
            return _same_number(a, b)
    if _same_number(_bare_number(sample), _bare_number(reference)):
        return True
    return normalize_answer(sample) == normalize_answer(reference)


#: Words that carry no answer (with the prompt's own words, left out by :func:`answer_content`).
_FUNCTION_WORDS = frozenset(
    "a an the is are was were be been being am of in on at to for from by with as and or but not no "
    "it its this that these those there here he she they we you i his her their our your my me them "
    "do does did has have had will would can could should may might which who whom whose what when "
    "where why how so than then also just very called known".split()
)
_WORD = re.compile(r"[^\W\d_]+")


def _plain(text: str) -> str:
    """Lowercase without accents (``Brasília`` reads ``brasilia``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def answer_content(text: str, prompt: str = "") -> tuple[tuple[float, ...], frozenset[str]]:
    """What a short free-text answer says: its numbers in order, and its words that are
    neither function words nor words of the ``prompt`` (``The capital of Chile is Santiago.``
    to ``Name the capital city of Chile.`` says ``santiago``)."""
    plain = _plain(text)
    numbers = tuple(n for n in (_to_number(m.group(0)) for m in _ANY_NUMBER.finditer(plain)) if n is not None)
    asked = set(_WORD.findall(_plain(prompt)))
    words = frozenset(w for w in _WORD.findall(plain) if len(w) > 1 and w not in _FUNCTION_WORDS and w not in asked)
    return numbers, words


def _contents(a: str, b: str, prompt: str) -> tuple[tuple, tuple] | None:
    """:func:`answer_content` of both, when each says something beyond the prompt, else with
    the prompt's words counted too (answers that are spans of it); None when one says nothing."""
    for asked in (prompt, ""):
        content_a, content_b = answer_content(a, asked), answer_content(b, asked)
        if any(content_a) and any(content_b):
            return content_a, content_b
    return None


def same_answer(a: str, b: str, prompt: str = "") -> bool:
    """Whether two responses give the same answer, worded alike or not: :func:`answers_match`,
    or the same numbers in the same order with the content words of one all in the other
    (:func:`answer_content`). Lenient on purpose where one adds to the other (``Paris.`` and
    ``Paris or Lyon.`` read the same): it tells a rephrasing from a different answer, not a
    good answer from a bad one."""
    return elaborates(a, b, prompt) or elaborates(b, a, prompt)


def elaborates(a: str, b: str, prompt: str = "") -> bool:
    """Whether ``a`` gives ``b``'s answer keeping all of ``b``'s content and only adding to it
    (``The capital of Chile is Santiago.`` elaborates ``Santiago.``; ``1956`` does not
    elaborate ``{"answer": "1956"}``: it drops a word)."""
    if answers_match(a, b):
        return True
    contents = _contents(a, b, prompt)
    if contents is None:
        return False
    (nums_a, words_a), (nums_b, words_b) = contents
    return nums_a == nums_b and words_b <= words_a


def token_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the normalised word sets, in [0, 1]; two empty texts give 1."""
    sa, sb = set(normalize_answer(a).split()), set(normalize_answer(b).split())
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def _check_unit(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")
    if not -_TOLERANCE <= value <= 1.0 + _TOLERANCE:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return min(1.0, max(0.0, float(value)))


def sample_agreements(
    samples: Sequence[str], reference: str, *, alpha: float, similarity: Similarity = token_jaccard
) -> list[float]:
    """Per-sample ``o_i = alpha * sim(sample_i, reference) + (1 - alpha) * match_i``, each in [0, 1].

    ``match_i`` is :func:`answers_match`. When ``reference`` is a worked solution ending in
    ``#### N`` and the sample has no such line, the similarity compares the sample with
    ``N`` alone (BSDetector compares final answers, not a number with a whole solution).

    Raises:
        ValueError: ``alpha`` outside [0, 1], or ``similarity`` returned a value outside [0, 1].
    """
    alpha = _check_unit("alpha", alpha)
    final = final_number(reference)
    out = []
    for sample in samples:
        # BSDetector compares final answers: a sample is set against a worked solution's N.
        target = _format_number(final) if final is not None and final_number(sample) is None else reference
        sim = _check_unit("similarity", similarity(sample, target)) if alpha > 0.0 else 0.0
        match = 1.0 if answers_match(sample, reference) else 0.0
        out.append(min(1.0, alpha * sim + (1.0 - alpha) * match))
    return out


def observed_consistency(
    samples: Sequence[str], reference: str, *, alpha: float, similarity: Similarity = token_jaccard
) -> float | None:
    """BSDetector's observed consistency O in [0, 1]; higher = samples agree with ``reference``.

    Args:
        samples: the parsed answers of the k samples (see :func:`curation.parsers.parse_answer`).
        reference: the dataset response being judged.
        alpha: weight of the similarity against exact match (0.8 in the paper).
        similarity: any :data:`Similarity` (Jaccard by default; NLI, embeddings or an LLM
            equivalence question can be plugged in).

    Returns:
        The mean of :func:`sample_agreements`, or ``None`` when there are no samples (then
        :func:`combine` uses the reflection part alone).
    """
    terms = sample_agreements(samples, reference, alpha=alpha, similarity=similarity)
    return sum(terms) / len(terms) if terms else None


def reflection_certainty(scores: Sequence[float]) -> float | None:
    """Self-reflection certainty S: the mean of the reflection scores, or ``None`` if none.

    Raises:
        ValueError: a score is outside [0, 1].
    """
    checked = [_check_unit("reflection score", s) for s in scores]
    return sum(checked) / len(checked) if checked else None


def combine(observed: float | None, reflection: float | None, *, beta: float) -> float | None:
    """BSDetector confidence ``beta * O + (1 - beta) * S`` in [0, 1], higher = more likely correct.

    When one part is ``None`` the other is returned alone; both ``None`` gives ``None``.

    Raises:
        ValueError: ``beta`` or a part is outside [0, 1].
    """
    beta = _check_unit("beta", beta)
    if observed is None and reflection is None:
        return None
    if reflection is None:
        return _check_unit("observed", observed)
    if observed is None:
        return _check_unit("reflection", reflection)
    value = beta * _check_unit("observed", observed) + (1.0 - beta) * _check_unit("reflection", reflection)
    return min(1.0, max(0.0, value))


def judge_confidence(p_second_better_candidate_second: float, p_second_better_candidate_first: float) -> float:
    """Probability that the candidate beats the original, from both judge orders.

    Args:
        p_second_better_candidate_second: :attr:`curation.parsers.JudgeVerdict.p_second_better`
            when asked with (response 1 = original, response 2 = candidate): P(candidate better).
        p_second_better_candidate_first: ``p_second_better`` when asked with
            (response 1 = candidate, response 2 = original): P(original better).

    Returns:
        ``(a + (1 - b)) / 2`` in [0, 1]; higher = the candidate is better. A tie or a judge
        that always prefers one position gives 0.5.

    Raises:
        ValueError: an input is outside [0, 1].
    """
    for name, value in (
        ("p_second_better_candidate_second", p_second_better_candidate_second),
        ("p_second_better_candidate_first", p_second_better_candidate_first),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return (p_second_better_candidate_second + (1.0 - p_second_better_candidate_first)) / 2.0


__all__ = [
    "Similarity",
    "normalize_answer",
    "final_number",
    "answers_match",
    "token_jaccard",
    "sample_agreements",
    "observed_consistency",
    "reflection_certainty",
    "combine",
    "judge_confidence",
]
