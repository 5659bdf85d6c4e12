"""Correction as a contest: alternatives to a recorded response, compared by one confidence (pure).

In: one example's sampled answers and its recorded response and candidate texts (the
alternatives of :mod:`curation.alternatives`, and those :mod:`curation.correct` generates)
with their mean token log-probabilities. Out: each candidate's confidence, the best one's
margin over the recorded response, and the calibrated probability that it is the better
response.

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

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields

from curation import confidence as cmath
from curation import likelihood_signals, signals
from curation.alternatives import CONSTRAINED


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
    "Calibration",
    "CALIBRATION",
    "Evidence",
    "EVIDENCE",
    "Scored",
    "Contest",
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
