"""One typed, frozen configuration, loaded once and passed explicitly.

Sources, lowest priority first: defaults, a TOML file, then overrides (CLI flags or UI
widgets) as a flat ``{"section.key": value}`` mapping. A bad value raises
:class:`~curation.errors.ConfigError` naming the key, the value and what is allowed.
The API key itself is never part of the config: only the *name* of the environment
variable that holds it.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from curation.errors import ConfigError

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


@dataclass(frozen=True)
class LLMConfig:
    """Which model answers, and how it is reached.

    ``model`` is, for the embedded backend, a packaged model name (see
    :data:`curation.llm.embedded.PACKAGED_MODELS`) or a path to a local GGUF file; for the
    ``openai`` backend, the model name the endpoint expects. ``n_threads``: the embedded
    model's CPU threads (None: up to 8 to generate, every core to evaluate prompts; a number
    caps both, as a Ray worker's share of the CPUs does). ``seed`` decides the samples drawn
    at temperature > 0; another seed draws (and scores) them anew instead of reading the
    cached ones.
    """

    backend: str = "embedded"
    model: str = "qwen2.5-coder-0.5b"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    extra_headers: dict[str, str] = field(default_factory=dict, repr=False)
    concurrency: int = 8
    max_attempts: int = 6
    timeout_s: float = 60.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    price_prompt_per_m: float = 0.0
    price_completion_per_m: float = 0.0
    budget_usd: float | None = None
    n_ctx: int = 4096
    n_threads: int | None = None
    seed: int = 0
    model_dir: str | None = None
    #: OpenAI's Batch API (``openai`` backend only): each stage's calls go out as batch files,
    #: answered within 24 h at ``1 - batch_discount`` of the price (:mod:`curation.llm.batch`).
    batch: bool = False
    batch_discount: float = 0.5
    batch_poll_s: float = 30.0
    #: Likelihoods from an endpoint (see :data:`PROMPT_LOGPROBS`): the cheap tier's signals on vLLM.
    prompt_logprobs: str = "auto"

    def likelihoods_expected(self) -> bool:
        """Whether the backend measures likelihoods, as far as is known before any call: the
        embedded model does; an endpoint when ``prompt_logprobs`` is ``on`` (``auto`` finds out
        on its first call, and OpenAI's own API has none)."""
        return self.backend == "embedded" or self.prompt_logprobs == "on"

    def prices(self) -> tuple[float, float]:
        """Dollars per million prompt and completion tokens as charged: less ``batch_discount``
        in batch mode (the estimate and the budget count every call at the batch price)."""
        share = 1.0 - self.batch_discount if self.batch else 1.0
        return self.price_prompt_per_m * share, self.price_completion_per_m * share


@dataclass(frozen=True)
class ScoringConfig:
    """BSDetector constants, how samples and reflections are asked for, and each signal's weight.

    The confidence is the weighted mean of the soft signals (:data:`SOFT_SIGNALS`) times the
    rule signals (:data:`RULE_SIGNALS`) raised to their weights: a rule can only lower it, and
    weight 0 turns a signal off. What each signal means: :data:`curation.glossary.SIGNAL_GLOSSARY`.
    """

    k: int = 5
    alpha: float = 0.8
    beta: float = 0.7
    temperature: float = 1.0
    max_tokens: int = 64
    #: ``explanation_first``: the paper's template (reasoning, then the answer); ``answer_first``
    #: asks for the answer first and stops there (far fewer tokens on a CPU model).
    sample_style: str = "answer_first"
    #: Answer-first samples begin with the template's ``answer:`` (or the dataset's JSON opening,
    #: ``{`` or ``[``, where its responses are JSON) where the backend can write the start of a
    #: reply (the embedded model; an endpoint is asked the messages alone).
    answer_prefix: bool = True
    #: Draw ``early_stop_after`` samples first, the rest only when they disagree.
    early_stop: bool = True
    early_stop_after: int = 3
    #: Adaptive k: after k samples that split (neither side a clear majority), draw up to this many.
    k_max: int = 7
    #: ``cascade``: cheap signals for all, samples and reflections below ``band`` (:mod:`curation.tiers`).
    tiers: str = "cascade"
    band: float = 0.3
    reflection_prompts: int = 2
    reflection_style: str = "tagged"
    #: ``balanced`` swaps A and B in the second question, so a preference for a letter or a
    #: position (or data saying "answer A") cancels in S instead of adding up; ``fixed``: the paper's.
    reflection_order: str = "balanced"
    reflection_max_tokens: int = 24
    letter_first: bool = True
    top_logprobs: int = 5
    w_bsdetector: float = 1.0
    w_likelihood: float = 1.0
    w_min_k: float = 0.0
    #: A weight above 0 also runs IFD's pass over the response without its prompt (on the
    #: embedded model about as long as the likelihood pass itself).
    w_ifd: float = 0.0
    #: A weight above 0 also scores the constrained alternatives' likelihood (extra calls).
    w_contrast: float = 1.0
    w_format: float = 1.0
    w_degenerate: float = 1.0
    w_injection: float = 1.0
    w_ending: float = 1.0
    w_arithmetic: float = 1.0


@dataclass(frozen=True)
class FilterConfig:
    """Auto-Filter threshold γ: an absolute confidence, or a quantile of the dataset's."""

    gamma: float = 0.15
    gamma_mode: str = "absolute"


@dataclass(frozen=True)
class CorrectConfig:
    """Auto-Correct: where candidates come from, how they are judged, the threshold η on the
    probability that the winner is better, and whether confident corrections apply themselves.

    η = 0.85 is the lowest threshold at which the corrections applied on the design half of
    the sample data were right at least 90 % of the time (8 of 8; held out: 5 of 5); the
    paper's 0.8 gave 83 % and 73 % (``benchmarks/correction.py``; the ``faithful`` preset
    keeps 0.8 with the paper's judge). A winner is proposed only when that probability reaches
    ``propose_at`` (0.3, a margin of about 0.19: at 0.5 the pooled calibration hid half of the
    right math corrections, whose margins are small); ``few_shot`` is
    the number of demonstrations (fitted to the context), and the ``few_shot`` source writes
    with the candidate model instead when ``candidate_model`` is set. A winner a rule checks
    (a repair or a completion, :func:`curation.contest.evidence`) is right with at least its
    class's measured rate (:data:`curation.contest.EVIDENCE`), so it applies itself when that
    rate reaches η.
    """

    sources: tuple[str, ...] = CANDIDATE_SOURCES
    judge: str = "both"
    eta: float = 0.85
    propose_at: float = 0.3
    auto_apply: bool = True
    few_shot: int = 3
    max_tokens: int = 256
    judge_max_tokens: int = 48
    candidate_backend: str | None = None
    candidate_model: str | None = None
    candidate_base_url: str | None = None

    def candidate_llm(self, llm: LLMConfig) -> LLMConfig | None:
        """The candidate model's settings (e.g. the user's fine-tuned endpoint), or None to
        use the main model with few-shot demonstrations."""
        if not self.candidate_model:
            return None
        backend = self.candidate_backend or llm.backend
        return replace(
            llm,
            backend=backend,
            model=self.candidate_model,
            base_url=self.candidate_base_url or llm.base_url,
            batch=llm.batch and backend == "openai",
        )


@dataclass(frozen=True)
class EngineConfig:
    """Where the scoring and correcting work runs (never part of a score's key: same scores).

    ``kind``: ``local`` (this process) or ``ray`` (Ray workers on the cluster at
    ``ray_address``, or a local Ray started for the run when None). At most ``actors`` work at
    once, each reserving ``cpus_per_actor`` CPUs and keeping one client from batch to batch: an
    embedded model with that many threads, or an endpoint client with its share of
    ``llm.concurrency``.
    """

    kind: str = "local"
    ray_address: str | None = None
    actors: int = 2
    cpus_per_actor: int = 1


@dataclass(frozen=True)
class Config:
    llm: LLMConfig = field(default_factory=LLMConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    correct: CorrectConfig = field(default_factory=CorrectConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with ``{"section.key": value}`` overrides applied (``None`` values skipped)."""
        sections = {name: getattr(self, name) for name in _SECTIONS}
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, key = _split_key(dotted)
            sections[section] = replace(sections[section], **{key: _coerce(dotted, value, sections[section], key)})
        return Config(**sections)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        flat = {}
        for section, values in data.items():
            if section not in _SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"config: unknown section {section!r}; allowed: {', '.join(_SECTIONS)}")
            flat.update({f"{section}.{key}": value for key, value in values.items()})
        return cls().with_overrides(flat)

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
        """Defaults, then the TOML file at ``path`` (if given), then ``overrides``."""
        config = cls()
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
                raise ConfigError(f"{path}: cannot read config: {e}") from e
            config = cls.from_dict(data)
        return config.with_overrides(overrides or {})

    @classmethod
    def for_run(
        cls, path: str | Path | None, last_run: dict[str, Any] | None, overrides: dict[str, Any] | None = None
    ) -> Config:
        """A run's settings, as ``curate run`` and the Python API pick them: the TOML file at
        ``path``, else the dataset's ``last_run`` settings, else the defaults; ``overrides``
        on top (checked even when the last run's settings are the base)."""
        chosen = cls.load(path, overrides)
        if path is None and last_run is not None:
            return cls.from_dict(last_run).with_overrides(overrides or {})
        return chosen


_SECTIONS = {
    "llm": LLMConfig,
    "scoring": ScoringConfig,
    "filter": FilterConfig,
    "correct": CorrectConfig,
    "engine": EngineConfig,
}


def _split_key(dotted: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in _SECTIONS:
        raise ConfigError(f"config: unknown key {dotted!r}; sections: {', '.join(_SECTIONS)}")
    names = [f.name for f in fields(_SECTIONS[section])]
    if key not in names:
        raise ConfigError(f"config: unknown key {dotted!r}; allowed: {', '.join(section + '.' + n for n in names)}")
    return section, key


def _coerce(dotted: str, value: Any, section_obj: Any, key: str) -> Any:
    current = getattr(section_obj, key)
    kind = type(current) if current is not None else None
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if kind in (int, float) and not isinstance(value, bool):
            return kind(value)
        if isinstance(current, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if key in ("budget_usd",) and value is not None:
            return float(value)
        if key == "n_threads" and value is not None:
            return int(value)
        if (
            key
            in ("base_url", "model_dir", "candidate_backend", "candidate_model", "candidate_base_url", "ray_address")
            and value is not None
        ):
            return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config: {dotted} = {value!r} is not a valid {kind.__name__ if kind else 'value'}") from e
    return value


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"config: {key} = {value!r} is not allowed; expected {allowed}")


def _validate(c: Config) -> None:
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
