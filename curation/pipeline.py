"""The whole CLEAR run for the CLI and the app: score → filter → correct, resumable.

In: a store, a dataset name, a :class:`~curation.config.Config`. Out: a
:class:`RunSummary`; every finished example is in the store as soon as it is done, so a
cancelled, failed or killed run resumes where it stopped and pays for no call twice.
While it runs, :class:`~curation.phases.Progress` reports name the phase (loading the model,
scoring, correcting) with done / total, rate and time left, timed from the start by the speed
earlier runs measured (:mod:`curation.estimate`, which also estimates a run before it starts).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from curation import estimate, throughput, tiers
from curation.config import Config, LLMConfig
from curation.correct import correct_dataset
from curation.engines import make_engine
from curation.errors import ConfigError
from curation.filter import apply_filter
from curation.llm import make_client
from curation.llm.client import LLMClient
from curation.llm.packaged import ASSEMBLY_BYTES_PER_S
from curation.phases import Progress, ProgressFn
from curation.score import SCORE_PHASES, finalize, score_dataset, score_key
from curation.store import DatasetInfo, Store

STAGES = ("score", "filter", "correct")


@dataclass
class RunSummary:
    run_ids: dict[str, str] = field(default_factory=dict)
    scored: int = 0
    failed: int = 0
    flagged: int = 0
    proposed: int = 0
    auto_applied: int = 0
    stopped: str | None = None  # None, "cancelled" or "budget"
    stats: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # a stage that failed most of its examples
    notes: list[str] = field(default_factory=list)  # what a stage learnt, e.g. the dataset's shape
    #: Per scoring tier: examples in it and this run's calls and tokens (:class:`~curation.score.ScoreResult`).
    tiers: dict[str, dict[str, float]] = field(default_factory=dict)


StopFn = Callable[[], bool]


def run_pipeline(
    store: Store,
    dataset: str,
    config: Config,
    *,
    stages: tuple[str, ...] = STAGES,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    client: LLMClient | None = None,
) -> RunSummary:
    """Run the chosen stages on one dataset, recording each as a run in the store.

    Args:
        stages: any of ``score``, ``filter``, ``correct``, in that order.
        on_progress: receives a :class:`Progress` as each phase starts and after every
            finished example; the embedded model's loading is the ``load`` phase.
        should_stop: polled between batches; True stops cleanly (the next run resumes).
        client: the main model's client (default: built from ``config.llm`` over the store's cache).
    Raises:
        ConfigError: unknown stage, or filter / correct without score on a dataset scored with
            other settings; StorageError: unknown dataset; LLMError: the model cannot load.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"stages: {', '.join(unknown)} unknown; allowed: {', '.join(STAGES)}")
    info = store.dataset(dataset)
    key = score_key(config)
    active = store.active_score_key(info.dataset_id)
    if "score" not in stages and active not in (None, key) and not store.scored_ids(info.dataset_id, key):
        # Filtering on a key with no scores would silently replace every flag with none.
        raise ConfigError(
            f"dataset {info.name!r} was scored with other settings (backend, model, base URL or "
            "scoring options); pass the same ones, or run the score stage with these first"
        )
    reporter = _Reporter(on_progress, lambda: client.snapshot() if client is not None else {})
    engine = make_engine(config.engine)
    remote = config.engine.kind != "local"  # the model is loaded on the engine's workers, not here
    if client is None and ("score" in stages or "correct" in stages):
        client = _load_client(store, config.llm, reporter, remote=remote)  # the filter alone needs no model
    summary = RunSummary()

    def prior(stage: str) -> float | None:  # examples a second on earlier runs: an ETA from the start
        measured = estimate.measured_speed(store, info, config, stage)
        return 1 / measured[0] if measured else None

    if "score" in stages:
        result = None
        for phase in SCORE_PHASES:  # the cheap tier, then the sampled one: a run each, timed apart
            if result is not None and result.stopped:
                break
            with _run(store, info, config, phase, key, summary) as run_id:
                failed_before, sampled_before = (result.failed, result.sampled) if result else (0, 0)
                result = score_dataset(
                    store,
                    info,
                    config,
                    client,
                    run_id=run_id,
                    on_progress=reporter.phases(prior={phase: prior(phase)}),
                    should_stop=should_stop,
                    phases=(phase,),
                    result=result,
                    engine=engine,
                )
                summary.scored, summary.failed, summary.stopped = result.scored, result.failed, result.stopped
                done = result.scored if phase == "score" else result.sampled - sampled_before
                store.update_run(run_id, n_done=done, n_failed=result.failed - failed_before, stats=client.snapshot())
        finalize(store, info, config)  # once, over both tiers (also when a phase stopped early)
        if warning := result.warning():
            summary.warnings.append(warning)
        summary.tiers = result.tiers
        summary.notes.append(tier_note(result.tiers, config))
        if config.llm.backend == "openai" and result.scored:
            summary.notes.append(likelihood_note(len(result.likelihood_ids), result.scored, config))
    if "filter" in stages and summary.stopped is None:
        with _run(store, info, config, "filter", key, summary) as run_id:
            summary.flagged = apply_filter(store, info, config, score_key=key, run_id=run_id).flagged
    if "correct" in stages and summary.stopped is None:
        candidate_config = config.correct.candidate_llm(config.llm)
        candidates = _load_client(store, candidate_config, reporter, remote=remote) if candidate_config else client
        with _run(store, info, config, "correct", key, summary) as run_id:
            store.set_auto_applied(info.dataset_id, eta=config.correct.eta, allowed=config.correct.auto_apply)
            result = correct_dataset(
                store,
                info,
                config,
                candidates=candidates,
                judge_client=client,
                score_key=key,
                run_id=run_id,
                on_progress=reporter.phase("correct", prior_rate=prior("correct")),
                should_stop=should_stop,
                engine=engine,
            )
            summary.proposed, summary.stopped = result.proposed, result.stopped
            applied = (
                f" ({result.auto_applied} applied by themselves, {result.checked} of them checked by a rule)"
                if result.auto_applied
                else ""
            )
            redone = f" ({result.redone} made again: decided under older rules)" if result.redone else ""
            summary.notes.append(
                f"correct: {result.shape}; {result.proposed} proposed{applied}{redone}, {result.weaker} not "
                f"better than the original, {result.unchanged} with no other candidate"
            )
            warning = result.warning()
            if warning:
                summary.warnings.append(warning)
            store.update_run(
                run_id, n_done=result.attempted - result.failed, n_failed=result.failed, stats=client.snapshot()
            )
        summary.auto_applied = store.status(info.dataset_id)["auto_applied"]
    summary.stats = client.snapshot() if client is not None else {}
    return summary


