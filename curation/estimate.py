"""What a run will cost before it starts: calls, tokens, money and time per scoring tier
(:func:`estimate_run`), from the speed this store measured on earlier runs of the same
settings (:func:`measured_seconds`) or, before any, a default cost model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from curation import alternatives, tiers
from curation.config import Config
from curation.llm.packaged import ASSEMBLY_BYTES_PER_S, needs_assembly
from curation.phases import PHASES
from curation.records import Example
from curation.score import score_key, waiting_for_samples
from curation.store import DatasetInfo, Store, prompt_text


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
    shape = alternatives.dataset_shape([prompt_text(e.prompt) for e in examples], [e.response for e in examples])
    sources = alternatives.constrained_sources(shape, config.correct.sources)
    if not sources:
        return 0
    if config.llm.backend != "openai":
        return 1
    return len(shape.closed_set) - 1 if "closed_set" in sources else 5 + config.scoring.k


def tier_plan(rows: list[dict[str, Any]], config: Config, unscored: int) -> dict[str, int]:
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
    likely share: :func:`tier_plan`) and correcting the expected flagged share, before
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
    plan = tier_plan(rows, config, len(todo))
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


def measured_speed(store: Store, info: DatasetInfo, config: Config, stage: str) -> tuple[float, int] | None:
    """:func:`measured_seconds` of ``stage`` over this store's finished runs with ``config``'s
    model and scoring settings (the pipeline times a phase from the start with it)."""
    llm = config.llm
    timings = store.run_timings(stage=stage, backend=llm.backend, model=llm.model)
    return measured_seconds(timings, dataset_id=info.dataset_id, score_key=score_key(config))


def _stage_seconds(store: Store, info: DatasetInfo, config: Config, stage: str, calls: int) -> tuple[float, str]:
    """Seconds an example of ``stage`` takes here, and where that number comes from."""
    measured = measured_speed(store, info, config, stage)
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
