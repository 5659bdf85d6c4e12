"""Correction as a contest: alternatives to a recorded response, compared by one confidence (pure).

In: a dataset's prompts and responses (to learn its shape), one example's sampled answers and
candidate texts with their mean token log-probabilities. Out: the alternatives worth scoring,
each candidate's confidence, the best one's margin over the recorded response, and the
calibrated probability that it is the better response.

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

A response's confidence (original and candidates alike) is the mean of its agreement with
the samples (BSDetector's observed consistency), its likelihood ``exp(mean log-prob)`` and,
where a few-shot answer was drafted, whether it gives that answer (the greedy answer of the
model shown similar confident examples is one more vote, and the strongest one measured:
right for 20 of 22 flagged math errors where the samples' majority was never offered),
times its format consistency with the dataset, the degenerate-text rule and the arithmetic
check (a candidate that states ``28 / 7 = 4.29`` is no correction). The margin is
``confidence(best) - confidence(original)``; :func:`p_better` maps it through a logistic
fitted on the benchmark (:data:`CALIBRATION`).

Some candidates are checked by a rule, not only weighed by the model (:func:`evidence`): a
``repair`` changes only a form a rule proved broken or a result the arithmetic gives, and a
``completion`` keeps every character of a cut-off response and supplies its end from the
dataset's label set or the prompt. Their probability is at least the share of their class
that was right on the benchmark (:data:`EVIDENCE`, :func:`p_right`): a margin says how much
the 0.5B model prefers a candidate, a check says more.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields

from curation import answer_kind, likelihood_signals, signals
from curation import confidence as cmath
from curation.config import CANDIDATE_SOURCES, RULE_SIGNALS

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


@dataclass(frozen=True)
class Calibration:
    """``P(candidate is right) = 1 / (1 + exp(-(intercept + slope * margin)))``."""

    version: str
    intercept: float
    slope: float


@dataclass(frozen=True)
class Evidence:
    """Per evidence class (:func:`evidence`), the share of its candidates that were right."""

    version: str
    rates: tuple[tuple[str, float], ...]

    def rate(self, kind: str | None) -> float | None:
        return dict(self.rates).get(kind) if kind else None


#: Rules that say a recorded response's form is broken when they fire: then a candidate that
#: says the same in a sound form is a correction (see :func:`rephrasings_dropped`). A wrong
#: equation is a wrong content, not a broken form.
FORM_RULES = frozenset(RULE_SIGNALS) - {"contrast", "arithmetic"}
#: Sources whose alternatives constrain the answer (the contrast signal uses only these).
CONSTRAINED = ("closed_set", "extractive")
#: Fitted by ``benchmarks/correction.py`` on the design half of the sample data (embedded model).
#: (58 flagged examples; margin 0.41 gives P 0.5, margin 0.81 gives P 0.85).
CALIBRATION = Calibration(version="2026-12-05.2", intercept=-1.572, slope=3.873)
#: Measured by ``benchmarks/correction.py`` on the design half of the sample data: the winners
#: of each class among the flagged examples, right / all, by the rule of succession
#: ((right + 1) / (all + 2)): repairs 15 of 15, completions 4 of 4 (on the held-out half 9 of
#: 9 and 1 of 1). Scorer 13, with a completion a check only where no other answer completes
#: the response (session 24; before, 5 of 5 completions: 0.857, and one ambiguous completion
#: applied itself wrongly): 0.833 is below η, so a completion applies itself only by its margin.
EVIDENCE = Evidence(version="2026-12-06.1", rates=(("repair", 0.941), ("completion", 0.833)))


@dataclass(frozen=True)
class DatasetShape:
    """What kind of responses a dataset has, learnt from the dataset itself."""

    closed_set: tuple[str, ...]
    extractive: bool
    reasoning: bool
    note: str


@dataclass(frozen=True)
class Scored:
    """One response in the contest: its text, where it came from and its confidence parts."""

    text: str
    source: str
    agreement: float | None
    likelihood: float | None
    format: float
    degenerate: float
    confidence: float
    rules: float = 1.0  # the recorded response's own rules (cut-off, injection); 1 for candidates
    arithmetic: float = 1.0  # the equations it states (:func:`curation.signals.arithmetic`)

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, stored: dict) -> Scored:
        """A response as a proposal stored it (:meth:`to_json`; other keys are ignored)."""
        return cls(**{f.name: stored[f.name] for f in fields(cls) if f.name in stored})


@dataclass(frozen=True)
class Contest:
    original: Scored
    candidates: tuple[Scored, ...]  # best first; none equal to the original
    margin: float | None  # best minus original; None without candidates
    p_better: float | None


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


def mean_logprob(logprobs: Sequence[float] | None) -> float | None:
    return sum(logprobs) / len(logprobs) if logprobs else None


def score_response(
    text: str,
    source: str,
    *,
    answers: Sequence[str],
    logprob: float | None,
    alpha: float,
    format_of: Callable[[str], signals.SignalScore],
    prompt: str,
    draft: str | None = None,
    rules: float = 1.0,
) -> Scored:
    """One response's confidence in [0, 1] (higher = more likely right): the mean of its
    agreement with the sampled ``answers``, its likelihood ``exp(logprob)`` and, when a few-shot
    ``draft`` exists, 1 if it gives the draft's answer else 0 (those present; 0.5 when none is),
    times its format, degenerate-text and arithmetic scores and ``rules`` (what scoring's rules
    that read the recorded response alone, its ending and injection, made of it)."""
    agreement = cmath.observed_consistency(answers, text, alpha=alpha) if answers else None
    likelihood = likelihood_signals.likelihood_score(logprob) if logprob is not None else None
    vote = None if draft is None else float(cmath.answers_match(text, draft))
    parts = [v for v in (agreement, likelihood, vote) if v is not None]
    fmt = format_of(text).score
    degenerate = signals.degenerate(prompt, text).score
    arithmetic = signals.arithmetic(text).score
    base = sum(parts) / len(parts) if parts else 0.5
    confidence = base * fmt * degenerate * arithmetic * rules
    return Scored(text, source, agreement, likelihood, fmt, degenerate, confidence, rules, arithmetic)


def p_better(margin: float, calibration: Calibration = CALIBRATION) -> float:
    """Calibrated probability that a candidate ``margin`` above the original is the right one."""
    z = calibration.intercept + calibration.slope * margin
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def margin_over_recorded(candidate: Scored, original: Scored, candidates: Sequence[Scored] = ()) -> float:
    """How far ``candidate``'s confidence is above the recorded content's: the original's or,
    for a candidate that is not the original's repair, the better of the original and its
    repair among ``candidates``. A repair is the recorded response's own content in a sound
    form, so another answer must beat that content, not only its broken form (a ticket's
    unquoted ``"urgency": low`` scores near 0 while its repair to ``"low"`` does not)."""
    recorded = original.confidence
    if candidate.source != "repair":
        recorded = max([recorded, *(c.confidence for c in candidates if c.source == "repair")])
    return candidate.confidence - recorded


def contest(original: Scored, candidates: Sequence[Scored], calibration: Calibration = CALIBRATION) -> Contest:
    """Rank the candidates (best confidence first, ties to the earlier) against the original;
    the best one's margin is :func:`margin_over_recorded`."""
    ranked = tuple(sorted(candidates, key=lambda c: -c.confidence))
    if not ranked:
        return Contest(original, (), None, None)
    margin = margin_over_recorded(ranked[0], original, ranked)
    return Contest(original, ranked, margin, p_better(margin, calibration))