def tier_note(split: dict[str, dict[str, float]], config: Config) -> str:
    """``score: 120 by cheap signals only, 40 sampled (band 0.30); this run 160 + 210 calls``."""
    if not split:
        return ""
    cheap, sampled = split.get(tiers.CHEAP, {}), split.get(tiers.SAMPLED, {})
    return (
        f"score: {int(cheap.get('examples', 0)):,} by cheap signals only, {int(sampled.get('examples', 0)):,} "
        f"sampled ({config.scoring.tiers}, band {config.scoring.band:.2f}); this run's calls "
        f"{int(cheap.get('calls', 0)):,} cheap + {int(sampled.get('calls', 0)):,} sampled"
    )


def likelihood_note(measured: int, scored: int, config: Config) -> str:
    """What the cheap tier had on an endpoint: its likelihoods (vLLM's prompt log-probabilities)
    for ``measured`` of the ``scored`` examples, one self-reflection question for the rest."""
    if measured == scored:
        return f"likelihoods: from the endpoint's prompt log-probabilities for all {scored:,} examples"
    why = (
        "llm.prompt_logprobs is off"
        if config.llm.prompt_logprobs == "off"
        else "the endpoint refused or ignored prompt_logprobs; vLLM gives them"
    )
    share = "none" if not measured else f"{measured:,} of {scored:,}"
    return (
        f"likelihoods: {share} ({why}); the cheap tier asked one self-reflection question instead, "
        "a weaker ranking (docs/benchmarks.md)"
    )


