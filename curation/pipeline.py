"""The whole CLEAR run for the CLI and the app: score → filter → correct, resumable.

In: a store, a dataset name, a :class:`~curation.config.Config`. Out: a
:class:`RunSummary`; every finished example is in the store as soon as it is done, so a
cancelled, failed or killed run resumes where it stopped and pays for no call twice.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from curation.config import Config
from curation.correct import correct_dataset
from curation.errors import ConfigError
from curation.filter import apply_filter
from curation.llm import make_client
from curation.llm.client import LLMClient
from curation.score import finalize, score_dataset, score_key
from curation.store import DatasetInfo, Store, prompt_text

STAGES = ("score", "filter", "correct")


@dataclass(frozen=True)
class Progress:
    """A live report from a running stage (sent after every finished example)."""

    stage: str
    done: int
    total: int
    failed: int
    stats: dict[str, float]  # LLMStats.snapshot(): calls, cache_hits, prompt_tokens, completion_tokens, cost_usd, ...


@dataclass(frozen=True)
class RunEstimate:
    """What a run will cost before it starts (only the examples not yet done count)."""

    examples: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float


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


#: Rough cost model for estimates: mean tokens per call and seconds per call by backend
#: (embedded: benchmarks/scoring_speed.py measured 6.9 s for the 8 calls of a default example).
_SECONDS_PER_CALL = {"embedded": 0.85, "openai": 1.5}
_COMPLETION_TOKENS = {"sample": 60, "reflection": 12, "candidate": 60, "judge": 12}
_CHARS_PER_TOKEN = 4
_EXPECTED_FLAG_SHARE = 0.2


def calls_per_example(config: Config) -> dict[str, int]:
    """LLM calls one example costs at most, by kind (early stop only lowers samples)."""
    s = config.scoring
    likelihood = 1 if config.llm.backend == "embedded" else 0
    return {"sample": s.k, "reflection": s.reflection_prompts, "likelihood": likelihood,
            "contrast": likelihood if s.w_contrast > 0 else 0}  # the alternatives, scored together


def estimate_run(store: Store, dataset: str, config: Config) -> RunEstimate:
    """Calls, tokens, time and cost of scoring the not-yet-scored examples and correcting
    the expected flagged share, before anything is called (cached calls cost nothing; the
    estimate does not know which are cached, so it is an upper bound)."""
    info = store.dataset(dataset)
    done = store.scored_ids(info.dataset_id, score_key(config))
    todo = [e for e in store.iter_examples(info.dataset_id) if e.example_id not in done]
    per = calls_per_example(config)
    prompt_chars = sum(len(prompt_text(e.prompt)) + len(e.response) for e in todo)
    mean_prompt = (prompt_chars / len(todo) / _CHARS_PER_TOKEN + 80) if todo else 0
    n_correct = round(len(todo) * _EXPECTED_FLAG_SHARE)
    calls = len(todo) * sum(per.values()) + n_correct * 3
    completion = (len(todo) * (per["sample"] * _COMPLETION_TOKENS["sample"]
                               + per["reflection"] * _COMPLETION_TOKENS["reflection"])
                  + n_correct * (_COMPLETION_TOKENS["candidate"] + 2 * _COMPLETION_TOKENS["judge"]))
    prompt = round(calls * mean_prompt)
    llm = config.llm
    concurrency = 1 if llm.backend == "embedded" else llm.concurrency
    cost = (prompt * llm.price_prompt_per_m + completion * llm.price_completion_per_m) / 1_000_000
    seconds = calls * _SECONDS_PER_CALL[llm.backend] / concurrency
    return RunEstimate(examples=len(todo), calls=calls, prompt_tokens=prompt, completion_tokens=completion,
                       cost_usd=cost, seconds=seconds)


def run_pipeline(store: Store, dataset: str, config: Config, *, stages: tuple[str, ...] = STAGES,
                 on_progress: ProgressFn | None = None, should_stop: StopFn | None = None,
                 client: LLMClient | None = None) -> RunSummary:
    """Run the chosen stages on one dataset, recording each as a run in the store.

    Args:
        stages: any of ``score``, ``filter``, ``correct``, in that order.
        on_progress: receives a :class:`Progress` after every finished example.
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
        raise ConfigError(f"dataset {info.name!r} was scored with other settings (backend, model, base URL or "
                          "scoring options); pass the same ones, or run the score stage with these first")
    if client is None and ("score" in stages or "correct" in stages):
        client = make_client(config.llm, store)  # the filter alone needs no model
    summary = RunSummary()

    def report(stage: str) -> Callable[[int, int, int], None]:
        def send(done: int, total: int, failed: int) -> None:
            if on_progress is not None:
                on_progress(Progress(stage, done, total, failed, client.snapshot()))
        return send

    if "score" in stages:
        with _run(store, info, config, "score", key, summary) as run_id:
            result = score_dataset(store, info, config, client, run_id=run_id, on_progress=report("score"),
                                   should_stop=should_stop)
            finalize(store, info, config)
            summary.scored, summary.failed, summary.stopped = result.scored, result.failed, result.stopped
            store.update_run(run_id, n_done=result.scored, n_failed=result.failed, stats=client.snapshot())
    if "filter" in stages and summary.stopped is None:
        with _run(store, info, config, "filter", key, summary) as run_id:
            summary.flagged = apply_filter(store, info, config, score_key=key, run_id=run_id).flagged
    if "correct" in stages and summary.stopped is None:
        candidate_config = config.correct.candidate_llm(config.llm)
        candidates = make_client(candidate_config, store) if candidate_config else client
        with _run(store, info, config, "correct", key, summary) as run_id:
            store.set_auto_applied(info.dataset_id, eta=config.correct.eta, allowed=config.correct.auto_apply)
            result = correct_dataset(store, info, config, candidates=candidates, judge_client=client, score_key=key,
                                     run_id=run_id, on_progress=report("correct"), should_stop=should_stop)
            summary.proposed, summary.stopped = result.proposed, result.stopped
            summary.notes.append(f"correct: {result.shape}; {result.proposed} proposed, {result.weaker} not "
                                 f"better than the original, {result.unchanged} with no other candidate")
            warning = result.warning()
            if warning:
                summary.warnings.append(warning)
            store.update_run(run_id, n_done=result.attempted - result.failed, n_failed=result.failed,
                             stats=client.snapshot())
        summary.auto_applied = store.status(info.dataset_id)["auto_applied"]
    summary.stats = client.snapshot() if client is not None else {}
    return summary


@contextmanager
def _run(store: Store, info: DatasetInfo, config: Config, stage: str, key: str,
         summary: RunSummary) -> Iterator[str]:
    """Record one stage as a run: 'running' while it goes, then its final status."""
    run_id = f"{stage}-{uuid.uuid4().hex[:12]}"
    store.start_run(run_id=run_id, dataset_id=info.dataset_id, stage=stage, backend=config.llm.backend,
                    model=config.llm.model, config=config.to_dict(), score_key=key, n_examples=info.n_examples)
    summary.run_ids[stage] = run_id
    warned = len(summary.warnings)
    try:
        yield run_id
    except BaseException as e:
        store.finish_run(run_id, status="failed", error=str(e) or type(e).__name__)
        raise
    store.finish_run(run_id, status=summary.stopped or "done", error="; ".join(summary.warnings[warned:]) or None)