def completes(candidate: str, original: str, *, cut_off: bool = False) -> bool:
    """Whether ``candidate`` is ``original`` with its missing end supplied: it begins with the
    whole of ``original``, which stops inside one of its words (``Samir Ostr`` ->
    ``Samir Ostrander``) or was found ``cut_off`` by the ending rule."""
    head, full = original.strip(), candidate.strip()
    if not head or len(full) <= len(head) or not full.startswith(head):
        return False
    return cut_off or (head[-1].isalnum() and full[len(head)].isalnum())


def evidence(candidate: Scored, original: Scored, rivals: Sequence[Scored] = ()) -> str | None:
    """What checks ``candidate`` beyond its confidence: ``repair`` (the recorded response's
    own content, its broken form taken away or its wrong arithmetic recomputed;
    :mod:`curation.repair`), ``completion`` (the cut-off response with its end supplied by
    the dataset's own label set or a span of the prompt, :func:`completes`, where none of the
    other candidates ``rivals`` completes it with another answer: an end the model writes, or
    picks among several that fit, is its judgement, not a check), else None."""
    if candidate.source == "repair":
        return "repair"
    cut_off = original.rules < 1.0
    if candidate.source in CONSTRAINED and completes(candidate.text, original.text, cut_off=cut_off):
        ambiguous = any(
            not cmath.answers_match(r.text, candidate.text) and completes(r.text, original.text, cut_off=cut_off)
            for r in rivals
        )
        return None if ambiguous else "completion"
    return None


def winner_evidence(candidate: Scored, original: Scored, rivals: Sequence[Scored] = ()) -> str | None:
    """:func:`evidence` of a candidate the contest prefers to the recorded response, else None."""
    return evidence(candidate, original, rivals) if candidate.confidence > original.confidence else None


def p_right(p: float, kind: str | None, kinds: Evidence = EVIDENCE) -> float:
    """The probability ``p`` that a candidate is right (from its margin, or the judge's),
    raised to the measured rate of its evidence class ``kind`` (:func:`winner_evidence`)."""
    rate = kinds.rate(kind)
    return p if rate is None else max(p, rate)


def contrast_score(result: Contest) -> float:
    """Detection signal in [0, 1], higher = no alternative beats the response: ``1 - p_better``
    of the best alternative (1 when there is none)."""
    return 1.0 if result.p_better is None else 1.0 - result.p_better


__all__ = [
    "SOURCES",
    "Calibration",
    "CALIBRATION",
    "Evidence",
    "EVIDENCE",
    "DatasetShape",
    "Scored",
    "Contest",
    "dataset_shape",
    "majority",
    "snap_to_spans",
    "alternatives",
    "constrained_sources",
    "form_broken",
    "rephrasings_dropped",
    "echoes_dropped",
    "mean_logprob",
    "score_response",
    "p_better",
    "completes",
    "evidence",
    "winner_evidence",
    "margin_over_recorded",
    "p_right",
    "contest",
    "contrast_score",
]
