"""The pipeline commands of ``curate`` (``score``, ``filter``, ``correct``, ``run``): their flags and the run.

In: the flags :func:`add_pipeline_flags` gives each of these commands, parsed. Out: the run's
:class:`~curation.config.Config` (:func:`config_from_flags`) and :func:`run_stages`'s exit
status (0; 3 when the run stopped early; 4 when it ended with warnings), with the estimate, a
progress bar and the run's summary printed on the way. :mod:`curation.cli` registers the commands.
"""

from __future__ import annotations

import argparse
import sys

from curation.config import Config
from curation.config_values import ENGINES, PROMPT_LOGPROBS, TIER_MODES
from curation.store import Store

#: CLI flag -> config key, for the flags every pipeline command shares.
CONFIG_FLAGS = {
    "backend": "llm.backend",
    "model": "llm.model",
    "base_url": "llm.base_url",
    "api_key_env": "llm.api_key_env",
    "prompt_logprobs": "llm.prompt_logprobs",
    "concurrency": "llm.concurrency",
    "budget": "llm.budget_usd",
    "price_prompt": "llm.price_prompt_per_m",
    "price_completion": "llm.price_completion_per_m",
    "batch": "llm.batch",
    "k": "scoring.k",
    "k_max": "scoring.k_max",
    "tiers": "scoring.tiers",
    "band": "scoring.band",
    "alpha": "scoring.alpha",
    "beta": "scoring.beta",
    "sample_style": "scoring.sample_style",
    "gamma": "filter.gamma",
    "gamma_mode": "filter.gamma_mode",
    "eta": "correct.eta",
    "candidate_model": "correct.candidate_model",
    "candidate_base_url": "correct.candidate_base_url",
    "candidate_backend": "correct.candidate_backend",
    "engine": "engine.kind",
    "ray_address": "engine.ray_address",
    "ray_actors": "engine.actors",
}


def config_from_flags(args: argparse.Namespace, last_run: dict | None) -> Config:
    """``--config`` file, else the dataset's last run's settings, else defaults; flags on top."""
    overrides = {key: getattr(args, flag) for flag, key in CONFIG_FLAGS.items()}
    overrides["correct.auto_apply"] = args.auto_apply
    return Config.for_run(args.config, last_run, overrides)


def run_stages(args: argparse.Namespace, stages: tuple[str, ...]) -> int:
    """Run ``stages`` on the dataset the flags name, printing the estimate, progress and summary.

    Returns:
        The exit status: 0; 3 when the run stopped early (cancelled, or the budget spent); 4 when it
        finished with warnings.
    Raises:
        CurationError: a bad flag or config (before anything runs), an unknown dataset, or
            what the run raises.
    """
    from shlex import quote

    from curation.estimate import estimate_run, tier_plan_text
    from curation.pipeline import run_pipeline
    from curation.progress import ProgressBar
    from curation.throughput import duration

    config_from_flags(args, None)  # a bad flag is reported before anything else
    with Store(args.store) as store:
        info = store.dataset(args.dataset)
        dataset = info.name
        config = config_from_flags(args, store.last_run_config(info.dataset_id))
        if "score" in stages:
            e = estimate_run(store, dataset, config)
            print(
                f"estimate: {e.examples} examples to score, at most {e.calls} calls, "
                f"~{e.prompt_tokens + e.completion_tokens:,} tokens, ~{duration(e.seconds)}, ${e.cost_usd:.2f} "
                f"({e.basis or 'nothing to do'})",
                file=sys.stderr,
            )
            print(f"estimate by tier: {tier_plan_text(e)}", file=sys.stderr)
        with ProgressBar(price_known=config.llm.price_prompt_per_m > 0) as bar:
            summary = run_pipeline(store, dataset, config, stages=stages, on_progress=bar.update)
    s = summary.stats
    batched = f" ({int(s['batched'])} answered by batches)" if s.get("batched") else ""
    print(
        f"{dataset}: scored {summary.scored}, failed {summary.failed}, flagged {summary.flagged}, "
        f"proposed {summary.proposed}, auto-applied {summary.auto_applied}; "
        f"{int(s.get('calls', 0))} calls, {int(s.get('cache_hits', 0))} cache hits{batched}, "
        f"{int(s.get('prompt_tokens', 0) + s.get('completion_tokens', 0)):,} tokens, ${s.get('cost_usd', 0):.4f}"
    )
    for note in summary.notes:
        print(note, file=sys.stderr)
    for warning in summary.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if summary.stopped:
        print(f"stopped early ({summary.stopped}); run the same command again to resume", file=sys.stderr)
        return 3
    if summary.flagged:
        print(
            f"review the {summary.flagged} flagged example(s): curate app --store {quote(str(args.store))} "
            "(Review page, status: flagged)"
        )
    return 4 if summary.warnings else 0


