"""Alternatives to a recorded response: where they come from and which are dropped (pure).

In: a dataset's prompts and responses (to learn its shape), one example's response, prompt,
sampled answers and the rules that fired on it. Out: the dataset's :class:`DatasetShape` and
the ``(text, source)`` alternatives worth scoring, which :mod:`curation.contest` then weighs
against the recorded response.

Where alternatives come from (each a source name, stored with the proposal):

- ``repair``: the response's own content with its broken form taken away (template tokens,
  HTML, a JSON wrapper, loose JSON, a final line in another form; :mod:`curation.repair`).

- ``samples``: the majority answer of the consistency samples scoring already drew (no extra
  call). In a dataset whose responses hold worked reasoning (a ``#### N`` final line) the bare
  answer is no replacement; it then only votes, through every candidate's agreement.
- ``closed_set``: when the responses come from a small set (see :func:`dataset_shape`),
  every member of the set; confident learning's "given label against the most likely label".
- ``extractive``: when the responses are spans of the prompt, each sample snapped to the
  prompt span it overlaps most, and that span one word longer or shorter at either end.
- ``few_shot`` / ``endpoint``: generated in :mod:`curation.correct`.

Some alternatives are dropped before they are scored: rewordings of a sound response
(:func:`rephrasings_dropped`), echoes of the prompt (:func:`echoes_dropped`) and answers of
another kind than the question asks (:func:`mistyped_dropped`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from curation import answer_kind
from curation import confidence as cmath
from curation.config_values import CANDIDATE_SOURCES, RULE_SIGNALS

#: A response value shared by at least this many examples is a member of the closed set.
CLOSED_SET_MIN_COUNT = 2
#: At most this many members; more and the responses are treated as open.
CLOSED_SET_MAX_MEMBERS = 50
#: Share of the responses the members must cover (a set with 20 % planted noise covers ~85 %).
CLOSED_SET_COVERAGE = 0.7
#: Share of the responses that must occur verbatim (normalised) in their prompt: extractive.
EXTRACTIVE_SHARE = 0.7
#: Share of the responses with a ``#### N`` final line for the dataset to hold reasoning.
REASONING_SHARE = 0.5
#: Snapped spans may be this many words longer than the sample they come from.
SPAN_SLACK = 3
#: Least token F1 between a sample and a prompt span for the span to stand in for it.
SPAN_MIN_F1 = 0.5
#: Every source name a stored candidate may carry: the settings' sources and the user's endpoint.
SOURCES = (*CANDIDATE_SOURCES, "endpoint")
#: Rules that say a recorded response's form is broken when they fire: then a candidate that
#: says the same in a sound form is a correction (see :func:`rephrasings_dropped`). A wrong
#: equation is a wrong content, not a broken form.
FORM_RULES = frozenset(RULE_SIGNALS) - {"contrast", "arithmetic"}
#: Sources whose alternatives constrain the answer (the contrast signal uses only these).
CONSTRAINED = ("closed_set", "extractive")


@dataclass(frozen=True)
class DatasetShape:
    """What kind of responses a dataset has, learnt from the dataset itself."""

    closed_set: tuple[str, ...]
    extractive: bool
    reasoning: bool
    note: str


def _canonical(response: str) -> str:
    text = response.strip()
    if text[:1] in "{[":
        try:
            return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
    return cmath.normalize_answer(text)


def dataset_shape(prompts: Sequence[str], responses: Sequence[str]) -> DatasetShape:
    """Detect a closed set (at most :data:`CLOSED_SET_MAX_MEMBERS` values, each given by at
    least :data:`CLOSED_SET_MIN_COUNT` examples, covering :data:`CLOSED_SET_COVERAGE` of the
    responses; a member is the most common wording of its value), extractive answers (at least
    :data:`EXTRACTIVE_SHARE` of the responses occur in their prompt) and worked reasoning."""
    n = len(responses)
    if n == 0:
        return DatasetShape((), False, False, "no responses")
    keys = [_canonical(r) for r in responses]
    counts = Counter(keys)
    members = [k for k, c in counts.most_common() if c >= CLOSED_SET_MIN_COUNT and k]
    coverage = sum(counts[k] for k in members) / n
    closed = 2 <= len(members) <= CLOSED_SET_MAX_MEMBERS and coverage >= CLOSED_SET_COVERAGE
    wording = (
        {k: Counter(r.strip() for r, key in zip(responses, keys) if key == k).most_common(1)[0][0] for k in members}
        if closed
        else {}
    )
    normal = [cmath.normalize_answer(r) for r in responses]
    inside = sum(1 for p, r in zip(prompts, normal) if r and f" {r} " in f" {cmath.normalize_answer(p)} ")
    extractive = not closed and inside / n >= EXTRACTIVE_SHARE
    reasoning = sum(1 for r in responses if cmath.final_number(r) is not None) / n >= REASONING_SHARE
    notes = [
        f"closed set of {len(members)} responses covering {coverage:.0%}"
        if closed
        else f"not a closed set ({len(members)} repeated responses cover {coverage:.0%}; needs at most "
        f"{CLOSED_SET_MAX_MEMBERS} covering {CLOSED_SET_COVERAGE:.0%})",
        f"extractive ({inside / n:.0%} of responses are spans of their prompt)"
        if extractive
        else f"not extractive ({inside / n:.0%} of responses are spans of their prompt; needs {EXTRACTIVE_SHARE:.0%})",
    ]
    if reasoning:
        notes.append("worked reasoning with a '#### N' final line: sampled answers only vote")
    return DatasetShape(tuple(wording[k] for k in members) if closed else (), extractive, reasoning, "; ".join(notes))


def majority(answers: Sequence[str]) -> tuple[str, int] | None:
    """The answer most samples agree on (:func:`~curation.confidence.answers_match`) and how
    many agree, when at least two do; ties go to the earliest."""
    best: tuple[str, int] | None = None
    for i, answer in enumerate(answers):
        if not answer.strip() or any(cmath.answers_match(answer, a) for a in answers[:i]):
            continue
        votes = sum(1 for a in answers if cmath.answers_match(answer, a))
        if votes >= 2 and (best is None or votes > best[1]):
            best = (answer, votes)
    return best


_SPAN_WORD = re.compile(r"\w+(?:['\u2019.,-]\w+)*")
_SENTENCE_BREAK = re.compile(r"\n|[.!?]\s")  # an answer span stays within one sentence


def snap_to_spans(answer: str, prompt: str, *, variants: bool = True) -> list[str]:
    """The prompt span whose words overlap ``answer`` most (token F1 at least
    :data:`SPAN_MIN_F1`, ties to the earlier and shorter), then, with ``variants``, that span
    one word shorter or longer at either end; empty when no span overlaps enough."""
    words = [(m.group(0), m.start(), m.end()) for m in _SPAN_WORD.finditer(prompt)]
    target = Counter(cmath.normalize_answer(answer).split())
    if not words or not target:
        return []
    norm = [cmath.normalize_answer(w) for w, _, _ in words]
    size = sum(target.values())
    best, best_f1 = None, SPAN_MIN_F1 - 1e-9
    for i in range(len(words)):
        if not target[norm[i]]:
            continue
        got = Counter()
        for j in range(i, min(len(words), i + size + SPAN_SLACK)):
            got[norm[j]] += 1
            common = sum((got & target).values())
            f1 = 2 * common / (j - i + 1 + size)
            if f1 > best_f1:
                best, best_f1 = (i, j), f1
    if best is None:
        return []
    i, j = best
    spans = [(i, j), (i + 1, j), (i, j - 1), (i - 1, j), (i, j + 1)] if variants else [(i, j)]
    out: list[str] = []
    for a, b in spans:
        if 0 <= a <= b < len(words):
            text = prompt[words[a][1] : words[b][2]]
            if text not in out and not _SENTENCE_BREAK.search(text):
                out.append(text)
    return out


def alternatives(
    response: str, answers: Sequence[str], prompt: str, shape: DatasetShape, *, sources: Sequence[str] = SOURCES
) -> list[tuple[str, str]]:
    """``(text, source)`` alternatives to ``response`` from the samples' ``answers``, the
    closed set and prompt spans (those of ``sources`` that fit the dataset's ``shape``),
    without repeats or the response itself."""
    found: list[tuple[str, str]] = []
    top = majority(answers)
    if shape.closed_set and "closed_set" in sources:
        found += [(m, "closed_set") for m in shape.closed_set]
    if shape.extractive and "extractive" in sources:
        found += [(span, "extractive") for span in (snap_to_spans(top[0], prompt) if top else [])]
        found += [(span, "extractive") for a in answers for span in snap_to_spans(a, prompt, variants=False)]
    if top and "samples" in sources and not shape.reasoning:
        found.append((top[0].strip(), "samples"))
    out: list[tuple[str, str]] = []
    for text, source in found:
        if (
            text.strip()
            and not cmath.answers_match(text, response)
            and not any(cmath.answers_match(text, t) for t, _ in out)
        ):
            out.append((text, source))
    return out


def constrained_sources(shape: DatasetShape, sources: Sequence[str]) -> tuple[str, ...]:
    """Those of ``sources`` whose alternatives constrain the answer and fit ``shape``: the
    closed set's members, prompt spans (the contrast signal scores only these)."""
    fits = {"closed_set": bool(shape.closed_set), "extractive": shape.extractive}
    return tuple(s for s in sources if s in CONSTRAINED and fits[s])


def form_broken(fired: Sequence[str]) -> bool:
    """Whether one of :data:`FORM_RULES` fired on a response (a cut-off, a broken format):
    then the same answer in a sound form is a correction of it."""
    return bool(FORM_RULES & set(fired))


def rephrasings_dropped(
    found: list[tuple[str, str]], response: str, prompt: str, fired: Sequence[str]
) -> list[tuple[str, str]]:
    """``found`` without the candidates that only elaborate a sound ``response``
    (:func:`~curation.confidence.elaborates`: ``Santiago.`` -> ``The capital of Chile is
    Santiago.``): rewording a response no form rule fired on changes the data without
    correcting it. When its form is broken (:func:`form_broken`), every candidate stays, and
    a ``repair`` (the response's own content in a sound form) always does."""
    if form_broken(fired):
        return found
    return [(t, source) for t, source in found if source == "repair" or not cmath.elaborates(t, response, prompt)]


def echoes_dropped(found: list[tuple[str, str]], prompt: str, shape: DatasetShape) -> list[tuple[str, str]]:
    """``found`` without the candidates that only repeat a run of the prompt's words (``Chile``
    for ``What is the capital of Chile?``, ``water`` for ``How do you say 'water' in Spanish?``):
    they repeat the question instead of answering it. Kept where answers are spans of the
    prompt (an extractive dataset), where the prompt offers a choice (``... France or Spain?``)
    and for a ``repair`` (the recorded response's own words)."""
    asked = f" {cmath.normalize_answer(prompt)} "
    if shape.extractive or " or " in asked:
        return found
    return [
        (text, source)
        for text, source in found
        if source == "repair" or f" {cmath.normalize_answer(text)} " not in asked
    ]


def mistyped_dropped(found: list[tuple[str, str]], response: str, prompt: str) -> list[tuple[str, str]]:
    """``found`` without the short candidates that answer another kind of question than the one
    asked while ``response`` answers it (:func:`~curation.answer_kind.mistyped`: ``399 days``
    for ``What did the team spend its time mapping?``). A ``repair`` always stays."""
    return [(t, source) for t, source in found if source == "repair" or not answer_kind.mistyped(t, response, prompt)]


__all__ = [
    "SOURCES",
    "CONSTRAINED",
    "FORM_RULES",
    "DatasetShape",
    "dataset_shape",
    "majority",
    "snap_to_spans",
    "alternatives",
    "constrained_sources",
    "form_broken",
    "rephrasings_dropped",
    "echoes_dropped",
    "mistyped_dropped",
]
