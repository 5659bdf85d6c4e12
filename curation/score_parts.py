"""One example's score parts, assembled from its LLM results and cheap signals (pure).

In: an example, its samples and reflections, the rule signals the dataset gives it
(:class:`DatasetView`, learnt from the whole dataset once), its token scores and, where
computed, the contest against its alternatives. Out: an :class:`ExampleScore`: BSDetector's
parts, every signal value and the explanation a reviewer reads. :func:`run_contest` scores a
recorded response against candidate texts alike (the ``contrast`` signal here, Auto-Correct
in :mod:`curation.correct`). :mod:`curation.score_compute` runs the calls and builds these;
:mod:`curation.score` stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curation import alternatives, contest, likelihood_signals, parsers, signals, tiers
from curation import confidence as cmath
from curation.bsdetector import read_reflections
from curation.config import Config
from curation.injection import injection_scores
from curation.llm.base import ChatResult
from curation.records import Example
from curation.store import prompt_text


@dataclass(frozen=True)
class ExampleScore:
    """One example's BSDetector parts, its signal values and the explanation a reviewer reads."""

    consistency: float | None
    reflection: float | None
    bsdetector: float | None
    signals: dict[str, float]
    explanation: dict[str, Any]


@dataclass(frozen=True)
class DatasetView:
    """What scoring and correcting learn from the whole dataset once: its shape (closed set,
    extractive, reasoning), its dominant format, per example id the rule signals ``format``
    and ``injection`` (markers not common in the dataset), and the ``opening`` of its
    responses where they are JSON as the dominant format (``{"intent": "``, or ``{`` or
    ``[``: samples begin with it, see :func:`curation.bsdetector.sample_request`)."""

    shape: alternatives.DatasetShape
    format_of: Callable[[str], signals.SignalScore]
    rules: dict[str, dict[str, signals.SignalScore]]
    opening: str = ""


def dataset_view(examples: list[Example], *, rules: bool = True) -> DatasetView:
    """The dataset's :class:`DatasetView`; ``rules=False`` skips the per-example rule signals
    (Auto-Correct needs only the shape and the format)."""
    responses = [e.response for e in examples]
    learnt = signals.dominant_format(responses)  # one pass over the responses for both uses
    format_of = signals.score_against(learnt)
    per_example: dict[str, dict[str, signals.SignalScore]] = {}
    if rules:
        marks = injection_scores(["\n\n".join(m.content for m in e.prompt) for e in examples], responses)
        per_example = {e.example_id: {"format": format_of(e.response), "injection": m} for e, m in zip(examples, marks)}
    shape = alternatives.dataset_shape([prompt_text(e.prompt) for e in examples], responses)
    return DatasetView(shape, format_of, per_example, signals.json_opening(responses, learnt))


def run_contest(
    example: Example,
    answers: list[str],
    original_logprob: float | None,
    candidates: list[tuple[str, str]],
    logprobs: list[list[float] | None],
    *,
    view: DatasetView,
    config: Config,
    draft: str | None = None,
    original_rules: float = 1.0,
) -> contest.Contest:
    """The recorded response against ``(text, source)`` candidates, each scored alike, with
    the few-shot ``draft`` as a vote where there is one and the response's own rules
    (:func:`curation.fold.original_rules`) weighing it (pure)."""
    prompt = prompt_text(example.prompt)

    def scored(text: str, source: str, logprob: float | None, rules: float = 1.0) -> contest.Scored:
        return contest.score_response(
            text,
            source,
            answers=answers,
            logprob=logprob,
            alpha=config.scoring.alpha,
            format_of=view.format_of,
            prompt=prompt,
            draft=draft,
            rules=rules,
        )

    return contest.contest(
        scored(example.response, "original", original_logprob, original_rules),
        [scored(t, src, contest.mean_logprob(lp)) for (t, src), lp in zip(candidates, logprobs)],
    )


def assemble(
    example: Example,
    samples: list[ChatResult],
    reflections: list[ChatResult],
    *,
    rules: dict[str, signals.SignalScore],
    token_scores: Any,
    config: Config,
    rival: contest.Contest | None = None,
    tier: str = tiers.SAMPLED,
) -> ExampleScore:
    """Combine one example's LLM results and cheap signals into its score parts; ``rules``
    holds its dataset-level rule signals (see :attr:`DatasetView.rules`), ``rival`` the
    contest with its alternatives (the ``contrast`` signal), where computed; ``tier`` is
    recorded in the explanation."""
    s = config.scoring
    parsed = [parsers.parse_answer(r.text) for r in samples]
    answers = [p.answer for p in parsed]
    per_sample = cmath.sample_agreements(answers, example.response, alpha=s.alpha) if answers else []
    consistency = cmath.observed_consistency(answers, example.response, alpha=s.alpha) if answers else None
    verdicts = read_reflections(reflections, config)
    reflection = cmath.reflection_certainty([v.score for v in verdicts]) if verdicts else None
    bsdetector = cmath.combine(consistency, reflection, beta=s.beta)
    rules = {
        **rules,
        "degenerate": signals.degenerate(prompt_text(example.prompt), example.response),
        "arithmetic": signals.arithmetic(example.response),
    }
    values: dict[str, float] = {name: sig.score for name, sig in rules.items()}
    if bsdetector is not None:
        values["bsdetector"] = bsdetector
    if token_scores is not None:
        values["likelihood"] = likelihood_signals.likelihood_score(token_scores.mean_logprob_with_prompt)
        if token_scores.min_k_logprob is not None:
            values["min_k"] = likelihood_signals.likelihood_score(token_scores.min_k_logprob)
        if token_scores.mean_logprob_without_prompt is not None:
            values["ifd"] = likelihood_signals.ifd_score(
                token_scores.mean_logprob_with_prompt, token_scores.mean_logprob_without_prompt
            )
        if token_scores.end_logprob is not None:
            values["ending"] = likelihood_signals.end_probability(token_scores.end_logprob)
    explanation = {
        "tier": tier,
        "samples": [
            {
                "answer": p.answer,
                "parsed": p.ok,
                "match": cmath.answers_match(p.answer, example.response),
                "agreement": round(o, 4),
            }
            for p, o in zip(parsed, per_sample)
        ],
        "reflections": [
            {
                "question": q,
                "verdict": v.verdict,
                "score": round(v.score, 4),
                "explanation": v.explanation,
                "parsed": v.parsed,
                "weighted": v.weighted,
            }
            for q, v in enumerate(verdicts, start=1)
        ],
        "unparsed_reflections": sum(not v.parsed for v in verdicts),
        "reasons": {name: list(sig.reasons) for name, sig in rules.items() if sig.reasons},
    }
    if rival is not None:
        values["contrast"] = contest.contrast_score(rival)
        explanation["alternatives"] = [c.to_json() for c in rival.candidates[:3]]
        explanation["original"] = rival.original.to_json()
    return ExampleScore(consistency, reflection, bsdetector, values, explanation)
