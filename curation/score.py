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
weight re-decides without any new call. Each tier's per-batch LLM work, the compute step an
engine runs, is :mod:`curation.score_compute`; this module runs the phases and saves each outcome.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from curation import contest, tiers
from curation.bsdetector import first_sample_count, samples_prefixed
from curation.config import Config
from curation.engines import Engine, LocalEngine
from curation.errors import BudgetExceededError, LLMError, mostly_failed
from curation.fold import cheap_confidences, final_confidences
from curation.llm.client import LLMClient
from curation.records import Example
from curation.score_compute import ScoreTask, score_work
from curation.score_parts import DatasetView, ExampleScore, dataset_view
from curation.store import DatasetInfo, Store

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


def finalize(store: Store, info: DatasetInfo, config: Config) -> int:
    """Fold the signals into each example's final ``confidence`` and ``fired`` list
    (:func:`curation.fold.final_confidences`; no LLM call). Returns the number of examples updated."""
    key = score_key(config)
    rows = [r for r in store.scores(info.dataset_id, key) if r["status"] == "ok"]
    updates = final_confidences(rows, config)
    store.update_confidences(info.dataset_id, key, updates)
    return len(updates)
