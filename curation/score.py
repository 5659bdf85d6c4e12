"""Stage 2, score: a confidence in [0, 1] for every example (higher = more likely correct).

In: the examples of a dataset in the store, a :class:`~curation.config.Config` and an
:class:`~curation.llm.client.LLMClient`. Out: one ``scores`` row per example and scoring
configuration, written as soon as the example is done (a killed run loses nothing and a
rerun pays for no call twice: finished examples are skipped, and every LLM call is cached).

A cascade (:mod:`curation.tiers`). The **cheap tier**, for every example: format consistency
with the rest of the dataset, degenerate responses, injection markers (text aimed at a model or
grader, see :mod:`curation.injection`), and where the backend can, one teacher-forced pass over
the response: its likelihood with and without its prompt (IFD) and the probability that it ends
where it does (``ending``); a backend without likelihoods answers one self-reflection question
instead. The **sampled tier**, for the examples the cheap signals leave uncertain or low
(BSDetector): k samples with the reasoning template, compared with the dataset response
(observed consistency O; adaptive k: fewer when they agree, more when they split); one or two
self-reflection questions (certainty S, probability-weighted when the backend gives
log-probabilities); ``bsdetector = β·O + (1−β)·S``; and where the answers are constrained (a
closed set, prompt spans), the ``contrast`` rule: how much more plausible the best alternative
is (:mod:`curation.contest`). :func:`finalize` then folds them into the final ``confidence``
(:mod:`curation.fold`: dataset-level, no LLM call, both tiers on one scale), so changing a
weight re-decides without any new call.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from curation import alternatives, contest, parsers, signals, tiers
from curation.bsdetector import (
    first_sample_count,
    reflection_requests,
    sample_request,
    samples_prefixed,
    samples_wanted,
)
from curation.config import Config
from curation.engines import Engine, LocalEngine, Lookups, Work
from curation.errors import BudgetExceededError, LLMError, mostly_failed
from curation.fold import cheap_confidences, final_confidences
from curation.llm.base import ChatResult
from curation.llm.client import LLMClient
from curation.records import Example
from curation.score_parts import DatasetView, ExampleScore, assemble, dataset_view, run_contest
from curation.store import DatasetInfo, Store, prompt_text

log = logging.getLogger(__name__)

#: Bump when prompts, parsing or the stored signals change, so old scores are not mixed with new.
SCORER_VERSION = 13


def score_key(config: Config) -> str:
    """Identify the settings that decide a score's LLM calls (weights excluded: no call)."""
    s = config.scoring
    decisive = {
        "version": SCORER_VERSION,
        "backend": config.llm.backend,
        "model": config.llm.model,
        "base_url": config.llm.base_url,
        "k": s.k,
        "alpha": s.alpha,
        "beta": s.beta,
        "temperature": s.temperature,
        "max_tokens": s.max_tokens,
        "sample_style": s.sample_style,
        "answer_prefix": samples_prefixed(config),
        "early_stop": s.early_stop,
        "early_stop_after": s.early_stop_after,
        "k_max": s.k_max,
        "reflection_prompts": s.reflection_prompts,
        "reflection_max_tokens": s.reflection_max_tokens,
        "reflection_style": s.reflection_style,
        "reflection_order": s.reflection_order,
        "letter_first": s.letter_first,
        "top_logprobs": s.top_logprobs,
        # IFD's pass without the prompt, run only where IFD weighs in
        "ifd": s.w_ifd > 0,
        # the contrast signal's calls, and the calibration that turns its margin into a score
        "contrast": contest.CALIBRATION.version if s.w_contrast > 0 else None,
    }
    if config.llm.seed:  # another seed draws other samples (0, the default, keeps old keys)
        decisive["seed"] = config.llm.seed
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:16]


#: ``on_progress(phase, done, total, failed)``: phase ``score`` is the cheap tier over every
#: example not yet scored, ``sample`` the sampled tier over those the cascade sends on.
PhaseProgress = Callable[[str, int, int, int], None]
#: The scoring phases, in order: the cheap tier, then the sampled tier.
SCORE_PHASES = ("score", "sample")