def add_pipeline_flags(p: argparse.ArgumentParser) -> None:
    """Add the flags every pipeline command shares (dataset, config file, model, engine, method) to ``p``."""
    p.add_argument("--dataset", help="dataset name (needed when the store has several)")
    p.add_argument(
        "--config",
        help="TOML config file (sections llm, scoring, filter, correct); default: "
        "the settings of the dataset's last run, else the built-in defaults; flags override either",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--backend", choices=("embedded", "openai"), help="embedded (default) or an OpenAI-compatible endpoint"
    )
    g.add_argument("--model", help="packaged model name or .gguf path (embedded), or the endpoint's model name")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--api-key-env", help="NAME of the environment variable holding the API key")
    g.add_argument(
        "--prompt-logprobs",
        choices=PROMPT_LOGPROBS,
        help="likelihoods from the endpoint's prompt log-probabilities (vLLM): auto (default: tried once), on, off",
    )
    g.add_argument("--concurrency", type=int, help="calls in flight at once (remote endpoints)")
    g.add_argument("--budget", type=float, help="stop cleanly once this many dollars are spent")
    g.add_argument("--price-prompt", type=float, help="dollars per million prompt tokens")
    g.add_argument("--price-completion", type=float, help="dollars per million completion tokens")
    g.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send each stage's calls through OpenAI's Batch API (--backend openai): half the price, "
        "results within 24 h; a rerun waits for the batches already sent",
    )
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        choices=ENGINES,
        help='where scoring and correcting run: local (default) or ray (pip install -e ".[ray]")',
    )
    g.add_argument("--ray-address", help="Ray cluster to use, e.g. ray://head:10001 (default: a local Ray for the run)")
    g.add_argument(
        "--ray-actors", type=int, help="Ray workers at once, each keeping one model or endpoint client (default 2)"
    )
    g = p.add_argument_group("method")
    g.add_argument("--k", type=int, help="consistency samples per example (default 5)")
    g.add_argument("--k-max", type=int, help="samples at most when the first k split (adaptive k; default 7)")
    g.add_argument(
        "--tiers",
        choices=TIER_MODES,
        help="which examples get samples and reflections: cascade (default: those the cheap signals leave "
        "below --band), full (all, BSDetector as published) or cheap (none)",
    )
    g.add_argument("--band", type=float, help="cascade: sample examples whose cheap confidence is below this (0.3)")
    g.add_argument("--alpha", type=float, help="similarity vs exact-match weight α (default 0.8)")
    g.add_argument("--beta", type=float, help="consistency vs reflection weight β (default 0.7)")
    g.add_argument("--sample-style", choices=("explanation_first", "answer_first"))
    g.add_argument("--gamma", type=float, help="Auto-Filter threshold γ")
    g.add_argument("--gamma-mode", choices=("absolute", "quantile"))
    g.add_argument("--eta", type=float, help="Auto-Correct threshold η on P(candidate better) (default 0.85)")
    g.add_argument("--candidate-model", help="model that writes corrections (e.g. your fine-tuned endpoint)")
    g.add_argument("--candidate-base-url", help="endpoint of the candidate model")
    g.add_argument(
        "--candidate-backend",
        choices=("embedded", "openai"),
        help="backend of the candidate model (default: the main one's)",
    )
    g.add_argument(
        "--auto-apply",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply confident corrections by themselves (default) or leave all for review",
    )
