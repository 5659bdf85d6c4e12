"""The score stage's compute step: a batch of examples in, one outcome per example out; no store.

In: a batch of :class:`ScoreTask` (an example and its dataset-level rule signals), a
:class:`~curation.config.Config`, an :class:`~curation.llm.client.LLMClient` and, for the
sampled tier, the dataset's :class:`~curation.score_parts.DatasetView`. Out: per task its
:class:`~curation.score_parts.ExampleScore` or the :class:`~curation.errors.LLMError` that
stopped it. :func:`compute_cheap` runs the cheap tier (the likelihood pass, or one
self-reflection question where the backend gives no likelihood), :func:`compute_sampled` the
sampled tier (reflections, adaptive-k samples, the contrast); :func:`score_work` hands either
to an engine (:mod:`curation.engines`), which may run it in this process or on a worker.
:mod:`curation.score` runs the phases and saves each outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from curation import alternatives, contest, parsers, signals, tiers
from curation.bsdetector import first_sample_count, reflection_requests, sample_request, samples_wanted
from curation.config import Config
from curation.engines import Lookups, Work
from curation.errors import BudgetExceededError, LLMError
from curation.llm.base import ChatResult
from curation.llm.client import LLMClient
from curation.records import Example
from curation.score_parts import DatasetView, ExampleScore, assemble, run_contest
from curation.store import prompt_text


@dataclass(frozen=True)
class ScoreTask:
    """One example to score with its dataset-level rule signals (:attr:`DatasetView.rules`):
    what an engine hands to the compute step, wherever it runs."""

    example: Example
    rules: dict[str, signals.SignalScore]


def score_work(phase: str, config: Config, view: DatasetView) -> Work:
    """A scoring phase's work for an engine: :func:`compute_cheap` or :func:`compute_sampled`
    over batches of :class:`ScoreTask`, and the calls whose replies may be cached already."""
    shared = {"config": config}
    if phase == "sample":  # the contest's alternatives read the dataset's shape and format
        shared["view"] = replace(view, rules={})
    return Work(
        compute=compute_cheap if phase == "score" else compute_sampled,
        context=shared,
        lookups=lambda tasks: _lookups(phase, tasks, config, opening=view.opening),
    )


def _lookups(phase: str, tasks: list[ScoreTask], config: Config, *, opening: str) -> Lookups:
    """The calls of ``tasks`` that an earlier run may have paid for: the likelihood pass, the
    reflections and every sample adaptive k may draw (the cheap tier: its one reflection)."""
    requests = []
    for task in tasks:
        asked = reflection_requests(task.example, config)
        if phase == "score":
            requests += asked[:1]
            continue
        most = max(config.scoring.k, config.scoring.k_max, first_sample_count(config))
        requests += asked + (
            [sample_request(task.example, config, first=0, count=most, opening=opening)] if most else []
        )
    return Lookups(requests, [(t.example.prompt, t.example.response) for t in tasks])


def _token_scores(client: LLMClient, batch: list[ScoreTask], config: Config) -> dict[str, Any]:
    """Each example's likelihood pass (a cache hit in the sampled tier), or its LLMError."""
    out: dict[str, Any] = {}
    ifd = config.scoring.w_ifd > 0  # IFD's second pass costs as much again (~0.2 s an example here)
    for task in batch:
        example = task.example
        try:
            out[example.example_id] = client.score_tokens(example.prompt, example.response, without_prompt=ifd)
        except BudgetExceededError:
            raise
        except LLMError as e:
            out[example.example_id] = e
    return out


def _first_error(outcomes: list[Any]) -> LLMError | None:
    error = next((o for o in outcomes if isinstance(o, LLMError)), None)
    if isinstance(error, BudgetExceededError):
        raise error
    return error


def compute_cheap(batch: list[ScoreTask], client: LLMClient, *, config: Config) -> list[ExampleScore | LLMError]:
    """The cheap tier of ``batch``: the likelihood pass and the rules; where the backend gives
    no likelihood, the first self-reflection question instead (a cache hit later if sampled).

    Returns:
        Per task, its score parts or the LLMError that stopped it (nothing is saved here).
    Raises:
        BudgetExceededError: the budget ran out; no outcome of the batch is kept.
    """
    tokens = _token_scores(client, batch, config)
    asks = [t.example for t in batch if tokens[t.example.example_id] is None and config.scoring.reflection_prompts]
    outcomes = client.complete_many([reflection_requests(e, config)[0] for e in asks])
    reflected = dict(zip([e.example_id for e in asks], outcomes))
    out: list[ExampleScore | LLMError] = []
    for task in batch:
        own = tokens[task.example.example_id]
        reply = reflected.get(task.example.example_id)
        error = _first_error([own, reply])
        out.append(
            error
            or assemble(
                task.example,
                [],
                [reply[0]] if reply else [],
                rules=task.rules,
                token_scores=own,
                config=config,
                tier=tiers.CHEAP,
            )
        )
    return out