@dataclass
class ScoreResult:
    scored: int = 0  # examples newly scored, and still ok at the end of the run
    likelihood_ids: set[str] = field(default_factory=set, repr=False)  # of those, the ones with a likelihood pass
    sampled: int = 0  # examples given the sampled tier in this run
    new_ids: set[str] = field(default_factory=set, repr=False)  # those scored by this run's cheap tier
    spent: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    failed: int = 0
    tried: int = 0  # examples this run tried, in either tier or both (counted once)
    first_error: str | None = None
    skipped: int = 0
    stopped: str | None = None
    #: After the run, per tier: examples in it (the whole dataset), and this run's calls and
    #: tokens spent on it (``calls``, ``prompt_tokens``, ``completion_tokens``, ``cache_hits``).
    tiers: dict[str, dict[str, float]] = field(default_factory=dict)

    def warning(self) -> str | None:
        """A loud line when half or more of the examples tried failed, else None."""
        return mostly_failed("Scoring", self.failed, self.tried, self.first_error, "examples tried")


@dataclass(frozen=True)
class ScoreTask:
    """One example to score with its dataset-level rule signals (:attr:`DatasetView.rules`):
    what an engine hands to the compute step, wherever it runs."""

    example: Example
    rules: dict[str, signals.SignalScore]


@dataclass(frozen=True)
class _Job:
    """What every batch of a scoring run shares."""

    store: Store
    info: DatasetInfo
    config: Config
    client: LLMClient
    view: DatasetView
    key: str
    run_id: str
    result: ScoreResult
    engine: Engine


def score_dataset(
    store: Store,
    info: DatasetInfo,
    config: Config,
    client: LLMClient,
    *,
    run_id: str,
    on_progress: PhaseProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    phases: tuple[str, ...] = SCORE_PHASES,
    result: ScoreResult | None = None,
    engine: Engine | None = None,
) -> ScoreResult:
    """Score every example of ``info`` not yet scored under this configuration: the cheap
    tier for all (phase ``score``), then the sampled tier for those
    :func:`curation.tiers.to_sample` picks (phase ``sample``; under ``scoring.tiers``,
    examples sampled on an earlier run are not sampled again).

    Args:
        on_progress: see :data:`PhaseProgress`; called as each phase starts and after each example.
        should_stop: polled between batches; True stops the run cleanly (resumable).
        phases: the phases to run (the pipeline records each as a run of its own).
        result: an earlier phase's result of the same run, to carry on counting into.
        engine: where the LLM work runs (default: this process, :class:`~curation.engines.LocalEngine`);
            the results are saved here either way.
    Returns:
        Counts; ``stopped`` is ``"cancelled"`` or ``"budget"`` when the run stopped early.
    """
    key = score_key(config)
    examples = list(store.iter_examples(info.dataset_id))
    result = result or ScoreResult()
    job = _Job(store, info, config, client, dataset_view(examples), key, run_id, result, engine or LocalEngine())
    for phase in phases:
        if phase == "score":
            done_ids = store.scored_ids(info.dataset_id, key)
            todo = [e for e in examples if e.example_id not in done_ids]
            result.skipped = len(examples) - len(todo)
            tier, sequences = tiers.CHEAP, 1
        else:
            by_id = {e.example_id: e for e in examples}
            rows = [r for r in store.scores(info.dataset_id, key) if r["status"] == "ok"]
            todo = [by_id[i] for i in waiting_for_samples(rows, config)]
            tier = tiers.SAMPLED
            sequences = config.scoring.reflection_prompts + first_sample_count(config)
        before = client.snapshot()
        tasks = [ScoreTask(e, job.view.rules[e.example_id]) for e in todo]
        size = job.engine.batch_size(client, sequences, len(tasks))
        _in_batches(job, tasks, phase, size, on_progress, should_stop)
        result.spent[tier] = _spend(before, client.snapshot())
        if result.stopped:
            break
    counts = tiers.tier_counts(store.scores(info.dataset_id, key))
    result.tiers = {t: {"examples": counts[t], **result.spent.get(t, _zero_spend())} for t in counts}
    return result