class _Reporter:
    """Turns a phase's (done, total, failed) calls into :class:`Progress` reports with a rate
    and the time left (:mod:`curation.throughput`)."""

    def __init__(self, on_progress: ProgressFn | None, stats: Callable[[], dict[str, float]]):
        self._on_progress = on_progress
        self._stats = stats

    def phases(
        self, *, unit: str = "examples", prior: dict[str, float | None] | None = None
    ) -> Callable[[str, int, int, int], None]:
        """One ``(phase, done, total, failed)`` callback for a stage with several phases
        (scoring: ``score`` then ``sample``), each reported as its own phase from its first
        report on (a phase that never comes is never shown), timed from its ``prior`` rate
        where one is known."""
        sends: dict[str, Callable[[int, int, int], None]] = {}

        def send(stage: str, done: int, total: int, failed: int) -> None:
            if stage not in sends:
                sends[stage] = self.phase(stage, unit=unit, prior_rate=(prior or {}).get(stage))
            sends[stage](done, total, failed)

        return send

    def phase(
        self, stage: str, *, unit: str = "examples", prior_rate: float | None = None
    ) -> Callable[[int, int, int], None]:
        state = throughput.start(time.monotonic(), prior_rate=prior_rate)

        def send(done: int, total: int, failed: int) -> None:
            nonlocal state
            if self._on_progress is None:
                return
            state = throughput.advance(state, done, time.monotonic())
            self._on_progress(
                Progress(
                    stage,
                    done,
                    total,
                    failed,
                    self._stats(),
                    rate=state.rate,
                    eta_s=state.seconds_left(total),
                    elapsed_s=state.at - state.started,
                    unit=unit,
                )
            )

        return send


def _load_client(store: Store, llm: LLMConfig, reporter: _Reporter, *, remote: bool = False) -> LLMClient:
    """The model's client; the embedded model is loaded first, as phases in MB: ``assemble``
    (a split packaged model's first use only, timed from the start at the measured rate),
    then ``load``. ``remote``: the model runs on the engine's workers (a client without it)."""
    if remote:
        from curation.engines.ray_engine import driver_client

        return driver_client(llm, store)
    if llm.backend == "embedded":
        from curation.llm import embedded

        embedded.load(
            llm,
            on_assemble=_megabytes(reporter, "assemble", prior_rate=ASSEMBLY_BYTES_PER_S >> 20),
            on_progress=_megabytes(reporter, "load"),
        )
    client = make_client(llm, store)
    if llm.batch:
        client.batches.on_wait = lambda: _requests(reporter.phase("batch", unit="requests"))
    return client


def _requests(send: Callable[[int, int, int], None]) -> Callable[[int, int], None]:
    """A Batch API wait's (requests answered, requests in all) callback, reported as ``send``'s phase."""
    return lambda done, total: send(done, total, 0)


def _megabytes(reporter: _Reporter, stage: str, *, prior_rate: float | None = None) -> Callable[[int, int], None]:
    """A (bytes done, bytes in all) callback reporting ``stage`` in MB (:meth:`_Reporter.phases`:
    the phase's clock starts at its first report)."""
    send = reporter.phases(unit="MB", prior={stage: prior_rate})
    return lambda done, total: send(stage, done >> 20, total >> 20, 0)


@contextmanager
def _run(store: Store, info: DatasetInfo, config: Config, stage: str, key: str, summary: RunSummary) -> Iterator[str]:
    """Record one stage as a run: 'running' while it goes, then its final status."""
    run_id = f"{stage}-{uuid.uuid4().hex[:12]}"
    store.start_run(
        run_id=run_id,
        dataset_id=info.dataset_id,
        stage=stage,
        backend=config.llm.backend,
        model=config.llm.model,
        config=config.to_dict(),
        score_key=key,
        n_examples=info.n_examples,
    )
    summary.run_ids[stage] = run_id
    warned = len(summary.warnings)
    try:
        yield run_id
    except BaseException as e:
        store.finish_run(run_id, status="failed", error=str(e) or type(e).__name__)
        raise
    store.finish_run(run_id, status=summary.stopped or "done", error="; ".join(summary.warnings[warned:]) or None)
