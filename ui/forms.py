"""The Run page's widgets: the run configuration form, the estimate and the live job panel.

The form starts from the dataset's last run configuration (so pressing Start again resumes
that run) and returns a validated :class:`~curation.config.Config`. Widget keys start with
``run_`` and end with the dataset's name, so each dataset keeps its own settings. The API key
itself is never asked for: only the *name* of the environment variable holding it.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import streamlit as st

from curation.config import Config
from curation.config_values import (
    BACKENDS,
    CANDIDATE_SOURCES,
    ENGINES,
    GAMMA_MODES,
    JUDGES,
    PROMPT_LOGPROBS,
    SAMPLE_STYLES,
    TIER_MODES,
)
from curation.errors import ConfigError, CurationError
from curation.estimate import RunEstimate, tier_plan_text
from curation.glossary import setting_help, term
from curation.llm.packaged import PACKAGED_MODELS
from curation.phases import PHASES
from curation.pipeline import STAGES
from curation.store import DatasetInfo, Store
from curation.throughput import duration
from ui.jobs import RunJob

GGUF_CHOICE = "a GGUF file…"
_BACKEND_LABELS = {"embedded": "Embedded (offline, runs here)", "openai": "OpenAI-compatible endpoint"}
_PROMPT_LOGPROBS_LABELS = {
    "auto": "Ask once, go on without if refused",
    "on": "Required (vLLM)",
    "off": "Never ask",
}


def last_config(store: Store, dataset: DatasetInfo) -> Config:
    """The dataset's last run configuration, or the defaults."""
    stored = store.last_run_config(dataset.dataset_id) or {}
    sections = {k: v for k, v in stored.items() if k in ("llm", "scoring", "filter", "correct", "engine")}
    try:
        return Config.from_dict(sections)
    except CurationError:
        return Config()