def waiting_for_samples(rows: list[dict[str, Any]], config: Config) -> list[str]:
    """Ids of the scored ``rows`` that the sampled tier should score next, under
    ``scoring.tiers`` and the band, least confident first (:func:`curation.tiers.to_sample`)."""
    return tiers.to_sample(cheap_confidences(rows, config), mode=config.scoring.tiers, band=config.scoring.band)


def _zero_spend() -> dict[str, float]:
    return dict.fromkeys(("calls", "prompt_tokens", "completion_tokens", "cache_hits"), 0)


def _spend(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0) - before.get(name, 0) for name in _zero_spend()}


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


def _in_batches(
    job: _Job,
    tasks: list[ScoreTask],
    phase: str,
    size: int,
    on_progress: PhaseProgress | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    """Run one phase over ``tasks`` in batches of ``size`` on the job's engine, saving and
    reporting each finished example as its batch comes back."""
    result, finished, failed_before = job.result, 0, job.result.failed
    if on_progress is not None:
        on_progress(phase, 0, len(tasks), 0)  # the phase has started: its total is known at once
    if should_stop is not None and should_stop():
        result.stopped = "cancelled"
        return
    batches = [tasks[start : start + size] for start in range(0, len(tasks), size)]
    work = score_work(phase, job.config, job.view)
    try:
        for batch, outcomes in job.engine.run(work, batches, clients=(job.client,), cache=job.store):
            for task, parts in zip(batch, outcomes):
                _commit(job, phase, task.example, parts)
                finished += 1
                if on_progress is not None:
                    on_progress(phase, finished, len(tasks), result.failed - failed_before)
            if finished < len(tasks) and should_stop is not None and should_stop():
                result.stopped = "cancelled"
                return
    except BudgetExceededError:
        result.stopped = "budget"


def _commit(job: _Job, phase: str, example: Example, parts: ExampleScore | LLMError) -> None:
    """Record one example's outcome of ``phase`` — its score parts (``ok``) or the error that
    stopped it (``failed``) — and count it."""
    failed = isinstance(parts, LLMError)
    job.store.save_score(
        dataset_id=job.info.dataset_id,
        example_id=example.example_id,
        score_key=job.key,
        run_id=job.run_id,
        status="failed" if failed else "ok",
        confidence=None if failed else parts.bsdetector,
        consistency=None if failed else parts.consistency,
        reflection=None if failed else parts.reflection,
        signals={} if failed else parts.signals,
        fired=[],
        explanation={} if failed else parts.explanation,
        error=str(parts) if failed else None,
    )
    job.result.failed += failed
    job.result.tried += phase == "score" or example.example_id not in job.result.new_ids
    if failed and job.result.first_error is None:
        job.result.first_error = str(parts)
    if phase == "score":
        if not failed:
            job.result.scored += 1
            if "likelihood" in parts.signals:
                job.result.likelihood_ids.add(example.example_id)
            job.result.new_ids.add(example.example_id)
    elif failed:
        job.result.scored -= example.example_id in job.result.new_ids  # its cheap score is replaced
        job.result.likelihood_ids.discard(example.example_id)
    else:
        job.result.sampled += 1


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


def finalize(store: Store, info: DatasetInfo, config: Config) -> int:
    """Fold the signals into each example's final ``confidence`` and ``fired`` list
    (:func:`curation.fold.final_confidences`; no LLM call). Returns the number of examples updated."""
    key = score_key(config)
    rows = [r for r in store.scores(info.dataset_id, key) if r["status"] == "ok"]
    updates = final_confidences(rows, config)
    store.update_confidences(info.dataset_id, key, updates)
    return len(updates)