def compute_sampled(
    batch: list[ScoreTask], client: LLMClient, *, config: Config, view: DatasetView
) -> list[ExampleScore | LLMError]:
    """The sampled tier of ``batch``: reflections and the first samples of every example in
    one batch, then more samples where adaptive k asks for them, then the contrast (its
    alternatives read ``view``'s shape and format). Returns and raises as :func:`compute_cheap`."""
    # Order matters on the embedded model, which reuses the longest shared token prefix:
    # likelihood (prompt + response), then the reflections (follow-up style extends that very
    # conversation), then the samples (same prompt turns plus the answer template), example
    # by example, so consecutive calls share the longest prefix (docs/benchmarks.md).
    first = first_sample_count(config)
    tokens = _token_scores(client, batch, config)
    asks = [
        reflection_requests(t.example, config)
        + ([sample_request(t.example, config, first=0, count=first, opening=view.opening)] if first else [])
        for t in batch
    ]
    per_example = len(asks[0])
    outcomes = client.complete_many([r for own in asks for r in own])
    if any(isinstance(o, BudgetExceededError) for o in outcomes):
        raise BudgetExceededError("budget reached")
    pending = [(t.example, outcomes[i * per_example : (i + 1) * per_example]) for i, t in enumerate(batch)]
    more = _more_samples(pending, config, client, opening=view.opening) if first else {}
    out: list[ExampleScore | LLMError] = []
    for task, (example, own) in zip(batch, pending):
        extra = more.get(example.example_id, [])
        error = _first_error([*own, extra, tokens[example.example_id]])
        if error is not None:
            out.append(error)
            continue
        reflections = [r[0] for r in own[: config.scoring.reflection_prompts]]
        samples = (list(own[-1]) + list(extra)) if first else []
        rival = _rival(example, samples, tokens[example.example_id], client, view=view, config=config)
        out.append(
            assemble(
                example,
                samples,
                reflections,
                rules=task.rules,
                token_scores=tokens[example.example_id],
                config=config,
                rival=rival,
            )
        )
    return out


def _rival(
    example: Example,
    samples: list[ChatResult],
    token_scores: Any,
    client: LLMClient,
    *,
    view: DatasetView,
    config: Config,
) -> contest.Contest | None:
    """The contest of the response with the alternatives a constrained answer space gives (a
    closed set's members, prompt spans; none of another kind than the question asks,
    :func:`curation.alternatives.mistyped_dropped`), for the ``contrast`` signal. None when its
    weight is 0, the answers are open (a small model's majority answer to an open question is
    rarely a better response, so contrast from it hurts detection: docs/benchmarks.md) or the
    backend gives no likelihoods (without them the contest only restates consistency O)."""
    sources = alternatives.constrained_sources(view.shape, config.correct.sources)
    if config.scoring.w_contrast <= 0 or not sources or token_scores is None:
        return None
    answers = [parsers.parse_answer(r.text).answer for r in samples]
    prompt = prompt_text(example.prompt)
    found = alternatives.alternatives(example.response, answers, prompt, view.shape, sources=sources)
    found = alternatives.mistyped_dropped(found, example.response, prompt)  # as Auto-Correct weighs them
    logprobs = client.continuation_logprobs(example.prompt, [t for t, _ in found]) if found else []
    return run_contest(
        example, answers, token_scores.mean_logprob_with_prompt, found, logprobs, view=view, config=config
    )


def _more_samples(
    pending: list[tuple[Example, list[Any]]], config: Config, client: LLMClient, *, opening: str
) -> dict[str, list[ChatResult] | LLMError]:
    """Adaptive k: the further samples of each example whose samples so far did not settle it,
    drawn round by round (up to k, then up to ``k_max`` on a split) for the whole batch at once."""
    drawn: dict[str, list[ChatResult]] = {
        e.example_id: list(own[-1]) for e, own in pending if not isinstance(own[-1], LLMError)
    }
    extra: dict[str, list[ChatResult] | LLMError] = {}
    examples = [e for e, _ in pending if e.example_id in drawn]
    while examples:
        wanted = []
        for e in examples:
            answers = [parsers.parse_answer(r.text).answer for r in drawn[e.example_id]]
            count = samples_wanted(answers, e.response, config)
            if count > 0:
                wanted.append((e, count))
        requests = [
            sample_request(e, config, first=len(drawn[e.example_id]), count=n, opening=opening) for e, n in wanted
        ]
        examples = []
        for (e, _), outcome in zip(wanted, client.complete_many(requests)):
            if isinstance(outcome, LLMError):
                extra[e.example_id] = outcome
                continue
            drawn[e.example_id] += outcome
            extra.setdefault(e.example_id, []).extend(outcome)
            if outcome:  # a backend that returned nothing is not asked again
                examples.append(e)
    return extra