def run_config_form(base: Config, scope: str) -> tuple[Config, tuple[str, ...]]:
    """Render the settings, starting from ``base``; return the chosen config and stages.

    Raises:
        ConfigError: a value the config rejects (the message names the key).
    """

    def key(name: str) -> str:
        return f"run_{name}:{scope}"

    llm, s, f, c = base.llm, base.scoring, base.filter, base.correct
    o: dict[str, Any] = {}
    st.subheader("Model")
    left, right = st.columns(2)
    o["llm.backend"] = left.selectbox(
        "Backend", BACKENDS, index=BACKENDS.index(llm.backend), key=key("backend"), format_func=_BACKEND_LABELS.get
    )
    if o["llm.backend"] == "embedded":
        o["llm.batch"] = False  # the Batch API is an endpoint's
        choices = list(PACKAGED_MODELS) + [GGUF_CHOICE]
        picked = right.selectbox(
            "Model",
            choices,
            key=key("model"),
            index=choices.index(llm.model) if llm.model in PACKAGED_MODELS else len(choices) - 1,
        )
        if picked == GGUF_CHOICE:
            o["llm.model"] = right.text_input(
                "GGUF file",
                key=key("gguf"),
                placeholder="/models/my-model.gguf",
                value="" if llm.model in PACKAGED_MODELS else llm.model,
            ).strip()
        else:
            o["llm.model"] = picked
            right.caption(f"{PACKAGED_MODELS[picked].origin} · licence {PACKAGED_MODELS[picked].licence}")
    else:
        o["llm.base_url"] = (
            right.text_input(
                "Base URL", value=llm.base_url or "", key=key("base_url"), placeholder="http://localhost:8000/v1"
            ).strip()
            or None
        )
        o["llm.model"] = left.text_input(
            "Model name", key=key("model_name"), value="" if llm.model in PACKAGED_MODELS else llm.model
        ).strip()
        env = right.text_input(
            "API key environment variable",
            value=llm.api_key_env,
            key=key("key_env"),
            help="The name of the variable, not the key: the key is never stored.",
        ).strip()
        o["llm.api_key_env"] = env
        if env and os.environ.get(env):
            right.caption(f"{env} is set in the app's environment.")
        else:
            right.warning(
                f"{env or 'The variable'} is not set in the app's environment; local servers "
                "may not need it, hosted APIs do."
            )
        o["llm.batch"] = left.toggle(
            "OpenAI Batch API",
            llm.batch,
            key=key("batch"),
            help="Each stage's calls go out as batch files: half the price, results within 24 h. "
            "A restarted run waits for the batches already sent instead of sending them again.",
        )
        o["llm.prompt_logprobs"] = right.selectbox(
            "Likelihoods from the endpoint",
            PROMPT_LOGPROBS,
            index=PROMPT_LOGPROBS.index(llm.prompt_logprobs),
            key=key("prompt_logprobs"),
            format_func=_PROMPT_LOGPROBS_LABELS.get,
            help="vLLM scores a request's own tokens (prompt_logprobs): the cheap tier then has the "
            "likelihood and ending signals. Other servers refuse or ignore the ask; auto then goes on without.",
        )
    a, b, d = st.columns(3)
    o["llm.concurrency"] = a.number_input("Concurrency", 1, 256, llm.concurrency, key=key("concurrency"))
    o["llm.price_prompt_per_m"] = b.number_input(
        "Price per M prompt tokens ($)", 0.0, value=llm.price_prompt_per_m, key=key("price_in"), format="%.3f"
    )
    o["llm.price_completion_per_m"] = d.number_input(
        "Price per M completion tokens ($)", 0.0, format="%.3f", value=llm.price_completion_per_m, key=key("price_out")
    )
    budget = a.number_input(
        "Budget ($, empty = no cap)",
        0.0,
        value=llm.budget_usd,
        key=key("budget"),
        placeholder="no cap",
        help="The run stops when it has spent this much; start it again with a higher budget to go on.",
    )

    st.subheader("Scoring, filter and correction")
    a, b, d = st.columns(3)
    o["scoring.k"] = a.number_input(term("k"), 0, 20, s.k, key=key("k"), help=setting_help("k"))
    o["scoring.alpha"] = b.slider(term("alpha"), 0.0, 1.0, s.alpha, 0.05, key=key("alpha"), help=setting_help("alpha"))
    o["scoring.beta"] = d.slider(term("beta"), 0.0, 1.0, s.beta, 0.05, key=key("beta"), help=setting_help("beta"))
    o["filter.gamma"] = a.slider(term("gamma"), 0.0, 1.0, f.gamma, 0.01, key=key("gamma"), help=setting_help("gamma"))
    o["filter.gamma_mode"] = b.radio(
        f"{term('gamma', short=True)} is",
        GAMMA_MODES,
        key=key("gamma_mode"),
        index=GAMMA_MODES.index(f.gamma_mode),
        horizontal=True,
        help="absolute: a confidence; quantile: flag that share.",
    )
    o["correct.eta"] = d.slider(term("eta"), 0.0, 1.0, c.eta, 0.01, key=key("eta"), help=setting_help("eta"))
    o["scoring.tiers"] = b.radio(
        "Which examples get the model's samples",
        TIER_MODES,
        index=TIER_MODES.index(s.tiers),
        key=key("tiers"),
        horizontal=True,
        help="cascade: the uncertain and low ones, after cheap signals for all (about 3x faster); "
        "full: every example (BSDetector as published); cheap: none (fastest, no sample agreement).",
    )
    o["scoring.band"] = d.slider(
        term("band"),
        0.0,
        1.0,
        s.band,
        0.01,
        key=key("band"),
        help=setting_help("band"),
        disabled=st.session_state.get(key("tiers"), s.tiers) != "cascade",
    )
    o["correct.auto_apply"] = a.toggle(
        "Auto-apply confident corrections",
        c.auto_apply,
        key=key("auto_apply"),
        help="Off: every correction waits for a reviewer.",
    )
    with st.expander("Advanced"):
        o["scoring.sample_style"] = st.radio(
            "Samples",
            SAMPLE_STYLES,
            key=key("sample_style"),
            horizontal=True,
            index=SAMPLE_STYLES.index(s.sample_style),
            help="answer_first needs far fewer tokens on a CPU model.",
        )
        o["scoring.temperature"] = st.slider(
            "Sampling temperature", 0.0, 2.0, s.temperature, 0.05, key=key("temperature")
        )
        o["correct.sources"] = (
            tuple(
                st.multiselect(
                    "Correction candidates from",
                    CANDIDATE_SOURCES,
                    default=list(c.sources),
                    key=key("sources"),
                    help="samples: the scoring samples' majority answer; closed_set: every label of a dataset whose "
                    "responses come from a small set; extractive: spans of the prompt; few_shot: a new answer "
                    "with similar confident examples as demonstrations.",
                )
            )
            or c.sources
        )
        o["correct.judge"] = st.radio(
            "Correction judge",
            JUDGES,
            index=JUDGES.index(c.judge),
            key=key("judge"),
            horizontal=True,
            help="contest: compared confidences, calibrated; llm: the "
            "paper's two-order judge alone; both: the LLM judge joins where it read the "
            "responses.",
        )
        o["engine.kind"] = st.selectbox(
            "Engine",
            ENGINES,
            index=ENGINES.index(base.engine.kind),
            key=key("engine"),
            help='local: this machine; ray: workers on a Ray cluster, each keeping its model (pip install -e ".[ray]")',
        )
        if o["engine.kind"] == "ray":
            o["engine.ray_address"] = st.text_input(
                "Ray address",
                base.engine.ray_address or "",
                key=key("ray_address"),
                placeholder="ray://head:10001 (empty: a local Ray)",
            )
        stages = st.multiselect("Stages", STAGES, default=list(STAGES), key=key("stages"))
    if not o["llm.model"]:
        raise ConfigError(
            "config: llm.model is empty; enter "
            + ("the path of a .gguf file" if o["llm.backend"] == "embedded" else "the model name the endpoint expects")
        )
    config = base.with_overrides(o)
    if budget is None and config.llm.budget_usd is not None:
        config = replace(config, llm=replace(config.llm, budget_usd=None))
    return config, tuple(x for x in STAGES if x in stages)


