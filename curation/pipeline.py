"""The whole CLEAR run for the CLI and the app: score → filter → correct, resumable.

In: a store, a dataset name, a :class:`~curation.config.Config`. Out: a
:class:`RunSummary`; every finished example is in the store as soon as it is done, so a
cancelled, failed or killed run resumes where it stopped and pays for no call twice.
While it runs, :class:`Progress` reports name the phase (loading the model, scoring,
correcting) with done / total, rate and time left; before it runs,
:func:`estimate_run` times it from the speed this store measured on earlier runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from curation import contest, throughput, tiers
from curation.config import Config, LLMConfig
from curation.correct import correct_dataset
from curation.engines import make_engine
from curation.errors import ConfigError
from curation.filter import apply_filter
from curation.llm import make_client
from curation.llm.client import LLMClient
from curation.llm.packaged import ASSEMBLY_BYTES_PER_S, needs_assembly
from curation.records import Example
from curation.score import SCORE_PHASES, finalize, score_dataset, score_key, waiting_for_samples
from curation.store import DatasetInfo, Store, prompt_text

STAGES = ("score", "filter", "correct")
#: The phases a run reports, in order, as people read them ("assemble" only on a split packaged
#: model's first use, "load" only for the embedded model; the filter reports nothing).
PHASES = {
    "assemble": "preparing the model (first use: assembling its weights from the packages and checking them)",
    "load": "loading the model",
    "score": "scoring (cheap signals)",
    "sample": "sampling the uncertain (samples and self-reflection)",
    "correct": "correcting",
    "batch": "waiting for the Batch API (each batch within 24 h)",
}


@dataclass(frozen=True)
class Progress:
    """A live report from a running phase: at its start and after every finished example
    (the model's loading counts megabytes). ``rate`` (units a second) is exponentially
    weighted (:mod:`curation.throughput`); ``eta_s`` is the phase's seconds left at that rate,
    None until known."""

    stage: str  # a key of PHASES
    done: int
    total: int
    failed: int
    stats: dict[str, float]  # LLMStats.snapshot(): calls, cache_hits, prompt_tokens, completion_tokens, cost_usd, ...
    rate: float | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0
    unit: str = "examples"

    def pace(self, *, since_s: float = 0.0) -> str:
        """``8.5 examples/min, about 3 min left`` (the time left counted down by ``since_s``
        seconds since the report), or ``done in 42 s``."""
        if self.done >= self.total:
            return f"done in {throughput.duration(self.elapsed_s)}"
        left = throughput.countdown(self.eta_s, since_s)
        if left is None:
            return f"{throughput.rate_text(self.rate, self.unit)}, time left: measuring"
        return f"{throughput.rate_text(self.rate, self.unit)}, " + (
            f"about {throughput.duration(left)} left" if left >= 1 else "finishing"
        )

    def describe(self, *, since_s: float = 0.0) -> str:
        """``scoring: 12 of 40 examples · 8.5 examples/min, about 3 min left``."""
        name = PHASES.get(self.stage, self.stage)
        return f"{name}: {self.done:,} of {self.total:,} {self.unit} · {self.pace(since_s=since_s)}"


@dataclass(frozen=True)
class RunEstimate:
    """What a run will cost before it starts (only the examples not yet done count)."""

    examples: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float  # prepare_seconds included
    basis: str = ""  # where ``seconds`` comes from: the measured speed, or the default
    prepare_seconds: float = 0.0  # the embedded model's first use: assembling its weights
    #: Per scoring tier (``cheap``, ``sampled``): examples it will likely take, calls, tokens.
    tiers: dict[str, dict[str, int]] = field(default_factory=dict)


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


ProgressFn = Callable[[Progress], None]
StopFn = Callable[[], bool]


#: Rough cost model for estimates: mean tokens per call, and the seconds per call by backend
#: used only while this store has measured no run of the same settings (the embedded figure
#: comes from benchmarks/scoring_speed.py; see docs/benchmarks.md).
_SECONDS_PER_CALL = {"embedded": 0.85, "openai": 1.5}
_CORRECT_CALLS = 3  # a candidate and the judge's two orders
#: Measured examples pooled into one speed: enough to even out a slow first batch.
_POOL_EXAMPLES = 20
_COMPLETION_TOKENS = {"sample": 60, "reflection": 12, "candidate": 60, "judge": 12}
_CHARS_PER_TOKEN = 4
_EXPECTED_FLAG_SHARE = 0.2


#: The share of a dataset's examples the cascade samples, until this dataset has measured its
#: own: 36 % of the 610 sample-set examples at the default band (benchmarks/cascade_fit.py).
_EXPECTED_SAMPLED_SHARE = 0.36


#: The scoring phase (and run stage) that scores each tier.
_PHASE_TIERS = {"score": tiers.CHEAP, "sample": tiers.SAMPLED}


def calls_per_example(config: Config, tier: str = tiers.SAMPLED, *, contrast: int = 1) -> dict[str, int]:
    """LLM calls one example costs in ``tier``, by kind (adaptive k draws fewer samples when
    the first agree, up to ``k_max`` when they split). The sampled tier's likelihood pass, or
    its first reflection on a backend without likelihoods, was the cheap tier's (cached). The
    contrast takes ``contrast`` calls (:func:`contrast_calls`) where there are likelihoods."""
    s = config.scoring
    likelihood = 1 if config.llm.likelihoods_expected() else 0
    stand_in = 0 if likelihood else min(1, s.reflection_prompts)  # the cheap tier's reflection
    if tier == tiers.CHEAP:
        return {"likelihood": likelihood, "reflection": stand_in}
    return {
        "sample": s.k,
        "reflection": s.reflection_prompts - stand_in,
        "contrast": contrast if likelihood and s.w_contrast > 0 else 0,
    }


#: Examples whose responses tell the estimate the dataset's shape (closed set, extractive).
_SHAPE_EXAMPLES = 2_000


def contrast_calls(examples: Sequence[Example], config: Config) -> int:
    """Calls the contrast costs a sampled example: none where the dataset's answers are open
    (it scores no alternative there), one on the embedded model (the alternatives scored
    together), and on an endpoint a request per alternative: each other member of a closed
    set, or up to five spans and one per sample where the answers are spans of the prompt
    (the shape read from ``examples``: the dataset's first :data:`_SHAPE_EXAMPLES`)."""
    shape = contest.dataset_shape([prompt_text(e.prompt) for e in examples], [e.response for e in examples])
    sources = contest.constrained_sources(shape, config.correct.sources)
    if not sources:
        return 0
    if config.llm.backend != "openai":
        return 1
    return len(shape.closed_set) - 1 if "closed_set" in sources else 5 + config.scoring.k


def _tier_plan(rows: list[dict[str, Any]], config: Config, unscored: int) -> dict[str, int]:
    """Examples each tier will likely take: every unscored one gets the cheap tier; of those
    and the cheap-tier ones already stored (``rows``, the dataset's ok scores), the share the
    band sends on is sampled (this dataset's share so far, else the measured default)."""
    waiting = len(waiting_for_samples(rows, config))
    if config.scoring.tiers != "cascade":
        share = 1.0 if config.scoring.tiers == "full" else 0.0
    else:
        counts = tiers.tier_counts(rows)
        seen = counts[tiers.CHEAP] + counts[tiers.SAMPLED]
        share = counts[tiers.SAMPLED] / seen if seen >= _POOL_EXAMPLES else _EXPECTED_SAMPLED_SHARE
    return {tiers.CHEAP: unscored, tiers.SAMPLED: waiting + round(unscored * share)}


def estimate_run(store: Store, dataset: str, config: Config) -> RunEstimate:
    """Calls, tokens, time and cost of scoring the not-yet-scored examples (each tier's
    likely share: :func:`_tier_plan`) and correcting the expected flagged share, before
    anything is called (cached calls cost nothing; the estimate does not know which are
    cached, so it is an upper bound).

    Time is the seconds an example took on this store's latest runs with the same model and
    scoring settings (:func:`measured_seconds`); only with none measured yet, a default
    seconds per call. The flagged share is this dataset's so far, else γ's quantile or 20 %.
    """
    info = store.dataset(dataset)
    rows = [r for r in store.scores(info.dataset_id, score_key(config)) if r["status"] == "ok"]
    done = {r["example_id"] for r in rows}
    head: list[Example] = []  # the dataset's first examples tell its shape (contrast_calls)
    todo: list[Example] = []
    for e in store.iter_examples(info.dataset_id):  # one read of the examples for both
        if len(head) < _SHAPE_EXAMPLES:
            head.append(e)
        if e.example_id not in done:
            todo.append(e)
    prompt_chars = sum(len(prompt_text(e.prompt)) + len(e.response) for e in todo)
    mean_prompt = (prompt_chars / len(todo) / _CHARS_PER_TOKEN + 80) if todo else 0
    plan = _tier_plan(rows, config, len(todo))
    n_correct = round(len(todo) * _flag_share(store, info, config))
    contrast = contrast_calls(head, config) if plan[tiers.SAMPLED] else 0
    split = {}
    for tier, n in plan.items():
        per = calls_per_example(config, tier, contrast=contrast)
        tier_calls = n * sum(per.values())
        split[tier] = {
            "examples": n,
            "calls": tier_calls,
            "prompt_tokens": round(tier_calls * mean_prompt),
            "completion_tokens": n
            * (
                per.get("sample", 0) * _COMPLETION_TOKENS["sample"]
                + per["reflection"] * _COMPLETION_TOKENS["reflection"]
            ),
        }
    calls = sum(t["calls"] for t in split.values()) + n_correct * _CORRECT_CALLS
    completion = sum(t["completion_tokens"] for t in split.values()) + n_correct * (
        _COMPLETION_TOKENS["candidate"] + 2 * _COMPLETION_TOKENS["judge"]
    )
    prompt = round(calls * mean_prompt)
    price_prompt, price_completion = config.llm.prices()  # the batch price in batch mode
    cost = (prompt * price_prompt + completion * price_completion) / 1_000_000
    seconds, bases = 0.0, []
    work = [
        (phase, split[tier]["examples"], calls_per_example(config, tier, contrast=contrast))
        for phase, tier in _PHASE_TIERS.items()
    ]
    for stage, n, calls_each in [*work, ("correct", n_correct, {"all": _CORRECT_CALLS})]:
        if not n:
            continue
        each, basis = _stage_seconds(store, info, config, stage, sum(calls_each.values()))
        seconds += n * each
        bases.append(f"{PHASES[stage]} {basis}")
    if config.llm.batch:
        bases.append("with the Batch API each stage waits for its batches: up to 24 h, often minutes")
    prepare, prepare_basis = estimate_preparation(config)
    return RunEstimate(
        examples=len(todo),
        calls=calls,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        seconds=seconds + prepare,
        basis="; ".join([prepare_basis, *bases] if prepare else bases),
        prepare_seconds=prepare,
        tiers=split,
    )


def estimate_preparation(config: Config) -> tuple[float, str]:
    """Seconds the first use of the embedded models (main and candidate) will spend assembling
    and checking their weights (:func:`~curation.llm.packaged.needs_assembly`), at the rate
    measured for it, and the estimate's phrase for it; (0, "") once they are assembled."""
    llms = (config.llm, config.correct.candidate_llm(config.llm))
    models = {(llm.model, llm.model_dir) for llm in llms if llm is not None and llm.backend == "embedded"}
    pending = sum(needs_assembly(model, model_dir=model_dir) for model, model_dir in models)
    if not pending:
        return 0.0, ""
    rate = ASSEMBLY_BYTES_PER_S >> 20
    return pending / ASSEMBLY_BYTES_PER_S, f"preparing the model {pending >> 20:,} MB at ~{rate} MB/s (first use only)"


def measured_seconds(
    timings: list[dict[str, Any]], *, dataset_id: int, score_key: str, pool: int = _POOL_EXAMPLES
) -> tuple[float, int] | None:
    """Seconds an example took on earlier runs of one stage, or None when none is usable.

    Args:
        timings: finished runs, newest first (:meth:`Store.run_timings`: ``seconds``,
            ``n_done``, ``calls``, ``cache_hits``, ``dataset_id``, ``score_key``).
        dataset_id, score_key: runs with this score key (model and scoring settings) count,
            this dataset's first; runs that took more samples from the call cache than calls
            to the model are left out (their speed is the cache's).
        pool: runs are pooled, newest first, until they cover this many examples.
    Returns:
        (summed seconds / summed examples, examples measured).
    """
    usable = [
        t
        for t in timings
        if t["score_key"] == score_key and t["n_done"] > 0 and t["seconds"] > 0 and t["cache_hits"] <= t["calls"]
    ]
    usable.sort(key=lambda t: t["dataset_id"] != dataset_id)  # stable: newest first within each
    seconds = examples = 0
    for t in usable:
        seconds, examples = seconds + t["seconds"], examples + t["n_done"]
        if examples >= pool:
            break
    return (seconds / examples, examples) if examples else None


def _measured(store: Store, info: DatasetInfo, config: Config, stage: str) -> tuple[float, int] | None:
    llm = config.llm
    timings = store.run_timings(stage=stage, backend=llm.backend, model=llm.model)
    return measured_seconds(timings, dataset_id=info.dataset_id, score_key=score_key(config))


def _stage_seconds(store: Store, info: DatasetInfo, config: Config, stage: str, calls: int) -> tuple[float, str]:
    """Seconds an example of ``stage`` takes here, and where that number comes from."""
    measured = _measured(store, info, config, stage)
    if measured is not None:
        each, examples = measured
        return each, f"{each:.1f} s an example, measured on the last {examples} run here"
    llm = config.llm
    concurrency = 1 if llm.backend == "embedded" else llm.concurrency
    each = calls * _SECONDS_PER_CALL[llm.backend] / concurrency
    return each, f"{each:.1f} s an example by default (no run of these settings measured yet)"


def _flag_share(store: Store, info: DatasetInfo, config: Config) -> float:
    """The share of scored examples the filter flags: as measured on this dataset, else γ
    in quantile mode, else a default."""
    counts = store.status(info.dataset_id)
    if counts.get("scored") and counts.get("flagged"):
        return counts["flagged"] / counts["scored"]
    return config.filter.gamma if config.filter.gamma_mode == "quantile" else _EXPECTED_FLAG_SHARE


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
        measured = _measured(store, info, config, stage)
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
            summary.notes.append(
                f"correct: {result.shape}; {result.proposed} proposed{applied}, {result.weaker} not "
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


def tier_plan_text(estimate: RunEstimate) -> str:
    """``cheap tier: 160 examples, 160 calls, ~52,000 tokens; sampled tier: ~58 examples, ...``."""
    parts = []
    for tier, label in ((tiers.CHEAP, "cheap tier"), (tiers.SAMPLED, "sampled tier")):
        t = estimate.tiers.get(tier)
        if t:
            tokens = t["prompt_tokens"] + t["completion_tokens"]
            approx = "~" if tier == tiers.SAMPLED else ""
            parts.append(f"{label}: {approx}{t['examples']:,} examples, {t['calls']:,} calls, ~{tokens:,} tokens")
    return "; ".join(parts)


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
