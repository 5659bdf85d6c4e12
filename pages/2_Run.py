"""Run: score, filter and correct the current dataset in the background, with live progress."""

import pandas as pd
import streamlit as st

from curation import estimate
from curation.errors import ConfigError, CurationError
from ui.common import sidebar, store_or_stop
from ui.forms import last_config, run_config_form, show_estimate, show_job
from ui.jobs import current_job, start_job

POLL_SECONDS = 1.0
RUN_COLUMNS = [
    "started_at",
    "stage",
    "status",
    "backend",
    "model",
    "n_examples",
    "n_done",
    "n_failed",
    "calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "error",
]

store = store_or_stop()
dataset = sidebar(store)
st.title("Run the pipeline")
if dataset is None:
    st.info("No dataset yet: import one first.")
    st.page_link("pages/1_Import.py", label="Import a dataset", icon=":material/upload_file:")
    st.stop()
st.caption(
    f"Dataset **{dataset.name}** ({dataset.n_examples:,} examples). The model samples k answers per "
    "example and reflects on the recorded one (score); examples below γ are flagged (filter); flagged "
    "ones get a proposed correction, applied by itself when the judge is at least η sure (correct). "
    "Every finished example is saved at once: a cancelled or failed run resumes where it stopped "
    "when you start it again with the same settings, and cached LLM calls are never paid twice."
)

job = current_job(store, dataset.name)
running = job is not None and job.running
try:
    config, stages = run_config_form(last_config(store, dataset), dataset.name)
except ConfigError as e:
    st.error(str(e))
    config, stages = None, ()

if config is not None:
    st.subheader("Estimate")
    try:
        show_estimate(estimate.estimate_run(store, dataset.name, config))
    except CurationError as e:
        st.error(str(e))
    st.caption("An upper bound: calls already in the cache cost nothing.")

start_col, cancel_col = st.columns([1, 5])
if config is not None and start_col.button("Start", type="primary", key="run_start", disabled=running or not stages):
    try:
        start_job(store, dataset.name, config, stages=stages)
    except CurationError as e:
        st.error(str(e))
    else:
        st.rerun()
if running and cancel_col.button("Cancel", key="run_cancel"):
    job.cancel()


def live_panel() -> None:
    now = current_job(store, dataset.name)
    if now is None:
        return
    show_job(now)
    if running and not now.running:
        st.rerun(scope="app")  # the run ended: redraw the whole page (buttons, run history)


if job is not None:
    st.subheader("Current run" if running else "Last run started from the app")
    st.fragment(live_panel, run_every=POLL_SECONDS if running else None)()

runs = store.runs(dataset.dataset_id)
st.subheader("Previous runs")
if runs:
    st.dataframe(pd.DataFrame(runs)[[c for c in RUN_COLUMNS if c in runs[0]]], hide_index=True)
else:
    st.caption("None yet.")