def show_estimate(estimate: RunEstimate) -> None:
    cols = st.columns(5)
    cols[0].metric("Examples to score", f"{estimate.examples:,}")
    cols[1].metric("LLM calls (at most)", f"{estimate.calls:,}")
    cols[2].metric(
        "Tokens",
        f"{estimate.prompt_tokens + estimate.completion_tokens:,}",
        help=f"{estimate.prompt_tokens:,} prompt + {estimate.completion_tokens:,} completion",
    )
    cols[3].metric("Time", duration(estimate.seconds))
    cols[4].metric("Cost", f"${estimate.cost_usd:,.2f}")
    plan = tier_plan_text(estimate)
    if plan:
        st.caption(
            f"Cascade ({term('band', short=True)}): every example gets the cheap signals, the uncertain ones "
            f"the model's samples. {plan}.",
            help=setting_help("band"),
        )
    if estimate.basis:
        st.caption(f"Time from the speed of this machine: {estimate.basis}.")


def show_job(job: RunJob) -> None:
    """The phases (loading the model, scoring, correcting), the current one's progress with
    its rate and time left, live counts; then how the run ended and a link to its flags."""
    p = job.progress
    stats = p.stats if p else {}
    if p is not None:
        share = p.done / p.total if p.total else 1.0
        since = time.monotonic() - job.reported if job.running else 0.0
        st.progress(min(share, 1.0), text=p.describe(since_s=since))
    elif job.running:
        st.progress(0.0, text="starting…")
    steps = _phase_steps(job)
    if steps:
        st.caption(" → ".join(steps))
    cols = st.columns(6)
    cols[0].metric("Done", f"{p.done if p and p.unit == 'examples' else 0:,}")
    cols[1].metric("Failed", f"{p.failed if p else 0:,}")
    cols[2].metric("LLM calls", f"{int(stats.get('calls', 0)):,}")
    cols[3].metric("Cache hits", f"{int(stats.get('cache_hits', 0)):,}")
    cols[4].metric("Tokens", f"{int(stats.get('prompt_tokens', 0) + stats.get('completion_tokens', 0)):,}")
    cols[5].metric("Cost", f"${stats.get('cost_usd', 0.0):,.4f}")
    if job.running:
        st.caption(
            "Stopping after the examples in flight…"
            if job.stop.is_set()
            else "Running in the background: you can leave this page; coming back (or refreshing) shows this run."
        )
    elif job.error:
        st.error(job.error)
    elif job.crash is not None:
        st.exception(job.crash)
    elif job.summary is not None:
        r = job.summary
        text = (
            f"scored {r.scored:,} · failed {r.failed:,} · flagged {r.flagged:,} · "
            f"proposed {r.proposed:,} · auto-applied {r.auto_applied:,}"
        )
        for warning in r.warnings:
            st.error(warning)
        if r.stopped:
            st.warning(f"Stopped ({r.stopped}): {text}. Start again with the same settings to resume.")
        elif r.warnings:
            st.warning(f"Finished with failures: {text}. Start again to retry the failed examples.")
        else:
            st.success(f"Finished: {text}.")
        for note in r.notes:
            st.caption(note)
        if r.flagged:
            st.page_link(
                "pages/3_Review.py",
                label=f"Review the {r.flagged:,} flagged examples",
                icon=":material/search:",
                query_params={"status": "flagged"},
            )


def _phase_steps(job: RunJob) -> list[str]:
    """Each phase of the job: ✓ when done, ▶ the current one, the ones to come plain."""
    wanted = [
        s
        for s in PHASES
        if s in job.phases
        or s in job.stages
        or (s == "sample" and "score" in job.stages)
        or (s == "load" and job.config.llm.backend == "embedded" and job.running)
    ]
    current = job.progress.stage if job.progress is not None and job.running else None
    steps = []
    for stage in wanted:
        seen = job.phases.get(stage)
        if stage == current:
            steps.append(f"▶ **{PHASES[stage]}**")
        elif seen is not None and seen.done >= seen.total:
            steps.append(f"✓ {PHASES[stage]} ({seen.pace()})")
        elif seen is not None:
            steps.append(f"{PHASES[stage]} (stopped at {seen.done:,} of {seen.total:,})")
        else:
            steps.append(PHASES[stage])
    return steps
