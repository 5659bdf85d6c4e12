"""What each setting may be, and the check that a config keeps to it.

In: a built :class:`~curation.config.Config` (its ``__post_init__`` calls :func:`validate`).
Out: nothing when every value is allowed, else a :class:`~curation.errors.ConfigError` naming
the key, the bad value and what is allowed. The allowed values themselves (backends, tier
modes, candidate sources, judges, engines…) and the signal names that have a weight live here
too, for the config's defaults, the CLI's flag choices and the Run page's widgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curation.errors import ConfigError

if TYPE_CHECKING:
    from curation.config import Config

BACKENDS = ("embedded", "openai")
#: Whether an ``openai`` endpoint is asked for the log-probabilities of the request's own tokens
#: (vLLM's ``prompt_logprobs``; :mod:`curation.llm.prompt_logprobs`): ``auto`` tries once and
#: falls back for good when the server refuses or ignores it, ``on`` requires it, ``off`` never asks.
PROMPT_LOGPROBS = ("auto", "on", "off")
GAMMA_MODES = ("absolute", "quantile")
SAMPLE_STYLES = ("explanation_first", "answer_first")
REFLECTION_STYLES = ("tagged", "follow_up")
REFLECTION_ORDERS = ("balanced", "fixed")
#: Which examples get the consistency samples and reflections (see :mod:`curation.tiers`):
#: ``cascade`` those the cheap signals leave uncertain or low, ``full`` all, ``cheap`` none.
TIER_MODES = ("cascade", "full", "cheap")
#: Where Auto-Correct's candidates come from (see :mod:`curation.alternatives`).
CANDIDATE_SOURCES = ("repair", "samples", "closed_set", "extractive", "few_shot")
#: How a candidate is judged: ``contest`` (compared confidences, calibrated), ``llm`` (the
#: paper's two-order judge alone) or ``both`` (the LLM judge joins where it is informative).
JUDGES = ("contest", "llm", "both")
#: Where scoring and correcting run: this process's threads, or a Ray cluster's workers (:mod:`curation.engines`).
ENGINES = ("local", "ray")
#: Signals averaged into the confidence, and rule signals multiplied in; each has a weight
#: ``scoring.w_<name>``.
SOFT_SIGNALS = ("bsdetector", "likelihood", "min_k", "ifd")
RULE_SIGNALS = ("format", "degenerate", "injection", "ending", "arithmetic", "contrast")


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"config: {key} = {value!r} is not allowed; expected {allowed}")


def validate(c: Config) -> None:
    """Check every setting of ``c`` against what it may be.

    Raises:
        ConfigError: the first value not allowed, naming the key, the value and what is allowed.
    """
    _check(c.llm.backend in BACKENDS, "llm.backend", c.llm.backend, " or ".join(BACKENDS))
    _check(c.llm.concurrency >= 1, "llm.concurrency", c.llm.concurrency, "an integer >= 1")
    _check(c.llm.max_attempts >= 1, "llm.max_attempts", c.llm.max_attempts, "an integer >= 1")
    _check(c.llm.timeout_s > 0, "llm.timeout_s", c.llm.timeout_s, "a number > 0")
    _check(c.llm.price_prompt_per_m >= 0, "llm.price_prompt_per_m", c.llm.price_prompt_per_m, "a number >= 0")
    _check(
        c.llm.price_completion_per_m >= 0, "llm.price_completion_per_m", c.llm.price_completion_per_m, "a number >= 0"
    )
    _check(
        c.llm.budget_usd is None or c.llm.budget_usd >= 0, "llm.budget_usd", c.llm.budget_usd, "a number >= 0 or none"
    )
    _check(isinstance(c.llm.extra_headers, dict), "llm.extra_headers", c.llm.extra_headers, "a table of strings")
    _check(
        not c.llm.batch or c.llm.backend == "openai",
        "llm.batch",
        c.llm.batch,
        "false with llm.backend = 'embedded' (the Batch API is an OpenAI endpoint's; the embedded model "
        "batches its calls by itself)",
    )
    _check(0.0 <= c.llm.batch_discount < 1.0, "llm.batch_discount", c.llm.batch_discount, "a number in [0, 1)")
    _check(
        c.llm.prompt_logprobs in PROMPT_LOGPROBS,
        "llm.prompt_logprobs",
        c.llm.prompt_logprobs,
        " or ".join(PROMPT_LOGPROBS),
    )
    _check(c.llm.batch_poll_s > 0, "llm.batch_poll_s", c.llm.batch_poll_s, "a number > 0")
    _check(c.scoring.k >= 0, "scoring.k", c.scoring.k, "an integer >= 0")
    for key in ("alpha", "beta"):
        value = getattr(c.scoring, key)
        _check(0.0 <= value <= 1.0, f"scoring.{key}", value, "a number in [0, 1]")
    _check(0.0 <= c.scoring.temperature <= 2.0, "scoring.temperature", c.scoring.temperature, "a number in [0, 2]")
    _check(
        c.scoring.sample_style in SAMPLE_STYLES,
        "scoring.sample_style",
        c.scoring.sample_style,
        " or ".join(SAMPLE_STYLES),
    )
    _check(
        c.scoring.reflection_style in REFLECTION_STYLES,
        "scoring.reflection_style",
        c.scoring.reflection_style,
        " or ".join(REFLECTION_STYLES),
    )
    _check(
        c.scoring.reflection_order in REFLECTION_ORDERS,
        "scoring.reflection_order",
        c.scoring.reflection_order,
        " or ".join(REFLECTION_ORDERS),
    )
    _check(c.scoring.tiers in TIER_MODES, "scoring.tiers", c.scoring.tiers, " or ".join(TIER_MODES))
    _check(0.0 <= c.scoring.band <= 1.0, "scoring.band", c.scoring.band, "a number in [0, 1]")
    _check(c.scoring.k_max >= 0, "scoring.k_max", c.scoring.k_max, "an integer >= 0")
    _check(c.scoring.early_stop_after >= 1, "scoring.early_stop_after", c.scoring.early_stop_after, "an integer >= 1")
    for name in SOFT_SIGNALS + RULE_SIGNALS:
        _check(
            getattr(c.scoring, f"w_{name}") >= 0, f"scoring.w_{name}", getattr(c.scoring, f"w_{name}"), "a number >= 0"
        )
    _check(
        c.scoring.reflection_prompts in (0, 1, 2),
        "scoring.reflection_prompts",
        c.scoring.reflection_prompts,
        "0, 1 or 2",
    )
    _check(c.filter.gamma_mode in GAMMA_MODES, "filter.gamma_mode", c.filter.gamma_mode, " or ".join(GAMMA_MODES))
    _check(0.0 <= c.filter.gamma <= 1.0, "filter.gamma", c.filter.gamma, "a number in [0, 1]")
    _check(0.0 <= c.correct.eta <= 1.0, "correct.eta", c.correct.eta, "a number in [0, 1]")
    _check(
        c.correct.candidate_backend in (None,) + BACKENDS,
        "correct.candidate_backend",
        c.correct.candidate_backend,
        " or ".join(BACKENDS),
    )
    _check(
        bool(c.correct.sources) and set(c.correct.sources) <= set(CANDIDATE_SOURCES),
        "correct.sources",
        c.correct.sources,
        "one or more of " + ", ".join(CANDIDATE_SOURCES),
    )
    _check(c.correct.judge in JUDGES, "correct.judge", c.correct.judge, " or ".join(JUDGES))
    _check(0.0 <= c.correct.propose_at <= 1.0, "correct.propose_at", c.correct.propose_at, "a number in [0, 1]")
    _check(c.correct.few_shot >= 0, "correct.few_shot", c.correct.few_shot, "an integer >= 0")
    _check(c.engine.kind in ENGINES, "engine.kind", c.engine.kind, " or ".join(ENGINES))
    _check(c.engine.actors >= 1, "engine.actors", c.engine.actors, "an integer >= 1")
    _check(c.engine.cpus_per_actor >= 1, "engine.cpus_per_actor", c.engine.cpus_per_actor, "an integer >= 1")
    _check(
        not c.llm.batch or c.engine.kind == "local",
        "llm.batch",
        c.llm.batch,
        "false with engine.kind = 'ray' (a batch runs on the provider; its ids are kept in this store)",
    )
