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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from curation import throughput
from curation.config import Config, LLMConfig
from curation.correct import correct_dataset
from curation.errors import ConfigError
from curation.filter import apply_filter
from curation.llm import make_client
from curation.llm.client import LLMClient
from curation.score import finalize, score_dataset, score_key
from curation.store import DatasetInfo, Store, prompt_text

STAGES = ("score", "filter", "correct")
#: The phases a run reports, in order, as people read them ("load" only for the embedded model;
#: the filter takes a moment and reports nothing).
PHASES = {"load": "loading the model", "score": "scoring", "correct": "correcting"}


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
    seconds: float
    basis: str = ""  # where ``seconds`` comes from: the measured speed, or the default


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


def calls_per_example(config: Config) -> dict[str, int]:
    """LLM calls one example costs at most, by kind (early stop only lowers samples)."""
    s = config.scoring
    likelihood = 1 if config.llm.backend == "embedded" else 0
    return {
        "sample": s.k,
        "reflection": s.reflection_prompts,
        "likelihood": likelihood,
        "contrast": likelihood if s.w_contrast > 0 else 0,
    }  # the alternatives, scored together


def estimate_run(store: Store, dataset: str, config: Config) -> RunEstimate:
    """Calls, tokens, time and cost of scoring the not-yet-scored examples and correcting
    the expected flagged share, before anything is called (cached calls cost nothing; the
    estimate does not know which are cached, so it is an upper bound).

    Time is the seconds an example took on this store's latest runs with the same model and
    scoring settings (:func:`measured_seconds`); only with none measured yet, a default
    seconds per call. The flagged share is this dataset's so far, else γ's quantile or 20 %.
    """
    info = store.dataset(dataset)
    done = store.scored_ids(info.dataset_id, score_key(config))
    todo = [e for e in store.iter_examples(info.dataset_id) if e.example_id not in done]
    per = calls_per_example(config)
    prompt_chars = sum(len(prompt_text(e.prompt)) + len(e.response) for e in todo)
    mean_prompt = (prompt_chars / len(todo) / _CHARS_PER_TOKEN + 80) if todo else 0
    n_correct = round(len(todo) * _flag_share(store, info, config))
    calls = len(todo) * sum(per.values()) + n_correct * _CORRECT_CALLS
    completion = len(todo) * (
        per["sample"] * _COMPLETION_TOKENS["sample"] + per["reflection"] * _COMPLETION_TOKENS["reflection"]
    ) + n_correct * (_COMPLETION_TOKENS["candidate"] + 2 * _COMPLETION_TOKENS["judge"])
    prompt = round(calls * mean_prompt)
    llm = config.llm
    cost = (prompt * llm.price_prompt_per_m + completion * llm.price_completion_per_m) / 1_000_000
    seconds, bases = 0.0, []
    for stage, n, calls_each in (("score", len(todo), sum(per.values())), ("correct", n_correct, _CORRECT_CALLS)):
        if not n:
            continue
        each, basis = _stage_seconds(store, info, config, stage, calls_each)
        seconds += n * each
        bases.append(f"{PHASES[stage]} {basis}")
    return RunEstimate(
        examples=len(todo),
        calls=calls,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        seconds=seconds,
        basis="; ".join(bases),
    )


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
    if client is None and ("score" in stages or "correct" in stages):
        client = _load_client(store, config.llm, reporter)  # the filter alone needs no model
    summary = RunSummary()

    def prior(stage: str) -> float | None:  # examples a second on earlier runs: an ETA from the start
        measured = _measured(store, info, config, stage)
        return 1 / measured[0] if measured else None

    if "score" in stages:
        with _run(store, info, config, "score", key, summary) as run_id:
            result = score_dataset(
                store,
                info,
                config,
                client,
                run_id=run_id,
                on_progress=reporter.phase("score", prior_rate=prior("score")),
                should_stop=should_stop,
            )
            finalize(store, info, config)
            summary.scored, summary.failed, summary.stopped = result.scored, result.failed, result.stopped
            store.update_run(run_id, n_done=result.scored, n_failed=result.failed, stats=client.snapshot())
    if "filter" in stages and summary.stopped is None:
        with _run(store, info, config, "filter", key, summary) as run_id:
            summary.flagged = apply_filter(store, info, config, score_key=key, run_id=run_id).flagged
    if "correct" in stages and summary.stopped is None:
        candidate_config = config.correct.candidate_llm(config.llm)
        candidates = _load_client(store, candidate_config, reporter) if candidate_config else client
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
            )
            summary.proposed, summary.stopped = result.proposed, result.stopped
            summary.notes.append(
                f"correct: {result.shape}; {result.proposed} proposed, {result.weaker} not "
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


class _Reporter:
    """Turns a phase's (done, total, failed) calls into :class:`Progress` reports with a rate
    and the time left (:mod:`curation.throughput`)."""

    def __init__(self, on_progress: ProgressFn | None, stats: Callable[[], dict[str, float]]):
        self._on_progress = on_progress
        self._stats = stats

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


def _load_client(store: Store, llm: LLMConfig, reporter: _Reporter) -> LLMClient:
    """The model's client; the embedded model is loaded first as the ``load`` phase (in MB)."""
    if llm.backend == "embedded":
        from curation.llm import embedded

        send = reporter.phase("load", unit="MB")
        embedded.load(llm, on_progress=lambda done, total: send(done >> 20, total >> 20, 0))
    return make_client(llm, store)


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
